/* session: the sync protocol of one session with a peer: HELLO, VECTOR, BATCH, ACK, DONE, credit (docs/sync.md). */
#ifndef SAMEN_SESSION_H
#define SAMEN_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "sync.h"
#include "wire.h"

struct checked;
struct link;
struct peers;
struct session;
struct zsock;

/*
 * A session with l's device: ours (initiator) or one it started (id is
 * its number).  Free with session_free(), which also drops what it
 * received and has not handled (intake.c).
 */
struct session *session_new(struct peers *p, struct link *l, int initiator,
    uint64_t id);
void session_free(struct session *s);
/*
 * Starts a session with l (which must have an address): it replaces the
 * one before (ended as "superseded" if it still ran) and sends HELLO.  A
 * failure to send ends the new session at once.  Returns 0, or
 * SAMEN_EINVAL if l has no socket.
 */
int session_start(struct peers *p, struct link *l);
/*
 * Ends s (once; ok: done, else failed, why saying so) and, for ours,
 * logs and records it and plans the next one.  Borrows why.
 */
void session_end(struct session *s, int ok, const char *why);
/* why for a session a newer one replaces (compared by address). */
extern const char session_superseded[];
/* Tells the peer why (ERROR), then ends s as failed. */
void session_error(struct session *s, int code, const char *why);
/* Sends w to s's peer.  0 or a negative code.  Borrows w. */
int session_send(struct session *s, const struct wbuf *w);
/* Our shared digest, as HELLO, ACK and DONE carry it (zeros if unread). */
void session_digest(struct peers *p, uint8_t out[32]);
/*
 * The responder's running record of what moved, for peer ls on a hub:
 * in the open transaction (in_txn), or in a lazy one of its own.
 */
void session_note(struct session *s, int in_txn);
/* Ours: over once every chain is sent, acknowledged and answered. */
void session_check_complete(struct session *s);
/*
 * 1 if s runs and something of it is under way (a vector answered and
 * not yet all sent, acknowledged and answered with DONE, a batch or an
 * ACK waiting), about circle base (NULL: any): a departure waits for it
 * (depart.c).  Else 0: ended, or only the HELLOs exchanged.
 */
int session_busy(const struct session *s, const uint8_t *base);
/* 1 if chain is one of s's, else 0. */
int session_has_chain(const struct session *s,
    const uint8_t chain[CS_CIRCLELEN]);
/*
 * Handles m (len bytes on the wire) in its turn; cs is a BATCH's change
 * sets as the pool checked them, or NULL.  Borrows everything.
 */
void session_dispatch(struct session *s, const struct sync_msg *m,
    size_t len, const struct checked *cs);
/* The ROUTER's readable callback: sessions that peers start (arg: p). */
void session_router_cb(struct zsock *zs, void *arg);
/* Takes s off p's inbound sessions and frees it. */
void session_drop_inbound(struct peers *p, struct session *s);

#endif
