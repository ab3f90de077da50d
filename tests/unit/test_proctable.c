/*
 * test_proctable.c - the broker's process table (src/broker/proctable.c).
 *
 * One test seeds from the real /proc and checks this very process against
 * what the kernel says.  The others point pt.proc_root at a fake /proc built
 * in a temporary directory (stat, status, loginuid, sessionid, cmdline, exe
 * and cwd links), so every field has a known value, and drive the table with
 * raw sensor events: fork, exec, exit, pid reuse, the size limit, and the
 * message fill.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/proctable.h"
#include "common/msgbuild.h"
#include "common/wire.h"
#include "ringfence/ringfence.h"

static uint64_t ns_per_tick(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	assert_true(hz > 0);
	return 1000000000ull / (uint64_t)hz;
}

/* ---- the real /proc ---- */

/* Field 22 (starttime) and field 4 (ppid) of /proc/self/stat, parsed here independently. */
static void self_stat(unsigned long long *ret_start, unsigned *ret_ppid)
{
	char buf[2048];
	FILE *f = fopen("/proc/self/stat", "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *r = strrchr(buf, ')');
	assert_non_null(r);
	unsigned long long v[23] = { 0 };
	int field = 3;
	for (char *save, *t = strtok_r(r + 2, " ", &save); t && field <= 22;
	     t = strtok_r(NULL, " ", &save), field++)
		v[field] = strtoull(t, NULL, 10);
	assert_int_equal(field, 23);
	*ret_start = v[22];
	*ret_ppid = (unsigned)v[4];
}

static void test_seed_real_proc(void **state)
{
	struct rf_proctable pt;
	assert_int_equal(rf_proctable_init(&pt, 0), 0);
	int n = rf_proctable_seed(&pt);
	assert_true(n >= 2);   /* at least init and us */
	assert_int_equal(pt.count, (uint32_t)n);

	uint32_t self = (uint32_t)getpid();
	struct rf_proc *p = rf_proctable_get(&pt, self, false);
	assert_non_null(p);
	unsigned long long ticks;
	unsigned ppid;
	self_stat(&ticks, &ppid);
	assert_int_equal(p->ppid, (uint32_t)getppid());
	assert_int_equal(p->ppid, ppid);
	assert_int_equal(p->start_time_ns, ticks * ns_per_tick());
	assert_int_equal(p->pgid, (uint32_t)getpgrp());
	assert_int_equal(p->uid, getuid());
	assert_int_equal(p->euid, geteuid());
	assert_int_equal(rf_proc_start_time("/proc", self), p->start_time_ns);

	char exe[PATH_MAX];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
	assert_true(el > 0);
	exe[el] = '\0';
	assert_non_null(p->exe);
	assert_string_equal(p->exe, exe);
	struct stat st;
	assert_int_equal(stat("/proc/self/exe", &st), 0);
	assert_int_equal(p->exe_ino, st.st_ino);
	/* argv as /proc/self/cmdline has it, NUL separated, without the last NUL */
	char cmd[4096];
	FILE *cf = fopen("/proc/self/cmdline", "r");
	assert_non_null(cf);
	size_t cl = fread(cmd, 1, sizeof cmd, cf);
	fclose(cf);
	assert_true(cl > 0 && cmd[cl - 1] == '\0');
	assert_non_null(p->args);
	assert_int_equal(p->args_len, cl - 1);
	assert_memory_equal(p->args, cmd, cl - 1);

	/* the parent is in the table too, and its start time is ours to compare */
	struct rf_proc *pp = rf_proctable_get(&pt, p->ppid, false);
	assert_non_null(pp);
	assert_int_equal(p->parent_start_time_ns, pp->start_time_ns);
	rf_proctable_free(&pt);
}

/* ---- a fake /proc ---- */

struct fake {
	char dir[64];          /* the temporary directory */
	char root[96];         /* dir/proc */
	char exe_a[128];       /* dir/bin/prog-a */
	char exe_b[128];       /* dir/bin/prog-b */
	char cwd[128];         /* dir/work */
};

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void write_str(const char *path, const char *s)
{
	write_file(path, s, strlen(s));
}

struct fake_proc {
	uint32_t pid, ppid, pgid;
	unsigned long long start_ticks;
	const char *comm;
	uint32_t uid, euid, gid, egid;
	const char *exe;       /* link target, NULL for none (a kernel thread) */
	const char *cmdline;
	size_t cmdline_len;
};

static void fake_add(const struct fake *f, const struct fake_proc *fp)
{
	char d[256], p[300], buf[1024];
	snprintf(d, sizeof d, "%s/%u", f->root, fp->pid);
	assert_int_equal(mkdir(d, 0755), 0);
	snprintf(p, sizeof p, "%s/stat", d);
	snprintf(buf, sizeof buf,
		 "%u (%s) S %u %u %u 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 %llu 123456 789 18446744073709551615\n",
		 fp->pid, fp->comm, fp->ppid, fp->pgid, fp->pgid, fp->start_ticks);
	write_str(p, buf);
	snprintf(p, sizeof p, "%s/status", d);
	snprintf(buf, sizeof buf,
		 "Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%u\nPid:\t%u\nPPid:\t%u\n"
		 "Uid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\nFDSize:\t64\n",
		 fp->comm, fp->pid, fp->pid, fp->ppid, fp->uid, fp->euid, fp->euid, fp->euid, fp->gid,
		 fp->egid, fp->egid, fp->egid);
	write_str(p, buf);
	snprintf(p, sizeof p, "%s/loginuid", d);
	write_str(p, "1000\n");
	snprintf(p, sizeof p, "%s/sessionid", d);
	write_str(p, "7");
	snprintf(p, sizeof p, "%s/cmdline", d);
	write_file(p, fp->cmdline, fp->cmdline_len);
	if (fp->exe) {
		snprintf(p, sizeof p, "%s/exe", d);
		assert_int_equal(symlink(fp->exe, p), 0);
	}
	snprintf(p, sizeof p, "%s/cwd", d);
	assert_int_equal(symlink(f->cwd, p), 0);
}

#define CMD_A "prog-a\0-x\0--y=1\0"
#define CMD_B "prog-b\0"

static const unsigned long long START_A = 4242, START_B = 5000;

static void fake_setup(struct fake *f)
{
	strcpy(f->dir, "/tmp/rfpt.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->root, sizeof f->root, "%s/proc", f->dir);
	snprintf(f->exe_a, sizeof f->exe_a, "%s/bin/prog-a", f->dir);
	snprintf(f->exe_b, sizeof f->exe_b, "%s/bin/prog-b", f->dir);
	snprintf(f->cwd, sizeof f->cwd, "%s/work", f->dir);
	char p[256];
	assert_int_equal(mkdir(f->root, 0755), 0);
	snprintf(p, sizeof p, "%s/bin", f->dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(mkdir(f->cwd, 0755), 0);
	write_str(f->exe_a, "#!/bin/sh\n");
	write_str(f->exe_b, "#!/bin/sh\nexit 0\n");
	/* not processes: must be skipped by the seed */
	snprintf(p, sizeof p, "%s/self", f->root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/12x", f->root);
	assert_int_equal(mkdir(p, 0755), 0);

	const struct fake_proc a = { .pid = 100, .ppid = 1, .pgid = 100, .start_ticks = START_A,
				     .comm = "we) ird (name", .uid = 1000, .euid = 1001, .gid = 100,
				     .egid = 101, .exe = f->exe_a, .cmdline = CMD_A,
				     .cmdline_len = sizeof CMD_A - 1 };
	const struct fake_proc b = { .pid = 200, .ppid = 100, .pgid = 100, .start_ticks = START_B,
				     .comm = "a-very-long-command-name", .uid = 0, .euid = 0, .gid = 0,
				     .egid = 0, .exe = f->exe_b, .cmdline = CMD_B,
				     .cmdline_len = sizeof CMD_B - 1 };
	fake_add(f, &a);
	fake_add(f, &b);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void fake_teardown(struct fake *f)
{
	assert_int_equal(nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void table_setup(struct rf_proctable *pt, const struct fake *f, uint32_t limit)
{
	assert_int_equal(rf_proctable_init(pt, limit), 0);
	pt->proc_root = f->root;
}

static ino_t ino_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static struct rf_raw_event raw(uint16_t type, uint32_t pid, uint64_t start)
{
	struct rf_raw_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = type;
	ev.pid = pid;
	ev.tid = pid;
	ev.start_time_ns = start;
	return ev;
}

static void test_seed_fake(void **state)
{
	struct fake f;
	fake_setup(&f);
	struct rf_proctable pt;
	table_setup(&pt, &f, 0);
	assert_int_equal(rf_proctable_seed(&pt), 2);
	assert_int_equal(pt.count, 2);
	assert_int_equal(pt.loads, 2);

	struct rf_proc *a = rf_proctable_get(&pt, 100, false);
	assert_non_null(a);
	assert_int_equal(a->ppid, 1);
	assert_int_equal(a->pgid, 100);
	assert_int_equal(a->start_time_ns, START_A * ns_per_tick());
	assert_string_equal(a->comm, "we) ird (name");
	assert_int_equal(a->uid, 1000);
	assert_int_equal(a->euid, 1001);
	assert_int_equal(a->gid, 100);
	assert_int_equal(a->egid, 101);
	assert_int_equal(a->auid, 1000);
	assert_int_equal(a->sessionid, 7);
	assert_string_equal(a->exe, f.exe_a);
	assert_int_equal(a->exe_ino, ino_of(f.exe_a));
	assert_true(S_ISREG(a->exe_mode));
	assert_string_equal(a->cwd, f.cwd);
	assert_int_equal(a->argc, 3);
	assert_int_equal(a->args_len, sizeof CMD_A - 2);   /* the last NUL is dropped */
	assert_memory_equal(a->args, CMD_A, sizeof CMD_A - 2);

	struct rf_proc *b = rf_proctable_get(&pt, 200, false);
	assert_non_null(b);
	assert_int_equal(b->ppid, 100);
	assert_int_equal(b->parent_start_time_ns, START_A * ns_per_tick());
	assert_string_equal(b->comm, "a-very-long-com");   /* 15 bytes, like the kernel's */
	assert_int_equal(b->argc, 1);
	assert_string_equal(b->args, "prog-b");

	/* lookups: a miss does not load unless asked; an unknown pid is counted */
	assert_null(rf_proctable_get(&pt, 300, false));
	assert_null(rf_proctable_get(&pt, 300, true));
	assert_int_equal(pt.load_failures, 1);
	assert_null(rf_proctable_get(&pt, 0, true));
	rf_proctable_remove(&pt, 200);
	assert_null(rf_proctable_get(&pt, 200, false));
	b = rf_proctable_get(&pt, 200, true);
	assert_non_null(b);
	assert_int_equal(b->start_time_ns, START_B * ns_per_tick());
	assert_int_equal(rf_proc_start_time(f.root, 200), START_B * ns_per_tick());
	assert_int_equal(rf_proc_start_time(f.root, 999), 0);

	rf_proctable_free(&pt);
	fake_teardown(&f);
}

static void test_fork_exec_exit(void **state)
{
	struct fake f;
	fake_setup(&f);
	struct rf_proctable pt;
	table_setup(&pt, &f, 0);
	const uint64_t sa = START_A * ns_per_tick();

	/* fork: the child (not in /proc yet) gets the parent's fields */
	struct rf_raw_event ev = raw(RF_EVENT_FORK, 100, sa);
	ev.u.fork.child_pid = 300;
	ev.u.fork.child_start_time_ns = 555;
	struct rf_proc *p = rf_proctable_apply(&pt, &ev);
	assert_non_null(p);
	assert_int_equal(p->pid, 100);
	struct rf_proc *c = rf_proctable_get(&pt, 300, false);
	assert_non_null(c);
	p = rf_proctable_get(&pt, 100, false);
	assert_int_equal(c->ppid, 100);
	assert_int_equal(c->parent_start_time_ns, sa);
	assert_int_equal(c->start_time_ns, 555);
	assert_int_equal(c->pgid, p->pgid);
	assert_int_equal(c->uid, 1000);
	assert_int_equal(c->euid, 1001);
	assert_int_equal(c->gid, 100);
	assert_int_equal(c->egid, 101);
	assert_int_equal(c->auid, 1000);
	assert_int_equal(c->sessionid, 7);
	assert_string_equal(c->comm, p->comm);
	assert_string_equal(c->exe, f.exe_a);
	assert_true(c->exe != p->exe);                     /* its own copy */
	assert_int_equal(c->exe_ino, p->exe_ino);
	assert_string_equal(c->cwd, f.cwd);
	assert_int_equal(c->argc, 3);
	assert_int_equal(c->args_len, p->args_len);
	assert_memory_equal(c->args, p->args, p->args_len);
	assert_true(c->args != p->args);
	assert_int_equal(pt.count, 2);                     /* parent loaded from /proc, child */

	/* exec with raw event data: a new image and argv replace the old */
	static const char new_args[] = "new\0-a\0";        /* trailing NULs are dropped */
	ev = raw(RF_EVENT_EXEC, 300, 555);
	ev.u.exec.filename = "/usr/bin/new";
	ev.u.exec.args = new_args;
	ev.u.exec.args_len = sizeof new_args;
	ev.u.exec.argc = 2;
	ev.u.exec.dev = 8;
	ev.u.exec.ino = 99;
	ev.comm = "new";
	c = rf_proctable_apply(&pt, &ev);
	assert_non_null(c);
	assert_int_equal(c->pid, 300);
	assert_string_equal(c->exe, "/usr/bin/new");
	assert_int_equal(c->exe_dev, 8);
	assert_int_equal(c->exe_ino, 99);
	assert_int_equal(c->args_len, 6);
	assert_memory_equal(c->args, "new\0-a", 6);
	assert_int_equal(c->argc, 2);
	assert_string_equal(c->comm, "new");
	assert_int_equal(c->start_time_ns, 555);
	assert_int_equal(c->ppid, 100);                    /* exec keeps the lineage */

	/* a relative name resolves against the cwd; no argv: none is kept */
	ev = raw(RF_EVENT_EXEC, 300, 555);
	ev.u.exec.filename = "sub/tool";
	c = rf_proctable_apply(&pt, &ev);
	char want[256];
	snprintf(want, sizeof want, "%s/sub/tool", f.cwd);
	assert_string_equal(c->exe, want);
	assert_null(c->args);
	assert_int_equal(c->argc, 0);
	assert_int_equal(c->exe_ino, 0);                   /* the old identity is gone */

	/* for a process /proc knows, /proc's exe wins over the event's filename */
	ev = raw(RF_EVENT_EXEC, 200, START_B * ns_per_tick());
	ev.u.exec.filename = "/somewhere/else";
	struct rf_proc *b = rf_proctable_apply(&pt, &ev);
	assert_string_equal(b->exe, f.exe_b);
	assert_int_equal(b->exe_ino, ino_of(f.exe_b));
	assert_string_equal(b->args, "prog-b");            /* from /proc/200/cmdline */

	/*
	 * ... unless the event names another file than /proc shows: the
	 * process has exec'd again since (bash running its last command in
	 * place), and /proc shows that later image.  This exec's own name and
	 * identity win, and what follows it (a connect) names it, not the next.
	 */
	ev = raw(RF_EVENT_EXEC, 200, START_B * ns_per_tick());
	ev.u.exec.filename = "/usr/bin/bash";
	ev.u.exec.dev = 8;
	ev.u.exec.ino = ino_of(f.exe_a);                   /* not prog-b, which /proc shows */
	b = rf_proctable_apply(&pt, &ev);
	assert_string_equal(b->exe, "/usr/bin/bash");
	assert_int_equal(b->exe_ino, ino_of(f.exe_a));
	assert_int_equal(b->exe_dev, 8);
	assert_int_equal(b->exe_mode, 0);                  /* prog-b's is not this file's */
	assert_int_equal(b->exe_ctime_ns, 0);
	ev = raw(RF_EVENT_CONNECT, 200, START_B * ns_per_tick());
	b = rf_proctable_apply(&pt, &ev);
	assert_string_equal(b->exe, "/usr/bin/bash");
	/* the event and /proc agree on the file: /proc's resolved path */
	ev = raw(RF_EVENT_EXEC, 200, START_B * ns_per_tick());
	ev.u.exec.filename = "/bin/prog-b-by-another-name";
	ev.u.exec.ino = ino_of(f.exe_b);
	b = rf_proctable_apply(&pt, &ev);
	assert_string_equal(b->exe, f.exe_b);
	assert_true(S_ISREG(b->exe_mode));
	/*
	 * paths the sensor resolved at the event (eBPF) are the truth: neither
	 * /proc's exe (prog-b) nor its cwd is read, so a process that is gone,
	 * or has exec'd again, by the time the record is applied keeps this
	 * exec's image
	 */
	uint64_t loads_before = pt.loads;
	ev = raw(RF_EVENT_EXEC, 200, START_B * ns_per_tick());
	ev.u.exec.filename = "rel/name";
	ev.u.exec.exe_path = "/opt/resolved/tool";
	ev.u.exec.cwd = "/srv/work";
	ev.u.exec.ctime_ns = 1234567890123;
	ev.u.exec.mode = S_IFREG | 0755;
	ev.u.exec.dev = 9;
	ev.u.exec.ino = 77;
	b = rf_proctable_apply(&pt, &ev);
	assert_string_equal(b->exe, "/opt/resolved/tool");
	assert_string_equal(b->cwd, "/srv/work");
	assert_int_equal(b->exe_ctime_ns, 1234567890123);
	assert_int_equal(b->exe_mode, S_IFREG | 0755);
	assert_int_equal(b->exe_dev, 9);
	assert_int_equal(b->exe_ino, 77);
	assert_int_equal(pt.loads, loads_before);
	/* an unresolved exe with a resolved cwd: the name joins the event's cwd */
	ev = raw(RF_EVENT_EXEC, 300, 555);
	ev.u.exec.filename = "sub/tool";
	ev.u.exec.cwd = "/srv/other";
	ev.u.exec.ino = 5;
	c = rf_proctable_apply(&pt, &ev);
	assert_string_equal(c->exe, "/srv/other/sub/tool");
	assert_string_equal(c->cwd, "/srv/other");

	/* exit keeps the entry until the broker removes it */
	uint32_t before = pt.count;
	ev = raw(RF_EVENT_EXIT, 300, 555);
	ev.u.exit.status = 3 << 8;
	c = rf_proctable_apply(&pt, &ev);
	assert_non_null(c);
	assert_int_equal(c->pid, 300);
	assert_int_equal(pt.count, before);
	rf_proctable_remove(&pt, 300);
	assert_null(rf_proctable_get(&pt, 300, false));
	assert_int_equal(pt.count, before - 1);
	rf_proctable_remove(&pt, 300);                     /* absent: nothing happens */
	assert_int_equal(pt.count, before - 1);

	rf_proctable_free(&pt);
	fake_teardown(&f);
}

static void test_pid_reuse(void **state)
{
	struct fake f;
	fake_setup(&f);
	struct rf_proctable pt;
	table_setup(&pt, &f, 0);
	const uint64_t sa = START_A * ns_per_tick();

	struct rf_raw_event ev = raw(RF_EVENT_FORK, 100, sa);
	ev.u.fork.child_pid = 300;
	ev.u.fork.child_start_time_ns = 555;
	assert_non_null(rf_proctable_apply(&pt, &ev));
	static const char args[] = "old\0argv";
	ev = raw(RF_EVENT_EXEC, 300, 555);
	ev.u.exec.filename = "/usr/bin/old";
	ev.u.exec.args = args;
	ev.u.exec.args_len = sizeof args - 1;
	ev.u.exec.argc = 2;
	assert_non_null(rf_proctable_apply(&pt, &ev));

	/* the same start time: the same process */
	ev = raw(RF_EVENT_OPEN, 300, 555);
	struct rf_proc *c = rf_proctable_apply(&pt, &ev);
	assert_string_equal(c->exe, "/usr/bin/old");

	/* an exit reported with another start time does not replace it */
	ev = raw(RF_EVENT_EXIT, 300, 556);
	c = rf_proctable_apply(&pt, &ev);
	assert_string_equal(c->exe, "/usr/bin/old");
	assert_int_equal(c->ppid, 100);

	/* another start time on any other event: pid 300 was reused, the old entry goes */
	uint32_t before = pt.count;
	ev = raw(RF_EVENT_OPEN, 300, 777);
	ev.ppid = 200;
	c = rf_proctable_apply(&pt, &ev);
	assert_non_null(c);
	assert_int_equal(c->pid, 300);
	assert_int_equal(c->start_time_ns, 777);
	assert_int_equal(c->ppid, 200);
	assert_null(c->exe);
	assert_null(c->args);
	assert_int_equal(c->argc, 0);
	assert_int_equal(c->parent_start_time_ns, 0);      /* 200 is not in the table */
	assert_int_equal(pt.count, before);
	assert_ptr_equal(rf_proctable_get(&pt, 300, false), c);

	/* unknown start times (0) never count as reuse */
	ev = raw(RF_EVENT_OPEN, 300, 0);
	assert_ptr_equal(rf_proctable_apply(&pt, &ev), c);
	assert_int_equal(c->start_time_ns, 777);

	rf_proctable_free(&pt);
	fake_teardown(&f);
}

static void test_limit_evicts(void **state)
{
	struct fake f;
	fake_setup(&f);
	struct rf_proctable pt;
	table_setup(&pt, &f, 4);
	for (uint32_t pid = 1000; pid < 1020; pid++) {
		struct rf_raw_event ev = raw(RF_EVENT_OPEN, pid, pid * 10ull);
		struct rf_proc *p = rf_proctable_apply(&pt, &ev);
		assert_non_null(p);
		assert_int_equal(p->pid, pid);
		assert_int_equal(p->start_time_ns, pid * 10ull);
		assert_true(pt.count <= 4);
		assert_ptr_equal(rf_proctable_get(&pt, pid, false), p);
	}
	assert_int_equal(pt.count, 4);
	assert_int_equal(pt.evictions, 16);
	unsigned present = 0;
	for (uint32_t pid = 1000; pid < 1020; pid++)
		present += rf_proctable_get(&pt, pid, false) != NULL;
	assert_int_equal(present, 4);

	/* the seed is bounded too */
	rf_proctable_free(&pt);
	table_setup(&pt, &f, 1);
	assert_int_equal(rf_proctable_seed(&pt), 2);
	assert_int_equal(pt.count, 1);
	assert_int_equal(pt.evictions, 1);
	rf_proctable_free(&pt);
	fake_teardown(&f);
}

/*
 * A fork when the table is full must not evict the parent it is copying
 * from (nor may a fork event naming the parent as its own child free it):
 * under the sanitizer build either would be a use after free.
 */
static void test_fork_at_limit_keeps_parent(void **state)
{
	struct fake f;
	fake_setup(&f);
	struct rf_proctable pt;
	table_setup(&pt, &f, 1);
	const uint64_t sa = START_A * ns_per_tick();

	struct rf_raw_event ev = raw(RF_EVENT_FORK, 100, sa);
	ev.u.fork.child_pid = 300;
	ev.u.fork.child_start_time_ns = 555;
	struct rf_proc *p = rf_proctable_apply(&pt, &ev);
	assert_non_null(p);
	assert_int_equal(p->pid, 100);
	assert_string_equal(p->exe, f.exe_a);
	struct rf_proc *c = rf_proctable_get(&pt, 300, false);
	assert_non_null(c);
	assert_int_equal(c->ppid, 100);
	assert_int_equal(c->parent_start_time_ns, sa);
	assert_string_equal(c->exe, f.exe_a);
	assert_true(pt.count <= 2);

	/* many more forks: bounded, and each returns a live parent */
	for (uint32_t k = 0; k < 50; k++) {
		ev = raw(RF_EVENT_FORK, 100, sa);
		ev.u.fork.child_pid = 400 + k;
		ev.u.fork.child_start_time_ns = 600 + k;
		p = rf_proctable_apply(&pt, &ev);
		assert_non_null(p);
		assert_int_equal(p->pid, 100);
		assert_true(pt.count <= 2);
		c = rf_proctable_get(&pt, 400 + k, false);
		assert_non_null(c);
		assert_int_equal(c->ppid, 100);
	}

	/* a fork event that names the acting process as its own child (garbage) */
	ev = raw(RF_EVENT_FORK, 100, sa);
	ev.u.fork.child_pid = 100;
	p = rf_proctable_apply(&pt, &ev);
	assert_non_null(p);
	assert_int_equal(p->pid, 100);
	assert_string_equal(p->exe, f.exe_a);
	assert_ptr_equal(rf_proctable_get(&pt, 100, false), p);

	rf_proctable_free(&pt);
	fake_teardown(&f);
}

static void test_fill(void **state)
{
	struct fake f;
	fake_setup(&f);
	struct rf_proctable pt;
	table_setup(&pt, &f, 0);
	assert_int_equal(rf_proctable_seed(&pt), 2);
	const uint64_t sa = START_A * ns_per_tick();

	struct rf_raw_event ev = raw(RF_EVENT_FORK, 100, sa);
	ev.u.fork.child_pid = 300;
	ev.u.fork.child_start_time_ns = 555;
	assert_non_null(rf_proctable_apply(&pt, &ev));
	static const char args[] = "tool\0--flag\0value";
	ev = raw(RF_EVENT_EXEC, 300, 555);
	ev.u.exec.filename = "/usr/bin/tool";
	ev.u.exec.args = args;
	ev.u.exec.args_len = sizeof args;
	ev.u.exec.argc = 3;
	struct rf_proc *c = rf_proctable_apply(&pt, &ev);
	assert_non_null(c);

	struct rf_msgb *b = malloc(sizeof *b);
	assert_non_null(b);
	rf_msgb_init(b, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
	rf_proctable_fill(&pt, b, c);
	uint32_t len = rf_msgb_finish(b);
	assert_int_equal(rf_msg_validate(b->u.bytes, len), RF_OK);
	const struct rf_message *m = &b->u.msg;
	/* nothing cut when it fits */
	assert_int_equal(m->hdr.cut, 0);
	assert_int_equal(m->process.flags & (RF_PROC_F_ARGS_CUT | RF_PROC_F_CWD_CUT), 0);
	assert_int_equal(m->process.pid, 300);
	assert_int_equal(m->process.ppid, 100);
	assert_int_equal(m->process.start_time_ns, 555);
	assert_int_equal(m->process.parent_start_time_ns, sa);
	assert_int_equal(m->process.uid, 1000);
	assert_int_equal(m->process.euid, 1001);
	assert_string_equal(rf_msg_str(m, m->process.exe.path), "/usr/bin/tool");
	assert_string_equal(rf_msg_str(m, m->process.comm), "we) ird (name");
	assert_string_equal(rf_msg_str(m, m->process.cwd), f.cwd);
	assert_int_equal(m->process.argc, 3);
	assert_int_equal(m->process.args.len, sizeof args - 1);
	assert_memory_equal(rf_msg_str(m, m->process.args), args, sizeof args);
	assert_int_equal(m->parent.pid, 100);
	assert_int_equal(m->parent.start_time_ns, sa);
	assert_string_equal(rf_msg_str(m, m->parent.exe), f.exe_a);
	assert_string_equal(rf_msg_str(m, m->parent.comm), "we) ird (name");

	/* a process whose parent is unknown: parent strings absent, still valid */
	ev = raw(RF_EVENT_OPEN, 900, 1);
	ev.ppid = 901;
	struct rf_proc *o = rf_proctable_apply(&pt, &ev);
	rf_msgb_init(b, RF_EVENT_OPEN, RF_ACTION_NOTIFY);
	rf_proctable_fill(&pt, b, o);
	len = rf_msgb_finish(b);
	assert_int_equal(rf_msg_validate(b->u.bytes, len), RF_OK);
	assert_int_equal(b->u.msg.parent.pid, 901);
	assert_int_equal(b->u.msg.parent.exe.off, 0);
	assert_int_equal(b->u.msg.process.exe.path.off, 0);

	/* a huge argv is truncated, and the message still validates */
	static char huge[RF_ARGS_MAX * 2];
	for (size_t i = 0; i < sizeof huge; i++)
		huge[i] = i % 10 == 9 ? '\0' : (char)('a' + i % 26);
	ev = raw(RF_EVENT_EXEC, 300, 555);
	ev.u.exec.filename = "/usr/bin/tool";
	ev.u.exec.args = huge;
	ev.u.exec.args_len = sizeof huge;
	ev.u.exec.argc = (uint32_t)(sizeof huge / 10);
	c = rf_proctable_apply(&pt, &ev);
	assert_true(c->args_len <= RF_ARGS_MAX);
	static char longpath[6000];
	memset(longpath, 'p', sizeof longpath - 1);
	longpath[0] = '/';
	rf_msgb_init(b, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
	b->u.msg.ev.exec.target.path = rf_msgb_str(b, longpath);
	rf_proctable_fill(&pt, b, c);
	len = rf_msgb_finish(b);
	assert_true(b->truncated > 0);
	assert_true(len <= RF_MSG_MAX);
	assert_int_equal(rf_msg_validate(b->u.bytes, len), RF_OK);

	free(b);
	rf_proctable_free(&pt);
	fake_teardown(&f);
}

/*
 * The arbiter's order for an AUTH exec: a target path of RF_PATH_MAX, room
 * held for a 4 KiB new argv (half of what is left), then a process with a cwd and an argv as long
 * as they come.  The target stays whole and first, the new argv is cut at
 * an entry boundary at worst, and every shortened field is flagged.
 */
static void test_fill_target_first(void **state)
{
	struct fake f;
	fake_setup(&f);
	struct rf_proctable pt;
	table_setup(&pt, &f, 0);
	static char huge[RF_ARGS_MAX], cwd[RF_PATH_MAX], path[RF_PATH_MAX];
	for (size_t i = 0; i < sizeof huge; i++)
		huge[i] = i % 10 == 9 ? '\0' : (char)('a' + i % 26);
	memset(cwd, 'c', sizeof cwd - 1);
	cwd[0] = '/';
	memset(path, 't', sizeof path - 1);
	path[0] = '/';
	struct rf_raw_event ev = raw(RF_EVENT_EXEC, 300, 555);
	ev.u.exec.filename = "/usr/bin/tool";
	ev.u.exec.args = huge;
	ev.u.exec.args_len = sizeof huge;
	ev.u.exec.argc = (uint32_t)(sizeof huge / 10);
	ev.u.exec.exe_path = "/usr/bin/tool";
	ev.u.exec.cwd = cwd;
	struct rf_proc *c = rf_proctable_apply(&pt, &ev);
	assert_non_null(c);

	struct rf_msgb *b = malloc(sizeof *b);
	assert_non_null(b);
	rf_msgb_init(b, RF_EVENT_EXEC, RF_ACTION_AUTH);
	struct rf_message *m = &b->u.msg;
	assert_false(rf_msgb_field_str(b, RF_CUT_TARGET, &m->ev.exec.target.path, path));
	rf_msgb_hold(b, (RF_MSG_MAX - b->used) / 2);        /* as arbiter.c holds */
	rf_proctable_fill(&pt, b, c);
	rf_msgb_hold(b, 0);
	rf_msgb_args(b, &m->ev.exec.args, huge, sizeof huge - 1);
	uint32_t len = rf_msgb_finish(b);
	assert_int_equal(rf_msg_validate(b->u.bytes, len), RF_OK);

	assert_int_equal(m->ev.exec.target.path.off, sizeof(struct rf_message));
	assert_string_equal(rf_msg_str(m, m->ev.exec.target.path), path);
	assert_true(rf_msg_target_known(m));
	assert_string_equal(rf_msg_str(m, m->process.exe.path), "/usr/bin/tool");
	/* no room left for the old image's cwd and argv: cut, and said so */
	assert_true(m->process.flags & RF_PROC_F_CWD_CUT);
	assert_true(m->process.flags & RF_PROC_F_ARGS_CUT);
	assert_true(m->hdr.cut & RF_CUT_CWD);
	assert_true(m->hdr.cut & RF_CUT_ARGS);
	assert_false(m->hdr.cut & RF_CUT_TARGET);
	assert_true(m->hdr.flags & RF_MSG_F_CUT);
	/* the new argv got at least the held room, whole entries */
	assert_true(m->ev.exec.args.len >= (RF_MSG_MAX - sizeof *m - RF_PATH_MAX) / 2 - 10);
	assert_int_equal(huge[m->ev.exec.args.len], '\0');

	/* an argv cut before it reached the broker (fewer entries than argc) is cut too */
	ev.u.exec.args = "a\0b";
	ev.u.exec.args_len = 4;
	ev.u.exec.argc = 5;
	ev.u.exec.cwd = "/";
	c = rf_proctable_apply(&pt, &ev);
	rf_msgb_init(b, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
	rf_proctable_fill(&pt, b, c);
	assert_true(m->process.flags & RF_PROC_F_ARGS_CUT);
	assert_int_equal(m->hdr.cut, RF_CUT_ARGS);

	free(b);
	rf_proctable_free(&pt);
	fake_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_real_proc),
		cmocka_unit_test(test_seed_fake),
		cmocka_unit_test(test_fork_exec_exit),
		cmocka_unit_test(test_pid_reuse),
		cmocka_unit_test(test_limit_evicts),
		cmocka_unit_test(test_fork_at_limit_keeps_parent),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_fill_target_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
