/*
 * test_fdpass.c - libringfence's side of descriptor passing: the test plays
 * the broker on the other end of the control socket (handshake, event ring,
 * RF_CTL_FD datagrams) and checks rf_subscribe_fd / rf_next / rf_msg_fd:
 * a descriptor queued ahead of an ack is kept for its event, a stale one is
 * closed, a malformed one (two descriptors, bad magic) is refused and its
 * descriptors closed, and the library closes the current one at the next
 * rf_next().
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/msgbuild.h"
#include "common/ring.h"
#include "common/wire.h"
#include "ringfence/ringfence.h"

#define EVT_SIZE (64 * 1024)

struct fake {
	int bsock;                 /* the broker's end */
	struct rf_evring evt;
	struct rf_respring resp;
	rf_client_t *c;
	char path[64];             /* a file whose descriptors are passed */
	struct stat st;
};

static void send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	memset(&cb, 0, sizeof cb);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		mh.msg_control = cb.b;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)len);
}

static void send_fd_dgram(struct fake *f, uint64_t id, uint32_t magic, int nfds)
{
	struct rf_ctl_fd m = { .hdr = { sizeof m, RF_PROTO_VERSION, RF_CTL_FD, 0, 0 }, .magic = magic, .id = id };
	int fds[2];
	for (int i = 0; i < nfds; i++)
		assert_true((fds[i] = open(f->path, O_RDONLY | O_CLOEXEC)) >= 0);
	send_with_fds(f->bsock, &m, sizeof m, fds, nfds);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

static void send_ack(struct fake *f, uint32_t req_id)
{
	struct rf_ctl_ack a = { .hdr = { sizeof a, RF_PROTO_VERSION, RF_CTL_ACK, req_id, 0 }, .status = RF_OK };
	assert_int_equal(send(f->bsock, &a, sizeof a, 0), (ssize_t)sizeof a);
}

static void push_auth(struct fake *f, uint64_t id, bool has_fd)
{
	struct rf_msgb mb;
	rf_msgb_init(&mb, RF_EVENT_EXEC, RF_ACTION_AUTH);
	mb.u.msg.hdr.id = id;
	mb.u.msg.hdr.flags = has_fd ? RF_MSG_F_HAS_FD : 0;
	mb.u.msg.ev.exec.target.path = rf_msgb_str(&mb, f->path);
	uint32_t len = rf_msgb_finish(&mb);
	assert_int_equal(rf_evring_push(&f->evt, mb.u.bytes, len), 0);
}

static int count_open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 256; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static int setup(void **state)
{
	static struct fake f;
	memset(&f, 0, sizeof f);
	snprintf(f.path, sizeof f.path, "/tmp/rf-fdpass.XXXXXX");
	int tfd = mkstemp(f.path);
	assert_true(tfd >= 0);
	assert_int_equal(write(tfd, "hello", 5), 5);
	assert_int_equal(fstat(tfd, &f.st), 0);
	close(tfd);

	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	f.bsock = sv[0];
	char fdstr[16];
	snprintf(fdstr, sizeof fdstr, "%d", sv[1]);
	setenv("RF_CLIENT_FD", fdstr, 1);

	/* the HELLO_ACK is queued before the client asks: it reads it after its HELLO */
	uint32_t size = rf_shm_size(EVT_SIZE, 64);
	int memfd = memfd_create("fdpass", MFD_CLOEXEC);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, size), 0);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(rf_shm_init(p, EVT_SIZE, 64), 0);
	assert_int_equal(rf_shm_attach(p, size, &f.evt, &f.resp), 0);
	int fds[3] = { memfd, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
	struct rf_ctl_hello_ack ack = { .hdr = { sizeof ack, RF_PROTO_VERSION, RF_CTL_HELLO_ACK, 1, 0 },
					.status = RF_OK, .shm_size = size, .client_id = 1 };
	send_with_fds(f.bsock, &ack, sizeof ack, fds, 3);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	int err;
	f.c = rf_client_new("fdpass", &err);
	assert_non_null(f.c);
	/* drain the HELLO */
	char buf[256];
	assert_true(recv(f.bsock, buf, sizeof buf, 0) > 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	rf_client_free(f->c);
	close(f->bsock);
	unlink(f->path);
	return 0;
}

static void expect_fd_is_file(struct fake *f, int fd)
{
	struct stat st;
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_ino, f->st.st_ino);
	assert_int_equal(st.st_dev, f->st.st_dev);
	char b[5];
	assert_int_equal(pread(fd, b, 5, 0), 5);
	assert_memory_equal(b, "hello", 5);
}

static void test_fd_passing(void **state)
{
	struct fake *f = *state;
	const struct rf_message *m;
	assert_int_equal(rf_subscribe_fd(f->c, RF_EVENT_EXEC, RF_ACTION_NOTIFY), RF_E_INVAL);

	int base = count_open_fds();
	/* a descriptor that arrives while the client waits for an ack is kept */
	send_fd_dgram(f, 100, RF_CTL_FD_MAGIC, 1);
	send_ack(f, 2);
	assert_int_equal(rf_subscribe_fd(f->c, RF_EVENT_EXEC, RF_ACTION_AUTH), RF_OK);
	assert_int_equal(count_open_fds(), base + 1);

	push_auth(f, 100, true);
	assert_int_equal(rf_next(f->c, &m, 0), RF_OK);
	assert_int_equal(m->hdr.id, 100);
	int fd = rf_msg_fd(f->c, m);
	expect_fd_is_file(f, fd);

	/* stale (90), then the right one (110) queued on the socket; the next
	 * rf_next closes 100's and 90's */
	send_fd_dgram(f, 90, RF_CTL_FD_MAGIC, 1);
	send_fd_dgram(f, 110, RF_CTL_FD_MAGIC, 1);
	send_fd_dgram(f, 120, RF_CTL_FD_MAGIC, 1);   /* ahead of its event: kept */
	push_auth(f, 110, true);
	assert_int_equal(rf_next(f->c, &m, 0), RF_OK);
	assert_int_equal(m->hdr.id, 110);
	expect_fd_is_file(f, rf_msg_fd(f->c, m));
	push_auth(f, 120, true);
	assert_int_equal(rf_next(f->c, &m, 0), RF_OK);
	expect_fd_is_file(f, rf_msg_fd(f->c, m));

	/* malformed: two descriptors, a bad magic; both refused and closed */
	send_fd_dgram(f, 130, RF_CTL_FD_MAGIC, 2);
	send_fd_dgram(f, 130, 0x12345678u, 1);
	push_auth(f, 130, true);
	assert_int_equal(rf_next(f->c, &m, 0), RF_OK);
	assert_int_equal(rf_msg_fd(f->c, m), -1);

	/* flagged but never sent: -1, no wait; unflagged: -1 */
	push_auth(f, 140, true);
	assert_int_equal(rf_next(f->c, &m, 0), RF_OK);
	assert_int_equal(rf_msg_fd(f->c, m), -1);
	send_fd_dgram(f, 150, RF_CTL_FD_MAGIC, 1);
	push_auth(f, 150, false);
	assert_int_equal(rf_next(f->c, &m, 0), RF_OK);
	assert_int_equal(rf_msg_fd(f->c, m), -1);
	assert_int_equal(rf_next(f->c, &m, 0), RF_E_TIMEOUT);   /* reads the 150 datagram: stashed */
	push_auth(f, 160, true);
	assert_int_equal(rf_next(f->c, &m, 0), RF_OK);       /* 150's is stale now: closed */
	assert_int_equal(rf_msg_fd(f->c, m), -1);
	assert_int_equal(rf_next(f->c, &m, 0), RF_E_TIMEOUT);
	/* nothing leaked: every descriptor passed is closed again */
	assert_int_equal(count_open_fds(), base);
	struct rf_client_stats st;
	assert_int_equal(rf_stats(f->c, &st), RF_OK);
	assert_true(st.invalid >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fd_passing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
