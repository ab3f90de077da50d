/*
 * gen_corpus.c - writes the seed corpora of the fuzz harnesses into
 * DIR/NAME/ (tests/fuzz/corpus is the committed copy; `make fuzz-corpus`
 * regenerates it).  Seeds are small, well-formed inputs of each kind plus a
 * near miss or two, so the fuzzer starts past the first checks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/msgbuild.h"
#include "common/ring.h"
#include "common/wire.h"
#include "ringfence/ringfence.h"

static const char *out_dir;

static void put(const char *name, const char *file, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", out_dir, name);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof path, "%s/%s/%s", out_dir, name, file);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void put_str(const char *name, const char *file, const char *s)
{
	put(name, file, s, strlen(s));
}

/* ---- messages ---- */

static struct rf_msgb b;

static uint32_t msg_exec(void)
{
	rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_AUTH);
	struct rf_message *m = &b.u.msg;
	m->hdr.id = 7;
	m->hdr.seq = 3;
	m->hdr.time_ns = 1795277522123456789ull;
	m->hdr.deadline_ns = 1000;
	m->process.pid = 100;
	m->process.exe.path = rf_msgb_str(&b, "/usr/bin/bash");
	m->process.comm = rf_msgb_str(&b, "bash");
	m->process.cwd = rf_msgb_str(&b, "/home/u");
	m->process.args = rf_msgb_add(&b, "bash\0-c\0x", 9);
	m->process.argc = 3;
	m->parent.exe = rf_msgb_str(&b, "/usr/sbin/sshd");
	m->parent.comm = rf_msgb_str(&b, "sshd");
	m->ev.exec.target.path = rf_msgb_str(&b, "/tmp/rf/evil-\xc3\xa9\xff");
	m->ev.exec.args = rf_msgb_add(&b, "evil\0--now", 10);
	m->ev.exec.argc = 2;
	return rf_msgb_finish(&b);
}

static uint32_t msg_simple(uint16_t type, uint8_t action)
{
	rf_msgb_init(&b, type, action);
	struct rf_message *m = &b.u.msg;
	m->process.pid = 42;
	m->process.comm = rf_msgb_str(&b, "x");
	switch (type) {
	case RF_EVENT_OPEN:
		m->ev.open.target.path = rf_msgb_str(&b, "/etc/shadow");
		m->hdr.verdict = RF_DENY;
		m->hdr.decided_by = RF_DECIDER_CLIENT;
		m->hdr.decider = rf_msgb_str(&b, "deny");
		break;
	case RF_EVENT_RENAME:
		m->ev.file.target.path = rf_msgb_str(&b, "/a");
		m->ev.file.dest = rf_msgb_str(&b, "/b");
		break;
	case RF_EVENT_CONNECT:
		m->ev.net.family = 2;
		m->ev.net.proto = 6;
		m->ev.net.dport = 443;
		memcpy(m->ev.net.daddr, "\x7f\0\0\1", 4);
		break;
	case RF_EVENT_KMOD_LOAD:
		m->ev.kmod.name = rf_msgb_str(&b, "ext4");
		break;
	case RF_EVENT_BPF_LOAD:
		m->ev.bpf.name = rf_msgb_str(&b, "prog");
		break;
	case RF_EVENT_FORK:
		m->ev.fork.child_pid = 43;
		break;
	default:
		break;
	}
	return rf_msgb_finish(&b);
}

static void gen_msg(void)
{
	uint32_t n = msg_exec();
	put("msg", "exec_auth", b.u.bytes, n);
	static const struct { uint16_t type; uint8_t action; const char *file; } s[] = {
		{ RF_EVENT_OPEN, RF_ACTION_AUTH, "open_auth_decided" },
		{ RF_EVENT_FORK, RF_ACTION_NOTIFY, "fork" },
		{ RF_EVENT_RENAME, RF_ACTION_NOTIFY, "rename" },
		{ RF_EVENT_CONNECT, RF_ACTION_NOTIFY, "connect" },
		{ RF_EVENT_KMOD_LOAD, RF_ACTION_NOTIFY, "kmod" },
		{ RF_EVENT_BPF_LOAD, RF_ACTION_NOTIFY, "bpf" },
	};
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		n = msg_simple(s[i].type, s[i].action);
		put("msg", s[i].file, b.u.bytes, n);
	}
	n = msg_exec();
	b.u.msg.hdr.version = 2;
	put("msg", "bad_version", b.u.bytes, n);

	/* cut fields: a 7 KiB cwd and argv after the target (hdr.cut, RF_*_CUT) */
	static char big[7 * 1024];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = i % 10 == 9 ? '\0' : (char)('a' + i % 26);
	rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_AUTH);
	struct rf_message *m = &b.u.msg;
	rf_msgb_field_str(&b, RF_CUT_TARGET, &m->ev.exec.target.path, "/tmp/rf/evil");
	if (rf_msgb_field(&b, RF_CUT_CWD, &m->process.cwd, big, 4500))
		m->process.flags |= RF_PROC_F_CWD_CUT;
	if (rf_msgb_args(&b, &m->ev.exec.args, big, sizeof big))
		m->ev.exec.flags |= RF_EXEC_F_ARGS_CUT;
	m->ev.exec.argc = (uint32_t)(sizeof big / 10);
	n = rf_msgb_finish(&b);
	put("msg", "exec_cut", b.u.bytes, n);
	/* the same with the flag and the bits disagreeing: refused */
	m->hdr.flags &= (uint8_t)~RF_MSG_F_CUT;
	put("msg", "cut_without_flag", b.u.bytes, n);

	/* a target the kernel could not name */
	rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_AUTH);
	m = &b.u.msg;
	m->ev.exec.target.flags = RF_FILE_F_PATH_UNKNOWN;
	m->ev.exec.target.ino = 12;
	m->process.flags = RF_PROC_F_CWD_UNKNOWN;
	n = rf_msgb_finish(&b);
	put("msg", "exec_path_unknown", b.u.bytes, n);
}

/* ---- control datagrams ---- */

static void ctl_hdr(void *p, uint16_t type, uint32_t size)
{
	struct rf_ctl_hdr h = { .size = size, .version = RF_PROTO_VERSION, .type = type, .req_id = 1 };
	memcpy(p, &h, sizeof h);
}

static void gen_ctl(void)
{
	struct rf_ctl_hello hello = { .proto_version = RF_PROTO_VERSION };
	strcpy(hello.name, "deny");
	ctl_hdr(&hello, RF_CTL_HELLO, sizeof hello);
	put("ctl", "hello", &hello, sizeof hello);

	struct rf_ctl_sub sub = { .type = RF_EVENT_EXEC, .action = RF_ACTION_AUTH };
	ctl_hdr(&sub, RF_CTL_SUBSCRIBE, sizeof sub);
	put("ctl", "subscribe", &sub, sizeof sub);
	ctl_hdr(&sub, RF_CTL_UNSUBSCRIBE, sizeof sub);
	put("ctl", "unsubscribe", &sub, sizeof sub);

	struct rf_ctl_mute_proc mp = { .pid = 1, .start_time_ns = 10 };
	ctl_hdr(&mp, RF_CTL_MUTE_PROC, sizeof mp);
	put("ctl", "mute_proc", &mp, sizeof mp);

	unsigned char path[sizeof(struct rf_ctl_mute_path) + 16];
	struct rf_ctl_mute_path m = { .flags = RF_MUTE_PREFIX | RF_MUTE_TARGET, .len = 9 };
	memcpy(path, &m, sizeof m);
	memcpy(path + sizeof m, "/usr/bin", 9);
	ctl_hdr(path, RF_CTL_MUTE_PATH, (uint32_t)(sizeof m + 9));
	put("ctl", "mute_path", path, sizeof m + 9);

	struct rf_ctl_mute_invert inv = { .kind = RF_MUTE_EXE, .inverted = 1 };
	ctl_hdr(&inv, RF_CTL_MUTE_INVERT, sizeof inv);
	put("ctl", "mute_invert", &inv, sizeof inv);

	struct rf_ctl_hdr ready;
	ctl_hdr(&ready, RF_CTL_READY, sizeof ready);
	ready.reserved = 0;
	put("ctl", "ready", &ready, sizeof ready);
}

/* ---- operator requests ---- */

static void gen_ops(void)
{
	struct rf_ops_req r = { .magic = RF_OPS_MAGIC, .version = RF_PROTO_VERSION, .cmd = RF_OPS_STATUS };
	put("ops_req", "status", &r, sizeof r);
	r.cmd = RF_OPS_CLIENTS;
	put("ops_req", "clients", &r, sizeof r);
	r.cmd = RF_OPS_TAIL;
	r.type_mask = (1ull << RF_EVENT_EXEC) | (1ull << RF_EVENT_OPEN);
	r.exclude_pgid = 1234;
	r.flags = RF_OPS_F_EXCLUDE_PID;
	put("ops_req", "tail", &r, sizeof r);
}

/* ---- recordings ---- */

static void gen_recfile(void)
{
	static unsigned char rec[4 * RF_MSG_MAX];
	size_t n = 0;
	struct rf_rec_hdr h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, RF_REC_MAGIC, sizeof h.magic);
	h.version = RF_PROTO_VERSION;
	memcpy(rec, &h, sizeof h);
	n = sizeof h;
	put("recfile", "empty", rec, n);
	uint32_t l = msg_exec();
	memcpy(rec + n, b.u.bytes, l);
	n += l;
	l = msg_simple(RF_EVENT_FORK, RF_ACTION_NOTIFY);
	memcpy(rec + n, b.u.bytes, l);
	n += l;
	l = msg_simple(RF_EVENT_RENAME, RF_ACTION_NOTIFY);
	memcpy(rec + n, b.u.bytes, l);
	n += l;
	put("recfile", "three", rec, n);
	put("recfile", "truncated", rec, n - 5);
}

/* ---- configuration and manifests ---- */

static void gen_config(void)
{
	put_str("config", "broker",
		"[broker]\n"
		"state_dir = /tmp/rf/run          # control socket and runtime files\n"
		"watch = /tmp/rf                  # AUTH marks only on this path's filesystem\n"
		"clients_dir = /tmp/rf/clients.d\n"
		"[auth]\n"
		"exec_deadline_ms = 1000\n"
		"open_deadline_ms = 250\n"
		"default_verdict = allow\n");
	put_str("config", "broker_all",
		"; comment\n[broker]\nwatch = /a /b\nring_kib = 256\nmute_exe = /usr/lib/systemd\n"
		"[auth]\ndefault_verdict = deny\ncache = no\nmax_pending = 16\n"
		"[sensors]\nebpf = off\nproc_connector = yes\nfile_events = 0\n"
		"replay = /var/tmp/r.rfrec\nreplay_loops = 3\n");
	put_str("config", "manifest",
		"[client]\nname = deny\nexec = /opt/rf/bin/rf-example-deny-exec\nargs = *evil*\n"
		"subscribe = auth_exec\nmode = enforce\n");
	put_str("config", "manifest_all",
		"[client]\nname = scan\nexec = /usr/bin/scan\nargs = -a -b   # two\n"
		"subscribe = auth_open, notify_fork exit all\nmode = monitor\n"
		"exec_deadline_ms = 100\nopen_deadline_ms = 50\n");
}

/* ---- shared-memory images ---- */

static void gen_respring(void)
{
	const uint32_t evt = 2 * RF_MSG_MAX, slots = 16;
	uint32_t size = rf_shm_size(evt, slots);
	unsigned char *img = aligned_alloc(4096, size);
	if (!img)
		exit(1);
	memset(img, 0, size);
	if (rf_shm_init(img, evt, slots) < 0)
		exit(1);
	struct rf_shm_hdr *h = (struct rf_shm_hdr *)(void *)img;
	/* the meaningful bytes end with the response slots */
	uint32_t used = h->resp_off + slots * (uint32_t)sizeof(struct rf_wire_response);
	put("respring", "fresh", img, used);
	/* a consumer tail that is not 8-aligned, just before the end: attach must refuse it */
	h->evt.tail = evt - 4;
	h->evt.head = evt + 4;
	put("respring", "misaligned_tail", img, used);
	h->evt.tail = h->evt.head = 0;

	struct rf_evring pe, ce;
	struct rf_respring pr, cr;
	if (rf_shm_attach(img, size, &pe, &pr) < 0 || rf_shm_attach(img, size, &ce, &cr) < 0)
		exit(1);
	/* records and responses in flight, the events wrapped once with a pad */
	for (int i = 0; i < 5; i++) {
		uint32_t l = i % 2 ? msg_exec() : msg_simple(RF_EVENT_FORK, RF_ACTION_NOTIFY);
		if (rf_evring_push(&pe, b.u.bytes, l) < 0)
			exit(1);
	}
	for (uint64_t id = 1; id <= 5; id++) {
		struct rf_wire_response w = { .id = id, .verdict = RF_ALLOW };
		if (rf_respring_push(&pr, &w) < 0)
			exit(1);
	}
	put("respring", "in_flight", img, used);
	const void *rec;
	uint32_t len;
	while (rf_evring_peek(&ce, &rec, &len) == 1)
		rf_evring_consume(&ce, len);
	struct rf_wire_response out[16];
	(void)rf_respring_pop(&cr, out, 16);
	static unsigned char big[RF_MSG_MAX];
	memset(big, 0, sizeof big);
	memcpy(big, b.u.bytes, sizeof(struct rf_message));
	for (int i = 0; i < 3; i++) {
		uint32_t l = 6000;
		memcpy(big, &l, sizeof l);
		if (rf_evring_push(&pe, big, l) < 0)
			exit(1);
		if (i < 2 && rf_evring_peek(&ce, &rec, &len) == 1)
			rf_evring_consume(&ce, len);
	}
	(void)rf_evring_prepare_sleep(&ce);
	put("respring", "wrapped", img, used);
	free(img);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) < 0 && errno != EEXIST) {
		perror(out_dir);
		return 1;
	}
	gen_msg();
	gen_ctl();
	gen_ops();
	gen_recfile();
	gen_config();
	gen_respring();
	return 0;
}
