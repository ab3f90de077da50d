/*
 * io.h - writing a whole buffer to a descriptor, for the programs that do
 * (recordings, content stores, rf-fetch's output, rf-content's bundles).
 * Header-only, so that programs that do not link libringfence's common
 * objects (rf-fetch, rf-content, the fuzz harnesses) can use it too.
 */
#ifndef RF_IO_H
#define RF_IO_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* Writes all len bytes, retrying short writes and EINTR; 0 or -errno (-EIO: no progress). */
static inline int rf_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

#endif
