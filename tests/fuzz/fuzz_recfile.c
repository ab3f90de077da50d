/*
 * fuzz_recfile.c - libFuzzer harness for the recording reader: the input
 * is a whole recording.  Every record the reader returns must validate;
 * errors are sticky; and the file-descriptor reader (through a memfd) must
 * return exactly what the memory reader returns, record for record.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/recfile.h"
#include "ringfence/ringfence.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define MAX_RECORDS 4096

static int fd_for(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-rec", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);

	struct rf_rec_reader *mr = NULL, *fr = NULL;
	int fd = fd_for(data, size);
	int em = rf_rec_reader_new_mem(buf, size, &mr);
	int ef = rf_rec_reader_open_fd(fd, &fr);
	CHECK(em == ef);
	CHECK(em == 0 || em == RF_REC_E_TRUNCATED || em == RF_REC_E_MAGIC || em == RF_REC_E_VERSION);
	if (em == 0) {
		int rm, rfd;
		unsigned n = 0;
		do {
			const struct rf_message *m1 = NULL, *m2 = NULL;
			size_t l1 = 0, l2 = 0;
			rm = rf_rec_reader_next(mr, &m1, &l1);
			rfd = rf_rec_reader_next(fr, &m2, &l2);
			CHECK(rm == rfd);
			if (rm == 1) {
				CHECK(l1 == l2 && l1 <= RF_MSG_MAX && memcmp(m1, m2, l1) == 0);
				CHECK(((uintptr_t)m1 % _Alignof(struct rf_message)) == 0);
				CHECK(rf_msg_validate(m1, l1) == RF_OK && m1->hdr.size == l1);
				n++;
			}
		} while (rm == 1 && n < MAX_RECORDS);
		CHECK(rf_rec_reader_count(mr) == n);
		CHECK(rf_rec_reader_offset(mr) == rf_rec_reader_offset(fr));
		CHECK(rf_rec_reader_offset(mr) <= size);
		if (rm < 0) {
			/* sticky */
			const struct rf_message *m;
			size_t l;
			CHECK(rf_rec_reader_next(mr, &m, &l) == rm);
			CHECK(rf_rec_strerror(rm) != NULL);
		} else if (rm == 0) {
			CHECK(rf_rec_reader_offset(mr) == size);
		}
	}
	rf_rec_reader_free(mr);
	rf_rec_reader_free(fr);
	close(fd);
	free(buf);
	return 0;
}
