/*
 * proccache.h - rf-detect's memory of processes' command lines, so that
 * rules can test a parent's command line (Sigma's ParentCommandLine): event
 * messages carry the parent's pid, start time and exe, but not its argv.
 *
 * It learns from every message it is shown (the acting process's argv),
 * from fork (the child runs its parent's program until it execs) and
 * forgets on exit.  Bounded: a fixed number of slots, each command line cut
 * at PC_CMD_MAX bytes; when a neighbourhood is full the least recently
 * updated entry goes.  A miss means "unknown": the field is absent and
 * rules on it do not match.
 */
#ifndef RF_DETECT_PROCCACHE_H
#define RF_DETECT_PROCCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <ringfence/message.h>

#define PC_SLOTS 8192u       /* power of two */
#define PC_PROBE 16u         /* slots searched per key */
#define PC_CMD_MAX 4096u     /* bytes of command line kept */

struct pcache;

struct pcache *pc_new(void);
void pc_free(struct pcache *pc);

/* Sets the command line of (pid, start); copies cmd (cut at PC_CMD_MAX). */
void pc_set(struct pcache *pc, uint32_t pid, uint64_t start, const char *cmd, size_t len);

/*
 * The command line of (pid, start), or NULL; start 0 matches any start
 * time.  The pointer is valid until the next pc_set/pc_forget/pc_learn.
 */
const char *pc_get(const struct pcache *pc, uint32_t pid, uint64_t start, size_t *ret_len);

void pc_forget(struct pcache *pc, uint32_t pid);

/* Learns what message m says about processes (its process, fork, exit). */
void pc_learn(struct pcache *pc, const struct rf_message *m);

size_t pc_count(const struct pcache *pc);

#endif
