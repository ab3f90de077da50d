/*
 * mounts.h - the kernel pseudo-filesystems the broker's sensors need.
 *
 * Classic tracepoints are attached by id, read from tracefs; some systems
 * (minimal images, fresh containers) boot without tracefs or securityfs
 * mounted.  This module mounts them where the kernel documents them.
 */
#ifndef RF_MOUNTS_H
#define RF_MOUNTS_H

/*
 * Makes sure tracefs is mounted at /sys/kernel/tracing and securityfs at
 * /sys/kernel/security, mounting them (nosuid, nodev, noexec) when they are
 * not.  Tries both.  Returns 0 when both are mounted, or the negative errno
 * of the first one that is not; mounts made before a failure stay.
 */
int rf_mount_kernel_fs(void);

#endif
