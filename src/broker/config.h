/*
 * config.h - the broker's configuration and the client manifests, both INI.
 *
 * Parsing is strict: an unknown section or key, a malformed number or a
 * value out of range is an error naming the file, line and key, and the
 * output is untouched.  Defaults are safe: monitor mode, fail-open AUTH,
 * permission marks only where an enforcing client asks for them.
 */
#ifndef RF_CONFIG_H
#define RF_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/wire.h"

#define RF_MAX_WATCH 16
#define RF_MAX_CLIENTS 32
#define RF_MAX_ARGS 32
#define RF_MAX_MUTES 64
#define RF_MAX_GRANTS 16

struct rf_config {
	char state_dir[PATH_MAX];
	char clients_dir[PATH_MAX];
	char watch[RF_MAX_WATCH][PATH_MAX];   /* empty list: all local filesystems */
	unsigned nwatch;
	uint32_t exec_deadline_ms;
	uint32_t open_deadline_ms;
	uint8_t default_verdict;              /* RF_ALLOW or RF_DENY */
	uint8_t on_overflow;                  /* AUTH never delivered by its deadline: 0 = default_verdict, RF_DENY */
	bool cache;                           /* kernel verdict cache (ignore marks) */
	bool ebpf;                            /* try the eBPF sensor */
	uint32_t ebpf_batch_ms;               /* under load, drain its ring this often (0: never batch) */
	bool proc_connector;                  /* fall back to it when eBPF fails */
	bool file_events;                     /* fanotify notification marks */
	char replay[PATH_MAX];                /* replay source file, "" = none */
	uint32_t replay_loops;                /* times to play the file (0: once) */
	uint32_t ring_kib;                    /* per-client event ring, KiB */
	uint32_t max_pending;                 /* AUTH events in flight */
	char mute_exe[RF_MAX_MUTES][PATH_MAX];/* extra global AUTH mutes by exe prefix */
	unsigned nmute_exe;
	/* [supervisor] */
	uint32_t ready_timeout_ms;            /* spawn to rf_ready() */
	uint32_t hang_timeout_ms;             /* events waiting, ring not drained: hung */
	uint32_t max_deaths;                  /* this many deaths ... */
	uint32_t death_window_ms;             /* ... within this window: quarantine */
	uint32_t miss_limit;                  /* this many AUTH deadline misses ... */
	uint32_t miss_window_ms;              /* ... within this window: on_miss_limit */
	uint32_t budget_cpu_percent;          /* a client may cost the broker this much of a core (0: no limit) */
	uint32_t budget_kill_after_s;         /* over it this many measurements in a row (each followed by its throttle): restarted */
	uint32_t miss_long_limit;             /* this many misses ... */
	uint32_t miss_long_window_ms;         /* ... in this long window: on_miss_limit too (a slow drip) */
	bool miss_restart;                    /* on_miss_limit = restart (else demote) */
	uint32_t uid_base;                    /* clients run as uid_base + slot unless user = */
	/* [content]: signed updates, tried on the host first (docs/CONTENT-DELIVERY.md) */
	char content_repo[PATH_MAX];          /* directory, file://, http(s):// URL; "" = no updates */
	char content_root[PATH_MAX];          /* trust anchor (root.json) used until one is stored */
	char content_store[PATH_MAX];         /* slots, blobs and trusted metadata */
	char content_cohort[16];              /* this host's rollout ring */
	uint32_t content_interval_s;          /* between checks; 0: only on `rfctl content check` */
	uint32_t content_delay_h;             /* new content waits this long after first seen */
	bool content_paused;                  /* no checks, no activations */
	uint32_t trial_window;                /* recent events replayed to a candidate */
	uint32_t trial_settle_ms;             /* quiet time after the replay before passing */
	uint32_t trial_timeout_ms;            /* the whole trial */
	uint32_t trial_max_alerts;            /* more alerts than this in a trial: rejected */
	uint32_t trial_max_miss_pct;          /* more replayed AUTH late or unanswered: rejected */
	uint32_t healthy_s;                   /* after activation: blessed when no revert by then */
	uint32_t revert_deaths;               /* deaths of unblessed content that revert it */
	char err[256];                        /* the reason of the last parse error */
};

struct rf_manifest {
	char name[RF_NAME_MAX];
	char exec[PATH_MAX];
	char args_buf[1024];                  /* args, split on blanks, stored NUL separated */
	char *argv[RF_MAX_ARGS + 2];          /* exec, args..., NULL: points into this struct */
	uint16_t arg_off[RF_MAX_ARGS];        /* where each arg starts in args_buf */
	unsigned argc;
	uint64_t auth_allowed;                /* 1 << type the manifest grants as AUTH */
	uint64_t notify_allowed;              /* 1 << type the manifest grants as NOTIFY */
	bool enforce;                         /* mode = enforce */
	uint32_t exec_deadline_ms;            /* 0: the broker's */
	uint32_t open_deadline_ms;
	char path[PATH_MAX];                  /* where it came from */
	/* sandbox: what the client needs; the broker grants no more */
	bool has_user;                        /* user = given; else uid_base + slot */
	uint32_t uid, gid;
	char read_paths[RF_MAX_GRANTS][PATH_MAX];  /* read (and execute) access */
	unsigned nread;
	char write_paths[RF_MAX_GRANTS][PATH_MAX]; /* read and write access */
	unsigned nwrite;
	uint32_t memory_mb;                   /* cgroup memory limit */
	uint32_t max_files;                   /* RLIMIT_NOFILE */
	uint32_t max_procs;                   /* RLIMIT_NPROC and cgroup pids.max */
	uint32_t cpu_percent;                 /* cgroup cpu quota, 100 = one core */
	char content_version[64];             /* informative, recorded with every death */
	/* content = managed: the broker's store gives the client its content */
	bool managed;
	uint32_t content_abi;                 /* the engine ABI the client's loader speaks */
	char content_initial[PATH_MAX];       /* installed as version 0 when the store is empty */
	uint64_t content_pin;                 /* stay on this version (0: no pin) */
};

/* Sets the defaults. */
void rf_config_defaults(struct rf_config *c);

/*
 * Parses INI text of len bytes (need not be NUL terminated) over *cfg, which
 * holds defaults.  Returns 0, or -EINVAL with cfg->err set and *cfg
 * otherwise unchanged.
 */
int rf_config_parse(const char *text, size_t len, struct rf_config *cfg);
/* Reads and parses a file (at most 1 MiB); -errno or -EINVAL as above. */
int rf_config_load(const char *path, struct rf_config *cfg);

/*
 * Parses a client manifest.  Returns 0 and fills *ret, or -EINVAL with a
 * reason in err (errlen bytes) and *ret untouched.
 */
int rf_manifest_parse(const char *text, size_t len, struct rf_manifest *ret, char *err, size_t errlen);
int rf_manifest_load(const char *path, struct rf_manifest *ret, char *err, size_t errlen);

/*
 * argv points into the manifest itself: after copying a manifest, call this
 * on the copy before using argv.
 */
void rf_manifest_fix_argv(struct rf_manifest *m);

/* The built-in configuration `make run` uses: monitor mode, all local filesystems. */
extern const char rf_config_embedded_default[];

#endif
