/*
 * ops.c - rfctl's side of ringfenced's operator control socket: connect,
 * send the one request, receive a reply of unknown size.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/wire.h"
#include "ctl/ctl.h"
#include "ctl/opsreq.h"

static const char *connect_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ECONNREFUSED:
		return " (is ringfenced running?)";
	case EACCES:
	case EPERM:
		return " (the control socket is for root)";
	case EAGAIN:
		return " (ringfenced is not accepting connections)";
	default:
		return "";
	}
}

static int ops_connect(const struct rfctl *ctl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = {
		.tv_sec = RFCTL_REPLY_TIMEOUT_MS / 1000,
		.tv_usec = (RFCTL_REPLY_TIMEOUT_MS % 1000) * 1000,
	};

	_Static_assert(sizeof sa.sun_path == sizeof ctl->sock_path, "socket path size");
	memcpy(sa.sun_path, ctl->sock_path, sizeof sa.sun_path);

	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rfctl_err(errno, "socket");
		return -1;
	}
	/* connect() on AF_UNIX waits on a full backlog, bounded by the send timeout. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
		rfctl_err(errno, "setsockopt(SO_SNDTIMEO)");
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		rfctl_err(0, "cannot connect to %s: %s%s", ctl->sock_path, strerror(e),
			  connect_hint(e));
		close(fd);
		return -1;
	}
	return fd;
}

int ops_send_request(const struct rfctl *ctl, const void *req, size_t len)
{
	int fd = ops_connect(ctl);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = send(fd, req, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		rfctl_err(n < 0 ? errno : EIO, "cannot send the request to %s", ctl->sock_path);
		close(fd);
		return -1;
	}
	return fd;
}

int ops_open(const struct rfctl *ctl, uint16_t cmd, uint64_t type_mask, uint32_t exclude_pgid)
{
	struct rf_ops_req req;
	memset(&req, 0, sizeof req);
	req.magic = RF_OPS_MAGIC;
	req.version = RF_PROTO_VERSION;
	req.cmd = cmd;
	req.type_mask = type_mask;
	req.exclude_pgid = exclude_pgid;
	/*
	 * Excluding our process group hides our own pipeline (rfctl tail | jq)
	 * when a shell ran us as a job, which makes us the group leader.  Run
	 * from a script we share the script's group: exclude only ourselves,
	 * or the script's own commands would vanish from the tail.
	 */
	if (exclude_pgid && (pid_t)exclude_pgid == getpgrp() && getpgrp() != getpid()) {
		req.exclude_pgid = (uint32_t)getpid();
		req.flags |= RF_OPS_F_EXCLUDE_PID;
	}
	return ops_send_request(ctl, &req, sizeof req);
}

int ops_recv_reply(int fd, int timeout_ms, char **ret_buf, size_t *ret_len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		rfctl_err(errno, "poll");
		return -1;
	}
	if (r == 0) {
		rfctl_err(0, "no reply from ringfenced within %d ms", timeout_ms);
		return -1;
	}

	/* MSG_TRUNC with MSG_PEEK reports the datagram's real size. */
	ssize_t size;
	do
		size = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	while (size < 0 && errno == EINTR);
	if (size < 0) {
		rfctl_err(errno, "cannot receive the reply");
		return -1;
	}
	if (size == 0) {
		rfctl_err(0, "ringfenced closed the connection without a reply");
		return -1;
	}
	if ((size_t)size > RFCTL_REPLY_MAX) {
		rfctl_err(0, "reply of %zd bytes is too large", size);
		return -1;
	}

	char *buf = malloc((size_t)size + 1);
	if (!buf) {
		rfctl_err(ENOMEM, "cannot receive the reply");
		return -1;
	}
	ssize_t n;
	do
		n = recv(fd, buf, (size_t)size, MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n != size) {
		rfctl_err(n < 0 ? errno : EIO, "cannot receive the reply");
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*ret_buf = buf;
	*ret_len = (size_t)n;
	return 0;
}

bool ops_reply_is_error(const char *buf, size_t len)
{
	if (len == 0 || buf[0] != '{')
		return false;
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return false;
	json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	json_object *e;
	bool is_error = o && json_object_is_type(o, json_type_object) &&
			json_object_object_get_ex(o, "error", &e) &&
			json_object_is_type(e, json_type_string);
	if (is_error) {
		fputs("rfctl: ringfenced refused: ", stderr);
		rfctl_put_safe(stderr, json_object_get_string(e));
		fputc('\n', stderr);
	}
	json_object_put(o);
	json_tokener_free(tok);
	return is_error;
}
