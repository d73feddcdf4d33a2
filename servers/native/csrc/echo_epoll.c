/*
 * echo_epoll.c: c-epoll, echobench's native baseline.
 *
 * One level-triggered epoll loop on one thread, in plain C with nothing
 * between the loop and the kernel: what the Go, Python and Node models are
 * measured against in the same run ("a fraction of c-epoll"). It does what
 * the Go epoll model (servers/epoll) does, so the difference between the two
 * is the language and its runtime, not the design:
 *
 *   - per readable event, one recv of up to 64 KiB into the loop's buffer
 *     and one send of it straight back; no epoll_ctl and no allocation per
 *     message;
 *   - a partial send queues the rest in 64 KiB chunks (reused from a free
 *     list, so growth never copies) and arms EPOLLOUT until it drains;
 *     EPOLLOUT is never armed while nothing is pending;
 *   - while pending output is at or above --max-pending the connection is
 *     not read (EPOLLIN dropped), so a client that stops reading meets TCP
 *     backpressure: the server holds at most --max-pending plus one read;
 *   - TCP_NODELAY on every accepted socket, as Go's net and the Go models
 *     set it (Nagle would hold a small echo back until the previous ACK);
 *   - on read EOF (the client's half-close) it stops reading, sends what is
 *     pending, then closes;
 *   - EMFILE, ENFILE, ENOBUFS, ENOMEM (and any other accept error but the
 *     transient ones) take the listener out of the poll set for a pause
 *     doubling from 5 ms to 320 ms, while connections keep being served.
 *
 * The server contract (docs/servers.md, docs/stacks.md):
 *
 *   c-epoll [--addr IP:PORT] [--max-pending BYTES] [--loops 1] [--procs 1]
 *           [--work none] [--request-size BYTES] [--allow-remote]
 *
 * prints exactly "LISTENING host:port" on stdout once it accepts, logs only
 * to stderr, and exits 0 on SIGTERM or SIGINT (read from a signalfd in the
 * loop, so a signal never interrupts a half-done send). Flags are read as
 * Go's flag package reads them (-name or --name, "value" or "=value").
 * --loops takes only 1: a single loop on a single core is the baseline, and
 * several loops are several baselines. --work takes only none: c-epoll
 * echoes, it implements no work per request, and says so (exit 2) rather
 * than echo without the work. Every usage error exits 2 naming the flag.
 *
 * Built by servers/external with the system C compiler (-O2 -Wall -Wextra;
 * the tests add -Werror). -DECHO_PARSE_ONLY builds the contract test's
 * variant: it prints what it parsed as JSON and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef ECHO_PARSE_ONLY
#define PARSE_ONLY 1
#else
#define PARSE_ONLY 0
#endif

enum {
	READ_BUF_BYTES = 64 << 10, /* one read per readable event, as servers/epoll */
	CHUNK_BYTES = 64 << 10,    /* the unit of pending output */
	MAX_FREE_CHUNKS = 64,      /* drained chunks kept for reuse: 4 MiB */
	MAX_EVENTS = 512,          /* one epoll_wait batch */
	ACCEPT_BATCH = 256,        /* accepts per listener event: a connect storm cannot starve the rest */
	LISTEN_BACKLOG = 65535,    /* the kernel caps it at net.core.somaxconn */
	MIN_ACCEPT_PAUSE_MS = 5,
	MAX_ACCEPT_PAUSE_MS = 320,
	EXIT_USAGE = 2,
};

/* The contract's bounds: servers.Config.Validate's. */
#define DEFAULT_MAX_PENDING_BYTES (4L << 20)
#define MAX_MAX_PENDING_BYTES (1L << 30)
#define MAX_REQUEST_SIZE_BYTES (16L << 20)

struct config {
	char host[INET6_ADDRSTRLEN]; /* the IP literal as given, without brackets */
	int port;
	int family;
	struct sockaddr_storage sa;
	socklen_t sa_len;
	long long max_pending_bytes;
	long long loops;
	long long procs;
	long long request_size_bytes; /* 0: unset */
	const char *work;
	const char *addr;
	bool allow_remote;
};

/* chunk is one unit of a connection's pending output. */
struct chunk {
	struct chunk *next;
	size_t len;
	char data[CHUNK_BYTES];
};

/* conn is one connection, in the server's table at the index of its fd. */
struct conn {
	bool open;
	bool eof;        /* the client half-closed: stop reading, flush, close */
	uint32_t events; /* what epoll watches now */
	uint32_t gen;    /* tells a stale event of a reused fd from a new one */
	struct chunk *head, *tail;
	size_t head_off; /* bytes of head already sent */
	size_t pending;  /* unsent bytes over all chunks */
};

struct server {
	int ep, lfd, sfd;
	size_t max_pending_bytes;
	struct conn *conns; /* indexed by fd: fds are small and dense */
	size_t nconns;
	uint32_t next_gen;
	struct chunk *free_chunks;
	int nfree;
	bool listening;
	int accept_pause_ms;
	long long resume_at_ms;
};

static char read_buf[READ_BUF_BYTES];

/* vsay writes one diagnostic, named, to stderr: stdout carries only the
 * LISTENING line. */
static void vsay(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vsay(const char *fmt, va_list ap)
{
	fputs("c-epoll: ", stderr);
	vfprintf(stderr, fmt, ap);
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char usage_text[] =
    "Usage: c-epoll [--addr IP:PORT] [--max-pending BYTES] [--loops 1] [--procs 1]\n"
    "               [--work none] [--request-size BYTES] [--allow-remote]\n"
    "\n"
    "echobench's native baseline: one level-triggered epoll loop in C. Prints\n"
    "\"LISTENING host:port\" once it accepts, echoes every byte, exits 0 on SIGTERM.\n"
    "\n"
    "  --addr IP:PORT       IP literal and port (default 127.0.0.1:0; localhost means\n"
    "                       127.0.0.1); loopback only unless --allow-remote\n"
    "  --max-pending BYTES  stop reading a connection while this much of its output\n"
    "                       is unsent (default 4194304, at most 1 GiB)\n"
    "  --loops N            event loops: only 1 (the single-core baseline)\n"
    "  --procs N            processes: only 1 (the single-core baseline)\n"
    "  --work SPEC          only none: c-epoll echoes, it implements no work\n"
    "  --request-size BYTES accepted with --work none, where it changes nothing\n"
    "  --allow-remote       allow an --addr beyond loopback\n";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	fputs("\n(c-epoll -h lists the flags)\n", stderr);
	exit(EXIT_USAGE);
}

/* parse_int reads a flag's integer as Go's strconv.ParseInt(s, 0, 64) does
 * for the forms argv builders write: an optional sign, then decimal, 0x hex
 * or 0 octal, and nothing else (no spaces). */
static long long parse_int(const char *flag, const char *s)
{
	char *end;
	long long v;
	if (*s == '\0' || *s == ' ' || *s == '\t' || *s == '\n')
		usage_error("invalid value \"%s\" for --%s: want a whole number", s, flag);
	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno != 0 || *end != '\0')
		usage_error("invalid value \"%s\" for --%s: want a whole number", s, flag);
	return v;
}

/* parse_port reads a port as Go's net/netip does: decimal digits only. */
static int parse_port(const char *addr, const char *s)
{
	long v = 0;
	if (*s == '\0')
		usage_error("--addr \"%s\": missing port (want IP:port, e.g. 127.0.0.1:0)", addr);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
			usage_error("--addr \"%s\": port \"%s\" is not 0..65535", addr, s);
	}
	return (int)v;
}

static bool is_loopback(const struct config *c)
{
	if (c->family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&c->sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&c->sa;
	if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
		return true;
	/* ::ffff:127.x.y.z, as Go's Addr.Unmap sees it */
	return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
}

/* split_host copies the host part of addr ("IP" or "[IPv6]") into c->host
 * and returns the port part. */
static const char *split_host(struct config *c, const char *addr)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t n;
	if (colon == NULL)
		usage_error("--addr \"%s\": want IP:port, e.g. 127.0.0.1:0 or [::1]:0 (no host names: they would need a DNS query)", addr);
	n = (size_t)(colon - addr);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
		c->family = AF_INET6;
	} else {
		c->family = AF_INET;
	}
	if (n == 0 || n >= sizeof c->host)
		usage_error("--addr \"%s\": want IP:port, e.g. 127.0.0.1:0 or [::1]:0", addr);
	memcpy(c->host, h, n);
	c->host[n] = '\0';
	return colon + 1;
}

/* parse_addr reads --addr as servers.Config.Validate does: an IP literal
 * (IPv6 in brackets) and a port; "localhost" is 127.0.0.1 and no name is
 * looked up; loopback unless --allow-remote. */
static void parse_addr(struct config *c)
{
	const char *port_text = split_host(c, c->addr);
	c->port = parse_port(c->addr, port_text);
	if (c->family == AF_INET && strcmp(c->host, "localhost") == 0)
		strcpy(c->host, "127.0.0.1");
	memset(&c->sa, 0, sizeof c->sa);
	if (c->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&c->sa;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)c->port);
		c->sa_len = sizeof *in;
		if (inet_pton(AF_INET, c->host, &in->sin_addr) != 1)
			usage_error("--addr \"%s\": want IP:port, e.g. 127.0.0.1:0 or [::1]:0 (no host names: they would need a DNS query)", c->addr);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&c->sa;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)c->port);
		c->sa_len = sizeof *in6;
		if (strchr(c->host, '%') != NULL)
			usage_error("--addr \"%s\": IPv6 zones are not supported by c-epoll", c->addr);
		if (inet_pton(AF_INET6, c->host, &in6->sin6_addr) != 1)
			usage_error("--addr \"%s\": \"%s\" is not an IPv6 address", c->addr, c->host);
	}
	if (!c->allow_remote && !is_loopback(c))
		usage_error("--addr %s is not loopback (127.0.0.0/8 or ::1): it would accept connections from other hosts; pass --allow-remote if you mean it", c->addr);
}

enum flag_id { F_ADDR, F_LOOPS, F_PROCS, F_MAX_PENDING, F_WORK, F_REQUEST_SIZE, F_ALLOW_REMOTE };

static const struct flag {
	const char *name;
	enum flag_id id;
} flags[] = {
    {"addr", F_ADDR},
    {"loops", F_LOOPS},
    {"procs", F_PROCS},
    {"max-pending", F_MAX_PENDING},
    {"work", F_WORK},
    {"request-size", F_REQUEST_SIZE},
    {"allow-remote", F_ALLOW_REMOTE},
};

static const struct flag *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
			return &flags[i];
	}
	return NULL;
}

/* positive refuses an explicit zero or negative value, as Go's
 * argv.Table.CheckPositive: in servers.Config zero means the default. */
static long long positive(const char *flag, const char *val)
{
	long long v = parse_int(flag, val);
	if (v <= 0)
		usage_error("--%s must be positive, got %s", flag, val);
	return v;
}

static void set_flag(struct config *c, const struct flag *f, const char *val)
{
	switch (f->id) {
	case F_ADDR:
		c->addr = val;
		break;
	case F_LOOPS:
		c->loops = positive(f->name, val);
		break;
	case F_PROCS:
		c->procs = positive(f->name, val);
		break;
	case F_MAX_PENDING:
		c->max_pending_bytes = positive(f->name, val);
		break;
	case F_WORK:
		c->work = val;
		break;
	case F_REQUEST_SIZE:
		c->request_size_bytes = positive(f->name, val);
		break;
	case F_ALLOW_REMOTE:
		if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			c->allow_remote = true;
		else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
			c->allow_remote = false;
		else
			usage_error("invalid value \"%s\" for --allow-remote: want true or false", val);
		break;
	}
}

/* parse_flag reads argv[*i] (and its value, which may be the next word)
 * into c. */
static void parse_flag(struct config *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *name = a + 1, *eq, *val;
	const struct flag *f;
	size_t len;
	if (*name == '-')
		name++;
	eq = strchr(name, '=');
	len = eq != NULL ? (size_t)(eq - name) : strlen(name);
	if (len == 0 || name[0] == '-' || name[0] == '=')
		usage_error("bad flag syntax: %s", a);
	if ((len == 1 && name[0] == 'h') || (len == 4 && strncmp(name, "help", 4) == 0)) {
		fputs(usage_text, stderr);
		exit(0);
	}
	f = find_flag(name, len);
	if (f == NULL)
		usage_error("unknown flag --%.*s", (int)len, name);
	if (eq != NULL)
		val = eq + 1;
	else if (f->id == F_ALLOW_REMOTE)
		val = "true";
	else if (*i + 1 < argc)
		val = argv[++*i];
	else
		usage_error("flag needs an argument: --%s", f->name);
	set_flag(c, f, val);
}

/* validate checks what the flags' values must satisfy together, work first
 * so that any work but none is refused as such. */
static void validate(struct config *c)
{
	if (strcmp(c->work, "none") != 0)
		usage_error("--work \"%s\": c-epoll echoes only; it implements no work per request (--work none)", c->work);
	if (c->procs != 1)
		usage_error("--procs %lld: c-epoll is one process with one loop, the single-core baseline; several processes are several baselines", c->procs);
	if (c->loops != 1)
		usage_error("--loops %lld: c-epoll runs one event loop, the single-core baseline; run several processes for more", c->loops);
	if (c->max_pending_bytes > MAX_MAX_PENDING_BYTES)
		usage_error("--max-pending must be 1..%ld bytes, got %lld", MAX_MAX_PENDING_BYTES, c->max_pending_bytes);
	if (c->request_size_bytes > MAX_REQUEST_SIZE_BYTES)
		usage_error("--request-size must be 1..%ld bytes, got %lld", MAX_REQUEST_SIZE_BYTES, c->request_size_bytes);
	parse_addr(c);
}

static void parse_args(struct config *c, int argc, char **argv)
{
	memset(c, 0, sizeof *c);
	c->addr = "127.0.0.1:0";
	c->loops = 1;
	c->procs = 1;
	c->max_pending_bytes = DEFAULT_MAX_PENDING_BYTES;
	c->work = "none";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			if (i + 1 < argc)
				usage_error("unexpected argument \"%s\": c-epoll takes flags only", argv[i + 1]);
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			usage_error("unexpected argument \"%s\": c-epoll takes flags only", a);
		parse_flag(c, argc, argv, &i);
	}
	validate(c);
}

/* print_parsed is the contract test's view of the parse (ECHO_PARSE_ONLY). */
static int print_parsed(const struct config *c)
{
	printf("{\"host\":\"%s\",\"port\":%d,\"maxPending\":%lld,\"loops\":%lld,\"work\":\"%s\",\"requestSize\":%lld,\"procs\":%lld}\n",
	       c->host, c->port, c->max_pending_bytes, c->loops, c->work, c->request_size_bytes, c->procs);
	return fflush(stdout) == 0 ? 0 : 1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections ---- */

static uint64_t conn_key(int fd, uint32_t gen) { return (uint64_t)gen << 32 | (uint32_t)fd; }

static void recycle(struct server *s, struct chunk *ch)
{
	if (s->nfree < MAX_FREE_CHUNKS) {
		ch->next = s->free_chunks;
		s->free_chunks = ch;
		s->nfree++;
	} else {
		free(ch);
	}
}

/* new_chunk returns an empty chunk, reused when one is free: memory is
 * allocated only while some connection's output backs up past what was
 * freed before, never per message. */
static struct chunk *new_chunk(struct server *s)
{
	struct chunk *ch = s->free_chunks;
	if (ch != NULL) {
		s->free_chunks = ch->next;
		s->nfree--;
	} else if ((ch = malloc(sizeof *ch)) == NULL) {
		return NULL;
	}
	ch->next = NULL;
	ch->len = 0;
	return ch;
}

static void close_conn(struct server *s, int fd)
{
	struct conn *c = &s->conns[fd];
	while (c->head != NULL) {
		struct chunk *next = c->head->next;
		recycle(s, c->head);
		c->head = next;
	}
	c->tail = NULL;
	c->pending = 0;
	c->open = false;
	close(fd); /* closing removes it from the epoll set */
}

/* watch makes the registration match the connection's state: EPOLLOUT only
 * while output is pending, EPOLLIN only while the client may still send and
 * pending output is under the cap. It reports whether the connection is
 * still open. */
static bool watch(struct server *s, int fd)
{
	struct conn *c = &s->conns[fd];
	uint32_t want = 0;
	struct epoll_event ev;
	if (c->pending > 0)
		want |= EPOLLOUT;
	if (!c->eof && c->pending < s->max_pending_bytes)
		want |= EPOLLIN;
	if (want == c->events)
		return true;
	ev.events = want;
	ev.data.u64 = conn_key(fd, c->gen);
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, fd, &ev) < 0) {
		logmsg("epoll_ctl mod fd %d: %s", fd, strerror(errno));
		close_conn(s, fd);
		return false;
	}
	c->events = want;
	return true;
}

/* queue appends data to the connection's pending output. */
static bool queue(struct server *s, struct conn *c, const char *data, size_t n)
{
	while (n > 0) {
		size_t k;
		if (c->tail == NULL || c->tail->len == CHUNK_BYTES) {
			struct chunk *ch = new_chunk(s);
			if (ch == NULL)
				return false;
			if (c->tail == NULL)
				c->head = ch;
			else
				c->tail->next = ch;
			c->tail = ch;
		}
		k = CHUNK_BYTES - c->tail->len;
		if (k > n)
			k = n;
		memcpy(c->tail->data + c->tail->len, data, k);
		c->tail->len += k;
		c->pending += k;
		data += k;
		n -= k;
	}
	return true;
}

static ssize_t send_once(int fd, const char *p, size_t n)
{
	ssize_t w;
	do
		w = send(fd, p, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w;
}

/* flush sends pending output until it is gone or the socket is full. It
 * reports whether the connection is still open. */
static bool flush(struct server *s, int fd)
{
	struct conn *c = &s->conns[fd];
	while (c->pending > 0) {
		struct chunk *h = c->head;
		size_t len = h->len - c->head_off;
		ssize_t w = send_once(fd, h->data + c->head_off, len);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			close_conn(s, fd);
			return false;
		}
		c->head_off += (size_t)w;
		c->pending -= (size_t)w;
		if ((size_t)w < len)
			break; /* the socket is full */
		c->head = h->next;
		if (c->head == NULL)
			c->tail = NULL;
		c->head_off = 0;
		recycle(s, h);
	}
	if (c->pending == 0 && c->eof) {
		close_conn(s, fd);
		return false;
	}
	return watch(s, fd);
}

/* echo sends data back, queueing what the socket does not take now. With
 * output already pending, data goes behind it: bytes never overtake. */
static void echo(struct server *s, int fd, const char *data, size_t n)
{
	struct conn *c = &s->conns[fd];
	if (c->pending == 0) {
		ssize_t w = send_once(fd, data, n);
		if (w == (ssize_t)n)
			return;
		if (w < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				close_conn(s, fd);
				return;
			}
			w = 0;
		}
		data += w;
		n -= (size_t)w;
	}
	if (!queue(s, c, data, n)) {
		logmsg("fd %d: out of memory for %zu pending bytes: closing it", fd, c->pending + n);
		close_conn(s, fd);
		return;
	}
	watch(s, fd);
}

/* read_echo is the hot path: one recv, one send, no epoll_ctl and no
 * allocation when the send completes. */
static void read_echo(struct server *s, int fd)
{
	ssize_t n = recv(fd, read_buf, sizeof read_buf, 0);
	if (n > 0) {
		echo(s, fd, read_buf, (size_t)n);
		return;
	}
	if (n == 0) { /* the client shut down its side */
		s->conns[fd].eof = true;
		if (s->conns[fd].pending == 0)
			close_conn(s, fd);
		else
			watch(s, fd);
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return;
	close_conn(s, fd);
}

/* handle serves one readiness report. Output goes first, so pending bytes
 * leave before new input is read. */
static void handle(struct server *s, int fd, uint32_t ev)
{
	struct conn *c = &s->conns[fd];
	if (ev & (EPOLLERR | EPOLLHUP)) { /* reset, or both directions shut */
		close_conn(s, fd);
		return;
	}
	if ((ev & EPOLLOUT) && c->pending > 0 && !flush(s, fd))
		return;
	if ((ev & EPOLLIN) && (c->events & EPOLLIN))
		read_echo(s, fd);
}

/* ---- accepting ---- */

/* ensure_slot grows the table to hold fd: at accept, never per message. */
static bool ensure_slot(struct server *s, int fd)
{
	size_t n = s->nconns;
	struct conn *grown;
	if ((size_t)fd < n)
		return true;
	while (n <= (size_t)fd)
		n = n < 1024 ? 1024 : 2 * n;
	grown = realloc(s->conns, n * sizeof *grown);
	if (grown == NULL)
		return false;
	memset(grown + s->nconns, 0, (n - s->nconns) * sizeof *grown);
	s->conns = grown;
	s->nconns = n;
	return true;
}

static void add_conn(struct server *s, int fd)
{
	int one = 1;
	struct epoll_event ev;
	struct conn *c;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		logmsg("TCP_NODELAY on fd %d: %s", fd, strerror(errno));
	if (!ensure_slot(s, fd)) {
		logmsg("no memory for connection fd %d: closing it", fd);
		close(fd);
		return;
	}
	if (++s->next_gen == 0) /* 0 would make a key equal a bare fd */
		s->next_gen = 1;
	c = &s->conns[fd];
	memset(c, 0, sizeof *c);
	c->gen = s->next_gen;
	c->events = EPOLLIN;
	ev.events = EPOLLIN;
	ev.data.u64 = conn_key(fd, c->gen);
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		logmsg("epoll_ctl add fd %d: %s", fd, strerror(errno));
		close(fd);
		return;
	}
	c->open = true;
}

static void pause_accept(struct server *s, int err)
{
	if (s->accept_pause_ms == 0)
		s->accept_pause_ms = MIN_ACCEPT_PAUSE_MS;
	else if (s->accept_pause_ms < MAX_ACCEPT_PAUSE_MS)
		s->accept_pause_ms *= 2;
	logmsg("accept: %s; pausing accepts for %d ms", strerror(err), s->accept_pause_ms);
	if (epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, NULL) < 0) {
		logmsg("epoll_ctl del listener: %s", strerror(errno));
		return;
	}
	s->listening = false;
	s->resume_at_ms = now_ms() + s->accept_pause_ms;
}

static void resume_accept(struct server *s)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)s->lfd};
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev) < 0) {
		logmsg("epoll_ctl add listener: %s", strerror(errno));
		s->resume_at_ms = now_ms() + s->accept_pause_ms;
		return;
	}
	s->listening = true;
}

static void accept_all(struct server *s)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			add_conn(s, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			s->accept_pause_ms = 0;
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case EPERM:
			continue; /* that connection went away; the listener is fine */
		default:
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM or worse: level-triggered
			 * epoll would report the queued connection again at once. */
			pause_accept(s, errno);
			return;
		}
	}
}

/* ---- set-up and the loop ---- */

/* listen_on binds and listens on c's address with SO_REUSEADDR (as Go's
 * net), and announces the bound address. It returns the listener, or -1
 * after saying why. */
static int listen_on(const struct config *c)
{
	struct sockaddr_storage got;
	socklen_t got_len = sizeof got;
	char host[INET6_ADDRSTRLEN];
	int one = 1, port;
	int fd = socket(c->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		logmsg("socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (const struct sockaddr *)&c->sa, c->sa_len) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &got_len) < 0) {
		logmsg("listen on %s: %s", c->addr, strerror(errno));
		close(fd);
		return -1;
	}
	if (got.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&got;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
		printf("LISTENING %s:%d\n", host, port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&got;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
		printf("LISTENING [%s]:%d\n", host, port);
	}
	if (fflush(stdout) != 0) {
		logmsg("announce the address on stdout: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* signal_fd turns SIGTERM and SIGINT into a readable descriptor in the
 * loop; SIGPIPE is ignored (sends use MSG_NOSIGNAL anyway). */
static int signal_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* raise_file_limit sets the soft open-file limit to the hard one, as Go's
 * runtime does for the Go models: one descriptor per connection. */
static void raise_file_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			logmsg("raise the open-file limit: %s", strerror(errno));
	}
}

static bool watch_fd(int ep, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fd};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
}

/* run is the event loop; it returns the exit status: 0 once SIGTERM or
 * SIGINT arrives. */
static int run(struct server *s)
{
	static struct epoll_event evs[MAX_EVENTS];
	for (;;) {
		int timeout = -1, n;
		if (!s->listening) {
			long long left = s->resume_at_ms - now_ms();
			timeout = left > 0 ? (int)left : 0;
		}
		n = epoll_wait(s->ep, evs, MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			logmsg("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint64_t key = evs[i].data.u64;
			int fd = (int)(uint32_t)key;
			if (key == (uint64_t)s->sfd)
				return 0;
			if (key == (uint64_t)s->lfd) {
				accept_all(s);
				continue;
			}
			if ((size_t)fd < s->nconns && s->conns[fd].open && s->conns[fd].gen == (uint32_t)(key >> 32))
				handle(s, fd, evs[i].events);
		}
		if (!s->listening && now_ms() >= s->resume_at_ms)
			resume_accept(s);
	}
}

static int serve(const struct config *c)
{
	struct server s;
	memset(&s, 0, sizeof s);
	s.max_pending_bytes = (size_t)c->max_pending_bytes;
	s.sfd = signal_fd();
	if (s.sfd < 0) {
		logmsg("signalfd: %s", strerror(errno));
		return 1;
	}
	raise_file_limit();
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	if (s.ep < 0 || !watch_fd(s.ep, s.sfd)) {
		logmsg("epoll: %s", strerror(errno));
		return 1;
	}
	s.lfd = listen_on(c);
	if (s.lfd < 0)
		return 1;
	if (!watch_fd(s.ep, s.lfd)) {
		logmsg("epoll_ctl add listener: %s", strerror(errno));
		return 1;
	}
	s.listening = true;
	/* Exiting closes the listener and every connection at once. */
	return run(&s);
}

int main(int argc, char **argv)
{
	struct config c;
	parse_args(&c, argc, argv);
	if (PARSE_ONLY)
		return print_parsed(&c);
	return serve(&c);
}
