/*
 * sandbox.c - the client sandbox (see sandbox.h): cgroups made by the
 * broker before fork, the one drop function the child runs before exec,
 * and the broker's answers to the seccomp user notifications of clients.
 *
 * Layers, each enough on its own for something and none trusted alone:
 *   uid        a uid of its own: the kernel's DAC keeps the client out of
 *              other processes and of files it was not given;
 *   cgroup     memory, pids, cpu: a leaking or spinning client cannot take
 *              the machine (rlimits cover what a cgroup cannot);
 *   netns      no network at all: a new namespace has a loopback that is down;
 *   landlock   the filesystem reduced to the manifest's grants plus what the
 *              dynamic loader needs, and no TCP, when the kernel has it;
 *   seccomp    a system call allowlist; everything else goes to the broker,
 *              which denies it and counts it, so an escape attempt is seen.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <link.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "broker/sandbox.h"
#include "common/fdpass.h"

/* ---- Landlock ABI constants newer than this system's <linux/landlock.h> ---- */

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)        /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)     /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)    /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)     /* ABI 4 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)   /* ABI 6 */
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes a size. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* The newest ABI whose rights this file knows; a newer kernel gets these. */
#define LL_ABI_KNOWN 6

#define LL_FS_ABI1 ((1ULL << 13) - 1)   /* EXECUTE .. MAKE_SYM */
#define LL_FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
			LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
/* Write grants: files and directories, but no symlinks, sockets, fifos or
 * device nodes, and no execute (nothing written may be run). */
#define LL_WRITE (LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
		  LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_DIR | \
		  LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
		  LANDLOCK_ACCESS_FS_REFER)
#define LL_EXEC (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE)

static uint64_t ll_handled_fs(int abi)
{
	uint64_t h = LL_FS_ABI1;
	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		h |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return h;
}

static int landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return v < 0 ? 0 : (int)v;
}

/* ---- small file helpers (broker side) ---- */

static int path_join(char *ret, size_t size, const char *a, const char *b)
{
	int n = snprintf(ret, size, "%s/%s", a, b);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int write_str(const char *dir, const char *file, const char *val)
{
	char p[PATH_MAX];
	if (path_join(p, sizeof p, dir, file) < 0)
		return -ENAMETOOLONG;
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(val);
	ssize_t n = write(fd, val, len);
	int r = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return r;
}

static int write_u64(const char *dir, const char *file, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
	return write_str(dir, file, buf);
}

/* Reads at most size-1 bytes of a small file, NUL terminated; length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got < size - 1) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	return (ssize_t)got;
}

/* Whether a blank/comma separated list contains word. */
static bool has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += wl) {
		bool start = p == list || p[-1] == ' ' || p[-1] == ',' || p[-1] == '\n';
		char e = p[wl];
		if (start && (e == '\0' || e == ' ' || e == ',' || e == '\n'))
			return true;
	}
	return false;
}

/* ---- cgroup discovery ---- */

static const char *const cg_ctrl_names[3] = { "memory", "pids", "cpu" };

/* Undoes mountinfo's octal escapes (\040 for a blank) in place. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/*
 * Finds the mount of the v1 hierarchy carrying ctrl, or of cgroup2 when
 * ctrl is NULL: its mount point and the cgroup path it shows as its root.
 */
static int find_cg_mount(const char *ctrl, char ret_dir[PATH_MAX], char ret_root[PATH_MAX])
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;
	while (getline(&line, &cap, f) > 0) {
		char *fld[12] = { 0 }, *save = NULL;
		int n = 0;
		for (char *t = strtok_r(line, " \n", &save); t && n < 12; t = strtok_r(NULL, " \n", &save))
			fld[n++] = t;
		int dash = -1;
		for (int i = 6; i < n; i++)
			if (!strcmp(fld[i], "-")) {
				dash = i;
				break;
			}
		if (dash < 0 || dash + 3 >= n)
			continue;
		const char *fstype = fld[dash + 1], *sopts = fld[dash + 3];
		bool match = ctrl ? !strcmp(fstype, "cgroup") && has_word(sopts, ctrl)
				  : !strcmp(fstype, "cgroup2");
		if (!match)
			continue;
		unescape(fld[3]);
		unescape(fld[4]);
		if (strlen(fld[3]) >= PATH_MAX || strlen(fld[4]) >= PATH_MAX)
			continue;
		strcpy(ret_root, fld[3]);
		strcpy(ret_dir, fld[4]);
		r = 0;
		break;
	}
	free(line);
	fclose(f);
	return r;
}

/* The broker's own cgroup path in the hierarchy of ctrl (NULL: v2). */
static int self_cg_path(const char *ctrl, char ret[PATH_MAX])
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		bool match = ctrl ? has_word(c1 + 1, ctrl) : !strcmp(line, "0:") ;
		if (!match || strlen(c2 + 1) >= PATH_MAX || c2[1] != '/')
			continue;
		strcpy(ret, c2 + 1);
		r = 0;
		break;
	}
	free(line);
	fclose(f);
	return r;
}

/*
 * The directory of the broker's own cgroup in a hierarchy, and (optional)
 * the hierarchy's mount point.
 */
static int own_cg_dir(const char *ctrl, char ret[PATH_MAX], char *ret_mount)
{
	char mdir[PATH_MAX], mroot[PATH_MAX], path[PATH_MAX];
	int r = find_cg_mount(ctrl, mdir, mroot);
	if (r < 0 || (r = self_cg_path(ctrl, path)) < 0)
		return r;
	const char *rel = path;
	size_t rl = strlen(mroot);
	if (strcmp(mroot, "/")) {
		/* a mount of a subtree (a container's): our cgroup must be inside it */
		if (strncmp(path, mroot, rl) || (path[rl] != '/' && path[rl] != '\0'))
			return -ENOENT;
		rel = path + rl;
	}
	if (!strcmp(rel, "/"))
		rel = "";
	int n = snprintf(ret, PATH_MAX, "%s%s", mdir, rel);
	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	if (ret_mount)
		strcpy(ret_mount, mdir);
	return 0;
}

/* v2: where client cgroups go, and which of our controllers it can hand down. */
static unsigned v2_probe(char base[PATH_MAX])
{
	char own[PATH_MAX], mnt[PATH_MAX], buf[512];
	if (own_cg_dir(NULL, own, mnt) < 0)
		return 0;
	strcpy(base, own);
	if (strcmp(own, mnt)) {
		/* not the root: it holds the broker, so it cannot give controllers
		 * to children (no internal processes); its parent can */
		char *slash = strrchr(base, '/');
		if (!slash || (size_t)(slash - base) < strlen(mnt))
			return 0;
		*slash = '\0';
	}
	char p[PATH_MAX];
	if (path_join(p, sizeof p, base, "cgroup.controllers") < 0 || read_small(p, buf, sizeof buf) < 0)
		return 0;
	unsigned mask = 0;
	for (unsigned i = 0; i < 3; i++)
		if (has_word(buf, cg_ctrl_names[i]))
			mask |= 1u << i;
	return mask;
}

/* v1: the broker's cgroup in each of the memory, pids and cpu hierarchies. */
static unsigned v1_probe(char dirs[3][PATH_MAX])
{
	unsigned mask = 0;
	for (unsigned i = 0; i < 3; i++)
		if (own_cg_dir(cg_ctrl_names[i], dirs[i], NULL) == 0)
			mask |= 1u << i;
	return mask;
}

/* ---- cgroup life cycle ---- */

/* SIGKILLs everything in a cgroup; v2's cgroup.kill when there is one. */
static void cg_kill(const char *dir)
{
	char p[PATH_MAX], buf[16384];
	(void)write_str(dir, "cgroup.kill", "1");
	if (path_join(p, sizeof p, dir, "cgroup.procs") < 0 || read_small(p, buf, sizeof buf) <= 0)
		return;
	for (char *s = buf, *end; *s; s = end) {
		long pid = strtol(s, &end, 10);
		if (end == s)
			break;
		if (pid > 1)
			kill((pid_t)pid, SIGKILL);
		while (*end == '\n')
			end++;
	}
}

/* Empties and removes a cgroup directory; ENOENT counts as done. */
static int cg_remove(const char *dir)
{
	cg_kill(dir);
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	return -errno;
}

/* Makes dir fresh: a leftover of an earlier start is emptied and removed. */
static int cg_make_leaf(const char *dir)
{
	(void)cg_remove(dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void note(struct rf_sandbox *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct rf_sandbox *sb, const char *fmt, ...)
{
	size_t used = strlen(sb->cgroup_note);
	if (used + 3 >= sizeof sb->cgroup_note)
		return;
	if (used)
		used += (size_t)snprintf(sb->cgroup_note + used, sizeof sb->cgroup_note - used, "; ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sb->cgroup_note + used, sizeof sb->cgroup_note - used, fmt, ap);
	va_end(ap);
}

/* The parent cgroup of this broker's clients: unique per broker instance. */
static char cg_instance[64] = "ringfence";

void rf_sandbox_set_instance(const char *id)
{
	snprintf(cg_instance, sizeof cg_instance, "ringfence-%s", id);
}

static uint64_t mem_bytes(const struct rf_manifest *m)
{
	return (uint64_t)m->memory_mb << 20;
}

#define CPU_PERIOD_US 100000u

/* Writes the limit of one controller (bit) into a v1 or v2 cgroup. */
static int cg_limit(const char *dir, unsigned bit, bool v2, const struct rf_manifest *m)
{
	int r;
	if (bit == RF_CG_MEMORY && v2) {
		if ((r = write_u64(dir, "memory.max", mem_bytes(m))) < 0)
			return r;
		/* no swap beyond the limit, and an OOM kill takes the whole client */
		r = write_str(dir, "memory.swap.max", "0");
		if (r < 0 && r != -ENOENT)
			return r;
		r = write_str(dir, "memory.oom.group", "1");
		return r == -ENOENT ? 0 : r;
	}
	if (bit == RF_CG_MEMORY) {
		/* memsw (memory + swap) must stay >= the memory limit while both change */
		r = write_u64(dir, "memory.limit_in_bytes", mem_bytes(m));
		if (r == -EINVAL) {
			if ((r = write_u64(dir, "memory.memsw.limit_in_bytes", mem_bytes(m))) < 0)
				return r;
			r = write_u64(dir, "memory.limit_in_bytes", mem_bytes(m));
		}
		if (r < 0)
			return r;
		r = write_u64(dir, "memory.memsw.limit_in_bytes", mem_bytes(m));
		return r == -ENOENT ? 0 : r;   /* no swap accounting: memory alone */
	}
	if (bit == RF_CG_PIDS)
		return write_u64(dir, "pids.max", m->max_procs);
	uint64_t quota = (uint64_t)m->cpu_percent * CPU_PERIOD_US / 100;
	if (v2) {
		char buf[64];
		snprintf(buf, sizeof buf, "%llu %u", (unsigned long long)quota, CPU_PERIOD_US);
		return write_str(dir, "cpu.max", buf);
	}
	if ((r = write_u64(dir, "cpu.cfs_period_us", CPU_PERIOD_US)) < 0)
		return r;
	return write_u64(dir, "cpu.cfs_quota_us", quota);
}

/* Enables the controllers of *mask in dir's subtree_control; drops those that fail. */
static void v2_delegate(struct rf_sandbox *sb, const char *dir, unsigned *mask)
{
	char p[PATH_MAX], cur[512];
	if (path_join(p, sizeof p, dir, "cgroup.subtree_control") < 0 || read_small(p, cur, sizeof cur) < 0)
		cur[0] = '\0';
	for (unsigned i = 0; i < 3; i++) {
		if (!(*mask & (1u << i)) || has_word(cur, cg_ctrl_names[i]))
			continue;
		char plus[16];
		snprintf(plus, sizeof plus, "+%s", cg_ctrl_names[i]);
		int r = write_str(dir, "cgroup.subtree_control", plus);
		if (r < 0) {
			note(sb, "v2 %s: cannot enable in %s: %s", cg_ctrl_names[i], dir, strerror(-r));
			*mask &= ~(1u << i);
		}
	}
}

static void v2_make(struct rf_sandbox *sb, const char *base, unsigned mask, const struct rf_manifest *m)
{
	char parent[PATH_MAX], leaf[PATH_MAX];
	v2_delegate(sb, base, &mask);
	if (!mask || path_join(parent, sizeof parent, base, cg_instance) < 0)
		return;
	if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
		note(sb, "v2: mkdir %s: %s", parent, strerror(errno));
		return;
	}
	v2_delegate(sb, parent, &mask);
	int r;
	if (!mask || path_join(leaf, sizeof leaf, parent, m->name) < 0)
		return;
	if ((r = cg_make_leaf(leaf)) < 0) {
		note(sb, "v2: mkdir %s: %s", leaf, strerror(-r));
		return;
	}
	for (unsigned i = 0; i < 3; i++) {
		unsigned bit = 1u << i;
		if ((mask & bit) && (r = cg_limit(leaf, bit, true, m)) < 0) {
			note(sb, "v2 %s limit: %s", cg_ctrl_names[i], strerror(-r));
			mask &= ~bit;
		}
	}
	sb->cgroup = RF_CGROUP_V2;
	sb->cgroup_ctrls = mask;
	strcpy(sb->cgroup_dirs[0], leaf);
	sb->ncgroup_dirs = 1;
}

static void v1_make(struct rf_sandbox *sb, char dirs[3][PATH_MAX], unsigned mask,
		    const struct rf_manifest *m)
{
	for (unsigned i = 0; i < 3; i++) {
		unsigned bit = 1u << i;
		char parent[PATH_MAX], leaf[PATH_MAX];
		int r;
		if (!(mask & bit))
			continue;
		if (path_join(parent, sizeof parent, dirs[i], cg_instance) < 0 ||
		    path_join(leaf, sizeof leaf, parent, m->name) < 0)
			continue;
		/* hierarchies with several controllers (cpu,cpuacct,memory) share a directory */
		bool seen = false;
		for (unsigned k = 0; k < sb->ncgroup_dirs; k++)
			seen |= !strcmp(sb->cgroup_dirs[k], leaf);
		if (!seen) {
			if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
				note(sb, "v1 %s: mkdir %s: %s", cg_ctrl_names[i], parent, strerror(errno));
				continue;
			}
			if ((r = cg_make_leaf(leaf)) < 0) {
				note(sb, "v1 %s: mkdir %s: %s", cg_ctrl_names[i], leaf, strerror(-r));
				continue;
			}
		}
		if ((r = cg_limit(leaf, bit, false, m)) < 0) {
			note(sb, "v1 %s limit: %s", cg_ctrl_names[i], strerror(-r));
			if (!seen)
				(void)cg_remove(leaf);
			continue;
		}
		if (!seen)
			strcpy(sb->cgroup_dirs[sb->ncgroup_dirs++], leaf);
		sb->cgroup_ctrls |= bit;
	}
	if (sb->cgroup_ctrls)
		sb->cgroup = RF_CGROUP_V1;
}

static void cgroup_setup(struct rf_sandbox *sb, const struct rf_manifest *m)
{
	static char v1dirs[3][PATH_MAX];   /* not on the stack: 12 KiB */
	char v2base[PATH_MAX];
	unsigned v2 = v2_probe(v2base), v1 = v1_probe(v1dirs);
	int n2 = __builtin_popcount(v2), n1 = __builtin_popcount(v1);
	bool want_v2 = v2 == RF_CG_ALL || (v1 != RF_CG_ALL && n2 > 0 && n2 >= n1);
	if (want_v2)
		v2_make(sb, v2base, v2, m);
	if (sb->cgroup == RF_CGROUP_NONE && v1)
		v1_make(sb, v1dirs, v1, m);
	if (sb->cgroup == RF_CGROUP_NONE && !v1 && !v2)
		note(sb, "no cgroup hierarchy offers memory, pids or cpu");
	for (unsigned i = 0; i < 3; i++)
		if (sb->cgroup != RF_CGROUP_NONE && !(sb->cgroup_ctrls & (1u << i)))
			note(sb, "no %s limit", cg_ctrl_names[i]);
}

int rf_sandbox_prepare(const struct rf_manifest *m, uint32_t uid, uint32_t gid, struct rf_sandbox *ret)
{
	if (!m || !ret || uid == 0 || gid == 0 || !m->name[0] || strchr(m->name, '/') ||
	    m->name[0] == '.')
		return -EINVAL;
	/* level 5: SCMP_ACT_NOTIFY and the notify API, kernel and library */
	if (seccomp_api_get() < 5)
		return -EOPNOTSUPP;
	struct rf_sandbox *sb = calloc(1, sizeof *sb);
	if (!sb)
		return -ENOMEM;
	snprintf(sb->name, sizeof sb->name, "%s", m->name);
	sb->uid = uid;
	sb->gid = gid;
	sb->seccomp = true;
	sb->netns = true;
	sb->landlock_abi = landlock_abi();
	cgroup_setup(sb, m);
	*ret = *sb;
	free(sb);
	return 0;
}

void rf_sandbox_release(struct rf_sandbox *sb)
{
	if (!sb)
		return;
	for (unsigned i = sb->ncgroup_dirs; i-- > 0;) {
		char *dir = sb->cgroup_dirs[i];
		if (cg_remove(dir) < 0)
			continue;   /* still busy: the next prepare empties it */
		/* the shared parent goes with its last client; busy is fine */
		char *slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			(void)rmdir(dir);
		}
	}
	sb->ncgroup_dirs = 0;
	sb->cgroup_ctrls = 0;
}

const char *rf_sandbox_cgroup_name(enum rf_cgroup_kind kind)
{
	switch (kind) {
	case RF_CGROUP_V1: return "v1";
	case RF_CGROUP_V2: return "v2";
	case RF_CGROUP_NONE: break;
	}
	return "unavailable";
}

/* ---- the drop (child side) ---- */

/*
 * Fatal: names the step and errno, then _exit.  No stdio: after the filter is
 * loaded only allowlisted calls may be made, and stdio would fstat and lseek.
 */
static _Noreturn void die(const struct rf_manifest *m, const char *step, int err)
{
	char buf[PATH_MAX + 256];
	const char *en = strerrorname_np(err);
	int n = snprintf(buf, sizeof buf, "ringfenced: client %s: sandbox: %s: %s (errno %d)\n",
			 m->name, step, en ? en : "?", err);
	if (n > 0 && write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0) {
		/* nowhere left to say it */
	}
	_exit(RF_SANDBOX_EXIT);
}

static _Noreturn void diex(const struct rf_manifest *m, const char *what, const char *path, int err)
{
	char step[PATH_MAX + 64];
	snprintf(step, sizeof step, "%s %s", what, path);
	die(m, step, err);
}

static void set_limit(const struct rf_manifest *m, int res, const char *name, rlim_t v)
{
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };
	if (setrlimit(res, &rl) < 0)
		die(m, name, errno);
}

/*
 * The program interpreter (dynamic loader) named by an ELF executable's
 * PT_INTERP.  1 and *ret filled, 0 when there is none (static, or not an
 * ELF file of our class), -errno when the file cannot be read.
 */
static int elf_interp(const char *exe, char *ret, size_t size)
{
	int fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ElfW(Ehdr) eh;
	int r = 0;
	if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
	    eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum > 512)
		goto out;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		ElfW(Phdr) ph;
		uint64_t off = (uint64_t)eh.e_phoff + (uint64_t)i * sizeof ph;
		if (off > (uint64_t)INT64_MAX - sizeof ph ||
		    pread(fd, &ph, sizeof ph, (off_t)off) != (ssize_t)sizeof ph)
			break;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz < 2 || ph.p_filesz > size || ph.p_offset > (uint64_t)INT64_MAX ||
		    pread(fd, ret, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz)
			break;
		if (ret[ph.p_filesz - 1] == '\0' && strlen(ret) == ph.p_filesz - 1 && ret[0] == '/')
			r = 1;
		break;
	}
out:
	close(fd);
	return r;
}

/* Adds "path and everything beneath it may get access"; ENOENT is fine when optional. */
static void ll_allow(const struct rf_manifest *m, int rfd, uint64_t handled, const char *path,
		     uint64_t access, bool optional)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		if (optional && errno == ENOENT)
			return;
		diex(m, "landlock: open", path, errno);
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		diex(m, "landlock: fstat", path, errno);
	if (!S_ISDIR(st.st_mode))
		access &= LL_FILE_RIGHTS;   /* directory rights on a file are EINVAL */
	access &= handled;
	if (access) {
		struct landlock_path_beneath_attr pb = { .allowed_access = access, .parent_fd = fd };
		if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
			diex(m, "landlock_add_rule", path, errno);
	}
	close(fd);
}

static void landlock_apply(const struct rf_sandbox *sb, const struct rf_manifest *m)
{
	int abi = sb->landlock_abi < LL_ABI_KNOWN ? sb->landlock_abi : LL_ABI_KNOWN;
	struct ll_ruleset_attr attr = { .handled_access_fs = ll_handled_fs(abi) };
	size_t size = sizeof attr.handled_access_fs;
	if (abi >= 4) {
		/* no rule follows: TCP bind and connect are refused outright */
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		/* no signals to, and no abstract sockets of, processes outside the domain */
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
		size = sizeof attr;
	}
	uint64_t h = attr.handled_access_fs;
	int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rfd < 0)
		die(m, "landlock_create_ruleset", errno);

	/* What the manifest grants, and nothing more of the filesystem. */
	for (unsigned i = 0; i < m->nread; i++)
		ll_allow(m, rfd, h, m->read_paths[i], LL_READ, false);
	for (unsigned i = 0; i < m->nwrite; i++)
		ll_allow(m, rfd, h, m->write_paths[i], LL_WRITE, false);
	/* The client's own binary: the first (and only) execve opens it to run. */
	ll_allow(m, rfd, h, m->exec, LL_EXEC, false);
	/* Its program interpreter: the kernel opens ld.so for execution too. */
	char interp[PATH_MAX];
	int r = elf_interp(m->exec, interp, sizeof interp);
	if (r < 0)
		diex(m, "landlock: read ELF header of", m->exec, -r);
	if (r > 0)
		ll_allow(m, rfd, h, interp, LL_EXEC, false);
	/* Shared libraries: ld.so opens them for reading and maps them; mapping
	 * executable pages is not a Landlock access, so read is all they need.
	 * Directories that a system lacks are skipped. */
	static const char *const libdirs[] = { "/lib", "/lib64", "/usr/lib", "/usr/lib64" };
	for (unsigned i = 0; i < sizeof libdirs / sizeof *libdirs; i++)
		ll_allow(m, rfd, h, libdirs[i], LANDLOCK_ACCESS_FS_READ_FILE, true);
	/* The loader's cache of library locations, and the preload list it
	 * reads when present (a system-wide choice the client should see). */
	ll_allow(m, rfd, h, "/etc/ld.so.cache", LANDLOCK_ACCESS_FS_READ_FILE, true);
	ll_allow(m, rfd, h, "/etc/ld.so.preload", LANDLOCK_ACCESS_FS_READ_FILE, true);
	/* /dev/null for redirections, /dev/urandom for libraries that read it
	 * rather than call getrandom; read only. */
	ll_allow(m, rfd, h, "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE, false);
	ll_allow(m, rfd, h, "/dev/urandom", LANDLOCK_ACCESS_FS_READ_FILE, true);
	/* The client's own /proc/<pid> (its pid survives the exec), read only:
	 * glibc's pthread_getattr_np and sanitizer runtimes read maps and
	 * status.  Magic links there (fd/, exe, cwd) are checked by Landlock
	 * against the path they lead to, so they open nothing new. */
	ll_allow(m, rfd, h, "/proc/self", LL_READ, false);

	if (syscall(SYS_landlock_restrict_self, rfd, 0) < 0)
		die(m, "landlock_restrict_self", errno);
	close(rfd);
}

/* ---- the seccomp filter ---- */

/*
 * Allowed without condition.  Each line says why the client needs it; the
 * file-path calls are safe to allow because Landlock decides which paths
 * they reach (and DAC, as the client's own uid, when Landlock is missing).
 * Names this libseccomp or architecture does not know are skipped, so they
 * stay denied.
 */
static const char *const allow_always[] = {
	/* I/O on descriptors it holds: control socket, memfd, eventfds, its files */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "lseek",
	/* messages on the already connected control socket (no socket(), connect()) */
	"recvmsg", "sendmsg", "recvfrom", "sendto",
	/* waiting: rf_next() polls; scanners with their own loops use epoll or select */
	"poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2",
	/* descriptor housekeeping, and a self-pipe for event loops */
	"close", "close_range", "dup", "dup2", "dup3", "fcntl", "pipe2",
	/* metadata of open files and of paths (stat reveals no more than Landlock lets
	 * a path walk see anyway) */
	"fstat", "newfstatat", "stat", "lstat", "statx", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "getcwd", "getdents64",
	/* opening and writing files: Landlock governs which */
	"open", "openat", "ftruncate", "fsync", "fdatasync", "fadvise64",
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	/* memory: malloc, the shared rings, loaders, JIT of pcre2 and yara */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync",
	/* threads and their synchronisation (thread creation is clone, below) */
	"futex", "set_robust_list", "set_tid_address", "rseq", "sched_yield",
	"sched_getaffinity", "arch_prctl",
	/* time */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	/* its own signal handlers and masks */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	/* reading who and where it is */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
	"getresgid", "getgroups", "uname", "sysinfo", "getrlimit", "getrandom",
	"exit", "exit_group",
};

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
		const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;   /* not on this architecture: stays denied */
	return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

#define LOW32 0xffffffffull   /* int arguments: compare what the kernel reads */

static int build_filter(scmp_filter_ctx ctx, pid_t self)
{
	int r = 0;
	/* another ABI on this CPU (i386, x32) would bypass the list: kill */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
		return r;
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);   /* binary tree; older kernels: linear */
	for (unsigned i = 0; i < sizeof allow_always / sizeof *allow_always; i++)
		if ((r = rule(ctx, SCMP_ACT_ALLOW, allow_always[i], 0, NULL)) < 0)
			return r;

	/* Threads yes, processes no: clone only with CLONE_THREAD and no new
	 * namespace.  fork() is a clone without it and reaches the broker. */
	const uint64_t ns = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
			    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
	struct scmp_arg_cmp thr = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | ns, CLONE_THREAD);
	if ((r = rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &thr)) < 0)
		return r;
	/* clone3 passes its flags in memory, which a filter cannot read:
	 * ENOSYS makes glibc fall back to clone, which the rule above checks */
	if ((r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL)) < 0)
		return r;
	/* rlimits of itself only: every limit we set has soft == hard, so this
	 * can only lower them (sanitizer runtimes set RLIMIT_CORE at start) */
	struct scmp_arg_cmp selfpid0 = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, 0);
	if ((r = rule(ctx, SCMP_ACT_ALLOW, "prlimit64", 1, &selfpid0)) < 0)
		return r;
	/* signals to itself: abort() and raise() use tgkill on their own pid */
	struct scmp_arg_cmp tg = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint64_t)self);
	if ((r = rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1, &tg)) < 0)
		return r;
	/* ioctl: bytes waiting on a descriptor, close-on-exec, and isatty() of
	 * stdio (TCGETS reads terminal settings; no other terminal request) */
	static const unsigned long ioctls[] = { FIONREAD, FIOCLEX, FIONCLEX, TCGETS };
	for (unsigned i = 0; i < sizeof ioctls / sizeof *ioctls; i++) {
		struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, ioctls[i]);
		if ((r = rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &c)) < 0)
			return r;
	}
	/* prctl: naming its threads, nothing else */
	static const int prctls[] = { PR_SET_NAME, PR_GET_NAME };
	for (unsigned i = 0; i < sizeof prctls / sizeof *prctls; i++) {
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint64_t)prctls[i]);
		if ((r = rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &c)) < 0)
			return r;
	}
	/* Everything else - socket, connect, bind, execve (after the first),
	 * ptrace, mount, bpf, modules, kexec, unshare, setns, the setuid family,
	 * chroot, perf_event_open, process_vm_*, keyctl, io_uring, kill of
	 * others - takes the default action: a notification the broker denies. */
	return 0;
}

static void send_notify_fd(const struct rf_manifest *m, int setup_fd, int nfd)
{
	uint32_t magic = RF_SANDBOX_SETUP_MAGIC;
	/* only sendmsg: the filter is loaded already */
	ssize_t n = rf_send_with_fds(setup_fd, &magic, sizeof magic, &nfd, 1, MSG_NOSIGNAL);
	if (n != (ssize_t)sizeof magic)
		die(m, "send notify fd to the broker", n < 0 ? (int)-n : EIO);
}

void rf_sandbox_drop(const struct rf_sandbox *sb, const struct rf_manifest *m, int setup_fd)
{
	pid_t self = getpid();
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)self);

	/* 1. Cgroups first, while we may still write to them: from here on
	 * everything the client does is counted against its limits. */
	for (unsigned i = 0; i < sb->ncgroup_dirs; i++) {
		int r = write_str(sb->cgroup_dirs[i], "cgroup.procs", pid);
		if (r < 0)
			diex(m, "join cgroup", sb->cgroup_dirs[i], -r);
	}

	/* 2. No network: a fresh namespace has only a loopback, and it is down.
	 * The control socket and the rings are already-connected descriptors
	 * and keep working. */
	if (unshare(CLONE_NEWNET) < 0)
		die(m, "unshare(CLONE_NEWNET)", errno);

	/* 3. Limits a cgroup does not cover.  soft == hard so they cannot be
	 * raised.  NPROC counts the client uid's tasks, threads included. */
	set_limit(m, RLIMIT_NOFILE, "RLIMIT_NOFILE", m->max_files);
	set_limit(m, RLIMIT_NPROC, "RLIMIT_NPROC", m->max_procs);
	set_limit(m, RLIMIT_CORE, "RLIMIT_CORE", 0);   /* no core files of vendor memory */
	set_limit(m, RLIMIT_FSIZE, "RLIMIT_FSIZE", RF_SANDBOX_FSIZE_MAX);

	/* 4. Nobody of our new uid may ptrace or read us until the exec (which
	 * resets it; the uid is the client's alone, and RLIMIT_CORE stays). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die(m, "PR_SET_DUMPABLE", errno);

	/* 5. The filesystem, while we still have CAP_SYS_ADMIN (Landlock wants
	 * it or no_new_privs) and can still open what the rules name. */
	if (sb->landlock_abi > 0)
		landlock_apply(sb, m);

	/* 6. Credentials, for good.  The capability bounding set and ambient
	 * set are emptied first (we still hold CAP_SETPCAP) so that nothing
	 * could return a capability even without no_new_privs. */
	if (sb->uid == 0 || sb->gid == 0)
		die(m, "refusing uid or gid 0", EINVAL);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		die(m, "PR_CAP_AMBIENT_CLEAR_ALL", errno);
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;   /* past the kernel's last capability */
			die(m, "PR_CAPBSET_DROP", errno);
		}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		die(m, "PR_SET_KEEPCAPS", errno);
	if (setgroups(0, NULL) < 0)
		die(m, "setgroups", errno);
	if (setresgid(sb->gid, sb->gid, sb->gid) < 0)
		die(m, "setresgid", errno);
	if (setresuid(sb->uid, sb->uid, sb->uid) < 0)
		die(m, "setresuid", errno);

	/* 7. Verify: the ids are what we set, root cannot be had back, and no
	 * capability is left in any set. */
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || ru != sb->uid || eu != sb->uid || su != sb->uid)
		die(m, "verify uid", EPERM);
	if (getresgid(&rg, &eg, &sg) < 0 || rg != sb->gid || eg != sb->gid || sg != sb->gid)
		die(m, "verify gid", EPERM);
	if (getgroups(0, NULL) != 0)
		die(m, "verify supplementary groups", EPERM);
	if (setresuid(0, 0, 0) == 0 || errno != EPERM)
		die(m, "verify: uid 0 could be regained", EPERM);
	if (setresgid(0, 0, 0) == 0 || errno != EPERM)
		die(m, "verify: gid 0 could be regained", EPERM);
	cap_t have = cap_get_proc(), none = cap_init();
	if (!have || !none || cap_compare(have, none) != 0)
		die(m, "verify: capabilities remain", EPERM);
	cap_free(have);
	cap_free(none);

	/* 8. No exec may gain privileges (setuid bits, file capabilities);
	 * also what lets an unprivileged process load a seccomp filter. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(m, "PR_SET_NO_NEW_PRIVS", errno);

	/* 9. The system call allowlist.  The notify fd exists only once the
	 * filter is loaded; from then on every call off the list waits for the
	 * broker, who does not have the fd yet - so only allowlisted calls
	 * (free's munmap, sendmsg, close, write and exit_group in die()) until
	 * it is sent.  Our caller's execv is then the first notification. */
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_NOTIFY);
	if (!ctx)
		die(m, "seccomp_init", ENOMEM);
	int r = build_filter(ctx, self);
	if (r < 0)
		die(m, "seccomp rules", -r);
	if ((r = seccomp_load(ctx)) < 0)
		die(m, "seccomp_load", -r);
	int nfd = seccomp_notify_fd(ctx);
	seccomp_release(ctx);
	if (nfd < 0)
		die(m, "seccomp_notify_fd", -nfd);
	send_notify_fd(m, setup_fd, nfd);
	close(nfd);
	close(setup_fd);
}

/* ---- the broker's side of notifications ---- */

int rf_sandbox_recv_notify_fd(int setup_fd, int *ret_fd)
{
	uint32_t magic = 0;
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { .iov_base = &magic, .iov_len = sizeof magic };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			     .msg_controllen = sizeof cb.buf };
	ssize_t n = recvmsg(setup_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -EAGAIN;
		return errno == ECONNRESET ? -EPIPE : -errno;
	}
	int fds[4], nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && nfds < 4; i++)
			memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	if (n == (ssize_t)sizeof magic && magic == RF_SANDBOX_SETUP_MAGIC && nfds == 1 &&
	    !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		*ret_fd = fds[0];
		return 0;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return n == 0 && nfds == 0 ? -EPIPE : -EPROTO;
}

int rf_sandbox_on_notify(int notify_fd, bool allow_first_exec, bool *ret_exec_allowed,
			 int *ret_syscall_nr)
{
	/* SECCOMP_IOCTL_NOTIF_RECV blocks when nothing is queued, whatever
	 * O_NONBLOCK says: look first.  Only this thread receives, so what poll
	 * saw is still there (or its target died: ENOENT, not a wait). */
	struct pollfd p = { .fd = notify_fd, .events = POLLIN };
	int r = poll(&p, 1, 0);
	if (r < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (p.revents & POLLNVAL)
		return -EBADF;
	if (!(p.revents & POLLIN))
		return p.revents & (POLLHUP | POLLERR) ? -EPIPE : -EAGAIN;

	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	if (seccomp_notify_alloc(&req, &resp) < 0)
		return -ENOMEM;
	/* libseccomp folds system errors into -ECANCELED; errno keeps the real one */
	errno = 0;
	if (seccomp_notify_receive(notify_fd, req) < 0) {
		r = errno == EINTR ? -EAGAIN : errno ? -errno : -EIO;
		seccomp_notify_free(req, resp);
		return r;
	}
	int nr = req->data.nr;
	bool native = req->data.arch == seccomp_arch_native();
	bool is_exec = native && (nr == seccomp_syscall_resolve_name("execve") ||
				  nr == seccomp_syscall_resolve_name("execveat"));
	bool allow = allow_first_exec && is_exec;
	/* the target may have died since: then there is no one to answer */
	if (seccomp_notify_id_valid(notify_fd, req->id) < 0) {
		allow = false;
	} else {
		resp->id = req->id;
		resp->val = 0;
		/* CONTINUE is safe here: it is the child's first exec, made by our
		 * own code in a single-threaded process, and Landlock (when
		 * present) lets it execute only the manifest's binary */
		resp->error = allow ? 0 : -EPERM;
		resp->flags = allow ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
		errno = 0;
		if (seccomp_notify_respond(notify_fd, resp) < 0) {
			if (errno != ENOENT) {
				r = errno ? -errno : -EIO;
				seccomp_notify_free(req, resp);
				return r;
			}
			allow = false;   /* died before the answer: the attempt still counts */
		}
	}
	seccomp_notify_free(req, resp);
	*ret_exec_allowed = allow;
	*ret_syscall_nr = nr;
	return 0;
}

#define NAME_CACHE 1024

const char *rf_sandbox_syscall_name(int nr)
{
	/* resolved once per number and kept: the names are few and small */
	static char *names[NAME_CACHE];
	if (nr < 0 || nr >= NAME_CACHE)
		return "unknown";
	if (!names[nr])
		names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	return names[nr] ? names[nr] : "unknown";
}
