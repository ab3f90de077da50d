/*
 * rf-fragile-client - the July 2024 drill's client (tests/drills/): a
 * content interpreter with the bug that took down 8.5 million machines.
 *
 * Its content (managed: rf_content_fd()) is a template in text:
 *   ringfence-drill-template 1
 *   fields N          input fields the template reads (the sensor supplies 20)
 *   match SUBSTR      alert "drill.match" on an exec whose path contains it
 *   crash_on SUBSTR   (optional) abort on an exec whose path contains it
 *   flood N           (optional) N alerts for every exec (an alert storm)
 *   slow_ms N         (optional) wait N ms before answering an AUTH exec
 * With --auth it also answers exec as AUTH (allow), for the trial's
 * deadline check (the manifest must grant auth_exec in enforce mode).
 * On every exec it supplies 20 input fields and reads the N the template
 * declares, without checking N against 20: the array ends at a guard page,
 * so a template declaring 21 reads out of bounds and dies of SIGSEGV on the
 * first exec it sees, as the kernel driver did.  `crash_on` makes content
 * that passes a trial (the recent events do not contain the path) and then
 * crashes on the live machine.  Exit 3 when the content is refused.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <ringfence/ringfence.h>

#define SUPPLIED 20

static unsigned declared, flood, slow_ms;
static char match[128], crash_on[128];

static int load(int fd)
{
	char buf[1024];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *save, *line = strtok_r(buf, "\n", &save);
	if (!line || strcmp(line, "ringfence-drill-template 1"))
		return -1;
	while ((line = strtok_r(NULL, "\n", &save))) {
		if (sscanf(line, "fields %u", &declared) == 1)
			continue;
		if (sscanf(line, "match %127s", match) == 1 || sscanf(line, "crash_on %127s", crash_on) == 1)
			continue;
		if (sscanf(line, "flood %u", &flood) == 1 || sscanf(line, "slow_ms %u", &slow_ms) == 1)
			continue;
		return -1;
	}
	return declared && declared < 64 && match[0] && flood <= 10000 && slow_ms <= 60000 ? 0 : -1;
}

int main(int argc, char **argv)
{
	bool auth = argc > 1 && !strcmp(argv[1], "--auth");
	int fd = rf_content_fd();
	if (fd < 0 || load(fd) < 0) {
		fprintf(stderr, "rf-fragile-client: content refused\n");
		return 3;
	}
	close(fd);
	fprintf(stderr, "rf-fragile-client: content %s: template reads %u fields\n",
		rf_content_version() ? rf_content_version() : "?", declared);

	/* the supplied fields end exactly where a guard page begins */
	long pg = sysconf(_SC_PAGESIZE);
	char *area = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || mprotect(area + pg, (size_t)pg, PROT_NONE) < 0)
		return 1;
	const char **fields = (const char **)(area + pg) - SUPPLIED;

	int rc;
	rf_client_t *c = rf_client_new(getenv("RF_CLIENT_NAME") ? getenv("RF_CLIENT_NAME") : "fragile", &rc);
	if (!c || rf_subscribe(c, RF_EVENT_EXEC, auth ? RF_ACTION_AUTH : RF_ACTION_NOTIFY) != RF_OK ||
	    rf_ready(c) != RF_OK) {
		fprintf(stderr, "rf-fragile-client: connect: %s\n", rf_strerror(rc));
		return 1;
	}
	for (;;) {
		const struct rf_message *m;
		int r = rf_next(c, &m, -1);
		if (r == RF_E_CLOSED)
			return 0;
		if (r != RF_OK)
			continue;
		if (m->hdr.type != RF_EVENT_EXEC)
			continue;
		const char *exe = rf_msg_str(m, m->process.exe.path);
		for (unsigned i = 0; i < SUPPLIED; i++)
			fields[i] = i % 2 ? rf_msg_str(m, m->process.comm) : exe;
		size_t total = 0;
		for (unsigned i = 0; i < declared; i++)   /* the bug: declared, not SUPPLIED */
			total += strlen(fields[i] ? fields[i] : "");
		if (crash_on[0] && strstr(exe, crash_on))
			abort();
		if (strstr(exe, match))
			rf_emit_alert(c, m, "drill.match", "drill marker executed", "high", "drill");
		for (unsigned i = 0; i < flood; i++)
			rf_emit_alert(c, m, "drill.flood", "alert storm", "low", "drill");
		if (m->hdr.action == RF_ACTION_AUTH) {
			if (slow_ms)
				nanosleep(&(struct timespec){ .tv_sec = slow_ms / 1000,
							      .tv_nsec = (long)(slow_ms % 1000) * 1000000 }, NULL);
			rf_respond(c, m, RF_ALLOW, 0);
		}
		if (total == 0)
			fprintf(stderr, "rf-fragile-client: empty fields\n");
	}
}
