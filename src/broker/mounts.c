/*
 * mounts.c - mounts tracefs and securityfs when they are missing.
 */
#include "broker/mounts.h"

#include <errno.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

/* 1 if dir is the root of a filesystem with this magic, 0 if not, -errno. */
static int is_mounted(const char *dir, unsigned long magic)
{
	struct statfs sf;

	if (statfs(dir, &sf) < 0)
		return -errno;
	return (unsigned long)sf.f_type == magic;
}

static int ensure_mounted(const char *dir, const char *fstype, unsigned long magic)
{
	int r = is_mounted(dir, magic);

	if (r != 0)
		return r < 0 ? r : 0;
	if (mount(fstype, dir, fstype, MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
		return 0;
	r = -errno;
	/* Someone else may have mounted it in the meantime. */
	return is_mounted(dir, magic) == 1 ? 0 : r;
}

int rf_mount_kernel_fs(void)
{
	int r_trace = ensure_mounted("/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC);
	int r_sec = ensure_mounted("/sys/kernel/security", "securityfs", SECURITYFS_MAGIC);

	return r_trace < 0 ? r_trace : r_sec;
}
