/* api: the control socket (ipc://DIR/ctl.sock) that the CLI talks to. */
#ifndef SAMEN_API_H
#define SAMEN_API_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/*
 * A ROUTER socket bound to ipc://DIR/ctl.sock; each request is one REQ
 * envelope [identity, "", body].  Requests that arrive together are handed
 * over as one batch (at most batch_max), so that the writes among them can
 * share one commit.  Malformed envelopes are dropped and counted.
 */
struct api;
struct api_req;

/*
 * Takes the batch; each request must be answered exactly once with
 * api_reply(), now or later (after slow work), which frees it.
 */
typedef void (*api_batch_cb)(void *arg, struct api_req **reqs, size_t n);

/*
 * Binds; on failure returns a negative code and *cause (free with free()).
 * zctx is borrowed and must outlive the api.
 */
int api_open(struct api **a, uv_loop_t *loop, void *zctx, const char *dir,
    int batch_max, api_batch_cb cb, void *arg, char **cause);
void api_set_batch_max(struct api *a, int batch_max);
/* Closes the socket and unlinks it.  Requests still unanswered stay valid:
 * replying to them just frees them; the api is freed after the last one. */
void api_close(struct api *a);
uint64_t api_dropped(const struct api *a);

/* The request body (borrowed, valid until api_reply()). */
const uint8_t *api_req_data(const struct api_req *r, size_t *len);
/*
 * Sends [code, message, body] and frees r.  body is one encoded msgpack
 * value (borrowed), or NULL for nil.  message may be NULL for "".
 */
void api_reply(struct api_req *r, int code, const char *message,
    const uint8_t *body, size_t body_len);

#endif
