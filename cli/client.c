/* client: one request to samend over its control socket, one reply back. */
#include "client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "protocol.h"
#include "util.h"
#include "zmtp.h"

/*
 * samend's control socket is a libzmq ROUTER.  samen talks to it as a libzmq
 * REQ socket would, in ZMTP 3.0 with the NULL mechanism (cli/zmtp.h), but
 * straight over the Unix socket: loading libzmq and starting a ZeroMQ
 * context cost more than all the rest of a `samen put` (docs/performance.md,
 * "Quick entry").
 *
 * The exchange: our greeting and READY at once; the peer's greeting (libzmq
 * sends it in pieces, after reading ours) and READY, or ERROR; the request
 * as REQ frames it, an empty delimiter then the body; the reply, the
 * delimiter then one body frame.  The request waits for the peer's READY:
 * libzmq takes any frame that comes before it has sent its own READY for a
 * second handshake command and drops the connection.  One deadline covers
 * it all.
 */

#define RBUF_MIN 4096

struct conn {
	int fd;
	int ms;			/* the timeout, for messages */
	int64_t deadline;	/* clock_mono_ms() */
	const char *dir;
	const char *path;
	uint8_t *buf;		/* received and not yet used: buf[off..len) */
	size_t off, len, cap;
};

int
client_check_path(const char *dir, char **cause)
{
	size_t n = strlen(dir) + 1 + strlen(CTL_SOCKET);

	if (n > CLIENT_MAX_SOCKPATH) {
		*cause = xasprintf("data directory too deep: %s/%s is %zu "
		    "bytes, a Unix socket path holds at most %d", dir,
		    CTL_SOCKET, n, CLIENT_MAX_SOCKPATH);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int
timeout_ms(int *ms, char **cause)
{
	const char *s = getenv("SAMEN_TIMEOUT");
	char *end;
	double d;

	*ms = CLIENT_TIMEOUT_S * 1000;
	if (s == NULL || *s == '\0')
		return 0;
	errno = 0;
	d = strtod(s, &end);
	/* The upper bound keeps milliseconds in an int; it rejects NaN too. */
	if (end == s || *end != '\0' || errno != 0 || !(d > 0 && d <= 2e6)) {
		*cause = xasprintf("SAMEN_TIMEOUT: \"%s\" is not a number of "
		    "seconds", s);
		return -EINVAL;
	}
	*ms = (int)(d * 1000);
	if (*ms < 1)
		*ms = 1;
	return 0;
}

static int
timed_out(const char *dir, int ms, char **cause)
{
	*cause = xasprintf("samend does not answer for %s (waited %d ms)", dir,
	    ms);
	return -ETIMEDOUT;
}

/*
 * Connects to the socket file.  connect() tells at once whether a daemon is
 * there; it waits only while the listener's backlog is full, and
 * SO_SNDTIMEO bounds that wait.  Returns 0 and *fdp, or a code as
 * client_call() does.
 */
static int
ctl_connect(const char *dir, const char *path, int ms, int *fdp,
    char **cause)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd, err = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		err = errno;
		*cause = xasprintf("socket: %s", strerror(err));
		return -err;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err = errno;
	switch (err) {
	case 0:
		*fdp = fd;
		return 0;
	case ENOENT:
	case ENOTDIR:
	case ECONNREFUSED:
		close(fd);
		*cause = xasprintf("samend is not running for %s; start it "
		    "with: samend -d %s", dir, dir);
		return -ECONNREFUSED;
	case EAGAIN:
	case EINPROGRESS:
	case ETIMEDOUT:
		close(fd);
		return timed_out(dir, ms, cause);
	default:
		close(fd);
		*cause = xasprintf("cannot reach samend at %s: %s", path,
		    strerror(err));
		return -err;
	}
}

int
client_probe(const char *dir, char **cause)
{
	char path[CLIENT_MAX_SOCKPATH + 1];
	int rc, ms, fd;

	if ((rc = client_check_path(dir, cause)) != 0)
		return rc;
	if ((rc = timeout_ms(&ms, cause)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, CTL_SOCKET);
	if ((rc = ctl_connect(dir, path, ms, &fd, cause)) != 0)
		return rc;
	close(fd);
	return 0;
}

static int
io_error(struct conn *c, int err, char **cause)
{
	if (err == EPIPE || err == ECONNRESET) {
		*cause = xasprintf("samend closed the connection for %s "
		    "without answering", c->dir);
		return -ECONNRESET;
	}
	*cause = xasprintf("%s: %s", c->path, strerror(err));
	return -err;
}

static int
proto_error(struct conn *c, const char *why, char **cause)
{
	*cause = xasprintf("protocol error on %s: %s", c->path, why);
	return -EPROTO;
}

/* Waits until fd is ready for events or the deadline passes. */
static int
wait_fd(struct conn *c, short events, char **cause)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		if ((left = c->deadline - (int64_t)clock_mono_ms()) <= 0)
			return timed_out(c->dir, c->ms, cause);
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		/* POLLHUP and POLLERR too: the next call says what it is. */
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return io_error(c, errno, cause);
	}
}

/* After a send or receive failed: 0 to try again (interrupted, or the fd
 * became ready in time), else the code. */
static int
again(struct conn *c, short events, char **cause)
{
	if (errno == EINTR)
		return 0;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return io_error(c, errno, cause);
	return wait_fd(c, events, cause);
}

/* Sends iov[0..iovcnt) whole; modifies iov.  Never raises SIGPIPE. */
static int
send_all(struct conn *c, struct iovec *iov, int iovcnt, char **cause)
{
	struct msghdr m;
	ssize_t k;
	int rc;

	while (iovcnt > 0) {
		if (iov->iov_len == 0) {
			iov++;
			iovcnt--;
			continue;
		}
		memset(&m, 0, sizeof(m));
		m.msg_iov = iov;
		m.msg_iovlen = (size_t)iovcnt;
		if ((k = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL)) ==
		    -1) {
			if ((rc = again(c, POLLOUT, cause)) != 0)
				return rc;
			continue;
		}
		while (k > 0) {
			if ((size_t)k >= iov->iov_len) {
				k -= (ssize_t)iov->iov_len;
				iov++;
				iovcnt--;
			} else {
				iov->iov_base = (uint8_t *)iov->iov_base + k;
				iov->iov_len -= (size_t)k;
				k = 0;
			}
		}
	}
	return 0;
}

static int
send_bytes(struct conn *c, const uint8_t *p, size_t n, char **cause)
{
	struct iovec iov = { (void *)p, n };

	return send_all(c, &iov, 1, cause);
}

/*
 * Reads until buf[off..len) holds at least need bytes.  The buffer grows to
 * need at most, and callers bound need (a frame's size is checked against
 * its cap before its body is read), so the peer cannot make it grow further.
 * Moves buf: pointers into it from before are stale.
 */
static int
fill(struct conn *c, size_t need, char **cause)
{
	ssize_t k;
	int rc;

	while (c->len - c->off < need) {
		if (c->off + need > c->cap) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
			if (need > c->cap) {
				c->cap = need;
				c->buf = xrealloc(c->buf, c->cap);
			}
		}
		k = recv(c->fd, c->buf + c->len, c->cap - c->len,
		    MSG_DONTWAIT);
		if (k > 0) {
			c->len += (size_t)k;
			continue;
		}
		if (k == 0)
			return io_error(c, ECONNRESET, cause);
		if ((rc = again(c, POLLIN, cause)) != 0)
			return rc;
	}
	return 0;
}

/*
 * Reads one frame, a message frame of at most max bytes.  f->body points
 * into c->buf and stays valid until the next fill().
 */
static int
read_frame(struct conn *c, size_t max, struct zmtp_frame *f, char **cause)
{
	const char *why = NULL;
	size_t need = 0;
	int rc;

	while ((rc = zmtp_frame_decode(c->buf + c->off, c->len - c->off, max,
	    f, &need, &why)) == 0)
		if ((rc = fill(c, need, cause)) != 0)
			return rc;
	if (rc < 0)
		return proto_error(c, why, cause);
	c->off += f->size;
	return 0;
}

/* A reason or name the peer chose, fit for a terminal: printable ASCII. */
static char *
printable(const uint8_t *p, size_t n)
{
	char *s = xmalloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		s[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	s[n] = '\0';
	return s;
}

static int
refused(struct conn *c, const struct zmtp_command *cmd, char **cause)
{
	const uint8_t *reason;
	const char *why = NULL;
	size_t rlen;
	char *s;

	if (zmtp_error_reason(cmd, &reason, &rlen, &why) != 0)
		return proto_error(c, why, cause);
	s = printable(reason, rlen);
	*cause = xasprintf("samend refused the connection on %s: %s",
	    c->path, s);
	free(s);
	return -EACCES;
}

/* The peer's greeting, then its READY (or ERROR). */
static int
handshake(struct conn *c, char **cause)
{
	struct zmtp_command cmd;
	struct zmtp_frame f;
	const uint8_t *type;
	const char *why = NULL;
	size_t tlen;
	char *s;
	int rc;

	while ((rc = zmtp_greeting_check(c->buf + c->off, c->len - c->off,
	    &why)) == 0)
		if ((rc = fill(c, c->len - c->off + 1, cause)) != 0)
			return rc;
	if (rc < 0)
		return proto_error(c, why, cause);
	c->off += ZMTP_GREETING_SIZE;

	if ((rc = read_frame(c, ZMTP_COMMAND_MAX, &f, cause)) != 0)
		return rc;
	if (!(f.flags & ZMTP_COMMAND))
		return proto_error(c, "a message before the handshake ended",
		    cause);
	if (zmtp_command_parse(f.body, f.len, &cmd, &why) != 0)
		return proto_error(c, why, cause);
	if (zmtp_command_is(&cmd, "ERROR"))
		return refused(c, &cmd, cause);
	if (!zmtp_command_is(&cmd, "READY"))
		return proto_error(c, "a handshake command other than READY",
		    cause);
	if ((rc = zmtp_property(cmd.data, cmd.datalen, "Socket-Type", &type,
	    &tlen, &why)) < 0)
		return proto_error(c, why, cause);
	if (rc == 0)
		return proto_error(c, "READY without a Socket-Type", cause);
	if (!zmtp_req_peer_ok(type, tlen)) {
		s = printable(type, tlen);
		*cause = xasprintf("protocol error on %s: the peer is a %s "
		    "socket, not a ROUTER", c->path, s);
		free(s);
		return -EPROTO;
	}
	return 0;
}

/*
 * Reads the next message frame, answering PING and skipping the commands a
 * REQ has no use for on the way.  ERROR ends the exchange.
 */
static int
read_message_frame(struct conn *c, struct zmtp_frame *f, char **cause)
{
	struct zmtp_command cmd;
	uint8_t pong[ZMTP_PONG_MAX];
	const char *why = NULL;
	int rc;

	for (;;) {
		if ((rc = read_frame(c, CTL_MAX_REPLY, f, cause)) != 0)
			return rc;
		if (!(f->flags & ZMTP_COMMAND))
			return 0;
		if (zmtp_command_parse(f->body, f->len, &cmd, &why) != 0)
			return proto_error(c, why, cause);
		if (zmtp_command_is(&cmd, "ERROR"))
			return refused(c, &cmd, cause);
		if (zmtp_command_is(&cmd, "PING")) {
			if ((rc = zmtp_pong(pong, &cmd, &why)) < 0)
				return proto_error(c, why, cause);
			if ((rc = send_bytes(c, pong, (size_t)rc, cause)) != 0)
				return rc;
		}
	}
}

static int
exchange(struct conn *c, const uint8_t *req, size_t reqlen, uint8_t **rep,
    size_t *replen, char **cause)
{
	uint8_t hello[ZMTP_GREETING_SIZE + ZMTP_READY_MAX];
	uint8_t env[2 * ZMTP_HEADER_MAX];
	struct iovec iov[2];
	struct zmtp_frame f;
	size_t n;
	int rc;

	/* libzmq reads a greeting to its exact size, so READY may follow at
	 * once: it waits in the socket for the handshake. */
	zmtp_greeting(hello);
	n = ZMTP_GREETING_SIZE + zmtp_ready(hello + ZMTP_GREETING_SIZE, "REQ");
	if ((rc = send_bytes(c, hello, n, cause)) != 0 ||
	    (rc = handshake(c, cause)) != 0)
		return rc;

	n = zmtp_header(env, ZMTP_MORE, 0);
	n += zmtp_header(env + n, 0, reqlen);
	iov[0].iov_base = env;
	iov[0].iov_len = n;
	iov[1].iov_base = (void *)req;
	iov[1].iov_len = reqlen;
	if ((rc = send_all(c, iov, 2, cause)) != 0)
		return rc;

	/* The reply as a REQ takes it: [empty delimiter, body]. */
	if ((rc = read_message_frame(c, &f, cause)) != 0)
		return rc;
	if (f.len != 0 || !(f.flags & ZMTP_MORE)) {
		*cause = xasprintf("samend sent a reply without an empty "
		    "delimiter frame");
		return -EPROTO;
	}
	if ((rc = read_message_frame(c, &f, cause)) != 0)
		return rc;
	if (f.flags & ZMTP_MORE) {
		*cause = xasprintf("samend sent a reply of several frames");
		return -EPROTO;
	}
	*rep = xmalloc(f.len ? f.len : 1);
	memcpy(*rep, f.body, f.len);
	*replen = f.len;
	return 0;
}

int
client_call(const char *dir, const uint8_t *req, size_t reqlen,
    uint8_t **rep, size_t *replen, char **cause)
{
	char path[CLIENT_MAX_SOCKPATH + 1];
	struct conn c;
	int ms, rc;

	*rep = NULL;
	*replen = 0;
	if ((rc = client_check_path(dir, cause)) != 0)
		return rc;
	if ((rc = timeout_ms(&ms, cause)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, CTL_SOCKET);

	memset(&c, 0, sizeof(c));
	c.ms = ms;
	c.deadline = (int64_t)clock_mono_ms() + ms;
	c.dir = dir;
	c.path = path;
	if ((rc = ctl_connect(dir, path, ms, &c.fd, cause)) != 0)
		return rc;
	c.cap = RBUF_MIN;
	c.buf = xmalloc(c.cap);
	rc = exchange(&c, req, reqlen, rep, replen, cause);
	close(c.fd);
	free(c.buf);
	return rc;
}
