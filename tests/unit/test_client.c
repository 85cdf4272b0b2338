/* test_client: samen's ZMTP exchange against a scripted fake samend. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "protocol.h"
#include "util.h"

/* The statics (struct conn, fill()) are in reach. */
#include "../../cli/zmtp.c"
#include "../../cli/client.c"

/*
 * Each test binds DIR/ctl.sock, forks a child that accepts one connection
 * and plays a script (a libzmq ROUTER as it behaves, or one that
 * misbehaves), and calls client_call() in the parent.  The child checks what
 * the client sent and exits non-zero at the first surprise; the parent
 * checks the child's status too.
 */

static char dir[64];
static char sockpath[128];

/* The child's side: exits with line numbers so that a failure says where. */
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fake samend: line %d: " \
	"%s\n", __LINE__, #c); _exit(100); } } while (0)

static void
srv_read(int fd, void *buf, size_t n)
{
	struct pollfd p = { fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t k;

	while (got < n) {
		CHECK(poll(&p, 1, 10000) == 1);
		k = read(fd, (uint8_t *)buf + got, n - got);
		CHECK(k > 0);
		got += (size_t)k;
	}
}

static void
srv_write(int fd, const void *buf, size_t n)
{
	size_t done = 0;
	ssize_t k;

	while (done < n) {
		k = write(fd, (const uint8_t *)buf + done, n - done);
		/* The client may hang up as soon as it has seen enough: what
		 * it made of that is checked in the parent. */
		if (k == -1 && (errno == EPIPE || errno == ECONNRESET))
			return;
		CHECK(k > 0);
		done += (size_t)k;
	}
}

/* Reads one frame; returns its body (free()) and flags. */
static uint8_t *
srv_frame(int fd, uint8_t *flags, size_t *len)
{
	uint8_t h[9], *body;
	uint64_t size;

	srv_read(fd, h, 1);
	*flags = h[0];
	if (h[0] & ZMTP_LONG) {
		srv_read(fd, h + 1, 8);
		size = get_be64(h + 1);
	} else {
		srv_read(fd, h + 1, 1);
		size = h[1];
	}
	CHECK(size <= (8u << 20));
	body = xmalloc(size + 1);
	srv_read(fd, body, size);
	*len = size;
	return body;
}

static void
srv_send_frame(int fd, uint8_t flags, const void *body, size_t len)
{
	uint8_t h[ZMTP_HEADER_MAX];

	srv_write(fd, h, zmtp_header(h, flags, len));
	srv_write(fd, body, len);
}

static void
srv_send_command(int fd, const char *name, const void *data, size_t len)
{
	uint8_t body[512];
	size_t n = strlen(name);

	body[0] = (uint8_t)n;
	memcpy(body + 1, name, n);
	memcpy(body + 1 + n, data, len);
	srv_send_frame(fd, ZMTP_COMMAND, body, 1 + n + len);
}

/* libzmq 4.3's greeting: ten bytes first, the rest once ours arrived. */
static void
srv_greeting(int fd, uint8_t major, const char *mechanism)
{
	uint8_t g[ZMTP_GREETING_SIZE], theirs[ZMTP_GREETING_SIZE];

	memset(g, 0, sizeof(g));
	g[0] = 0xff;
	g[8] = 0x01;
	g[9] = 0x7f;
	g[10] = major;
	g[11] = 1;
	memcpy(g + 12, mechanism, strlen(mechanism));
	srv_write(fd, g, 10);
	srv_read(fd, theirs, 11);
	srv_write(fd, g + 10, 1);
	srv_read(fd, theirs + 11, sizeof(theirs) - 11);
	/* What the client sent: our zmtp_greeting(), checked elsewhere. */
	CHECK(theirs[0] == 0xff && theirs[9] == 0x7f && theirs[10] == 3);
	CHECK(memcmp(theirs + 12, "NULL\0\0\0\0", 8) == 0);
	usleep(2000);
	srv_write(fd, g + 11, sizeof(g) - 11);
}

/* Reads the client's READY and checks it says REQ. */
static void
srv_read_ready(int fd)
{
	struct zmtp_command cmd;
	const uint8_t *v;
	const char *why;
	uint8_t flags, *body;
	size_t len, vlen;

	body = srv_frame(fd, &flags, &len);
	CHECK(flags == ZMTP_COMMAND);
	CHECK(zmtp_command_parse(body, len, &cmd, &why) == 0);
	CHECK(zmtp_command_is(&cmd, "READY"));
	CHECK(zmtp_property(cmd.data, cmd.datalen, "Socket-Type", &v, &vlen,
	    &why) == 1);
	CHECK(vlen == 3 && memcmp(v, "REQ", 3) == 0);
	free(body);
}

static void
srv_send_ready(int fd, const char *type)
{
	uint8_t md[64], *p = md;
	size_t n = strlen(type);

	*p++ = 11;
	memcpy(p, "Socket-Type", 11);
	p += 11;
	*p++ = 0;
	*p++ = 0;
	*p++ = 0;
	*p++ = (uint8_t)n;
	memcpy(p, type, n);
	p += n;
	/* libzmq adds an empty Identity. */
	*p++ = 8;
	memcpy(p, "Identity", 8);
	p += 8;
	memset(p, 0, 4);
	p += 4;
	srv_send_command(fd, "READY", md, (size_t)(p - md));
}

/* Reads a REQ request: [empty delimiter, body]; returns the body. */
static uint8_t *
srv_request(int fd, size_t *len)
{
	uint8_t flags, *body;
	size_t n;

	body = srv_frame(fd, &flags, &n);
	CHECK(flags == ZMTP_MORE && n == 0);
	free(body);
	body = srv_frame(fd, &flags, len);
	CHECK((flags & ~ZMTP_LONG) == 0);
	return body;
}

/* The whole handshake of a well-behaved ROUTER, then the request. */
static uint8_t *
srv_open(int fd, size_t *len)
{
	srv_greeting(fd, 3, "NULL");
	srv_read_ready(fd);
	srv_send_ready(fd, "ROUTER");
	return srv_request(fd, len);
}

/* Waits for the client to hang up, so that the child outlives its use. */
static void
srv_wait_close(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	uint8_t b[256];

	while (poll(&p, 1, 10000) == 1 && read(fd, b, sizeof(b)) > 0)
		;
}

typedef void (*script_fn)(int fd);

static int listen_fd = -1;
static pid_t child = -1;

static int
setup(void **state)
{
	struct sockaddr_un sun;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/samen-test-client.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sockpath, sizeof(sockpath), "%s/%s", dir, CTL_SOCKET);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(listen_fd >= 0);
	assert_int_equal(bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	assert_int_equal(listen(listen_fd, 4), 0);
	unsetenv("SAMEN_TIMEOUT");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	unlink(sockpath);
	rmdir(dir);
	unsetenv("SAMEN_TIMEOUT");
	return 0;
}

static void
start(script_fn script)
{
	int fd;

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		signal(SIGPIPE, SIG_IGN);
		fd = accept(listen_fd, NULL, NULL);
		CHECK(fd >= 0);
		script(fd);
		close(fd);
		_exit(0);
	}
}

/* The child's exit status: 0 if its script found nothing wrong. */
static int
finish(void)
{
	int status;

	assert_int_equal(waitpid(child, &status, 0), child);
	child = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

/* Runs client_call() with req against script; returns its code. */
static int
call(script_fn script, const uint8_t *req, size_t reqlen, uint8_t **rep,
    size_t *replen, char **cause)
{
	int rc;

	start(script);
	*cause = NULL;
	rc = client_call(dir, req, reqlen, rep, replen, cause);
	if (rc == 0)
		assert_null(*cause);
	else {
		assert_non_null(*cause);
		assert_null(*rep);
	}
	return rc;
}

static const uint8_t ping_req[] = { 0x93, 0x01, 0x01, 0x90 };

/* Runs ping_req against script, which must answer want, and end well. */
static void
expect_reply(script_fn script, const char *want)
{
	uint8_t *rep = NULL;
	size_t replen = 0;
	char *cause;

	assert_int_equal(call(script, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), 0);
	assert_int_equal(replen, strlen(want));
	assert_memory_equal(rep, want, replen);
	free(rep);
	assert_int_equal(finish(), 0);
}

/* Scripts. */

static void
echo_script(int fd)
{
	uint8_t *body;
	size_t len;

	body = srv_open(fd, &len);
	CHECK(len == sizeof(ping_req) &&
	    memcmp(body, ping_req, len) == 0);
	srv_send_frame(fd, ZMTP_MORE, "", 0);
	srv_send_frame(fd, 0, "pong", 4);
	free(body);
	srv_wait_close(fd);
}

static void
test_exchange(void **state)
{
	(void)state;
	expect_reply(echo_script, "pong");
}

/* Big both ways: partial writes and reads, long frames, buffer growth. */
#define BIG_REQ (CTL_MAX_REQUEST)
#define BIG_REP (3u << 20)

static void
big_script(int fd)
{
	uint8_t *body, *rep;
	size_t len, i;

	body = srv_open(fd, &len);
	CHECK(len == BIG_REQ);
	for (i = 0; i < len; i++)
		CHECK(body[i] == (uint8_t)(i * 7));
	free(body);
	rep = xmalloc(BIG_REP);
	for (i = 0; i < BIG_REP; i++)
		rep[i] = (uint8_t)(i * 13);
	srv_send_frame(fd, ZMTP_MORE, "", 0);
	srv_send_frame(fd, 0, rep, BIG_REP);
	free(rep);
	srv_wait_close(fd);
}

static void
test_big(void **state)
{
	uint8_t *req, *rep = NULL;
	size_t replen = 0, i;
	char *cause;

	(void)state;
	req = xmalloc(BIG_REQ);
	for (i = 0; i < BIG_REQ; i++)
		req[i] = (uint8_t)(i * 7);
	assert_int_equal(call(big_script, req, BIG_REQ, &rep, &replen, &cause),
	    0);
	assert_int_equal(replen, BIG_REP);
	for (i = 0; i < BIG_REP; i++)
		if (rep[i] != (uint8_t)(i * 13))
			fail_msg("reply byte %zu differs", i);
	free(rep);
	free(req);
	assert_int_equal(finish(), 0);
}

/* A PING on the way is answered with PONG; other commands are skipped. */
static void
ping_script(int fd)
{
	struct zmtp_command cmd;
	const char *why;
	uint8_t *body, flags;
	size_t len;

	body = srv_open(fd, &len);
	free(body);
	srv_send_command(fd, "PING", "\x00\x0a" "abc", 5);
	body = srv_frame(fd, &flags, &len);
	CHECK(flags == ZMTP_COMMAND);
	CHECK(zmtp_command_parse(body, len, &cmd, &why) == 0);
	CHECK(zmtp_command_is(&cmd, "PONG"));
	CHECK(cmd.datalen == 3 && memcmp(cmd.data, "abc", 3) == 0);
	free(body);
	srv_send_command(fd, "SUBSCRIBE", "x", 1);
	srv_send_frame(fd, ZMTP_MORE, "", 0);
	srv_send_frame(fd, 0, "ok", 2);
	srv_wait_close(fd);
}

static void
test_ping(void **state)
{
	(void)state;
	expect_reply(ping_script, "ok");
}

/* Handshake failures. */

static void
error_script(int fd)
{
	srv_greeting(fd, 3, "NULL");
	srv_read_ready(fd);
	/* A reason with a terminal escape in it. */
	srv_send_command(fd, "ERROR", "\x08" "400 \x1b[2J", 9);
	srv_wait_close(fd);
}

static void
pub_script(int fd)
{
	srv_greeting(fd, 3, "NULL");
	srv_read_ready(fd);
	srv_send_ready(fd, "PUB");
	srv_wait_close(fd);
}

static void
curve_script(int fd)
{
	srv_greeting(fd, 3, "CURVE");
	srv_wait_close(fd);
}

static void
v2_script(int fd)
{
	/* A ZMTP 2.0 peer: revision 1 and its socket type, then it waits. */
	const uint8_t g[] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 6 };

	srv_write(fd, g, sizeof(g));
	srv_wait_close(fd);
}

static void
message_first_script(int fd)
{
	srv_greeting(fd, 3, "NULL");
	srv_send_frame(fd, 0, "hi", 2);
	srv_wait_close(fd);
}

static void
test_handshake_refused(void **state)
{
	uint8_t *rep = NULL;
	size_t replen = 0;
	char *cause;
	time_t t0 = time(NULL);

	(void)state;
	assert_int_equal(call(error_script, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), -EACCES);
	assert_non_null(strstr(cause, "refused"));
	assert_non_null(strstr(cause, "400 ?[2J"));
	free(cause);
	assert_int_equal(finish(), 0);

	assert_int_equal(call(pub_script, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), -EPROTO);
	assert_non_null(strstr(cause, "PUB"));
	free(cause);
	assert_int_equal(finish(), 0);

	assert_int_equal(call(curve_script, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), -EPROTO);
	assert_non_null(strstr(cause, "NULL"));
	free(cause);
	assert_int_equal(finish(), 0);

	assert_int_equal(call(v2_script, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), -EPROTO);
	assert_non_null(strstr(cause, "3.0"));
	free(cause);
	assert_int_equal(finish(), 0);

	assert_int_equal(call(message_first_script, ping_req, sizeof(ping_req),
	    &rep, &replen, &cause), -EPROTO);
	free(cause);
	assert_int_equal(finish(), 0);
	/* All at once, not after a timeout. */
	assert_true(time(NULL) - t0 < 10);
}

/* Replies of the wrong shape. */

static void
three_frames_script(int fd)
{
	free(srv_open(fd, &(size_t){ 0 }));
	srv_send_frame(fd, ZMTP_MORE, "", 0);
	srv_send_frame(fd, ZMTP_MORE, "a", 1);
	srv_send_frame(fd, 0, "b", 1);
	srv_wait_close(fd);
}

static void
no_delimiter_script(int fd)
{
	free(srv_open(fd, &(size_t){ 0 }));
	srv_send_frame(fd, 0, "pong", 4);
	srv_wait_close(fd);
}

static void
huge_script(int fd)
{
	uint8_t h[ZMTP_HEADER_MAX];

	free(srv_open(fd, &(size_t){ 0 }));
	srv_send_frame(fd, ZMTP_MORE, "", 0);
	/* A header claiming one byte over the cap, and no body at all: the
	 * client must refuse it without waiting for (or allocating) it. */
	srv_write(fd, h, zmtp_header(h, 0, (uint64_t)CTL_MAX_REPLY + 1));
	srv_wait_close(fd);
}

static void
huge_command_script(int fd)
{
	uint8_t h[ZMTP_HEADER_MAX];

	srv_greeting(fd, 3, "NULL");
	srv_write(fd, h, zmtp_header(h, ZMTP_COMMAND, UINT64_MAX));
	srv_wait_close(fd);
}

static void
reserved_flags_script(int fd)
{
	free(srv_open(fd, &(size_t){ 0 }));
	srv_write(fd, "\x41\x00", 2);
	srv_wait_close(fd);
}

static void
test_bad_replies(void **state)
{
	const script_fn scripts[] = { three_frames_script, no_delimiter_script,
	    huge_script, huge_command_script, reserved_flags_script };
	const char *const words[] = { "several frames", "delimiter",
	    "size limit", "size limit", "reserved" };
	uint8_t *rep = NULL;
	size_t replen = 0, i;
	char *cause;
	time_t t0 = time(NULL);

	(void)state;
	for (i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		assert_int_equal(call(scripts[i], ping_req, sizeof(ping_req),
		    &rep, &replen, &cause), -EPROTO);
		if (strstr(cause, words[i]) == NULL)
			fail_msg("script %zu: \"%s\" lacks \"%s\"", i, cause,
			    words[i]);
		free(cause);
		assert_int_equal(finish(), 0);
	}
	assert_true(time(NULL) - t0 < 10);
}

/* The daemon goes away, or says nothing. */

static void
hangup_script(int fd)
{
	free(srv_open(fd, &(size_t){ 0 }));
	/* close() in start(): the request is lost with the daemon. */
}

static void
hangup_in_greeting_script(int fd)
{
	srv_write(fd, "\xff\0\0\0", 4);
}

static void
silent_script(int fd)
{
	free(srv_open(fd, &(size_t){ 0 }));
	srv_wait_close(fd);
}

static void
silent_greeting_script(int fd)
{
	/* Ten bytes, then nothing: stuck inside the greeting. */
	srv_write(fd, "\xff\0\0\0\0\0\0\0\x01\x7f", 10);
	srv_wait_close(fd);
}

static void
test_hangup(void **state)
{
	uint8_t *rep = NULL;
	size_t replen = 0;
	char *cause;

	(void)state;
	assert_int_equal(call(hangup_script, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), -ECONNRESET);
	assert_non_null(strstr(cause, "closed"));
	free(cause);
	assert_int_equal(finish(), 0);
	assert_int_equal(call(hangup_in_greeting_script, ping_req,
	    sizeof(ping_req), &rep, &replen, &cause), -ECONNRESET);
	free(cause);
	assert_int_equal(finish(), 0);
}

static double
elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
test_timeout(void **state)
{
	const script_fn scripts[] = { silent_script, silent_greeting_script };
	uint8_t *rep = NULL;
	size_t replen = 0, i;
	struct timespec t0;
	char *cause;
	double s;

	(void)state;
	/* $SAMEN_TIMEOUT bounds the whole exchange. */
	setenv("SAMEN_TIMEOUT", "0.3", 1);
	for (i = 0; i < 2; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(call(scripts[i], ping_req, sizeof(ping_req),
		    &rep, &replen, &cause), -ETIMEDOUT);
		s = elapsed(&t0);
		assert_true(s >= 0.29 && s < 3);
		assert_non_null(strstr(cause, "300 ms"));
		free(cause);
		assert_int_equal(finish(), 0);
	}
	setenv("SAMEN_TIMEOUT", "soon", 1);
	cause = NULL;
	assert_int_equal(client_call(dir, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), -EINVAL);
	free(cause);
	assert_int_equal(client_probe(dir, &cause), -EINVAL);
	free(cause);
}

static void
test_not_running(void **state)
{
	uint8_t *rep = NULL;
	size_t replen = 0;
	char *cause = NULL;
	char deep[200];

	(void)state;
	/* A socket file nobody listens on (a daemon that was killed). */
	close(listen_fd);
	listen_fd = -1;
	assert_int_equal(client_probe(dir, &cause), -ECONNREFUSED);
	assert_non_null(strstr(cause, "not running"));
	free(cause);
	assert_int_equal(client_call(dir, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), -ECONNREFUSED);
	free(cause);
	/* No socket file at all. */
	unlink(sockpath);
	assert_int_equal(client_call(dir, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), -ECONNREFUSED);
	free(cause);
	assert_null(rep);
	/* A path too long for a Unix socket: nothing is tried. */
	memset(deep, 'd', sizeof(deep) - 1);
	deep[0] = '/';
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(client_call(deep, ping_req, sizeof(ping_req), &rep,
	    &replen, &cause), -ENAMETOOLONG);
	free(cause);
}

static void
test_probe(void **state)
{
	char *cause = NULL;
	int fd;

	(void)state;
	/* A probe connects and leaves: the listener sees an empty connection. */
	assert_int_equal(client_probe(dir, &cause), 0);
	assert_null(cause);
	fd = accept(listen_fd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, &(char){ 0 }, 1), 0);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_replies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hangup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_running, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
