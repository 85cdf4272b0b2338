/* beacon: optional UDP announcements on the local network (device id, port). */
#ifndef SAMEN_BEACON_H
#define SAMEN_BEACON_H

#include <stdint.h>

#include <uv.h>

/*
 * Every few seconds, broadcasts "samen-beacon-1" || device public key (32)
 * || listen port (2, big-endian) to addr:port, and listens on port for the
 * same from others.  Nothing else is sent: no names, no circles.  A beacon
 * only says "device X listens on this host at port P"; whether X is let in
 * is decided by CURVE and ZAP as for any peer, so a forged beacon can at
 * worst make us try a connection that fails.
 */
struct beacon;

/* Called for every beacon from another device: ip is its source address. */
typedef void (*beacon_cb)(void *arg, const uint8_t device[32],
    const char *ip, uint16_t port);

/*
 * listen_port 0: only listen.  Returns 0 or a negative code and *cause
 * (free with free()).  Everything is copied.
 */
int beacon_open(struct beacon **out, uv_loop_t *loop, const uint8_t device[32],
    const char *addr, uint16_t port, uint16_t listen_port, beacon_cb cb,
    void *arg, char **cause);
/* Stops; frees once libuv has closed the handles. */
void beacon_close(struct beacon *b);

#endif
