/* link: one peer as this device knows it: its DEALER, for the sessions we start, and that socket's monitor. */
#ifndef SAMEN_LINK_H
#define SAMEN_LINK_H

#include <stdint.h>

struct link;
struct peers;

/* The link of device, or NULL. */
struct link *link_find(struct peers *p, const uint8_t device[32]);
/* The link whose device has CURVE public key curve, or NULL. */
struct link *link_by_curve(struct peers *p, const uint8_t curve[32]);
/* A new link for device, without sockets, appended to p's links, which
 * own it: free with link_free(). */
struct link *link_add(struct peers *p, const uint8_t device[32]);
/*
 * Opens the DEALER to l->addr (which must be set) and its monitor.  A
 * monitor that cannot be set up is logged; the link works without it,
 * only blind to its handshakes.  Returns 0 or -errno (no socket then).
 */
int link_connect(struct link *l);
/*
 * Closes the link's sockets and connects afresh: libzmq does not always
 * retry after a refused handshake, and may keep the dead connection's
 * pipe, where a message waits for ever.  Returns what link_connect does.
 */
int link_reopen(struct link *l);
/* Closes the sockets; a session of ours still running fails. */
void link_disconnect(struct link *l);
/* link_disconnect, then frees l and the session it holds (not its slot
 * in p's links: the caller's). */
void link_free(struct link *l);

#endif
