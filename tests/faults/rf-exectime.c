/*
 * rf-exectime - runs a program repeatedly and prints how long each run took,
 * from just before fork() to waitpid() returning, so the cost of a shell
 * and of `date` is not in the number.  The fault suite times execs in the
 * watched scope with it (each exec waits for its AUTH verdict) and times
 * `rfctl status`.
 *
 *   rf-exectime [-n COUNT] [-d SECONDS] [-i INTERVAL_MS] [-l LIMIT_MS]
 *               [-O FILE] [-q] [-t] PROG [ARGS...]
 *
 *   -n COUNT      runs (default 1; with -d, the most runs)
 *   -d SECONDS    run for this long instead (COUNT unlimited unless -n)
 *   -i MS         pause between runs (default 0)
 *   -l MS         a run longer than this counts as a failure
 *   -O FILE       the program's stdout goes to FILE (else /dev/null)
 *   -q            no per-run lines, only the summary
 *   -t            add the wall-clock start of each run (HH:MM:SS.mmm, local
 *                 time, as in the broker's log) as a third column
 *
 * stdout: one line per run "<microseconds> <exit status or sN for signal N>"
 * (and with -t its start time),
 * flushed at once (a reader may follow the file), then a summary line
 * "# runs N failed N over N p50_us N p99_us N max_us N".  Exit status 0 when
 * every run exited 0 within the limit, 1 otherwise, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static long num(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "rf-exectime: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	long count = -1, seconds = 0, interval_ms = 0, limit_ms = 0;
	const char *out = "/dev/null";
	int quiet = 0, stamp = 0, opt;
	while ((opt = getopt(argc, argv, "+n:d:i:l:O:qt")) != -1) {
		switch (opt) {
		case 'n': count = num(optarg, "count"); break;
		case 'd': seconds = num(optarg, "seconds"); break;
		case 'i': interval_ms = num(optarg, "interval"); break;
		case 'l': limit_ms = num(optarg, "limit"); break;
		case 'O': out = optarg; break;
		case 'q': quiet = 1; break;
		case 't': stamp = 1; break;
		default:
			fprintf(stderr, "usage: rf-exectime [-n COUNT] [-d SECONDS] [-i MS] [-l MS] [-O FILE] [-q] [-t] PROG [ARGS...]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "rf-exectime: no program\n");
		return 2;
	}
	if (count < 0)
		count = seconds ? -1 : 1;
	uint64_t stop = seconds ? now_us() + (uint64_t)seconds * 1000000u : 0;
	size_t cap = 1024, n = 0;
	uint64_t *lat = malloc(cap * sizeof *lat);
	if (!lat)
		return 2;
	long failed = 0, over = 0;
	while ((count < 0 || (long)n < count) && (!stop || now_us() < stop)) {
		struct timeval wall;
		gettimeofday(&wall, NULL);
		uint64_t t0 = now_us();
		pid_t pid = fork();
		if (pid < 0) {
			perror("rf-exectime: fork");
			return 2;
		}
		if (pid == 0) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (fd >= 0)
				dup2(fd, 1);
			if (nul >= 0)
				dup2(nul, 2);
			execv(argv[optind], argv + optind);
			_exit(127);
		}
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		uint64_t dt = now_us() - t0;
		if (n == cap) {
			uint64_t *bigger = realloc(lat, 2 * cap * sizeof *lat);
			if (!bigger)
				return 2;
			lat = bigger;
			cap *= 2;
		}
		lat[n++] = dt;
		int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		failed += !ok;
		over += limit_ms && dt > (uint64_t)limit_ms * 1000u;
		if (!quiet) {
			if (WIFSIGNALED(st))
				printf("%llu s%d", (unsigned long long)dt, WTERMSIG(st));
			else
				printf("%llu %d", (unsigned long long)dt, WEXITSTATUS(st));
			if (stamp) {
				struct tm tm;
				time_t sec = wall.tv_sec;
				localtime_r(&sec, &tm);
				printf(" %02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
				       (long)(wall.tv_usec / 1000));
			}
			putchar('\n');
			fflush(stdout);
		}
		if (interval_ms) {
			struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	uint64_t p50 = 0, p99 = 0, max = 0;
	if (n) {
		qsort(lat, n, sizeof *lat, cmp_u64);
		p50 = lat[(n - 1) / 2];
		p99 = lat[(n * 99 + 99) / 100 - 1];
		max = lat[n - 1];
	}
	printf("# runs %zu failed %ld over %ld p50_us %llu p99_us %llu max_us %llu\n", n, failed, over,
	       (unsigned long long)p50, (unsigned long long)p99, (unsigned long long)max);
	free(lat);
	return failed || over ? 1 : 0;
}
