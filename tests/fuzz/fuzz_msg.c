/*
 * fuzz_msg.c - libFuzzer harness for rf_msg_validate() (every message a
 * client, rfctl or the replay source reads) and, for what it accepts, for
 * every string accessor and rfctl's JSON renderer.
 *
 * Properties checked beyond "no sanitizer report": a valid message has
 * every string NUL terminated exactly where its reference says (plain
 * strings without interior NULs), the renderer accepts exactly the valid
 * messages, its output parses as JSON, and it does not care about the
 * alignment of its input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl/render.h"
#include "ringfence/ringfence.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check_str(const struct rf_message *m, size_t size, rf_str_t s, int plain)
{
	const char *p = rf_msg_str(m, s);
	if (s.off == 0) {
		CHECK(s.len == 0 && p[0] == '\0');
		return;
	}
	CHECK(s.off >= sizeof *m && (uint64_t)s.off + s.len < size);
	CHECK(p[s.len] == '\0');
	if (plain)
		CHECK(strlen(p) == s.len);
	else
		CHECK(strnlen(p, s.len + 1) <= s.len);
}

static void walk(const struct rf_message *m, size_t size)
{
	check_str(m, size, m->hdr.decider, 1);
	check_str(m, size, m->process.exe.path, 1);
	check_str(m, size, m->process.comm, 1);
	check_str(m, size, m->process.cwd, 1);
	check_str(m, size, m->process.args, 0);
	check_str(m, size, m->parent.exe, 1);
	check_str(m, size, m->parent.comm, 1);
	switch (m->hdr.type) {
	case RF_EVENT_EXEC:
	case RF_EVENT_MEMFD_EXEC:
		check_str(m, size, m->ev.exec.target.path, 1);
		check_str(m, size, m->ev.exec.args, 0);
		break;
	case RF_EVENT_OPEN:
		check_str(m, size, m->ev.open.target.path, 1);
		break;
	case RF_EVENT_CREATE:
	case RF_EVENT_CLOSE_WRITE:
	case RF_EVENT_UNLINK:
	case RF_EVENT_RENAME:
		check_str(m, size, m->ev.file.target.path, 1);
		check_str(m, size, m->ev.file.dest, 1);
		break;
	case RF_EVENT_KMOD_LOAD:
		check_str(m, size, m->ev.kmod.name, 1);
		break;
	case RF_EVENT_BPF_LOAD:
		check_str(m, size, m->ev.bpf.name, 1);
		break;
	default:
		break;
	}
	CHECK(rf_event_type_name(m->hdr.type) != NULL);
	/* cut and unknown flags (hdr.cut): consistent in whatever validates */
	CHECK(!rf_msg_cut(m) == !(m->hdr.flags & RF_MSG_F_CUT));
	const struct rf_file *t = rf_msg_target(m);
	if (t && (t->flags & RF_FILE_F_PATH_UNKNOWN))
		CHECK(t->path.off == 0 && !rf_msg_target_known(m));
	if (t && (t->flags & RF_FILE_F_PATH_CUT))
		CHECK((rf_msg_cut(m) & RF_CUT_TARGET) && !rf_msg_target_known(m));
	if (rf_msg_target_known(m))
		CHECK(t && t->path.off != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * RF_MSG_MAX)
		return 0;
	/* exact-size copies, so any read past the message is caught */
	unsigned char *buf = malloc(size ? size : 1);
	unsigned char *odd = malloc(size + 1);
	if (!buf || !odd)
		abort();
	memcpy(buf, data, size);
	memcpy(odd + 1, data, size);

	int v = rf_msg_validate(buf, size);
	CHECK(v == RF_OK || v == RF_E_PROTO || v == RF_E_VERSION);
	CHECK(rf_msg_validate(odd + 1, size) == v);

	char *json = NULL, *json_odd = NULL;
	int r = rf_render_json(buf, size, &json);
	int r_odd = rf_render_json(odd + 1, size, &json_odd);
	if (v == RF_OK) {
		walk((const struct rf_message *)(const void *)buf, size);
		CHECK(r == 0 && r_odd == 0);
		CHECK(strcmp(json, json_odd) == 0);
		json_object *o = json_tokener_parse(json);
		CHECK(o != NULL);
		json_object_put(o);
	} else {
		CHECK(r == -EPROTO && r_odd == -EPROTO && !json && !json_odd);
	}
	free(json);
	free(json_odd);
	free(buf);
	free(odd);
	return 0;
}
