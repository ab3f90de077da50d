/*
 * rf-hostile-client - a client that lies to the broker, for tests that prove
 * the broker validates everything a client writes.  Modes (argv[1]):
 *   bogus-responses   answer every AUTH event, plus responses with forged ids
 *   duplicate         answer every AUTH event twice
 *   corrupt-ring      after the first event, write an impossible consumer tail
 *   corrupt-resp      write an impossible response-ring head
 *   garbage-ctl       send random bytes on the control socket
 *   oversized-ctl     send a control datagram larger than any message
 *   bad-alert         send an alert whose triggering message is garbage
 *   syscall-flood     16 threads make a system call the sandbox denies, in a loop
 *                     (each denial is answered by the broker: seccomp notification)
 *   response-flood    a thread writes forged responses and signals the broker, in a loop
 * The memory-corrupting modes write through the mapping the library made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ringfence/ringfence.h>

/* The shared memory is mapped in this process already: find it in /proc/self/maps. */
static unsigned char *find_shm(size_t *ret_len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return NULL;
	char line[512];
	unsigned char *p = NULL;
	while (!p && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (strstr(line, "memfd:ringfence") && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			p = (unsigned char *)lo;
			*ret_len = hi - lo;
		}
	}
	fclose(f);
	return p;
}

/* Signals every eventfd this process holds (one of them is the broker's). */
static void kick_eventfds(void)
{
	for (int fd = 3; fd < 64; fd++) {
		char link[64], target[64];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		uint64_t one = 1;
		if (strstr(target, "eventfd") && write(fd, &one, sizeof one) < 0)
			continue;
	}
}

static void *deny_loop(void *arg)
{
	(void)arg;
	for (;;)
		syscall(SYS_mount, "none", "/", "tmpfs", 0ul, NULL);   /* not on the allowlist */
	return NULL;
}

static rf_client_t *flood_client;

static void *respond_loop(void *arg)
{
	(void)arg;
	struct rf_message fake;
	memset(&fake, 0, sizeof fake);
	fake.hdr.action = RF_ACTION_AUTH;
	for (uint64_t k = 1;; k++) {
		fake.hdr.id = k * 0x9e3779b97f4a7c15ull;
		if (rf_respond(flood_client, &fake, RF_ALLOW, false) != RF_OK || k % 64 == 0)
			kick_eventfds();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "bogus-responses";
	int err;
	rf_client_t *c = rf_client_new("hostile", &err);
	if (!c)
		return 1;
	if (rf_subscribe(c, RF_EVENT_EXEC, RF_ACTION_AUTH) != RF_OK || rf_ready(c) != RF_OK)
		return 1;
	flood_client = c;
	if (!strcmp(mode, "syscall-flood") || !strcmp(mode, "response-flood")) {
		int n = !strcmp(mode, "syscall-flood") ? 16 : 1;
		for (int i = 0; i < n; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, n == 16 ? deny_loop : respond_loop, NULL) != 0) {
				/* no threads in this sandbox: flood from here, answering nothing */
				(n == 16 ? deny_loop : respond_loop)(NULL);
			}
		}
	}
	for (;;) {
		const struct rf_message *m;
		err = rf_next(c, &m, -1);
		if (err != RF_OK)
			break;
		if (m->hdr.action != RF_ACTION_AUTH)
			continue;
		if (!strcmp(mode, "bad-alert")) {
			/* the alert control message, by hand (wire.h is private): a 32-byte
			 * header, the strings, then 400 bytes that are not a message */
			unsigned char d[32 + 3 + 400];
			memset(d, 0xa5, sizeof d);
			uint32_t size = sizeof d, req = 99, zero = 0, msg_len = 400;
			uint16_t version = 1, type = 12, one = 1, none = 0;
			memcpy(d, &size, 4);
			memcpy(d + 4, &version, 2);
			memcpy(d + 6, &type, 2);
			memcpy(d + 8, &req, 4);
			memcpy(d + 12, &zero, 4);
			memcpy(d + 16, &one, 2);
			memcpy(d + 18, &one, 2);
			memcpy(d + 20, &one, 2);
			memcpy(d + 22, &none, 2);
			memcpy(d + 24, &msg_len, 4);
			memcpy(d + 28, &zero, 4);
			memcpy(d + 32, "abc", 3);
			send(3, d, sizeof d, MSG_NOSIGNAL);
		}
		if (!strcmp(mode, "garbage-ctl") || !strcmp(mode, "oversized-ctl")) {
			static unsigned char junk[70000];
			for (size_t i = 0; i < sizeof junk; i++)
				junk[i] = (unsigned char)(i * 131 + 7);
			size_t n = !strcmp(mode, "garbage-ctl") ? 37 : sizeof junk;
			send(3, junk, n, MSG_NOSIGNAL);
		}
		if (!strcmp(mode, "corrupt-ring") || !strcmp(mode, "corrupt-resp")) {
			size_t len;
			unsigned char *shm = find_shm(&len);
			if (shm) {
				/* rf_shm_hdr: evt ring control at 64, resp at 256 (see wire.h) */
				uint64_t bad = ~0ull - 4;
				if (!strcmp(mode, "corrupt-ring")) {
					memcpy(shm + 64 + 64, &bad, sizeof bad);      /* evt.tail */
					rf_respond(c, m, RF_ALLOW, false);
				} else {
					memcpy(shm + 64 + 192, &bad, sizeof bad);     /* resp.head */
					kick_eventfds();
				}
			}
			continue;
		}
		if (!strcmp(mode, "bogus-responses")) {
			/* forged ids: a copy of the message with another id */
			struct rf_message fake = *m;
			for (uint64_t k = 1; k <= 50; k++) {
				fake.hdr.id = m->hdr.id ^ (k << 3) ^ 0x5a5a5a5a00000000ull;
				rf_respond(c, &fake, RF_DENY, false);
			}
		}
		rf_respond(c, m, RF_ALLOW, false);
		if (!strcmp(mode, "duplicate"))
			rf_respond(c, m, RF_DENY, false);
	}
	rf_client_free(c);
	return 0;
}
