/*
 * fetch.c - the repository fetchers of tuf.h: a local directory (a path or
 * a file:// URL) and an http:// or https:// base URL through libcurl.
 *
 * Both read at most max bytes of a file and say RF_TUF_E_TOO_BIG when it
 * holds more, so an endless or oversized answer costs a bounded amount of
 * memory and, over the network, time (connect 10 s, whole transfer 60 s).
 * Names are those tuf.c asks for; anything with "..", a leading '/' or
 * other characters is refused before it reaches the file system or a URL.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "content/tuf.h"

#define CONNECT_TIMEOUT_S 10L
#define TOTAL_TIMEOUT_S   60L
#define MAX_REDIRECTS     3L

struct rf_tuf_source {
	int dirfd;                   /* a local directory, or -1 */
	CURL *curl;                  /* else an http(s) base URL */
	char *base;                  /* without a trailing '/' */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct rf_tuf_source *rf_tuf_source_open(const char *location, char *err, size_t errlen)
{
	struct rf_tuf_source *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->dirfd = -1;
	bool https = strncmp(location, "https://", 8) == 0;
	if (https || strncmp(location, "http://", 7) == 0) {
		pthread_once(&curl_once, curl_init);
		size_t n = strlen(location);
		while (n > 0 && location[n - 1] == '/')
			n--;
		if (curl_init_result != CURLE_OK || !(s->curl = curl_easy_init()) ||
		    !(s->base = strndup(location, n))) {
			snprintf(err, errlen, "%s: libcurl does not initialise", location);
			goto fail;
		}
		/* redirects only within the base's own protocol */
		if (curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
		    curl_easy_setopt(s->curl, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http") != CURLE_OK ||
		    curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
		    curl_easy_setopt(s->curl, CURLOPT_MAXREDIRS, MAX_REDIRECTS) != CURLE_OK ||
		    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S) != CURLE_OK ||
		    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S) != CURLE_OK ||
		    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
		    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "ringfence-tuf/1") != CURLE_OK) {
			snprintf(err, errlen, "%s: libcurl lacks a needed option (http/https only, timeouts)",
				 location);
			goto fail;
		}
		return s;
	}
	const char *path = location;
	if (strncmp(location, "file://", 7) == 0) {
		path = location + 7;
		if (path[0] != '/') {
			snprintf(err, errlen, "%s: a file:// URL needs an absolute path (file:///dir)", location);
			goto fail;
		}
	} else if (strstr(location, "://")) {
		snprintf(err, errlen, "%s: unsupported scheme (a directory, file://, http:// or https://)",
			 location);
		goto fail;
	}
	s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return s;
fail:
	rf_tuf_source_close(s);
	return NULL;
}

void rf_tuf_source_close(struct rf_tuf_source *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->curl)
		curl_easy_cleanup(s->curl);
	free(s->base);
	free(s);
}

/* What tuf.c asks for: "timestamp.json", "N.root.json", "targets/<target name>". */
static bool valid_name(const char *name)
{
	if (strncmp(name, "targets/", 8) == 0)
		return rf_tuf_valid_target_name(name + 8);
	return strchr(name, '/') == NULL && rf_tuf_valid_target_name(name);
}

struct sink {
	CURL *curl;
	unsigned char *buf;
	size_t len, cap, max;
	bool too_big, nomem, refused;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct sink *k = arg;
	size_t add = size * n;
	long code = 0;
	/* the body of an error answer is not wanted, however long */
	curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		k->refused = true;
		return 0;
	}
	if (add > k->max - k->len) {
		k->too_big = true;
		return 0;
	}
	if (k->len + add > k->cap) {
		size_t ncap = k->cap ? k->cap : 16384;
		while (ncap < k->len + add)
			ncap *= 2;
		ncap = ncap < k->max ? ncap : k->max;
		unsigned char *nbuf = realloc(k->buf, ncap ? ncap : 1);
		if (!nbuf) {
			k->nomem = true;
			return 0;
		}
		k->buf = nbuf;
		k->cap = ncap;
	}
	memcpy(k->buf + k->len, data, add);
	k->len += add;
	return add;
}

static enum rf_tuf_err http_fetch(struct rf_tuf_source *s, const char *name, size_t max,
				  unsigned char **ret_buf, size_t *ret_len, char *err, size_t errlen)
{
	struct sink k = { .curl = s->curl, .max = max };
	char cerr[CURL_ERROR_SIZE] = "";
	char *url = NULL;
	long code = 0;
	enum rf_tuf_err e = RF_TUF_E_IO;

	if (asprintf(&url, "%s/%s", s->base, name) < 0) {
		snprintf(err, errlen, "%s: out of memory", name);
		return RF_TUF_E_IO;
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(s->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	CURLcode rc = curl_easy_perform(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);

	/* 403 too: object stores say so for a file that is not there (as python-tuf reads it) */
	if (code == 403 || code == 404 || code == 410) {
		e = RF_TUF_E_MISSING;
		snprintf(err, errlen, "%s: not found (HTTP %ld)", url, code);
	} else if (code != 200 && (rc == CURLE_OK || k.refused)) {
		snprintf(err, errlen, "%s: HTTP %ld", url, code);
	} else if (rc == CURLE_FILESIZE_EXCEEDED || k.too_big) {
		e = RF_TUF_E_TOO_BIG;
		snprintf(err, errlen, "%s: more than %zu bytes", url, max);
	} else if (k.nomem) {
		snprintf(err, errlen, "%s: out of memory", url);
	} else if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
	} else {
		e = RF_TUF_OK;
	}
	free(url);
	if (e != RF_TUF_OK) {
		free(k.buf);
		return e;
	}
	*ret_buf = k.buf ? k.buf : calloc(1, 1);
	*ret_len = k.len;
	if (!*ret_buf) {
		snprintf(err, errlen, "%s: out of memory", name);
		return RF_TUF_E_IO;
	}
	return RF_TUF_OK;
}

enum rf_tuf_err rf_tuf_source_fetch(void *source, const char *name, size_t max, unsigned char **ret_buf,
				    size_t *ret_len, char *err, size_t errlen)
{
	struct rf_tuf_source *s = source;
	if (!valid_name(name)) {
		snprintf(err, errlen, "%.64s: not a repository file name", name);
		return RF_TUF_E_IO;
	}
	if (s->curl)
		return http_fetch(s, name, max, ret_buf, ret_len, err, errlen);
	return rf_tuf_read_file(s->dirfd, name, max, O_NOFOLLOW, ret_buf, ret_len, err, errlen);
}
