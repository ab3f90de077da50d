/*
 * recfile.h - recorded event files: what `rfctl record` writes and what the
 * broker's replay source (and the shadow test of new content) reads.
 *
 * A recording is a 16-byte struct rf_rec_hdr (src/common/wire.h: magic
 * RF_REC_MAGIC, version RF_PROTO_VERSION, reserved 0) followed by rf_message
 * records back to back, each exactly hdr.size bytes.  Messages are stored in
 * host byte order: a recording is replayed on the kind of host that made it.
 *
 * The reader trusts nothing in the file.  The header must match exactly;
 * another version is refused, never guessed at.  Every record must have a
 * size in [sizeof(struct rf_message), RF_MSG_MAX], a multiple of
 * RF_MSG_ALIGN, fit in the bytes that remain, and pass rf_msg_validate().
 * The first record that does not stops the iteration for good with an error
 * code below, and rf_rec_reader_offset() tells where it starts.  The reader
 * over memory is what the fuzz harness drives: any bytes are safe input.
 *
 * Conventions: functions return 0 (or, for _next, 1) or a negative errno;
 * ret_* outputs are not touched on failure.  No function here logs.
 */
#ifndef RF_RECFILE_H
#define RF_RECFILE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "ringfence/message.h"

/* Errors specific to recordings (besides I/O errnos and -ENOMEM). */
#define RF_REC_E_TRUNCATED (-ENODATA)        /* file header or a record cut short */
#define RF_REC_E_MAGIC     (-EBADMSG)        /* not a recording, or reserved bits set */
#define RF_REC_E_VERSION   (-EPROTONOSUPPORT) /* recording of another protocol version */
#define RF_REC_E_SIZE      (-EMSGSIZE)       /* a record's hdr.size is out of bounds */
#define RF_REC_E_INVALID   (-EPROTO)         /* a record fails rf_msg_validate() */

/*
 * A static description of err for the errors above, strerror() text for
 * other negative errnos; never NULL.
 */
const char *rf_rec_strerror(int err);

/* ---- writer ---- */

struct rf_rec_writer;

/*
 * Creates (or truncates) path with mode 0600 and writes the file header.
 * On success stores a writer in *ret_w; on error nothing is created that
 * needs freeing (a created, empty file may remain).
 */
int rf_rec_writer_open(const char *path, struct rf_rec_writer **ret_w);

/*
 * Appends one message of len bytes after checking it with rf_msg_validate()
 * (-EPROTO when it fails; nothing is written).  Writes are buffered.  After
 * a write error every later call returns the same error.
 */
int rf_rec_writer_append(struct rf_rec_writer *w, const void *msg, size_t len);

/* Messages appended so far. */
uint64_t rf_rec_writer_count(const struct rf_rec_writer *w);

/*
 * Flushes the buffer, fsyncs and closes the file, and frees the writer in
 * every case.  Returns 0, or the first error met since the writer was
 * opened.  Accepts NULL (returns 0).
 */
int rf_rec_writer_close(struct rf_rec_writer *w);

/* ---- reader ---- */

struct rf_rec_reader;

/*
 * A reader over len bytes at buf; buf must stay valid and unchanged until
 * the reader is freed.  Checks the file header: RF_REC_E_TRUNCATED,
 * RF_REC_E_MAGIC or RF_REC_E_VERSION on failure (and -ENOMEM, -EINVAL).
 */
int rf_rec_reader_new_mem(const void *buf, size_t len, struct rf_rec_reader **ret_r);

/*
 * A reader that reads a file sequentially (a pipe works too; the
 * descriptor must be blocking: -EAGAIN stops the iteration).  _open_fd
 * does not take fd: the caller closes it after freeing the reader.  _open
 * opens path (O_RDONLY|O_CLOEXEC) and closes it when freed.  Errors as for
 * _new_mem, plus I/O errnos.
 */
int rf_rec_reader_open_fd(int fd, struct rf_rec_reader **ret_r);
int rf_rec_reader_open(const char *path, struct rf_rec_reader **ret_r);

/*
 * Reads the next record.  Returns 1 and stores a pointer to the message in
 * *ret_msg and its size in *ret_len (the message is suitably aligned and
 * valid until the next call or rf_rec_reader_free()); 0 at the clean end of
 * the recording; or a negative error, after which iteration is over and
 * every later call returns the same error.
 */
int rf_rec_reader_next(struct rf_rec_reader *r, const struct rf_message **ret_msg,
		       size_t *ret_len);

/*
 * Offset in the recording of the next record to read; after an error, of
 * the record that caused it.
 */
uint64_t rf_rec_reader_offset(const struct rf_rec_reader *r);

/* Records returned by rf_rec_reader_next() so far. */
uint64_t rf_rec_reader_count(const struct rf_rec_reader *r);

/* Frees the reader (closing the file it opened); accepts NULL. */
void rf_rec_reader_free(struct rf_rec_reader *r);

#endif
