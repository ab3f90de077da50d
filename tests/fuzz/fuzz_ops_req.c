/*
 * fuzz_ops_req.c - libFuzzer harness for rf_ops_parse_req(), the broker's
 * check of an operator request on its control socket.  An accepted request
 * has a known command, known flags and a type mask of real event types; a
 * refused one leaves the output untouched.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/wire.h"
#include "ringfence/ringfence.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256)
		return 0;
	unsigned char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	struct rf_ops_req out, pattern;
	memset(&out, 0xa7, sizeof out);
	pattern = out;
	int r = rf_ops_parse_req(buf, size, &out);
	if (r == 0) {
		CHECK(size == sizeof out && memcmp(&out, buf, sizeof out) == 0);
		CHECK(out.magic == RF_OPS_MAGIC && out.version == RF_PROTO_VERSION);
		CHECK(out.cmd >= 1 && out.cmd < RF_OPS_MAX);
		CHECK((out.flags & ~RF_OPS_F_EXCLUDE_PID) == 0);
		for (unsigned t = 0; t < 64; t++)
			if (out.type_mask & (1ull << t))
				CHECK(rf_event_type_name(t) != NULL);
	} else {
		CHECK(r == -EINVAL);
		CHECK(memcmp(&out, &pattern, sizeof out) == 0);
	}

	/* a content request: accepted only whole, with the fields its action needs */
	struct rf_ops_content cout, cpat;
	memset(&cout, 0x5c, sizeof cout);
	cpat = cout;
	r = rf_ops_parse_content(buf, size, &cout);
	if (r == 0) {
		CHECK(size == sizeof cout && memcmp(&cout, buf, sizeof cout) == 0);
		CHECK(cout.req.cmd == RF_OPS_CONTENT && cout.action >= 1 && cout.action < RF_OPS_CONTENT_MAX);
		size_t n = strnlen(cout.client, sizeof cout.client);
		CHECK(n < sizeof cout.client);
		bool named = cout.action == RF_OPS_CONTENT_PIN || cout.action == RF_OPS_CONTENT_UNPIN;
		CHECK(named == (n > 0));
		CHECK(cout.hours <= 8760);
		/* a content request is never taken for another request */
		struct rf_ops_req other;
		CHECK(rf_ops_parse_req(buf, size, &other) == -EINVAL);
	} else {
		CHECK(r == -EINVAL);
		CHECK(memcmp(&cout, &cpat, sizeof cout) == 0);
	}
	free(buf);
	return 0;
}
