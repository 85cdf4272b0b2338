/* peerls: the body of peer ls (docs/api.md), rendered from a snapshot of the peers. */
#ifndef SAMEN_PEERLS_H
#define SAMEN_PEERLS_H

#include <stddef.h>

#include "peer.h"
#include "wire.h"

/*
 * Appends to w the array that peer ls answers: one map per peer of st
 * (n of them, from peers_snapshot).  Borrows st.
 */
void peerls_put(struct wbuf *w, const struct peers_stat *st, size_t n);

#endif
