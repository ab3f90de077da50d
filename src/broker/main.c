/*
 * main.c - ringfenced: command line, configuration, start and stop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringfenced [-f] [-c FILE] [-v] [--check]\n"
		"\n"
		"The ringfence broker: takes the kernel's exec/open permission events (fanotify)\n"
		"and process, file, network and credential telemetry (eBPF, or the proc connector),\n"
		"and hands them to sandboxed, supervised client processes spawned from manifests.\n"
		"\n"
		"  -f, --foreground   run in the foreground (ringfenced always does; for service managers)\n"
		"  -c, --config FILE  INI configuration; without it the built-in default runs:\n"
		"                     monitor mode, state in /run/ringfence, clients from\n"
		"                     /etc/ringfence/clients.d, all local filesystems watched\n"
		"  -v, --verbose      debug logging\n"
		"  -S, --state-dir DIR    override [broker] state_dir\n"
		"  -C, --clients-dir DIR  override [broker] clients_dir\n"
		"      --check        parse the configuration and the client manifests, then exit\n"
		"      --print-default  print the built-in configuration\n"
		"  -h, --help         this text\n"
		"\n"
		"Operate it with rfctl (rfctl -S STATE_DIR status|clients|tail|record).\n"
		"Needs root: fanotify permission events, eBPF and the proc connector do.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' }, { "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },    { "help", no_argument, NULL, 'h' },
		{ "check", no_argument, NULL, 'K' },      { "print-default", no_argument, NULL, 'P' },
		{ "state-dir", required_argument, NULL, 'S' }, { "clients-dir", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *state_dir = NULL, *clients_dir = NULL;
	bool check = false, verbose = false;
	int o;
	while ((o = getopt_long(argc, argv, "fc:vhS:C:", opts, NULL)) != -1) {
		switch (o) {
		case 'f': break;
		case 'c': config = optarg; break;
		case 'v': verbose = true; break;
		case 'K': check = true; break;
		case 'S': state_dir = optarg; break;
		case 'C': clients_dir = optarg; break;
		case 'P': fputs(rf_config_embedded_default, stdout); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	static struct rf_config cfg;
	rf_config_defaults(&cfg);
	int r = config ? rf_config_load(config, &cfg)
		       : rf_config_parse(rf_config_embedded_default, strlen(rf_config_embedded_default), &cfg);
	if (r < 0) {
		fprintf(stderr, "ringfenced: configuration: %s\n", cfg.err);
		return 1;
	}
	const char *over[2][2] = { { state_dir, cfg.state_dir }, { clients_dir, cfg.clients_dir } };
	for (int i = 0; i < 2; i++) {
		if (!over[i][0])
			continue;
		if (over[i][0][0] != '/' || strlen(over[i][0]) >= PATH_MAX) {
			fprintf(stderr, "ringfenced: %s: want an absolute path\n", over[i][0]);
			return 2;
		}
		strcpy((char *)over[i][1], over[i][0]);
	}
	if (check) {
		static struct rf_broker tmp;
		tmp.cfg = cfg;
		int n = rf_clients_load(&tmp);
		printf("configuration ok; %d client manifest(s) accepted\n", n < 0 ? 0 : n);
		return 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "ringfenced: must run as root (fanotify permission events and eBPF need it)\n");
		return 1;
	}
	/*
	 * Block the signals the loop reads from its signalfd before any thread
	 * exists: a thread created earlier would inherit an open mask and could
	 * swallow SIGCHLD, and a dead client would never be reaped.
	 */
	sigset_t set;
	rf_broker_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	rf_log_start("ringfenced", verbose ? RF_LOG_DEBUG : RF_LOG_INFO);
	static struct rf_broker b;
	r = rf_broker_init(&b, &cfg);
	if (r < 0) {
		rf_warnx("cannot start: %s", strerror(-r));
		rf_broker_free(&b);
		rf_log_stop();
		return 1;
	}
	r = rf_broker_run(&b);
	rf_broker_free(&b);
	rf_info("stopped");
	rf_log_stop();
	return r < 0 ? 1 : 0;
}
