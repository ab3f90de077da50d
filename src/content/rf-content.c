/*
 * rf-content.c - the content tool: compiles Sigma rules into a bundle,
 * lints them, reports on a rule set, and shows what a bundle holds.
 *
 *   rf-content compile [--check] [--strict] [-o BUNDLE] [--content-version V]
 *                      [--block ID]... [--block-file FILE] [-q] RULES...
 *   rf-content report [--markdown] RULES...
 *   rf-content info BUNDLE
 *
 * RULES are files or directories (searched for *.yml and *.yaml, in name
 * order, so the same rules give the same bundle byte for byte).  Every
 * bundle written is first loaded back with the engine's own loader.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "content/engine.h"
#include "content/sigma.h"

#define MAX_BLOCK 1024

static void usage(FILE *out)
{
	fputs("Usage:\n"
	      "  rf-content compile [--check] [--strict] [-o BUNDLE] [--content-version V]\n"
	      "                     [--block RULE_ID]... [--block-file FILE] [-q] RULES...\n"
	      "      Compiles Sigma rules (files or directories) into a content bundle.\n"
	      "      Prints 'file: rule-id: reason' for each rule that does not compile;\n"
	      "      the others still do.  --check lints without writing.  --strict exits 1\n"
	      "      when any rule failed.  --block marks rules blocking (as the tag\n"
	      "      ringfence.block does): in enforce mode rf-detect denies their execs.\n"
	      "  rf-content report [--markdown] RULES...\n"
	      "      The compile report: counts, failures grouped by reason, each failure.\n"
	      "  rf-content info BUNDLE\n"
	      "      Loads a bundle with the engine's loader and lists what it holds.\n",
	      out);
}

struct files {
	char **v;
	size_t n, cap;
};

static int add_file(struct files *f, const char *path)
{
	if (f->n == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 64;
		char **q = realloc(f->v, nc * sizeof *q);
		if (!q)
			return -ENOMEM;
		f->v = q;
		f->cap = nc;
	}
	if (!(f->v[f->n] = strdup(path)))
		return -ENOMEM;
	f->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_rule_name(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && ((n > 4 && !strcmp(name + n - 4, ".yml")) ||
				  (n > 5 && !strcmp(name + n - 5, ".yaml")));
}

/* Rule files under path (a file, or a directory searched recursively). */
static int collect(struct files *f, const char *path, unsigned depth)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "rf-content: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode))
		return add_file(f, path);
	if (depth > 16)
		return 0;
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "rf-content: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	struct files here = { 0 };
	int r = 0;
	for (struct dirent *e; r == 0 && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char p[4096];
		if (snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= (int)sizeof p)
			continue;
		struct stat es;
		if (stat(p, &es) < 0)
			continue;
		if (S_ISDIR(es.st_mode) || is_rule_name(e->d_name))
			r = add_file(&here, p);
	}
	closedir(d);
	qsort(here.v, here.n, sizeof *here.v, cmp_str);
	for (size_t i = 0; i < here.n; i++) {
		if (r == 0) {
			struct stat es;
			if (stat(here.v[i], &es) == 0 && S_ISDIR(es.st_mode))
				r = collect(f, here.v[i], depth + 1);
			else
				r = add_file(f, here.v[i]);
		}
		free(here.v[i]);
	}
	free(here.v);
	return r;
}

static void files_free(struct files *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
}

static int write_atomic(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int r = rf_write_all(fd, buf, len);
	if (r < 0) {
		close(fd);
		unlink(tmp);
		return r;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

static int read_block_file(const char *path, char **ids, size_t *n)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "rf-content: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[512];
	while (fgets(line, sizeof line, f)) {
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		s[strcspn(s, " \t\r\n#")] = 0;
		if (!*s)
			continue;
		if (*n >= MAX_BLOCK || !(ids[*n] = strdup(s))) {
			fclose(f);
			fprintf(stderr, "rf-content: %s: too many ids\n", path);
			return -1;
		}
		(*n)++;
	}
	fclose(f);
	return 0;
}

/* Compiles every rule of argv into b; fills *ret_c. Returns 0 or -1 (fatal). */
static int compile_all(struct rfb_builder *b, const struct sg_options *o, char **paths, int npaths,
		       struct sg_compiler **ret_c)
{
	struct files f = { 0 };
	for (int i = 0; i < npaths; i++)
		if (collect(&f, paths[i], 0) < 0) {
			files_free(&f);
			return -1;
		}
	struct sg_compiler *c = sg_new(b, o);
	if (!c) {
		files_free(&f);
		return -1;
	}
	for (size_t i = 0; i < f.n; i++)
		if (sg_add_file(c, f.v[i]) < 0) {
			fprintf(stderr, "rf-content: out of memory\n");
			sg_free(c);
			files_free(&f);
			return -1;
		}
	files_free(&f);
	*ret_c = c;
	return 0;
}

static int cmd_compile(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "check", no_argument, NULL, 'c' },   { "strict", no_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' }, { "content-version", required_argument, NULL, 'V' },
		{ "block", required_argument, NULL, 'b' }, { "block-file", required_argument, NULL, 'B' },
		{ "quiet", no_argument, NULL, 'q' },   { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool check = false, strict = false, quiet = false;
	const char *out = NULL, *version = "dev";
	char *block[MAX_BLOCK];
	size_t nblock = 0;
	int opt, rc = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "cso:V:b:B:qh", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': check = true; break;
		case 's': strict = true; break;
		case 'o': out = optarg; break;
		case 'V': version = optarg; break;
		case 'q': quiet = true; break;
		case 'b':
			if (nblock >= MAX_BLOCK || !(block[nblock] = strdup(optarg)))
				return 2;
			nblock++;
			break;
		case 'B':
			if (read_block_file(optarg, block, &nblock) < 0)
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc || (!check && !out)) {
		usage(stderr);
		return 2;
	}
	struct rfb_builder *b = rfb_builder_new(rfs_engine_schema, RFS_NFIELDS, version);
	if (!b) {
		fprintf(stderr, "rf-content: bad content version '%s' (1..%u printable characters)\n", version,
			RFB_CONTENT_VER_MAX);
		rc = 2;
		goto out;
	}
	struct sg_options o = { .block_ids = (const char *const *)block, .nblock = nblock };
	struct sg_compiler *c;
	if (compile_all(b, &o, argv + optind, argc - optind, &c) < 0) {
		rc = 1;
		goto out;
	}
	size_t ok = 0, failed = 0, nblocking = 0;
	for (size_t i = 0; i < sg_nresults(c); i++) {
		const struct sg_result *r = sg_result(c, i);
		if (r->ok) {
			ok++;
			nblocking += r->blocking;
		} else {
			failed++;
			printf("%s: %s: %s\n", r->file, r->id, r->reason);
		}
	}
	for (size_t i = 0; i < nblock; i++) {
		bool found = false;
		for (size_t k = 0; k < sg_nresults(c) && !found; k++)
			found = sg_result(c, k)->ok && !strcmp(sg_result(c, k)->id, block[i]);
		if (!found) {
			fprintf(stderr, "rf-content: --block %s: no compiled rule has this id\n", block[i]);
			failed++;
		}
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = rfb_build(b, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "rf-content: cannot build the bundle: %s\n", strerror(-r));
		rc = 1;
	} else {
		/* the engine's loader is the judge of what was written */
		char err[256];
		struct rfe_engine *e = NULL;
		r = rfe_load(buf, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err);
		rfe_free(e);
		if (r < 0) {
			fprintf(stderr, "rf-content: the built bundle does not load: %s\n", err);
			rc = 1;
		} else if (!check) {
			r = write_atomic(out, buf, len);
			if (r < 0) {
				fprintf(stderr, "rf-content: %s: %s\n", out, strerror(-r));
				rc = 1;
			}
		}
	}
	free(buf);
	if (!quiet)
		fprintf(stderr, "rf-content: %zu of %zu rules compiled (%zu blocking), %zu failed%s%s, %zu bytes\n",
			ok, ok + failed, nblocking, failed, check ? "" : "; wrote ", check ? "" : out, len);
	if (rc == 0 && strict && failed)
		rc = 1;
	sg_free(c);
out:
	rfb_builder_free(b);
	for (size_t i = 0; i < nblock; i++)
		free(block[i]);
	return rc;
}

struct klass {
	char name[128];
	size_t n;
};

static int cmp_klass(const void *a, const void *b)
{
	const struct klass *x = a, *y = b;
	return x->n != y->n ? (x->n < y->n ? 1 : -1) : strcmp(x->name, y->name);
}

static int cmd_report(int argc, char **argv)
{
	bool md = false;
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--markdown")) {
		md = true;
		i++;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	struct rfb_builder *b = rfb_builder_new(rfs_engine_schema, RFS_NFIELDS, "report");
	struct sg_compiler *c;
	if (!b || compile_all(b, NULL, argv + i, argc - i, &c) < 0) {
		rfb_builder_free(b);
		return 1;
	}
	size_t n = sg_nresults(c), ok = 0;
	struct klass *k = calloc(n ? n : 1, sizeof *k);
	size_t nk = 0;
	size_t cats_ok[8] = { 0 }, cats_all[8] = { 0 };
	static const char *const catname[] = { "process_creation", "file_event", "network_connection", "other" };
	for (size_t j = 0; j < n; j++) {
		const struct sg_result *r = sg_result(c, j);
		unsigned ci = 3;
		for (unsigned q = 0; q < 3; q++)
			if (r->category && !strcmp(r->category, catname[q]))
				ci = q;
		cats_all[ci]++;
		if (r->ok) {
			ok++;
			cats_ok[ci]++;
			continue;
		}
		char cls[128];
		sg_reason_class(r->reason, cls, sizeof cls);
		size_t q = 0;
		while (q < nk && strcmp(k[q].name, cls))
			q++;
		if (q == nk && k) {
			snprintf(k[nk].name, sizeof k[nk].name, "%s", cls);
			nk++;
		}
		if (k)
			k[q].n++;
	}
	if (k)
		qsort(k, nk, sizeof *k, cmp_klass);
	double pct = n ? 100.0 * (double)ok / (double)n : 0;
	if (md) {
		printf("Compiled **%zu of %zu** rules (%.1f%%); %zu failed.\n\n", ok, n, pct, n - ok);
		printf("| category | compiled | rules |\n|---|---:|---:|\n");
		for (unsigned q = 0; q < 4; q++)
			if (cats_all[q])
				printf("| %s | %zu | %zu |\n", catname[q], cats_ok[q], cats_all[q]);
		if (nk) {
			printf("\n| reason | rules |\n|---|---:|\n");
			for (size_t q = 0; q < nk; q++)
				printf("| %s | %zu |\n", k[q].name, k[q].n);
			printf("\n| file | rule id | reason |\n|---|---|---|\n");
			for (size_t j = 0; j < n; j++) {
				const struct sg_result *r = sg_result(c, j);
				if (r->ok)
					continue;
				const char *f = strrchr(r->file, '/');
				printf("| %s | %s | %s |\n", f ? f + 1 : r->file, r->id, r->reason);
			}
		}
	} else {
		printf("rules: %zu, compiled: %zu (%.1f%%), failed: %zu\n", n, ok, pct, n - ok);
		for (unsigned q = 0; q < 4; q++)
			if (cats_all[q])
				printf("  %-20s %zu/%zu\n", catname[q], cats_ok[q], cats_all[q]);
		if (nk)
			printf("failures by reason:\n");
		for (size_t q = 0; q < nk; q++)
			printf("  %4zu  %s\n", k[q].n, k[q].name);
		if (nk)
			printf("failures:\n");
		for (size_t j = 0; j < n; j++) {
			const struct sg_result *r = sg_result(c, j);
			if (!r->ok)
				printf("  %s: %s: %s\n", r->file, r->id, r->reason);
		}
	}
	free(k);
	sg_free(c);
	rfb_builder_free(b);
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	char err[256];
	struct rfe_engine *e;
	int r = rfe_load_file(argv[1], &e, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "rf-content: %s\n", err);
		return 1;
	}
	size_t np, nre, nprog;
	rfe_sizes(e, &np, &nre, &nprog);
	printf("content_version: %s\nrules: %zu\npredicates: %zu\nregexes: %zu\ninstructions: %zu\n",
	       rfe_content_version(e), rfe_nrules(e), np, nre, nprog);
	printf("events:");
	for (unsigned t = 0; t < 32; t++)
		if (rfe_events_used(e) & (1u << t))
			printf(" %u", t);
	printf("\nfields:");
	for (unsigned f = 0; f < RFS_NFIELDS; f++)
		if (rfe_fields_used(e) & (1ull << f))
			printf(" %s", rfs_engine_schema[f].name);
	printf("\n");
	for (size_t i = 0; i < rfe_nrules(e); i++) {
		struct rfe_rule_info ri;
		rfe_rule(e, (uint32_t)i, &ri);
		printf("rule %s %s%s events=0x%x %s\n", ri.id, ri.level, ri.blocking ? " blocking" : "",
		       ri.event_mask, ri.title);
	}
	rfe_free(e);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "compile"))
		return cmd_compile(argc - 1, argv + 1);
	if (!strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
