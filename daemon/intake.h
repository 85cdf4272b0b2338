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
 * s ended: the ACKs waiting for the disk are dropped unsent (a session
 * that ends sends nothing more).
 */
void intake_forget_acks(struct session *s);
/*
 * s goes away: frees what waits in its queue (what the pool still holds
 * is freed when the pool hands it back) and drops its ACKs.
 */
void intake_abandon(struct session *s);

#endif
