/*
 * proccache.c - process command-line cache (proccache.h).
 *
 * Open addressing without tombstones: a lookup scans all PC_PROBE slots of
 * a key's neighbourhood instead of stopping at the first empty one, so a
 * removal just empties its slot.
 */
#include <stdlib.h>
#include <string.h>

#include "clients/rf-detect/proccache.h"
#include "content/view.h"

struct slot {
	uint32_t pid;            /* 0: empty */
	uint32_t len;
	uint64_t start;
	uint64_t stamp;          /* last update, for eviction */
	char *cmd;
};

struct pcache {
	struct slot s[PC_SLOTS];
	uint64_t clock;
	size_t n;
	char join[RF_MSG_MAX];
};

static uint32_t home(uint32_t pid)
{
	return (pid * 2654435761u) & (PC_SLOTS - 1);
}

struct pcache *pc_new(void)
{
	return calloc(1, sizeof(struct pcache));
}

void pc_free(struct pcache *pc)
{
	if (!pc)
		return;
	for (size_t i = 0; i < PC_SLOTS; i++)
		free(pc->s[i].cmd);
	free(pc);
}

static struct slot *find(const struct pcache *pc, uint32_t pid, uint64_t start)
{
	uint32_t h = home(pid);
	for (uint32_t k = 0; k < PC_PROBE; k++) {
		const struct slot *s = &pc->s[(h + k) & (PC_SLOTS - 1)];
		if (s->pid == pid && (start == 0 || s->start == 0 || s->start == start))
			return (struct slot *)s;
	}
	return NULL;
}

void pc_set(struct pcache *pc, uint32_t pid, uint64_t start, const char *cmd, size_t len)
{
	if (pid == 0)
		return;
	if (len > PC_CMD_MAX)
		len = PC_CMD_MAX;
	struct slot *s = find(pc, pid, 0);
	if (s && s->start != start && start) {
		/* the pid was reused: a different process */
		s->start = start;
	}
	if (!s) {
		uint32_t h = home(pid);
		struct slot *old = NULL;
		for (uint32_t k = 0; k < PC_PROBE && !s; k++) {
			struct slot *c = &pc->s[(h + k) & (PC_SLOTS - 1)];
			if (!c->pid)
				s = c;
			else if (!old || c->stamp < old->stamp)
				old = c;
		}
		if (!s) {
			s = old;   /* evict the least recently updated */
			free(s->cmd);
			s->cmd = NULL;
			s->len = 0;
			pc->n--;
		}
		s->pid = pid;
		s->start = start;
		pc->n++;
	}
	s->stamp = ++pc->clock;
	if (s->cmd && s->len == len && memcmp(s->cmd, cmd, len) == 0)
		return;
	char *c = malloc(len + 1);
	if (!c) {
		/* no memory: forget rather than keep a wrong command line */
		free(s->cmd);
		s->cmd = NULL;
		s->pid = 0;
		pc->n--;
		return;
	}
	memcpy(c, cmd, len);
	c[len] = 0;
	free(s->cmd);
	s->cmd = c;
	s->len = (uint32_t)len;
}

const char *pc_get(const struct pcache *pc, uint32_t pid, uint64_t start, size_t *ret_len)
{
	const struct slot *s = pid ? find(pc, pid, start) : NULL;
	if (!s || !s->cmd)
		return NULL;
	*ret_len = s->len;
	return s->cmd;
}

void pc_forget(struct pcache *pc, uint32_t pid)
{
	struct slot *s = pid ? find(pc, pid, 0) : NULL;
	if (!s)
		return;
	free(s->cmd);
	memset(s, 0, sizeof *s);
	pc->n--;
}

void pc_learn(struct pcache *pc, const struct rf_message *m)
{
	const struct rf_process *p = &m->process;
	if (m->hdr.type == RF_EVENT_EXIT) {
		pc_forget(pc, p->pid);
		return;
	}
	/* An AUTH exec's process is the caller before the exec: its argv is
	 * still right for it now, and the NOTIFY exec that follows updates it. */
	rf_str_t args = m->hdr.type == RF_EVENT_EXEC && m->hdr.action == RF_ACTION_NOTIFY ? m->ev.exec.args
											    : p->args;
	if (!args.off)
		return;
	size_t n = rfe_join_args(m, args, pc->join, sizeof pc->join);
	pc_set(pc, p->pid, p->start_time_ns, pc->join, n);
	if (m->hdr.type == RF_EVENT_FORK)
		pc_set(pc, m->ev.fork.child_pid, m->ev.fork.child_start_time_ns, pc->join, n);
}

size_t pc_count(const struct pcache *pc)
{
	return pc->n;
}
