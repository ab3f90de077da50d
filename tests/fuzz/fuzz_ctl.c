/*
 * fuzz_ctl.c - libFuzzer harness for rf_ctl_validate(), the broker's check
 * of every control datagram a client sends, in every client state.
 *
 * Beyond "no sanitizer report": an accepted datagram is consistent with
 * what handle_ctl() in bclient.c then assumes without checking (size field,
 * a type allowed in that state, a NUL-terminated absolute path inside the
 * datagram for the mute-path messages).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/wire.h"
#include "ringfence/ringfence.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const enum rf_client_state states[] = {
	RF_CS_EMPTY, RF_CS_STARTING, RF_CS_CONNECTED, RF_CS_RUNNING, RF_CS_DEMOTED,
	RF_CS_BACKOFF, RF_CS_QUARANTINED, RF_CS_STOPPED,
};

/* After the handshake: connected, running or demoted. */
static bool live(enum rf_client_state st)
{
	return st == RF_CS_CONNECTED || st == RF_CS_RUNNING || st == RF_CS_DEMOTED;
}

static void check_accepted(const unsigned char *buf, size_t len, enum rf_client_state st)
{
	struct rf_ctl_hdr h;
	CHECK(len >= sizeof h && len <= RF_CTL_MAX_SIZE);
	memcpy(&h, buf, sizeof h);
	CHECK(h.size == len && h.version == RF_PROTO_VERSION);
	switch (h.type) {
	case RF_CTL_HELLO: {
		struct rf_ctl_hello m;
		CHECK(st == RF_CS_STARTING && len == sizeof m);
		memcpy(&m, buf, sizeof m);
		CHECK(strnlen(m.name, sizeof m.name) < sizeof m.name && m.name[0]);
		break;
	}
	case RF_CTL_SUBSCRIBE:
	case RF_CTL_UNSUBSCRIBE:
	case RF_CTL_SUBSCRIBE_FD: {
		struct rf_ctl_sub m;
		CHECK(len == sizeof m && live(st));
		memcpy(&m, buf, sizeof m);
		CHECK(m.type > RF_EVENT_NONE && m.type < RF_EVENT_MAX && m.action <= RF_ACTION_AUTH);
		CHECK(m.action != RF_ACTION_AUTH || RF_EVENT_IS_AUTHABLE(m.type));
		CHECK(h.type != RF_CTL_SUBSCRIBE_FD || m.action == RF_ACTION_AUTH);
		break;
	}
	case RF_CTL_ALERT: {
		struct rf_ctl_alert m;
		CHECK(len >= sizeof m && (st == RF_CS_RUNNING || st == RF_CS_DEMOTED));
		memcpy(&m, buf, sizeof m);
		size_t strs = (size_t)m.rule_len + m.title_len + m.level_len + m.tags_len;
		CHECK(m.rule_len && m.title_len && m.level_len);
		CHECK(len == sizeof m + strs + m.msg_len);
		CHECK(!memchr(buf + sizeof m, '\0', strs));
		/* what handle_alert() does with the trigger: copy it out and read it */
		static _Alignas(8) unsigned char t[RF_MSG_MAX];
		CHECK(m.msg_len <= sizeof t);
		memcpy(t, buf + sizeof m + strs, m.msg_len);
		CHECK(rf_msg_validate(t, m.msg_len) == RF_OK);
		const struct rf_message *tm = (const void *)t;
		CHECK(strlen(rf_msg_str(tm, tm->process.exe.path)) == tm->process.exe.path.len);
		break;
	}
	case RF_CTL_MUTE_PATH:
	case RF_CTL_UNMUTE_PATH: {
		struct rf_ctl_mute_path m;
		CHECK(len >= sizeof m && live(st));
		memcpy(&m, buf, sizeof m);
		CHECK(len == sizeof m + m.len);
		const char *path = (const char *)buf + sizeof m;
		/* what do_mute_path() does with it: strcmp, strdup, strlen */
		size_t n = strlen(path);
		CHECK(n + 1 == m.len && path[0] == '/');
		char *dup = strdup(path);
		CHECK(dup && strcmp(dup, path) == 0);
		free(dup);
		break;
	}
	case RF_CTL_MUTE_PROC:
	case RF_CTL_UNMUTE_PROC:
		CHECK(len == sizeof(struct rf_ctl_mute_proc));
		break;
	case RF_CTL_MUTE_INVERT:
		CHECK(len == sizeof(struct rf_ctl_mute_invert));
		break;
	case RF_CTL_READY:
		CHECK(len == sizeof h && st == RF_CS_CONNECTED);
		break;
	default:
		CHECK(0);   /* nothing else is ever accepted from a client */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > RF_CTL_MAX_SIZE + 16)
		return 0;
	unsigned char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
		int r = rf_ctl_validate(buf, size, states[i]);
		CHECK(r == 0 || r == RF_E_PROTO || r == RF_E_STATE || r == RF_E_INVAL ||
		      r == RF_E_VERSION);
		if (r == 0)
			check_accepted(buf, size, states[i]);
	}
	free(buf);
	return 0;
}
