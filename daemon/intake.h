/* intake: what a session receives: queued in order, BATCHes checked on the thread pool, stored in groups, ACKed once on disk. */
#ifndef SAMEN_INTAKE_H
#define SAMEN_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "sync.h"

struct checked;
struct session;

/*
 * A message for s, which borrows data (len bytes, m decoded from them):
 * handled now if nothing waits before it and it is not a BATCH, else
 * copied and queued (a BATCH goes to the thread pool to be checked).
 */
void intake_receive(struct session *s, const struct sync_msg *m,
    const uint8_t *data, size_t len);
/*
 * Stores a BATCH of s whose change sets the pool has checked (cs, m->ncs
 * of them; NULL: check them here), and sends its ACK once its commit is
 * on disk.  Borrows everything.
 */
void intake_batch(struct session *s, const struct sync_msg *m,
    const struct checked *cs);
/*
 * Sends the ACKs of s whose commit is on disk (up to s's peers' synced),
 * in order; those of a session that ended are dropped.
 */
void intake_acks_send(struct session *s);
/*
 * s goes away: frees what waits in its queue (what the pool still holds
 * is freed when the pool hands it back).
 */
void intake_abandon(struct session *s);

#endif
