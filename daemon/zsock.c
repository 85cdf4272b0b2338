/* zsock: a ZeroMQ socket driven by the libuv loop (ZMQ_FD is edge-triggered). */
#include "zsock.h"

#include <errno.h>
#include <stdlib.h>

#include <zmq.h>

#include "log.h"
#include "util.h"

struct zsock {
	uv_poll_t poll;
	uv_check_t check;
	uv_idle_t idle;
	void *socket;
	zsock_cb on_readable;
	void *arg;
	int open_handles;
	int closing;
};

static int
readable(struct zsock *zs)
{
	int events;
	size_t len = sizeof(events);

	if (zmq_getsockopt(zs->socket, ZMQ_EVENTS, &events, &len) != 0) {
		log_warn("zmq_getsockopt(ZMQ_EVENTS)");
		return 0;
	}
	return (events & ZMQ_POLLIN) != 0;
}

static void idle_cb(uv_idle_t *h);

static void
service(struct zsock *zs)
{
	if (zs->closing)
		return;
	/*
	 * Nothing to read: ZMQ_EVENTS has just re-armed the edge, and nothing
	 * touched the socket since, so the fd will say when something comes.
	 * Asking again would be one more poll() inside libzmq, per socket and
	 * loop iteration.
	 */
	if (!readable(zs)) {
		uv_idle_stop(&zs->idle);
		return;
	}
	zs->on_readable(zs, zs->arg);
	if (zs->closing)
		return;
	/* Messages left (the callback stopped at its batch limit): keep the
	 * loop from sleeping on them, since no new edge will come. */
	if (readable(zs))
		uv_idle_start(&zs->idle, idle_cb);
	else
		uv_idle_stop(&zs->idle);
}

static void
poll_cb(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	service(h->data);
}

static void
check_cb(uv_check_t *h)
{
	service(h->data);
}

static void
idle_cb(uv_idle_t *h)
{
	service(h->data);
}

int
zsock_open(struct zsock **out, uv_loop_t *loop, void *socket,
    zsock_cb on_readable, void *arg)
{
	struct zsock *zs;
	int fd, rc;
	size_t len = sizeof(fd);

	if (zmq_getsockopt(socket, ZMQ_FD, &fd, &len) != 0)
		return -errno;
	zs = xcalloc(1, sizeof(*zs));
	zs->socket = socket;
	zs->on_readable = on_readable;
	zs->arg = arg;
	if ((rc = uv_poll_init(loop, &zs->poll, fd)) != 0) {
		free(zs);
		return rc;
	}
	uv_check_init(loop, &zs->check);
	uv_idle_init(loop, &zs->idle);
	zs->poll.data = zs->check.data = zs->idle.data = zs;
	zs->open_handles = 3;
	uv_poll_start(&zs->poll, UV_READABLE, poll_cb);
	uv_check_start(&zs->check, check_cb);
	*out = zs;
	return 0;
}

void *
zsock_socket(const struct zsock *zs)
{
	return zs->socket;
}

static void
closed_cb(uv_handle_t *h)
{
	struct zsock *zs = h->data;

	if (--zs->open_handles > 0)
		return;
	/* Only now: the fd is no longer under a uv_poll. */
	zmq_close(zs->socket);
	free(zs);
}

void
zsock_close(struct zsock *zs)
{
	if (zs->closing)
		return;
	zs->closing = 1;
	uv_poll_stop(&zs->poll);
	uv_close((uv_handle_t *)&zs->poll, closed_cb);
	uv_close((uv_handle_t *)&zs->check, closed_cb);
	uv_close((uv_handle_t *)&zs->idle, closed_cb);
}
