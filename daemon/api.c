/* api: the control socket (ipc://DIR/ctl.sock) that the CLI talks to. */
#include "api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "log.h"
#include "protocol.h"
#include "util.h"
#include "wire.h"
#include "zsock.h"

#define MAX_IDENTITY 256
/*
 * Replies queued for one client before libzmq's ROUTER drops the next
 * ones (silently: the client waits for ever).  Its default, 1,000, is
 * reached by a client with some 500 requests in flight (the reader's
 * credit comes back in halves of it): a pipelining client (the bench,
 * a script) hung.  Only this device's user can connect, so the queue
 * is that client's own memory to spend; it still has a bound.
 */
#define API_SNDHWM 100000

struct api {
	struct zsock *zs;
	char *path;		/* socket file, unlinked on close */
	int batch_max;
	api_batch_cb cb;
	void *arg;
	int closed;
	size_t outstanding;	/* requests handed out, not answered yet */
	uint64_t dropped;
};

struct api_req {
	struct api *api;
	uint8_t identity[MAX_IDENTITY];
	size_t identity_len;
	uint8_t *data;
	size_t len;
};

static void
api_free_if_done(struct api *a)
{
	if (a->closed && a->outstanding == 0) {
		free(a->path);
		free(a);
	}
}

/* Frees r, its body wiped: it may hold a passphrase or a record. */
static void
req_free(struct api_req *r)
{
	if (r->data != NULL)
		sodium_memzero(r->data, r->len);
	free(r->data);
	free(r);
}

/* Receives one whole message (all its frames).  Returns 1 and a request,
 * 0 for nothing to read, -1 for a malformed message (dropped). */
static int
recv_one(struct api *a, struct api_req **out)
{
	void *sock = zsock_socket(a->zs);
	struct api_req *r = NULL;
	zmq_msg_t m;
	int frame = 0, more, bad = 0;
	size_t len;

	do {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			if (frame == 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			/* A message's frames arrive together: mid-message
			 * failure means the socket is in trouble. */
			log_warn("control socket receive");
			bad = 1;
			break;
		}
		more = zmq_msg_more(&m);
		len = zmq_msg_size(&m);
		if (frame == 0) {
			r = xcalloc(1, sizeof(*r));
			r->api = a;
			if (len == 0 || len > MAX_IDENTITY)
				bad = 1;
			else {
				memcpy(r->identity, zmq_msg_data(&m), len);
				r->identity_len = len;
			}
		} else if (frame == 1) {
			if (len != 0)
				bad = 1;	/* not a REQ envelope */
		} else if (frame == 2 && !bad) {
			r->data = xmalloc(len ? len : 1);
			memcpy(r->data, zmq_msg_data(&m), len);
			r->len = len;
		} else
			bad = 1;	/* more frames than a request has */
		/* A body may hold a passphrase or a record's values. */
		if (frame >= 2 && len > 0)
			sodium_memzero(zmq_msg_data(&m), len);
		zmq_msg_close(&m);
		frame++;
	} while (more);
	if (frame != 3)
		bad = 1;
	if (bad) {
		a->dropped++;
		log_warnx("control socket: dropped a malformed message "
		    "(%d frames)", frame);
		if (r)
			req_free(r);
		return -1;
	}
	*out = r;
	return 1;
}

static void
on_readable(struct zsock *zs, void *arg)
{
	struct api *a = arg;
	struct api_req **batch;
	size_t n = 0;
	int rc;

	(void)zs;
	batch = xreallocarray(NULL, (size_t)a->batch_max, sizeof(*batch));
	while (n < (size_t)a->batch_max) {
		struct api_req *r;

		rc = recv_one(a, &r);
		if (rc == 0)
			break;
		if (rc > 0)
			batch[n++] = r;
	}
	if (n > 0) {
		a->outstanding += n;
		a->cb(a->arg, batch, n);
	}
	free(batch);
}

int
api_open(struct api **out, uv_loop_t *loop, void *zctx, const char *dir,
    int batch_max, api_batch_cb cb, void *arg, char **cause)
{
	struct api *a;
	void *sock;
	char *endpoint;
	int64_t maxmsg = CTL_MAX_REQUEST;
	int linger = 0, sndhwm = API_SNDHWM, rc;

	*cause = NULL;
	a = xcalloc(1, sizeof(*a));
	a->path = xasprintf("%s/%s", dir, CTL_SOCKET);
	a->batch_max = batch_max;
	a->cb = cb;
	a->arg = arg;
	if (strlen(a->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		*cause = xasprintf("control socket path %s is %zu bytes; Unix "
		    "sockets allow at most %zu: use a shorter data directory",
		    a->path, strlen(a->path),
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		free(a->path);
		free(a);
		return -ENAMETOOLONG;
	}
	if ((sock = zmq_socket(zctx, ZMQ_ROUTER)) == NULL) {
		rc = -errno;
		*cause = xasprintf("zmq_socket: %s", zmq_strerror(errno));
		goto fail;
	}
	/* Limits before bind: they apply to connections made after. */
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm));
	/* We hold the data directory's lock, so a socket file left here is
	 * stale (a daemon that was killed): remove it before binding. */
	if (unlink(a->path) != 0 && errno != ENOENT)
		log_warn("unlink %s", a->path);
	endpoint = xasprintf("ipc://%s", a->path);
	rc = zmq_bind(sock, endpoint);
	free(endpoint);
	if (rc != 0) {
		rc = -errno;
		*cause = xasprintf("bind %s: %s", a->path, zmq_strerror(errno));
		zmq_close(sock);
		goto fail;
	}
	if ((rc = zsock_open(&a->zs, loop, sock, on_readable, a)) != 0) {
		*cause = xasprintf("watch control socket: %s", uv_strerror(rc));
		zmq_close(sock);
		unlink(a->path);
		goto fail;
	}
	*out = a;
	return 0;
fail:
	free(a->path);
	free(a);
	return rc;
}

void
api_set_batch_max(struct api *a, int batch_max)
{
	a->batch_max = batch_max;
}

uint64_t
api_dropped(const struct api *a)
{
	return a->dropped;
}

void
api_close(struct api *a)
{
	zsock_close(a->zs);
	a->zs = NULL;
	unlink(a->path);
	a->closed = 1;
	api_free_if_done(a);
}

const uint8_t *
api_req_data(const struct api_req *r, size_t *len)
{
	*len = r->len;
	return r->data;
}

void
api_reply(struct api_req *r, int code, const char *message,
    const uint8_t *body, size_t body_len)
{
	struct api *a = r->api;
	struct wbuf w;
	void *sock;

	if (!a->closed) {
		sock = zsock_socket(a->zs);
		wire_init_size(&w, 16 + (message ? strlen(message) : 0) +
		    (body ? body_len : 1));
		wire_put_array(&w, 3);
		wire_put_i64(&w, code);
		wire_put_cstr(&w, message ? message : "");
		if (body)
			wire_put_raw(&w, body, body_len);
		else
			wire_put_nil(&w);
		/* ROUTER never blocks: a client that left is dropped. */
		if (zmq_send(sock, r->identity, r->identity_len,
		    ZMQ_SNDMORE) < 0 ||
		    zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 ||
		    zmq_send(sock, wire_data(&w), wire_len(&w), 0) < 0)
			log_warn("control reply");
		wire_wipe(&w);
		wire_free(&w);
	}
	req_free(r);
	a->outstanding--;
	api_free_if_done(a);
}
