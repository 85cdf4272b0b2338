/* test_notify: sd_notify's datagrams, received on a socket bound here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

struct sock {
	int fd;
	char path[108];
};

/* A datagram socket bound at a fresh path (or abstract name), as systemd's. */
static void
bind_sock(struct sock *s, int abstract)
{
	struct sockaddr_un sun;
	socklen_t len;
	size_t n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (abstract)
		snprintf(s->path, sizeof(s->path), "@samen-test-notify-%ld",
		    (long)getpid());
	else
		snprintf(s->path, sizeof(s->path), "/tmp/samen-notify-%ld",
		    (long)getpid());
	n = strlen(s->path);
	memcpy(sun.sun_path, s->path, n);
	if (abstract)
		sun.sun_path[0] = '\0';
	else
		unlink(s->path);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    !abstract);
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", s->path, 1), 0);
}

static void
close_sock(struct sock *s)
{
	close(s->fd);
	if (s->path[0] == '/')
		unlink(s->path);
	unsetenv("NOTIFY_SOCKET");
}

/* The next datagram, NUL-terminated; fails if none is waiting. */
static void
recv_msg(struct sock *s, char *buf, size_t size)
{
	ssize_t n = recv(s->fd, buf, size - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
}

static void
nothing_waiting(struct sock *s)
{
	char c;

	assert_int_equal(recv(s->fd, &c, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
test_ready_reload_stop(void **state)
{
	struct sock s;
	char buf[256];
	unsigned long long usec, before;
	struct timespec ts;

	(void)state;
	bind_sock(&s, 0);
	assert_int_equal(notify_ready(), 0);
	recv_msg(&s, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1");

	clock_gettime(CLOCK_MONOTONIC, &ts);
	before = (unsigned long long)ts.tv_sec * 1000000ull +
	    (unsigned long long)ts.tv_nsec / 1000ull;
	assert_int_equal(notify_reloading(), 0);
	recv_msg(&s, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
	usec = strtoull(buf + 27, NULL, 10);
	/* The monotonic clock now, in microseconds: systemd compares. */
	assert_true(usec >= before && usec < before + 10000000ull);

	assert_int_equal(notify_stopping(), 0);
	recv_msg(&s, buf, sizeof(buf));
	assert_string_equal(buf, "STOPPING=1");

	assert_int_equal(notify_send("STATUS=locked"), 0);
	recv_msg(&s, buf, sizeof(buf));
	assert_string_equal(buf, "STATUS=locked");
	nothing_waiting(&s);
	close_sock(&s);
}

static void
test_abstract(void **state)
{
	struct sock s;
	char buf[64];

	(void)state;
	bind_sock(&s, 1);
	assert_int_equal(notify_ready(), 0);
	recv_msg(&s, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1");
	close_sock(&s);
}

/* Not started by systemd: nothing to do, and no error. */
static void
test_no_socket(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_ready(), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
	assert_int_equal(notify_stopping(), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_bad_socket(void **state)
{
	char longpath[200];

	(void)state;
	assert_int_equal(setenv("NOTIFY_SOCKET", "relative/path", 1), 0);
	assert_int_equal(notify_ready(), -EINVAL);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(setenv("NOTIFY_SOCKET", longpath, 1), 0);
	assert_int_equal(notify_ready(), -ENAMETOOLONG);
	/* Nobody bound there: the error comes back, samend carries on. */
	assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1), 0);
	assert_int_equal(notify_ready(), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_reload_stop),
		cmocka_unit_test(test_abstract),
		cmocka_unit_test(test_no_socket),
		cmocka_unit_test(test_bad_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
