/* connloop: the simplest connect-rate client, the yardstick for
 * `echobench load --conn-lifetime 1` (issue #12). One thread, one
 * connection at a time, blocking sockets: connect, write SIZE bytes, read
 * them back (checked), close; repeat for SECONDS after a warm-up, then print
 * one key=value line. Like the load generator it sets TCP_NODELAY and
 * leaves the port choice to connect (IP_BIND_ADDRESS_NO_PORT when a source
 * address is given), and the client closes first (it keeps the TIME_WAIT).
 * Run it pinned to one CPU, the server on another: see docs/loadgen.md,
 * "Measuring churn against a C loop".
 * usage: connloop [-a 127.0.0.1] [-p 9000] [-b source-ip] [-s size]
 *                 [-t seconds] [-w warmup-seconds] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* cycle runs one connect/echo/close; 0 on success, -1 on any failure. */
static int cycle(const struct sockaddr_in *dst, const struct sockaddr_in *src,
		 const char *msg, char *buf, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = -1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (src) {
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(fd, (const struct sockaddr *)src, sizeof *src) < 0)
			goto out;
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof *dst) < 0)
		goto out;
	if (write(fd, msg, size) != (ssize_t)size)
		goto out;
	for (size_t got = 0; got < size;) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	rc = memcmp(msg, buf, size) == 0 ? 0 : -1;
out:
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *bindip = NULL;
	int port = 9000, opt;
	size_t size = 64;
	double seconds = 5, warmup = 1;
	while ((opt = getopt(argc, argv, "a:p:b:s:t:w:")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'b': bindip = optarg; break;
		case 's': size = (size_t)atol(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		default:
			fprintf(stderr, "usage: connloop [-a addr] [-p port] [-b source-ip] [-s size] [-t seconds] [-w warmup]\n");
			return 2;
		}
	}
	if (size < 1 || size > (1 << 20) || seconds <= 0) {
		fprintf(stderr, "connloop: bad size or duration\n");
		return 2;
	}
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)}, src = {.sin_family = AF_INET};
	if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1 || (bindip && inet_pton(AF_INET, bindip, &src.sin_addr) != 1)) {
		fprintf(stderr, "connloop: bad address\n");
		return 2;
	}
	char *msg = malloc(size), *buf = malloc(size);
	for (size_t i = 0; i < size; i++)
		msg[i] = (char)(i * 131 + 7);
	uint64_t start = now_ns(), begin = start + (uint64_t)(warmup * 1e9), end = begin + (uint64_t)(seconds * 1e9);
	uint64_t ok = 0, failed = 0, t;
	while ((t = now_ns()) < end) {
		int rc = cycle(&dst, bindip ? &src : NULL, msg, buf, size);
		if (t >= begin) {
			if (rc == 0)
				ok++;
			else
				failed++;
		}
	}
	printf("cycles=%llu failed=%llu seconds=%.3f connects_per_s=%.0f\n",
	       (unsigned long long)ok, (unsigned long long)failed, seconds, ok / seconds);
	return ok > 0 ? 0 : 1;
}
