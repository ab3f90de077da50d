/*
 * rf-fetch.h - the protocol between the fetcher (fetch.c, in ringfenced and
 * rfctl) and rf-fetch, the helper program that does every http(s) transfer
 * so that no TLS stack parses network bytes inside the trusted broker.
 *
 *   rf-fetch [--max BYTES] [--timeout SECONDS] [--] URL
 *
 * writes the body of URL to stdout, at most BYTES of it, and exits with one
 * of the codes below; on failure it writes one line to stderr,
 * "rf-fetch: URL: reason".  The fetcher trusts none of it beyond the
 * bytes themselves: it reads at most BYTES + 1, and tuf.c checks what it
 * got (caps, lengths, hashes, signatures) as it does for a local file.
 */
#ifndef RF_CONTENT_RF_FETCH_H
#define RF_CONTENT_RF_FETCH_H

/* Exit codes, each mapped to one enum rf_tuf_err by fetch.c. */
enum rf_fetch_exit {
	RF_FETCH_EXIT_OK = 0,        /* RF_TUF_OK: the whole body is on stdout */
	RF_FETCH_EXIT_IO = 1,        /* RF_TUF_E_IO: network, TLS, timeout, HTTP status, stdout */
	RF_FETCH_EXIT_USAGE = 2,     /* RF_TUF_E_IO: bad arguments */
	RF_FETCH_EXIT_MISSING = 3,   /* RF_TUF_E_MISSING: HTTP 403, 404 or 410 */
	RF_FETCH_EXIT_TOO_BIG = 4,   /* RF_TUF_E_TOO_BIG: more than --max bytes */
};

#define RF_FETCH_CONNECT_TIMEOUT_S 10   /* never above --timeout */
#define RF_FETCH_TIMEOUT_S         60   /* a whole transfer; --timeout may only lower it */
#define RF_FETCH_MAX_REDIRECTS     3    /* within the base URL's own scheme */
#define RF_FETCH_GRACE_S           5    /* fetch.c kills the helper this long after --timeout */

#endif
