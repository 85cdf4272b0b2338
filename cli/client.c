/* client: one request to samend over its control socket, one reply back. */
#include "client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "protocol.h"
#include "util.h"

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

/*
 * A ZeroMQ connect succeeds whether or not anybody listens, and a REQ socket
 * would then wait for the whole timeout.  A plain connect() to the socket
 * file tells at once whether a daemon is there.
 */
static int
probe(const char *dir, const char *path, char **cause)
{
	struct sockaddr_un sun;
	int fd, err = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		err = errno;
		*cause = xasprintf("socket: %s", strerror(err));
		return -err;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err = errno;
	close(fd);
	switch (err) {
	case 0:
		return 0;
	case ENOENT:
	case ENOTDIR:
	case ECONNREFUSED:
		*cause = xasprintf("samend is not running for %s; start it "
		    "with: samend -d %s", dir, dir);
		return -ECONNREFUSED;
	default:
		*cause = xasprintf("cannot reach samend at %s: %s", path,
		    strerror(err));
		return -err;
	}
}

int
client_probe(const char *dir, char **cause)
{
	char path[CLIENT_MAX_SOCKPATH + 1];
	int rc;

	if ((rc = client_check_path(dir, cause)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, CTL_SOCKET);
	return probe(dir, path, cause);
}

int
client_call(const char *dir, const uint8_t *req, size_t reqlen,
    uint8_t **rep, size_t *replen, char **cause)
{
	char path[CLIENT_MAX_SOCKPATH + 1];
	char *endpoint = NULL;
	void *ctx = NULL, *sock = NULL;
	zmq_msg_t msg;
	int64_t maxmsg = CTL_MAX_REPLY;
	int linger = 0, ms, rc, err;

	*rep = NULL;
	*replen = 0;
	if ((rc = client_check_path(dir, cause)) != 0)
		return rc;
	if ((rc = timeout_ms(&ms, cause)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, CTL_SOCKET);
	if ((rc = probe(dir, path, cause)) != 0)
		return rc;

	endpoint = xasprintf("ipc://%s", path);
	zmq_msg_init(&msg);
	if ((ctx = zmq_ctx_new()) == NULL ||
	    (sock = zmq_socket(ctx, ZMQ_REQ)) == NULL ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) ||
	    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &ms, sizeof(ms)) ||
	    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &ms, sizeof(ms)) ||
	    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ||
	    zmq_connect(sock, endpoint)) {
		err = zmq_errno();
		*cause = xasprintf("%s: %s", endpoint, zmq_strerror(err));
		rc = -err;
		goto out;
	}
	while ((rc = zmq_send(sock, req, reqlen, 0)) == -1 &&
	    zmq_errno() == EINTR)
		;
	if (rc != -1)
		while ((rc = zmq_msg_recv(&msg, sock, 0)) == -1 &&
		    zmq_errno() == EINTR)
			;
	if (rc == -1) {
		err = zmq_errno();
		if (err == EAGAIN) {
			/* Also what a reply over CTL_MAX_REPLY looks like:
			 * ZeroMQ drops the connection without a word. */
			*cause = xasprintf("samend does not answer for %s "
			    "(waited %d ms)", dir, ms);
			rc = -ETIMEDOUT;
		} else {
			*cause = xasprintf("%s: %s", endpoint,
			    zmq_strerror(err));
			rc = -err;
		}
		goto out;
	}
	if (zmq_msg_more(&msg)) {
		*cause = xasprintf("samend sent a reply of several frames");
		rc = -EPROTO;
		goto out;
	}
	*replen = zmq_msg_size(&msg);
	*rep = xmalloc(*replen);
	memcpy(*rep, zmq_msg_data(&msg), *replen);
	rc = 0;

out:
	zmq_msg_close(&msg);
	if (sock != NULL)
		zmq_close(sock);
	if (ctx != NULL)
		zmq_ctx_term(ctx);
	free(endpoint);
	return rc;
}
