/*
 * content.c - the managed content a client was started with: the broker
 * opens the active bundle in the spawned child, puts the descriptor at a
 * number it names in RF_CONTENT_FD and the version in RF_CONTENT_VERSION.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "ringfence/ringfence.h"

int rf_content_fd(void)
{
	const char *s = getenv("RF_CONTENT_FD");
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	long fd = strtol(s, &end, 10);
	if (errno || *end || fd < 0 || fd > 65535)
		return -1;
	/* only a descriptor that is open and readable is handed out */
	int fl = fcntl((int)fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY)
		return -1;
	return (int)fd;
}

const char *rf_content_version(void)
{
	const char *v = getenv("RF_CONTENT_VERSION");
	return v && *v ? v : NULL;
}
