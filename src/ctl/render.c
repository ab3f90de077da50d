/*
 * render.c - an rf_message as one JSON line (see render.h).
 *
 * Built with json-c.  json-c escapes quotes and control characters but
 * passes other bytes through, and paths and argv are arbitrary bytes, so
 * every string from the message goes through sanitize_utf8() first.
 * Absent strings (offset 0) are rendered as null, so that keys stay stable
 * and absent stays distinct from empty.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <json-c/json.h>

#include "ctl/render.h"
#include "ringfence/ringfence.h"

/* Building state: the raw message (for strings) and an out-of-memory flag. */
struct render {
	const unsigned char *base;
	bool oom;
};

void rf_render_time(unsigned long long time_ns, char *out)
{
	time_t secs = (time_t)(time_ns / 1000000000ull);
	unsigned frac = (unsigned)(time_ns % 1000000000ull);
	struct tm tm;
	char date[26];          /* year <= 2554: 19 bytes used */

	if (!gmtime_r(&secs, &tm) || strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(date, sizeof date, "1970-01-01T00:00:00");
	snprintf(out, RF_RENDER_TIME_MAX, "%s.%09uZ", date, frac);
}

/*
 * Length of the well-formed UTF-8 sequence at p (1..4); or, when there is
 * none, minus the length of its maximal ill-formed prefix, which becomes a
 * single U+FFFD (Unicode's "substitution of maximal subparts").
 */
static int utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;             /* overlong */
		else if (c == 0xed)
			hi = 0x9f;             /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;             /* overlong */
		else if (c == 0xf4)
			hi = 0x8f;             /* above U+10FFFF */
	} else {
		return -1;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi)
			return -(int)i;
		lo = 0x80;
		hi = 0xbf;
	}
	return (int)need + 1;
}

/* A JSON string of len bytes at s, with ill-formed UTF-8 replaced. */
static json_object *jstr_len(struct render *rd, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	json_object *o;

	while (i < len) {
		int k = utf8_seq(p + i, len - i);
		if (k < 0)
			break;
		i += (size_t)k;
	}
	if (i == len) {
		o = json_object_new_string_len(s, (int)len);
	} else {
		/* Each bad byte becomes at most 3 bytes. */
		char *buf = malloc(3 * len + 1);
		if (!buf) {
			rd->oom = true;
			return NULL;
		}
		size_t o_len = 0;
		for (i = 0; i < len;) {
			int k = utf8_seq(p + i, len - i);
			if (k > 0) {
				memcpy(buf + o_len, p + i, (size_t)k);
				o_len += (size_t)k;
				i += (size_t)k;
			} else {
				memcpy(buf + o_len, "\xef\xbf\xbd", 3);
				o_len += 3;
				i += (size_t)-k;
			}
		}
		o = json_object_new_string_len(buf, (int)o_len);
		free(buf);
	}
	if (!o)
		rd->oom = true;
	return o;
}

/* A string reference of a validated message, or null when absent. */
static json_object *jref(struct render *rd, rf_str_t s)
{
	if (s.off == 0)
		return NULL;
	return jstr_len(rd, (const char *)rd->base + s.off, s.len);
}

static json_object *jint(struct render *rd, int64_t v)
{
	json_object *o = json_object_new_int64(v);
	if (!o)
		rd->oom = true;
	return o;
}

static json_object *juint(struct render *rd, uint64_t v)
{
	json_object *o = json_object_new_uint64(v);
	if (!o)
		rd->oom = true;
	return o;
}

static json_object *jbool(struct render *rd, bool v)
{
	json_object *o = json_object_new_boolean(v);
	if (!o)
		rd->oom = true;
	return o;
}

static json_object *jtext(struct render *rd, const char *s)
{
	json_object *o = json_object_new_string(s);
	if (!o)
		rd->oom = true;
	return o;
}

static json_object *jobj(struct render *rd)
{
	json_object *o = json_object_new_object();
	if (!o)
		rd->oom = true;
	return o;
}

/*
 * Adds key (a string literal, added once per object) to obj.  A NULL val
 * is JSON null, unless it stands for a failed allocation (rd->oom), which
 * the caller sees at the end.
 */
static void put(struct render *rd, json_object *obj, const char *key, json_object *val)
{
	if (!obj) {
		json_object_put(val);
		return;
	}
	if (json_object_object_add_ex(obj, key, val,
				      JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
		json_object_put(val);
		rd->oom = true;
	}
}

/*
 * argv as a JSON array: entries are NUL separated inside [off, off+len]
 * (the terminating NUL closes the last one).  argc bounds the count; 0
 * means "as many as the bytes hold".
 */
static json_object *jargs(struct render *rd, rf_str_t s, uint32_t argc)
{
	json_object *a = json_object_new_array();
	if (!a) {
		rd->oom = true;
		return NULL;
	}
	const char *p = (const char *)rd->base + s.off;
	size_t pos = 0;
	for (uint32_t i = 0; pos <= s.len && (argc ? i < argc : pos < s.len); i++) {
		size_t l = strnlen(p + pos, s.len - pos);
		json_object *e = jstr_len(rd, p + pos, l);
		if (!e || json_object_array_add(a, e) != 0) {
			json_object_put(e);
			rd->oom = true;
			break;
		}
		pos += l + 1;
	}
	return a;
}

/* Who decided, when it was not a named client. */
static const char *decider_name(uint8_t decided_by)
{
	switch (decided_by) {
	case RF_DECIDER_CLIENT: return "client";
	case RF_DECIDER_DEFAULT: return "default";
	case RF_DECIDER_CACHE: return "cache";
	case RF_DECIDER_POLICY: return "policy";
	default: return NULL;
	}
}

static json_object *jprocess(struct render *rd, const struct rf_message *m)
{
	const struct rf_process *p = &m->process;
	json_object *o = jobj(rd);

	put(rd, o, "pid", jint(rd, p->pid));
	put(rd, o, "tid", jint(rd, p->tid));
	put(rd, o, "ppid", jint(rd, p->ppid));
	put(rd, o, "pgid", jint(rd, p->pgid));
	put(rd, o, "start_time", juint(rd, p->start_time_ns));
	put(rd, o, "uid", jint(rd, p->uid));
	put(rd, o, "euid", jint(rd, p->euid));
	put(rd, o, "gid", jint(rd, p->gid));
	put(rd, o, "egid", jint(rd, p->egid));
	put(rd, o, "auid", jint(rd, p->auid));
	put(rd, o, "sessionid", jint(rd, p->sessionid));
	put(rd, o, "cgroup_id", juint(rd, p->cgroup_id));
	put(rd, o, "exe", jref(rd, p->exe.path));
	put(rd, o, "comm", jref(rd, p->comm));

	/* For exec, the argv being executed when the broker has it. */
	bool is_exec = m->hdr.type == RF_EVENT_EXEC || m->hdr.type == RF_EVENT_MEMFD_EXEC;
	if (is_exec && m->ev.exec.args.off)
		put(rd, o, "args", jargs(rd, m->ev.exec.args, m->ev.exec.argc));
	else if (p->args.off)
		put(rd, o, "args", jargs(rd, p->args, p->argc));

	put(rd, o, "cwd", jref(rd, p->cwd));
	uint32_t acut = is_exec && m->ev.exec.args.off ? m->ev.exec.flags & RF_EXEC_F_ARGS_CUT
						       : p->flags & RF_PROC_F_ARGS_CUT;
	if (acut)
		put(rd, o, "args_cut", jbool(rd, true));
	if (p->flags & RF_PROC_F_CWD_CUT)
		put(rd, o, "cwd_cut", jbool(rd, true));
	if (p->flags & RF_PROC_F_CWD_UNKNOWN)
		put(rd, o, "cwd_unknown", jbool(rd, true));
	return o;
}

static json_object *jparent(struct render *rd, const struct rf_parent *p)
{
	json_object *o = jobj(rd);
	put(rd, o, "pid", jint(rd, p->pid));
	put(rd, o, "start_time", juint(rd, p->start_time_ns));
	put(rd, o, "exe", jref(rd, p->exe));
	put(rd, o, "comm", jref(rd, p->comm));
	return o;
}

static json_object *jfile(struct render *rd, const struct rf_file *f)
{
	json_object *o = jobj(rd);
	put(rd, o, "path", jref(rd, f->path));
	put(rd, o, "dev", juint(rd, f->dev));
	put(rd, o, "ino", juint(rd, f->ino));
	/* only when set: a path that is not the file's whole name must show */
	if (f->flags & RF_FILE_F_PATH_UNKNOWN)
		put(rd, o, "path_unknown", jbool(rd, true));
	if (f->flags & RF_FILE_F_PATH_CUT)
		put(rd, o, "path_cut", jbool(rd, true));
	return o;
}

/* hdr.cut as names, in bit order. */
static json_object *jcut(struct render *rd, uint32_t cut)
{
	static const char *const names[] = { "target", "args", "cwd", "exe", "parent", "dest", "other" };
	json_object *a = json_object_new_array();
	if (!a) {
		rd->oom = true;
		return NULL;
	}
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(cut & (1u << i)))
			continue;
		json_object *e = jtext(rd, names[i]);
		if (!e || json_object_array_add(a, e) != 0) {
			json_object_put(e);
			rd->oom = true;
			break;
		}
	}
	return a;
}

static json_object *jnet(struct render *rd, const struct rf_ev_net *n)
{
	json_object *o = jobj(rd);
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	bool known = n->family == AF_INET || n->family == AF_INET6;

	put(rd, o, "proto", n->proto == IPPROTO_TCP ? jtext(rd, "tcp") : jint(rd, n->proto));
	if (n->family == AF_INET)
		put(rd, o, "family", jtext(rd, "ipv4"));
	else if (n->family == AF_INET6)
		put(rd, o, "family", jtext(rd, "ipv6"));
	else
		put(rd, o, "family", jint(rd, n->family));
	if (known && inet_ntop(n->family, n->saddr, sa, sizeof sa) &&
	    inet_ntop(n->family, n->daddr, da, sizeof da)) {
		put(rd, o, "saddr", jtext(rd, sa));
		put(rd, o, "daddr", jtext(rd, da));
	} else {
		put(rd, o, "saddr", NULL);
		put(rd, o, "daddr", NULL);
	}
	put(rd, o, "sport", jint(rd, n->sport));
	put(rd, o, "dport", jint(rd, n->dport));
	return o;
}

static json_object *jids(struct render *rd, const uint32_t id[4], bool gid)
{
	static const char *const uk[4] = { "ruid", "euid", "suid", "fsuid" };
	static const char *const gk[4] = { "rgid", "egid", "sgid", "fsgid" };
	json_object *o = jobj(rd);
	for (int i = 0; i < 4; i++)
		put(rd, o, gid ? gk[i] : uk[i], jint(rd, id[i]));
	return o;
}

/* The part that depends on the event type. */
static void put_event(struct render *rd, json_object *root, const struct rf_message *m)
{
	json_object *o;

	switch (m->hdr.type) {
	case RF_EVENT_EXEC:
	case RF_EVENT_MEMFD_EXEC:
		put(rd, root, "target", jfile(rd, &m->ev.exec.target));
		put(rd, root, "memfd", jbool(rd, m->hdr.type == RF_EVENT_MEMFD_EXEC ||
					 (m->ev.exec.flags & RF_EXEC_F_MEMFD)));
		break;
	case RF_EVENT_OPEN:
		o = jfile(rd, &m->ev.open.target);
		put(rd, o, "flags", jint(rd, m->ev.open.flags));
		put(rd, root, "target", o);
		break;
	case RF_EVENT_CREATE:
	case RF_EVENT_CLOSE_WRITE:
	case RF_EVENT_UNLINK:
	case RF_EVENT_RENAME:
		o = jobj(rd);
		put(rd, o, "path", jref(rd, m->ev.file.target.path));
		put(rd, o, "is_dir", jbool(rd, m->ev.file.is_dir != 0));
		if (m->hdr.type == RF_EVENT_RENAME)
			put(rd, o, "dest", jref(rd, m->ev.file.dest));
		put(rd, root, "target", o);
		break;
	case RF_EVENT_FORK:
		o = jobj(rd);
		put(rd, o, "pid", jint(rd, m->ev.fork.child_pid));
		put(rd, o, "start_time", juint(rd, m->ev.fork.child_start_time_ns));
		put(rd, root, "child", o);
		break;
	case RF_EVENT_EXIT:
		o = jobj(rd);
		put(rd, o, "status", jint(rd, m->ev.exit.status));
		put(rd, o, "code", jint(rd, (m->ev.exit.status >> 8) & 0xff));
		put(rd, o, "signal", jint(rd, m->ev.exit.status & 0x7f));
		put(rd, root, "exit", o);
		break;
	case RF_EVENT_CONNECT:
	case RF_EVENT_ACCEPT:
	case RF_EVENT_LISTEN:
		put(rd, root, "net", jnet(rd, &m->ev.net));
		break;
	case RF_EVENT_SETUID:
	case RF_EVENT_SETGID: {
		bool gid = m->hdr.type == RF_EVENT_SETGID;
		o = jobj(rd);
		put(rd, o, "syscall", jint(rd, m->ev.cred.syscall_nr));
		put(rd, o, "retval", jint(rd, m->ev.cred.retval));
		put(rd, o, "old", jids(rd, m->ev.cred.old_id, gid));
		put(rd, o, "new", jids(rd, m->ev.cred.new_id, gid));
		put(rd, root, "cred", o);
		break;
	}
	case RF_EVENT_PTRACE:
		o = jobj(rd);
		put(rd, o, "request", jint(rd, m->ev.ptrace.request));
		put(rd, o, "target_pid", jint(rd, m->ev.ptrace.target_pid));
		put(rd, o, "target_start_time", juint(rd, m->ev.ptrace.target_start_time_ns));
		put(rd, root, "ptrace", o);
		break;
	case RF_EVENT_KMOD_LOAD:
		o = jobj(rd);
		put(rd, o, "name", jref(rd, m->ev.kmod.name));
		put(rd, root, "module", o);
		break;
	case RF_EVENT_BPF_LOAD:
		o = jobj(rd);
		put(rd, o, "cmd", jint(rd, m->ev.bpf.cmd));
		put(rd, o, "prog_type", jint(rd, m->ev.bpf.prog_type));
		put(rd, o, "name", jref(rd, m->ev.bpf.name));
		put(rd, root, "bpf", o);
		break;
	case RF_EVENT_ALERT: {
		const struct rf_ev_alert *a = &m->ev.alert;
		o = jobj(rd);
		put(rd, o, "id", jref(rd, a->rule_id));
		put(rd, o, "title", jref(rd, a->title));
		put(rd, o, "level", jref(rd, a->level));
		json_object *tags = json_object_new_array();
		/* m is a copy of the fixed part: strings live in rd->base */
		const char *t = a->tags.off ? (const char *)rd->base + a->tags.off : "";
		while (tags && *t) {
			const char *comma = strchr(t, ',');
			size_t n = comma ? (size_t)(comma - t) : strlen(t);
			json_object *e = n ? jstr_len(rd, t, n) : NULL;
			if (e && json_object_array_add(tags, e) != 0) {
				json_object_put(e);
				rd->oom = true;
			}
			t += n + (comma != NULL);
		}
		if (!tags)
			rd->oom = true;
		put(rd, o, "tags", tags);
		put(rd, root, "rule", o);
		put(rd, root, "client", jref(rd, a->client));
		o = jobj(rd);
		const char *tn = rf_event_type_name(a->trigger_type);
		put(rd, o, "type", jtext(rd, tn ? tn : "unknown"));
		put(rd, o, "action", jtext(rd, a->trigger_action == RF_ACTION_AUTH ? "auth" : "notify"));
		put(rd, o, "seq", juint(rd, a->trigger_seq));
		char when[RF_RENDER_TIME_MAX];
		rf_render_time(a->trigger_time_ns, when);
		put(rd, o, "time", jtext(rd, when));
		put(rd, o, "target", jref(rd, a->target));
		put(rd, root, "trigger", o);
		break;
	}
	default:
		break;
	}
}

int rf_render_json(const void *buf, size_t len, char **ret_str)
{
	if (!ret_str || rf_msg_validate(buf, len) != RF_OK)
		return -EPROTO;

	/* The fixed part is copied: buf may be unaligned (a fuzzer's input). */
	struct rf_message m;
	memcpy(&m, buf, sizeof m);
	struct render rd = { .base = buf, .oom = false };
	char when[RF_RENDER_TIME_MAX];
	rf_render_time(m.hdr.time_ns, when);

	json_object *root = jobj(&rd);
	if (!root)
		return -ENOMEM;
	put(&rd, root, "schema_version", jint(&rd, RF_RENDER_SCHEMA_VERSION));
	put(&rd, root, "time", jtext(&rd, when));
	put(&rd, root, "seq", juint(&rd, m.hdr.seq));
	put(&rd, root, "type_seq", juint(&rd, m.hdr.type_seq));
	put(&rd, root, "type", jtext(&rd, rf_event_type_name(m.hdr.type)));
	put(&rd, root, "action", jtext(&rd, m.hdr.action == RF_ACTION_AUTH ? "auth" : "notify"));
	put(&rd, root, "replayed", jbool(&rd, (m.hdr.flags & RF_MSG_F_REPLAYED) != 0));
	if (m.hdr.cut)
		put(&rd, root, "cut", jcut(&rd, m.hdr.cut));
	put(&rd, root, "process", jprocess(&rd, &m));
	put(&rd, root, "parent", jparent(&rd, &m.parent));
	put_event(&rd, root, &m);

	if (m.hdr.action == RF_ACTION_AUTH) {
		json_object *v = jobj(&rd);
		const char *by = decider_name(m.hdr.decided_by);
		if (m.hdr.verdict == RF_ALLOW || m.hdr.verdict == RF_DENY)
			put(&rd, v, "result", jtext(&rd, m.hdr.verdict == RF_ALLOW ? "allow" : "deny"));
		else
			put(&rd, v, "result", NULL);
		if (m.hdr.decided_by == RF_DECIDER_CLIENT && m.hdr.decider.off)
			put(&rd, v, "by", jref(&rd, m.hdr.decider));
		else
			put(&rd, v, "by", by ? jtext(&rd, by) : NULL);
		put(&rd, root, "verdict", v);
		put(&rd, root, "deadline", juint(&rd, m.hdr.deadline_ns));
	}

	char *out = NULL;
	if (!rd.oom) {
		const char *s = json_object_to_json_string_ext(
			root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		out = s ? strdup(s) : NULL;
	}
	json_object_put(root);
	if (!out)
		return -ENOMEM;
	*ret_str = out;
	return 0;
}
