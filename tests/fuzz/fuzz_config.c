/*
 * fuzz_config.c - libFuzzer harness for the two INI parsers of the broker:
 * rf_config_parse() and rf_manifest_parse(), both on every input.
 *
 * A refused input leaves the output untouched (the configuration but for
 * its err field; the manifest entirely) with a NUL-terminated reason; an
 * accepted one satisfies the documented ranges, and a manifest's argv
 * points into the returned struct and ends with NULL.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "ringfence/ringfence.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static int abs_path_ok(const char *p, size_t cap)
{
	size_t n = strnlen(p, cap);
	return n > 0 && n < cap && p[0] == '/';
}

static struct rf_config *cfg, *before;

static void fuzz_config(const char *text, size_t size)
{
	rf_config_defaults(cfg);
	*before = *cfg;
	int r = rf_config_parse(text, size, cfg);
	CHECK(strnlen(cfg->err, sizeof cfg->err) < sizeof cfg->err);
	if (r != 0) {
		CHECK(r == -EINVAL);
		CHECK(cfg->err[0] != '\0');
		memcpy(before->err, cfg->err, sizeof cfg->err);
		CHECK(memcmp(before, cfg, sizeof *cfg) == 0);
		return;
	}
	CHECK(abs_path_ok(cfg->state_dir, sizeof cfg->state_dir));
	CHECK(abs_path_ok(cfg->clients_dir, sizeof cfg->clients_dir));
	CHECK(cfg->nwatch <= RF_MAX_WATCH && cfg->nmute_exe <= RF_MAX_MUTES);
	for (unsigned i = 0; i < cfg->nwatch; i++)
		CHECK(abs_path_ok(cfg->watch[i], sizeof cfg->watch[i]));
	for (unsigned i = 0; i < cfg->nmute_exe; i++)
		CHECK(abs_path_ok(cfg->mute_exe[i], sizeof cfg->mute_exe[i]));
	CHECK(cfg->exec_deadline_ms >= 1 && cfg->exec_deadline_ms <= 60000);
	CHECK(cfg->open_deadline_ms >= 1 && cfg->open_deadline_ms <= 60000);
	CHECK(cfg->default_verdict == RF_ALLOW || cfg->default_verdict == RF_DENY);
	CHECK(cfg->ring_kib >= 64 && cfg->ring_kib <= 65536 && !(cfg->ring_kib & (cfg->ring_kib - 1)));
	CHECK(cfg->max_pending >= 16 && cfg->max_pending <= 65536);
	CHECK(cfg->replay[0] == '\0' || abs_path_ok(cfg->replay, sizeof cfg->replay));
}

static struct rf_manifest *man, *pattern;

static void fuzz_manifest(const char *text, size_t size)
{
	char err[128];
	memset(man, 0x5c, sizeof *man);
	memset(pattern, 0x5c, sizeof *pattern);
	memset(err, 0x5c, sizeof err);
	int r = rf_manifest_parse(text, size, man, err, sizeof err);
	CHECK(memchr(err, '\0', sizeof err) != NULL || r == 0);
	if (r != 0) {
		CHECK(r == -EINVAL && err[0] != '\0');
		CHECK(memcmp(man, pattern, sizeof *man) == 0);
		return;
	}
	size_t nl = strnlen(man->name, sizeof man->name);
	CHECK(nl > 0 && nl < sizeof man->name);
	CHECK(abs_path_ok(man->exec, sizeof man->exec));
	CHECK(man->argc >= 1 && man->argc <= RF_MAX_ARGS + 1);
	CHECK(man->argv[0] == man->exec && man->argv[man->argc] == NULL);
	for (unsigned i = 1; i < man->argc; i++) {
		const char *a = man->argv[i];
		CHECK(a >= man->args_buf && a < man->args_buf + sizeof man->args_buf);
		size_t n = strnlen(a, (size_t)(man->args_buf + sizeof man->args_buf - a));
		CHECK(n > 0 && a + n < man->args_buf + sizeof man->args_buf);
	}
	CHECK((man->auth_allowed & ~((1ull << RF_EVENT_EXEC) | (1ull << RF_EVENT_OPEN))) == 0);
	CHECK((man->notify_allowed & man->auth_allowed) == man->auth_allowed);
	CHECK((man->notify_allowed & ~(((1ull << RF_EVENT_MAX) - 1) & ~1ull)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	if (!cfg) {
		cfg = malloc(sizeof *cfg);
		before = malloc(sizeof *before);
		man = malloc(sizeof *man);
		pattern = malloc(sizeof *pattern);
		if (!cfg || !before || !man || !pattern)
			abort();
	}
	/* exact size, not NUL terminated: the parsers take a length */
	char *text = malloc(size ? size : 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	fuzz_config(text, size);
	fuzz_manifest(text, size);
	free(text);
	return 0;
}
