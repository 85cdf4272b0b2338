/*
 * ctlbench: quick entries against a running samend (bench/README.md).
 *
 *   ctlbench put DIR N WINDOW [BYTES]
 *       N durable writes (CTL_PUT of a new note with a BYTES-byte text)
 *       from one DEALER on DIR's control socket with up to WINDOW requests
 *       in flight.  The daemon answers a batch in order after its one
 *       commit, so replies come back in the order sent: each request's
 *       latency is from its send to its reply.
 *   ctlbench get DIR N WINDOW COLLECTION ID
 *       N reads (CTL_GET of one record) as put sends its writes: the read
 *       rate and latency (each read is audited, docs/design.md, "Read
 *       audit": the bench's "reads" compares it with the audit off).
 *   ctlbench spawn N CMD ARG...
 *       Runs CMD N times, one after the other, and times each run (fork,
 *       exec, the request, exit).  "{i}" in an ARG becomes the run number.
 *       CMD's stdout and stderr go to /dev/null; a run that exits
 *       non-zero counts as an error.
 *   ctlbench disk FILE RATE SECONDS [sync]
 *       The disk alone, as a probe beside the puts: RATE writes a second
 *       of 4 KiB (O_DIRECT, so each is one request of the disk), paced
 *       evenly, at random places in a 64 MiB FILE written once before;
 *       with "sync", each followed by fdatasync (a flush of the disk's
 *       cache: two requests, as a WAL sync of samend's).  FILE is removed
 *       after.  Its JSON line (window 1: one write in flight) adds
 *       sync, rate and how many writes (each with its sync) took over
 *       3 ms ("stalls"): this machine's virtual disk holds requests
 *       10-15 ms once they come faster than a limit that moves by the
 *       hour (docs/performance.md §5, "The disk's request limit").
 *       Exit 1 where FILE's file system refuses O_DIRECT.
 *
 * One JSON line on stdout: count, seconds, rate, latency p50/p90/p99/max
 * in milliseconds, errors.  With CTLBENCH_DUMP=FILE, put also writes
 * FILE: a line per request, in the order sent, with its send time
 * (CLOCK_MONOTONIC, seconds: the clock a daemon's own timestamps would
 * use) and its latency in milliseconds, for lining slow writes up with
 * what the daemon did then (docs/performance.md §5, "Where a batch's time
 * goes").
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "protocol.h"
#include "wire.h"

extern char **environ;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "ctlbench: %s\n", what);
	exit(1);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The JSON line; extra, if not NULL, adds fields of the mode's own. */
static void
report(const char *what, double *lat, long n, double secs, long errors,
    long window, const char *extra)
{
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
#define Q(p) (n ? lat[(long)((double)(n - 1) * (p))] * 1e3 : 0)
	printf("{\"mode\": \"%s\", \"n\": %ld, \"window\": %ld, \"s\": %.3f, "
	    "\"per_s\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
	    "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"errors\": %ld%s%s}\n", what,
	    n, window, secs, secs > 0 ? (double)n / secs : 0, Q(0.5), Q(0.9),
	    Q(0.99), n ? lat[n - 1] * 1e3 : 0, errors, extra ? ", " : "",
	    extra ? extra : "");
#undef Q
}

/* CTLBENCH_DUMP's lines; before report, which sorts lat. */
static void
dump(const char *path, const double *sent, const double *lat, long n)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		die("CTLBENCH_DUMP: cannot open the file");
	for (long i = 0; i < n; i++)
		fprintf(f, "%.6f %.3f\n", sent[i], lat[i] * 1e3);
	if (fclose(f) != 0)
		die("CTLBENCH_DUMP: cannot write the file");
}

static void
put_request(struct wbuf *w, size_t bytes, long i)
{
	char *text = malloc(bytes + 1);

	if (text == NULL)
		die("out of memory");
	for (size_t k = 0; k < bytes; k++)
		text[k] = "abcdefghijklmnopqrstuvwxyz "[(k + (size_t)i) % 27];
	text[bytes] = '\0';
	wire_reset(w);
	wire_put_array(w, 3);
	wire_put_u64(w, SAMEN_PROTOCOL_VERSION);
	wire_put_u64(w, CTL_PUT);
	wire_put_array(w, 3);
	wire_put_cstr(w, "note");
	wire_put_nil(w);
	wire_put_array(w, 1);
	wire_put_array(w, 3);
	wire_put_u64(w, CTL_ASSIGN_SET);
	wire_put_cstr(w, "text");
	wire_put_cstr(w, text);
	free(text);
}

/* The reply's code: [code int, message str, body]. */
static int64_t
reply_code(const void *p, size_t n)
{
	struct wire_reader r;
	int64_t code;

	wire_reader_init(&r, p, n);
	if (wire_get_array_n(&r, 3) || wire_get_i64(&r, &code))
		return -1;
	return code;
}

static void
get_request(struct wbuf *w, const char *collection, const char *id)
{
	wire_reset(w);
	wire_put_array(w, 3);
	wire_put_u64(w, SAMEN_PROTOCOL_VERSION);
	wire_put_u64(w, CTL_GET);
	wire_put_array(w, 2);
	wire_put_cstr(w, collection);
	wire_put_cstr(w, id);
}

/* What one pipelined run sends: a put of bytes, or a get of (coll, id). */
struct ask {
	const char *mode;
	size_t bytes;
	const char *collection, *id;
};

static int
cmd_pipe(const char *dir, long n, long window, const struct ask *ask)
{
	void *ctx = zmq_ctx_new(), *s;
	char endpoint[512];
	double *sent = calloc((size_t)n, sizeof(double));
	double *lat = calloc((size_t)n, sizeof(double));
	struct wbuf w;
	long next = 0, done = 0, errors = 0;
	int zero = 0, hwm = 0;
	double t0, secs;

	if (ctx == NULL || sent == NULL || lat == NULL)
		die("out of memory");
	snprintf(endpoint, sizeof(endpoint), "ipc://%s/%s", dir, CTL_SOCKET);
	if ((s = zmq_socket(ctx, ZMQ_DEALER)) == NULL)
		die("zmq_socket");
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (zmq_connect(s, endpoint) != 0)
		die(zmq_strerror(errno));
	wire_init(&w);
	t0 = now_s();
	while (done < n) {
		zmq_msg_t m;

		while (next < n && next - done < window) {
			if (ask->id != NULL)
				get_request(&w, ask->collection, ask->id);
			else
				put_request(&w, ask->bytes, next);
			sent[next] = now_s();
			if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 ||
			    zmq_send(s, wire_data(&w), wire_len(&w), 0) < 0)
				die(zmq_strerror(errno));
			next++;
		}
		/* [empty, reply] */
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) < 0)
			die(zmq_strerror(errno));
		if (zmq_msg_size(&m) != 0 || !zmq_msg_more(&m))
			die("unexpected reply envelope");
		zmq_msg_close(&m);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) < 0)
			die(zmq_strerror(errno));
		lat[done] = now_s() - sent[done];
		if (reply_code(zmq_msg_data(&m), zmq_msg_size(&m)) != 0)
			errors++;
		zmq_msg_close(&m);
		done++;
	}
	secs = now_s() - t0;
	if (getenv("CTLBENCH_DUMP") != NULL)
		dump(getenv("CTLBENCH_DUMP"), sent, lat, n);
	report(ask->mode, lat, n, secs, errors, window, NULL);
	wire_free(&w);
	zmq_close(s);
	zmq_ctx_term(ctx);
	free(sent);
	free(lat);
	return 0;
}

static char *
subst(const char *arg, long i)
{
	const char *at = strstr(arg, "{i}");
	char *out;
	size_t n;

	if (at == NULL)
		return strdup(arg);
	n = strlen(arg) + 32;
	if ((out = malloc(n)) == NULL)
		die("out of memory");
	snprintf(out, n, "%.*s%ld%s", (int)(at - arg), arg, i, at + 3);
	return out;
}

static int
cmd_spawn(long n, int argc, char **argv)
{
	double *lat = calloc((size_t)n, sizeof(double)), t0;
	char **args = calloc((size_t)argc + 1, sizeof(char *));
	posix_spawn_file_actions_t fa;
	long errors = 0;

	if (lat == NULL || args == NULL)
		die("out of memory");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int status, rc;
		double ts;

		for (int k = 0; k < argc; k++)
			args[k] = subst(argv[k], i);
		ts = now_s();
		rc = posix_spawnp(&pid, args[0], &fa, NULL, args, environ);
		if (rc != 0)
			die(strerror(rc));
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				die("waitpid");
		lat[i] = now_s() - ts;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			errors++;
		for (int k = 0; k < argc; k++)
			free(args[k]);
	}
	report("spawn", lat, n, now_s() - t0, errors, 1, NULL);
	posix_spawn_file_actions_destroy(&fa);
	free(args);
	free(lat);
	return 0;
}

#define DISK_FILE (64L << 20)
#define DISK_BLOCK 4096
#define DISK_STALL_S 0.003

static int
cmd_disk(const char *path, long rate, double secs, int sync)
{
	long slots = DISK_FILE / DISK_BLOCK, cap, n = 0, stalls = 0;
	double *lat, t0, end;
	unsigned char *buf = NULL;
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	char extra[128];
	int fd;

	if (rate <= 0 || secs <= 0 || secs > 60)
		die("disk: RATE must be positive, SECONDS in (0, 60]");
	cap = (long)((double)rate * secs) + 1;
	if ((lat = calloc((size_t)cap, sizeof(*lat))) == NULL ||
	    posix_memalign((void **)&buf, DISK_BLOCK, 1 << 20) != 0)
		die("out of memory");
	memset(buf, 0x5a, 1 << 20);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC,
	    0600)) < 0) {
		fprintf(stderr, "ctlbench: %s: %s\n", path, strerror(errno));
		free(lat);
		free(buf);
		return 1;
	}
	/* Written once, so that the probe's writes overwrite blocks. */
	for (long off = 0; off < DISK_FILE; off += 1 << 20) {
		ssize_t w = pwrite(fd, buf, 1 << 20, off);

		if (w != 1 << 20) {
			if (w >= 0)
				errno = EIO;	/* short */
			goto fail;
		}
	}
	if (fsync(fd) != 0)
		goto fail;
	t0 = now_s();
	end = t0 + secs;
	while (n < cap) {
		double due = t0 + (double)n / (double)rate, a, b;

		if ((a = now_s()) >= end)
			break;
		if (a < due)
			continue;	/* paced: spin to the slot */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (pwrite(fd, buf, DISK_BLOCK,
		    (off_t)(x % (uint64_t)slots) * DISK_BLOCK) != DISK_BLOCK ||
		    (sync && fdatasync(fd) != 0))
			goto fail;
		b = now_s();
		lat[n++] = b - a;
		stalls += b - a > DISK_STALL_S;
	}
	secs = now_s() - t0;
	close(fd);
	unlink(path);
	/* One write in flight at a time; a failed one ended the run. */
	snprintf(extra, sizeof(extra), "\"sync\": %s, \"rate\": %ld, "
	    "\"stalls\": %ld, \"stall_ms\": %g", sync ? "true" : "false", rate,
	    stalls, DISK_STALL_S * 1e3);
	report("disk", lat, n, secs, 0, 1, extra);
	free(lat);
	free(buf);
	return 0;
fail:
	fprintf(stderr, "ctlbench: %s: %s\n", path, strerror(errno));
	close(fd);
	unlink(path);
	free(lat);
	free(buf);
	return 1;
}

int
main(int argc, char **argv)
{
	struct ask ask = { "put", 200, NULL, NULL };

	if (argc >= 5 && strcmp(argv[1], "put") == 0) {
		if (argc > 5)
			ask.bytes = (size_t)atol(argv[5]);
		return cmd_pipe(argv[2], atol(argv[3]), atol(argv[4]), &ask);
	}
	if (argc == 7 && strcmp(argv[1], "get") == 0) {
		ask.mode = "get";
		ask.collection = argv[5];
		ask.id = argv[6];
		return cmd_pipe(argv[2], atol(argv[3]), atol(argv[4]), &ask);
	}
	if (argc >= 4 && strcmp(argv[1], "spawn") == 0)
		return cmd_spawn(atol(argv[2]), argc - 3, argv + 3);
	if ((argc == 5 || (argc == 6 && strcmp(argv[5], "sync") == 0)) &&
	    strcmp(argv[1], "disk") == 0)
		return cmd_disk(argv[2], atol(argv[3]), atof(argv[4]), argc == 6);
	fprintf(stderr, "usage: ctlbench put DIR N WINDOW [BYTES]\n"
	    "       ctlbench get DIR N WINDOW COLLECTION ID\n"
	    "       ctlbench spawn N CMD ARG...\n"
	    "       ctlbench disk FILE RATE SECONDS [sync]\n");
	return 2;
}
