/*
 * proctable.c - process table; see proctable.h.
 */
#include "broker/proctable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t hash_pid(const struct rf_proctable *pt, uint32_t pid)
{
	return (pid * 2654435761u) & (pt->nbuckets - 1);
}

int rf_proctable_init(struct rf_proctable *pt, uint32_t limit)
{
	memset(pt, 0, sizeof *pt);
	pt->nbuckets = 1u << 14;
	pt->buckets = calloc(pt->nbuckets, sizeof *pt->buckets);
	if (!pt->buckets)
		return -ENOMEM;
	pt->limit = limit ? limit : 1u << 20;
	pt->proc_root = "/proc";
	return 0;
}

static void proc_free(struct rf_proc *p)
{
	if (!p)
		return;
	free(p->exe);
	free(p->cwd);
	free(p->args);
	free(p);
}

void rf_proctable_free(struct rf_proctable *pt)
{
	if (!pt->buckets)
		return;
	for (uint32_t i = 0; i < pt->nbuckets; i++)
		for (struct rf_proc *p = pt->buckets[i], *n; p; p = n) {
			n = p->next;
			proc_free(p);
		}
	free(pt->buckets);
	pt->buckets = NULL;
	pt->count = 0;
}

static struct rf_proc *lookup(struct rf_proctable *pt, uint32_t pid)
{
	for (struct rf_proc *p = pt->buckets[hash_pid(pt, pid)]; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

void rf_proctable_remove(struct rf_proctable *pt, uint32_t pid)
{
	struct rf_proc **pp = &pt->buckets[hash_pid(pt, pid)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->pid == pid) {
			struct rf_proc *p = *pp;
			*pp = p->next;
			proc_free(p);
			pt->count--;
			return;
		}
}

/*
 * Evicts one entry other than keep (an entry the caller still holds) from a
 * pseudo-random bucket so a flood cannot grow the table.
 */
static void evict_one(struct rf_proctable *pt, uint32_t hint, const struct rf_proc *keep)
{
	for (uint32_t i = 0; i < pt->nbuckets; i++) {
		for (struct rf_proc *p = pt->buckets[(hint + i) & (pt->nbuckets - 1)]; p; p = p->next) {
			if (p != keep) {
				rf_proctable_remove(pt, p->pid);
				pt->evictions++;
				return;
			}
		}
	}
}

/* Returns the entry for pid, new and zeroed when absent; keep is never evicted. */
static struct rf_proc *insert(struct rf_proctable *pt, uint32_t pid, const struct rf_proc *keep)
{
	struct rf_proc *p = lookup(pt, pid);
	if (p)
		return p;
	if (pt->count >= pt->limit)
		evict_one(pt, pid * 7919u, keep);
	p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->pid = pid;
	p->auid = UINT32_MAX;
	p->sessionid = UINT32_MAX;
	uint32_t h = hash_pid(pt, pid);
	p->next = pt->buckets[h];
	pt->buckets[h] = p;
	pt->count++;
	return p;
}

static void set_str(char **dst, const char *s, size_t len)
{
	free(*dst);
	*dst = NULL;
	if (!s)
		return;
	char *n = malloc(len + 1);
	if (!n)
		return;
	memcpy(n, s, len);
	n[len] = '\0';
	*dst = n;
}

static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static uint64_t ns_per_tick(void)
{
	static uint64_t v;
	if (!v) {
		long hz = sysconf(_SC_CLK_TCK);
		v = 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
	}
	return v;
}

/* Parses /proc/PID/stat: ppid, pgid and start time; 0 or -1. */
static int parse_stat(const char *root, uint32_t pid, uint32_t *ppid, uint32_t *pgid, uint64_t *start,
		      char comm[16])
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "%s/%u/stat", root, pid);
	if (read_small(path, buf, sizeof buf) <= 0)
		return -1;
	/* comm may hold spaces and parentheses: it ends at the last ')' */
	char *l = strchr(buf, '('), *r = strrchr(buf, ')');
	if (!l || !r || r < l)
		return -1;
	if (comm) {
		size_t n = (size_t)(r - l - 1);
		if (n > 15)
			n = 15;
		memcpy(comm, l + 1, n);
		comm[n] = '\0';
	}
	/* after ") ": field 3 state, 4 ppid, 5 pgrp, ... 22 starttime */
	char *save, *f = strtok_r(r + 1, " ", &save);
	unsigned long long vals[22] = { 0 };
	for (int i = 3; f && i <= 22; i++, f = strtok_r(NULL, " ", &save))
		vals[i - 1] = strtoull(f, NULL, 10);
	if (ppid)
		*ppid = (uint32_t)vals[3];
	if (pgid)
		*pgid = (uint32_t)vals[4];
	if (start)
		*start = vals[21] * ns_per_tick();
	return 0;
}

uint64_t rf_proc_start_time(const char *proc_root, uint32_t pid)
{
	uint64_t st = 0;
	return parse_stat(proc_root, pid, NULL, NULL, &st, NULL) == 0 ? st : 0;
}

static void read_ids(const char *root, struct rf_proc *p)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "%s/%u/status", root, p->pid);
	if (read_small(path, buf, sizeof buf) > 0) {
		char *u = strstr(buf, "\nUid:"), *g = strstr(buf, "\nGid:");
		unsigned a, b;
		if (u && sscanf(u + 5, "%u %u", &a, &b) == 2)
			p->uid = a, p->euid = b;
		if (g && sscanf(g + 5, "%u %u", &a, &b) == 2)
			p->gid = a, p->egid = b;
	}
	snprintf(path, sizeof path, "%s/%u/loginuid", root, p->pid);
	if (read_small(path, buf, 32) > 0)
		p->auid = (uint32_t)strtoul(buf, NULL, 10);
	snprintf(path, sizeof path, "%s/%u/sessionid", root, p->pid);
	if (read_small(path, buf, 32) > 0)
		p->sessionid = (uint32_t)strtoul(buf, NULL, 10);
}

static void read_link(const char *root, uint32_t pid, const char *what, char **dst)
{
	char path[64], buf[PATH_MAX];
	snprintf(path, sizeof path, "%s/%u/%s", root, pid, what);
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	if (n > 0)
		set_str(dst, buf, (size_t)n);
}

static void read_exe(const char *root, struct rf_proc *p)
{
	char path[64];
	read_link(root, p->pid, "exe", &p->exe);
	snprintf(path, sizeof path, "%s/%u/exe", root, p->pid);
	struct stat st;
	if (stat(path, &st) == 0) {
		p->exe_dev = st.st_dev;
		p->exe_ino = st.st_ino;
		p->exe_ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
		p->exe_mode = st.st_mode;
	}
}

static void read_cmdline(const char *root, struct rf_proc *p)
{
	char path[64], buf[RF_ARGS_MAX];
	snprintf(path, sizeof path, "%s/%u/cmdline", root, p->pid);
	ssize_t n = read_small(path, buf, sizeof buf);
	if (n <= 0)
		return;
	if (buf[n - 1] == '\0')
		n--;
	set_str(&p->args, buf, (size_t)n);
	p->args_len = (uint32_t)n;
	p->argc = 1;
	for (ssize_t i = 0; i < n; i++)
		p->argc += buf[i] == '\0';
}

/* Reads everything /proc knows of pid into a (new or existing) entry. */
static struct rf_proc *load(struct rf_proctable *pt, uint32_t pid)
{
	uint32_t ppid, pgid;
	uint64_t start;
	char comm[16];
	if (parse_stat(pt->proc_root, pid, &ppid, &pgid, &start, comm) < 0) {
		pt->load_failures++;
		return NULL;
	}
	struct rf_proc *p = insert(pt, pid, NULL);
	if (!p)
		return NULL;
	p->ppid = ppid;
	p->pgid = pgid;
	p->start_time_ns = start;
	memcpy(p->comm, comm, sizeof comm);
	read_ids(pt->proc_root, p);
	read_exe(pt->proc_root, p);
	read_link(pt->proc_root, pid, "cwd", &p->cwd);
	read_cmdline(pt->proc_root, p);
	struct rf_proc *pp = lookup(pt, ppid);
	p->parent_start_time_ns = pp ? pp->start_time_ns : rf_proc_start_time(pt->proc_root, ppid);
	pt->loads++;
	return p;
}

int rf_proctable_seed(struct rf_proctable *pt)
{
	DIR *d = opendir(pt->proc_root);
	if (!d)
		return -errno;
	int n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		if (*end || pid == 0 || pid > UINT32_MAX)
			continue;
		if (load(pt, (uint32_t)pid))
			n++;
	}
	closedir(d);
	return n;
}

struct rf_proc *rf_proctable_get(struct rf_proctable *pt, uint32_t pid, bool do_load)
{
	struct rf_proc *p = lookup(pt, pid);
	if (!p && do_load && pid)
		p = load(pt, pid);
	return p;
}

static void apply_event_ids(struct rf_proc *p, const struct rf_raw_event *ev)
{
	if (ev->has_creds) {
		p->uid = ev->uid;
		p->euid = ev->euid;
		p->gid = ev->gid;
		p->egid = ev->egid;
		p->auid = ev->auid;
		p->sessionid = ev->sessionid;
	}
	if (ev->cgroup_id)
		p->cgroup_id = ev->cgroup_id;
	if (ev->pgid)
		p->pgid = ev->pgid;
	if (ev->ppid)
		p->ppid = ev->ppid;
	if (ev->start_time_ns)
		p->start_time_ns = ev->start_time_ns;
	if (ev->comm && ev->comm[0])
		snprintf(p->comm, sizeof p->comm, "%s", ev->comm);
}

/*
 * The new image.  When the sensor resolved the paths at the event (eBPF),
 * they are the truth and /proc is not read at all: the process may be gone,
 * or have exec'd again (bash running its last command in place), by the time
 * the record is applied, and three /proc lookups per exec were most of the
 * broker's cost in a spawn loop.  Otherwise (proc connector, an unresolved
 * path) /proc has the resolved path while the process lives.
 */
static void exec_image(struct rf_proctable *pt, struct rf_proc *p, const struct rf_raw_event *ev)
{
	free(p->exe);
	p->exe = NULL;
	p->exe_dev = p->exe_ino = 0;
	p->exe_ctime_ns = 0;
	p->exe_mode = 0;
	if (ev->u.exec.exe_path) {
		set_str(&p->exe, ev->u.exec.exe_path, strlen(ev->u.exec.exe_path));
		p->exe_ctime_ns = ev->u.exec.ctime_ns;
		p->exe_mode = ev->u.exec.mode;
	} else {
		read_exe(pt->proc_root, p);
		/*
		 * /proc shows the image of now, not of the event: when the
		 * event names its file and /proc shows another one, the event's
		 * own name is the truth for this exec.
		 */
		if (ev->u.exec.ino && p->exe_ino != ev->u.exec.ino) {
			free(p->exe);
			p->exe = NULL;
			p->exe_ctime_ns = 0;
			p->exe_mode = 0;
		}
	}
	if (!p->exe && ev->u.exec.filename) {
		const char *f = ev->u.exec.filename;
		const char *cwd = ev->u.exec.cwd ? ev->u.exec.cwd : p->cwd;
		if (f[0] != '/' && cwd) {
			char full[PATH_MAX];
			snprintf(full, sizeof full, "%s/%s", cwd, f);
			set_str(&p->exe, full, strlen(full));
		} else {
			set_str(&p->exe, f, strlen(f));
		}
	}
	if (ev->u.exec.dev || ev->u.exec.ino) {
		p->exe_dev = ev->u.exec.dev;
		p->exe_ino = ev->u.exec.ino;
	}
}

static void apply_exec(struct rf_proctable *pt, struct rf_proc *p, const struct rf_raw_event *ev)
{
	exec_image(pt, p, ev);
	if (ev->u.exec.args && ev->u.exec.args_len) {
		uint32_t n = ev->u.exec.args_len;
		if (n > RF_ARGS_MAX)
			n = RF_ARGS_MAX;
		while (n > 0 && ev->u.exec.args[n - 1] == '\0')
			n--;
		set_str(&p->args, ev->u.exec.args, n);
		p->args_len = n;
		p->argc = ev->u.exec.argc;
	} else {
		free(p->args);
		p->args = NULL;
		p->args_len = p->argc = 0;
		read_cmdline(pt->proc_root, p);
	}
	if (ev->u.exec.cwd)
		set_str(&p->cwd, ev->u.exec.cwd, strlen(ev->u.exec.cwd));
	else
		read_link(pt->proc_root, p->pid, "cwd", &p->cwd);
}

struct rf_proc *rf_proctable_apply(struct rf_proctable *pt, const struct rf_raw_event *ev)
{
	struct rf_proc *p = lookup(pt, ev->pid);
	/* a different start time means the pid was reused: forget the old one */
	if (p && ev->start_time_ns && p->start_time_ns && p->start_time_ns != ev->start_time_ns &&
	    ev->type != RF_EVENT_EXIT) {
		rf_proctable_remove(pt, ev->pid);
		p = NULL;
	}
	if (!p)
		p = load(pt, ev->pid);
	if (!p) {
		p = insert(pt, ev->pid, NULL);
		if (!p)
			return NULL;
	}
	apply_event_ids(p, ev);

	switch (ev->type) {
	case RF_EVENT_FORK: {
		uint32_t cpid = ev->u.fork.child_pid;
		/* a child that is the parent itself is garbage: removing it would free p */
		if (cpid == 0 || cpid == p->pid)
			break;
		struct rf_proc *c = lookup(pt, cpid);
		if (c)
			rf_proctable_remove(pt, cpid);
		/* p is copied from below: a full table must not evict it */
		c = insert(pt, cpid, p);
		if (!c)
			break;
		c->ppid = p->pid;
		c->parent_start_time_ns = p->start_time_ns;
		c->pgid = p->pgid;
		c->start_time_ns = ev->u.fork.child_start_time_ns
					   ? ev->u.fork.child_start_time_ns
					   : rf_proc_start_time(pt->proc_root, cpid);
		c->uid = p->uid, c->euid = p->euid, c->gid = p->gid, c->egid = p->egid;
		c->auid = p->auid, c->sessionid = p->sessionid, c->cgroup_id = p->cgroup_id;
		c->exe_dev = p->exe_dev, c->exe_ino = p->exe_ino, c->exe_ctime_ns = p->exe_ctime_ns;
		c->exe_mode = p->exe_mode;
		memcpy(c->comm, p->comm, sizeof c->comm);
		set_str(&c->exe, p->exe, p->exe ? strlen(p->exe) : 0);
		set_str(&c->cwd, p->cwd, p->cwd ? strlen(p->cwd) : 0);
		set_str(&c->args, p->args, p->args_len);
		c->args_len = p->args ? p->args_len : 0;
		c->argc = p->args ? p->argc : 0;
		break;
	}
	case RF_EVENT_EXEC:
		apply_exec(pt, p, ev);
		break;
	case RF_EVENT_SETUID:
	case RF_EVENT_SETGID:
		if (!ev->has_creds && ev->u.cred.retval == 0)
			read_ids(pt->proc_root, p);
		break;
	default:
		break;
	}
	if (!p->parent_start_time_ns && p->ppid) {
		struct rf_proc *pp = lookup(pt, p->ppid);
		if (pp)
			p->parent_start_time_ns = pp->start_time_ns;
	}
	return p;
}

void rf_proctable_fill(struct rf_proctable *pt, struct rf_msgb *b, const struct rf_proc *e)
{
	struct rf_process *d = &b->u.msg.process;
	d->pid = e->pid;
	d->tid = e->pid;
	d->start_time_ns = e->start_time_ns;
	d->ppid = e->ppid;
	d->pgid = e->pgid;
	d->parent_start_time_ns = e->parent_start_time_ns;
	d->uid = e->uid, d->euid = e->euid, d->gid = e->gid, d->egid = e->egid;
	d->auid = e->auid, d->sessionid = e->sessionid, d->cgroup_id = e->cgroup_id;
	d->exe.dev = e->exe_dev;
	d->exe.ino = e->exe_ino;
	d->exe.ctime_ns = e->exe_ctime_ns;
	d->exe.mode = e->exe_mode;
	/* short, identifying strings first; cwd and args, the long ones, last */
	if (rf_msgb_field_str(b, RF_CUT_EXE, &d->exe.path, e->exe)) {
		d->exe.flags |= RF_FILE_F_PATH_CUT;
		d->flags |= RF_PROC_F_EXE_CUT;
	}
	if (rf_msgb_field_str(b, RF_CUT_OTHER, &d->comm, e->comm))
		d->flags |= RF_PROC_F_COMM_CUT;
	struct rf_parent *pa = &b->u.msg.parent;
	pa->pid = e->ppid;
	pa->start_time_ns = e->parent_start_time_ns;
	const struct rf_proc *pp = e->ppid ? lookup(pt, e->ppid) : NULL;
	if (pp) {
		rf_msgb_field_str(b, RF_CUT_PARENT, &pa->exe, pp->exe);
		rf_msgb_field_str(b, RF_CUT_PARENT, &pa->comm, pp->comm);
	}
	if (rf_msgb_field_str(b, RF_CUT_CWD, &d->cwd, e->cwd))
		d->flags |= RF_PROC_F_CWD_CUT;
	if (e->args) {
		if (rf_msgb_args(b, &d->args, e->args, e->args_len) ||
		    rf_args_count(e->args, e->args_len) < e->argc) {
			d->flags |= RF_PROC_F_ARGS_CUT;
			b->u.msg.hdr.cut |= RF_CUT_ARGS;
			b->u.msg.hdr.flags |= RF_MSG_F_CUT;
		}
		d->argc = e->argc;
	}
}
