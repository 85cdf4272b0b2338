/* zap: who may connect: the ZAP handler (RFC 27) of our CURVE sockets, and its refusals, counted and logged sparingly. */
#ifndef SAMEN_ZAP_H
#define SAMEN_ZAP_H

#include <stdint.h>

#include <uv.h>

#include "devid.h"

/* The ZAP domain our CURVE server sockets name (ZMQ_ZAP_DOMAIN). */
#define ZAP_DOMAIN "samen"

struct zap;

/*
 * May the client whose CURVE public key is curve connect?  1, with its
 * device id written to user (NUL-terminated), which every message it
 * sends then carries as User-Id; or 0: refused.
 */
typedef int zap_admit_fn(void *arg, const uint8_t curve[32],
    char user[DEVID_TEXTLEN + 1]);

/*
 * Binds the handler on the context zctx (before any CURVE server socket:
 * without it CURVE lets anyone in) and drives it from loop; admit decides.
 * Returns 0, or a negative code and *cause (free with free()).  Close with
 * zap_close().
 */
int zap_open(struct zap **out, uv_loop_t *loop, void *zctx,
    zap_admit_fn *admit, void *arg, char **cause);
/*
 * Refusals are logged the first time for an address and key, then summed
 * up at most once a minute each ("refused N more connections from ...").
 * Says the sums that are due at now (the loop's clock); call it now and
 * then (each second).
 */
void zap_tick(struct zap *z, uint64_t now);
/* Every connection refused so far, logged or not. */
uint64_t zap_refused(const struct zap *z);
/*
 * Adds each refusal to counter too (metrics.h), as it happens; NULL:
 * only to zap_refused.  Borrowed: counter must outlive z.
 */
struct metric;
void zap_count_into(struct zap *z, struct metric *counter);
/* Says the sums not said yet, closes the socket and frees z. */
void zap_close(struct zap *z);

#endif
