/* zsock: a ZeroMQ socket driven by the libuv loop (ZMQ_FD is edge-triggered). */
#ifndef SAMEN_ZSOCK_H
#define SAMEN_ZSOCK_H

#include <uv.h>

/*
 * ZMQ_FD only signals that ZMQ_EVENTS may have changed, and only on an edge:
 * after any send or receive the socket may hold messages without the fd ever
 * becoming readable again.  So zsock watches three ways: a uv_poll on the fd,
 * a uv_check after every loop iteration that re-reads ZMQ_EVENTS, and a
 * uv_idle, started while messages remain, that keeps the loop from sleeping
 * on them.  on_readable is called whenever ZMQ_EVENTS has ZMQ_POLLIN; it must
 * receive with ZMQ_DONTWAIT and may stop early (a batch limit): it is called
 * again on the next iteration.
 *
 * The zsock owns the ZeroMQ socket from zsock_open() on: zsock_close() stops
 * and closes the uv handles first and closes the socket only in the last
 * close callback (never an fd under an active uv_poll).  Loop thread only.
 */
struct zsock;

typedef void (*zsock_cb)(struct zsock *zs, void *arg);

/* Returns 0 or -errno (ZeroMQ or libuv failure). */
int zsock_open(struct zsock **zs, uv_loop_t *loop, void *socket,
    zsock_cb on_readable, void *arg);
void *zsock_socket(const struct zsock *zs);
/* Closes handles and socket; frees zs when the last handle has closed. */
void zsock_close(struct zsock *zs);

#endif
