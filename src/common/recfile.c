/*
 * recfile.c - writing and reading recorded event files (see recfile.h).
 *
 * Both reader back ends (a memory buffer, a file read sequentially) share
 * one parser through peek()/consume(), so the code the fuzzer exercises on
 * memory is the code the broker runs on files.  Each record is copied into
 * an aligned buffer inside the reader before it is checked, so neither an
 * unaligned input buffer nor a file changing under us can reach a caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io.h"
#include "common/recfile.h"
#include "common/wire.h"
#include "ringfence/ringfence.h"

#define REC_IOBUF_SIZE (64u * 1024u)

_Static_assert(REC_IOBUF_SIZE >= RF_MSG_MAX, "a record must fit the I/O buffer");
_Static_assert(sizeof(RF_REC_MAGIC) - 1 == sizeof(((struct rf_rec_hdr *)0)->magic),
	       "magic length");

const char *rf_rec_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case RF_REC_E_TRUNCATED: return "recording truncated";
	case RF_REC_E_MAGIC: return "not a ringfence recording (bad file header)";
	case RF_REC_E_VERSION: return "unsupported recording version";
	case RF_REC_E_SIZE: return "record size out of bounds";
	case RF_REC_E_INVALID: return "invalid record";
	default: return err < 0 ? strerror(-err) : "unknown error";
	}
}

/* ---- writer ---- */

struct rf_rec_writer {
	int fd;
	int err;                   /* first write error; sticky */
	uint64_t count;
	size_t used;
	unsigned char buf[REC_IOBUF_SIZE];
};

int rf_rec_writer_open(const char *path, struct rf_rec_writer **ret_w)
{
	if (!path || !ret_w)
		return -EINVAL;
	struct rf_rec_writer *w = malloc(sizeof *w);
	if (!w)
		return -ENOMEM;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		int r = -errno;
		free(w);
		return r;
	}
	w->err = 0;
	w->count = 0;
	w->used = 0;

	struct rf_rec_hdr h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, RF_REC_MAGIC, sizeof h.magic);
	h.version = RF_PROTO_VERSION;
	int r = rf_write_all(w->fd, &h, sizeof h);
	if (r < 0) {
		close(w->fd);
		free(w);
		return r;
	}
	*ret_w = w;
	return 0;
}

static int writer_flush(struct rf_rec_writer *w)
{
	if (w->err)
		return w->err;
	int r = rf_write_all(w->fd, w->buf, w->used);
	if (r < 0) {
		w->err = r;
		return r;
	}
	w->used = 0;
	return 0;
}

int rf_rec_writer_append(struct rf_rec_writer *w, const void *msg, size_t len)
{
	if (!w || !msg)
		return -EINVAL;
	if (w->err)
		return w->err;
	if (rf_msg_validate(msg, len) != RF_OK)
		return -EPROTO;
	if (w->used + len > sizeof w->buf) {
		int r = writer_flush(w);
		if (r < 0)
			return r;
	}
	memcpy(w->buf + w->used, msg, len);
	w->used += len;
	w->count++;
	return 0;
}

uint64_t rf_rec_writer_count(const struct rf_rec_writer *w)
{
	return w ? w->count : 0;
}

int rf_rec_writer_close(struct rf_rec_writer *w)
{
	if (!w)
		return 0;
	int r = writer_flush(w);
	/* A pipe or a character device cannot be synced; that is not a loss. */
	if (fsync(w->fd) < 0 && errno != EINVAL && errno != EROFS && r == 0)
		r = -errno;
	if (close(w->fd) < 0 && errno != EINTR && r == 0)
		r = -errno;
	free(w);
	return r;
}

/* ---- reader ---- */

struct rf_rec_reader {
	int fd;                    /* -1 for a memory reader */
	bool own_fd;
	bool eof;                  /* fd: read() returned 0 */
	const unsigned char *data; /* memory: the input; fd: iobuf */
	size_t start, end;         /* unread bytes are data[start, end) */
	unsigned char *iobuf;      /* fd only */
	uint64_t offset;           /* of data[start] in the recording */
	uint64_t count;
	int err;                   /* sticky once iteration stopped */
	_Alignas(struct rf_message) unsigned char msg[RF_MSG_MAX];
};

/*
 * Makes up to need bytes available at data[start].  Returns how many are
 * (fewer than need only at the end of the input), or a negative errno.
 */
static ssize_t peek(struct rf_rec_reader *r, size_t need)
{
	while (r->fd >= 0 && r->end - r->start < need && !r->eof) {
		if (r->start > 0) {
			memmove(r->iobuf, r->iobuf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		ssize_t n = read(r->fd, r->iobuf + r->end, REC_IOBUF_SIZE - r->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
	}
	size_t avail = r->end - r->start;
	return (ssize_t)(avail < need ? avail : need);
}

static void consume(struct rf_rec_reader *r, size_t n)
{
	r->start += n;
	r->offset += n;
}

static int check_header(struct rf_rec_reader *r)
{
	struct rf_rec_hdr h;
	ssize_t n = peek(r, sizeof h);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return RF_REC_E_TRUNCATED;
	size_t cmp = (size_t)n < sizeof h.magic ? (size_t)n : sizeof h.magic;
	if (memcmp(r->data + r->start, RF_REC_MAGIC, cmp) != 0)
		return RF_REC_E_MAGIC;
	if ((size_t)n < sizeof h)
		return RF_REC_E_TRUNCATED;
	memcpy(&h, r->data + r->start, sizeof h);
	if (h.version != RF_PROTO_VERSION)
		return RF_REC_E_VERSION;
	if (h.reserved != 0)
		return RF_REC_E_MAGIC;
	consume(r, sizeof h);
	return 0;
}

static struct rf_rec_reader *reader_alloc(void)
{
	struct rf_rec_reader *r = calloc(1, sizeof *r);
	if (r)
		r->fd = -1;
	return r;
}

int rf_rec_reader_new_mem(const void *buf, size_t len, struct rf_rec_reader **ret_r)
{
	if ((!buf && len > 0) || !ret_r)
		return -EINVAL;
	struct rf_rec_reader *r = reader_alloc();
	if (!r)
		return -ENOMEM;
	r->data = buf;
	r->end = len;
	int e = check_header(r);
	if (e < 0) {
		free(r);
		return e;
	}
	*ret_r = r;
	return 0;
}

int rf_rec_reader_open_fd(int fd, struct rf_rec_reader **ret_r)
{
	if (fd < 0 || !ret_r)
		return -EINVAL;
	struct rf_rec_reader *r = reader_alloc();
	if (!r)
		return -ENOMEM;
	r->iobuf = malloc(REC_IOBUF_SIZE);
	if (!r->iobuf) {
		free(r);
		return -ENOMEM;
	}
	r->fd = fd;
	r->data = r->iobuf;
	int e = check_header(r);
	if (e < 0) {
		free(r->iobuf);
		free(r);
		return e;
	}
	*ret_r = r;
	return 0;
}

int rf_rec_reader_open(const char *path, struct rf_rec_reader **ret_r)
{
	if (!path || !ret_r)
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct rf_rec_reader *r;
	int e = rf_rec_reader_open_fd(fd, &r);
	if (e < 0) {
		close(fd);
		return e;
	}
	r->own_fd = true;
	*ret_r = r;
	return 0;
}

static int reader_next(struct rf_rec_reader *r, size_t *ret_len)
{
	uint32_t size;
	ssize_t n = peek(r, sizeof size);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return 0;
	if ((size_t)n < sizeof size)
		return RF_REC_E_TRUNCATED;
	memcpy(&size, r->data + r->start, sizeof size);
	if (size < sizeof(struct rf_message) || size > RF_MSG_MAX || size % RF_MSG_ALIGN != 0)
		return RF_REC_E_SIZE;
	n = peek(r, size);
	if (n < 0)
		return (int)n;
	if ((size_t)n < size)
		return RF_REC_E_TRUNCATED;
	memcpy(r->msg, r->data + r->start, size);
	if (rf_msg_validate(r->msg, size) != RF_OK)
		return RF_REC_E_INVALID;
	consume(r, size);
	*ret_len = size;
	return 1;
}

int rf_rec_reader_next(struct rf_rec_reader *r, const struct rf_message **ret_msg,
		       size_t *ret_len)
{
	if (!r || !ret_msg || !ret_len)
		return -EINVAL;
	if (r->err)
		return r->err;
	size_t len = 0;
	int e = reader_next(r, &len);
	if (e < 0) {
		r->err = e;
		return e;
	}
	if (e == 0)
		return 0;
	r->count++;
	*ret_msg = (const struct rf_message *)(const void *)r->msg;
	*ret_len = len;
	return 1;
}

uint64_t rf_rec_reader_offset(const struct rf_rec_reader *r)
{
	return r ? r->offset : 0;
}

uint64_t rf_rec_reader_count(const struct rf_rec_reader *r)
{
	return r ? r->count : 0;
}

void rf_rec_reader_free(struct rf_rec_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	free(r->iobuf);
	free(r);
}
