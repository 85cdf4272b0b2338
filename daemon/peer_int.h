/* peer_int: the structs that the sync layer's modules share, and what peer.c lends them. */
#ifndef SAMEN_PEER_INT_H
#define SAMEN_PEER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conf.h"
#include "devid.h"
#include "peer.h"
#include "pool.h"

/*
 * The sync layer (docs/sync.md) is five modules over these structs:
 * link.c, a peer's DEALER and its monitor; zap.c, who may connect;
 * session.c, the protocol (HELLO, VECTOR, BATCH, ACK, DONE) and the
 * ROUTER's sessions; intake.c, what a session receives (checked on the
 * pool, stored in groups, acknowledged once on disk); and peer.c, the
 * peers_* API, the schedule and the peers table.  Only they include this
 * file.  All of it runs on the loop's thread.
 */

#define WINDOW 32			/* batches in flight per chain */
#define MAX_ROUTING_ID 256

enum session_state { SESSION_RUNNING, SESSION_DONE, SESSION_FAILED };

struct chain;		/* session.c */
struct pending;		/* intake.c */
struct zap;		/* zap.h */
struct zsock;		/* zsock.h */

/* A BATCH stored, its ACK waiting for the disk (intake.c). */
struct ack {
	uint8_t chain[CS_CIRCLELEN];
	uint32_t accepted, rejected;
	uint32_t held;			/* of accepted: from the future */
	uint64_t ahead_ms;
};

struct session {
	struct peers *p;
	struct link *link;
	int initiator;
	uint64_t id;
	uint64_t round;
	uint8_t rid[MAX_ROUTING_ID];	/* responder: the ROUTER's routing id */
	size_t rid_len;
	struct chain *chains;
	size_t nchains;
	enum session_state state;
	char *error;
	int in_sync;
	uint64_t sent, received, rejected, bytes_sent, bytes_received;
	/*
	 * Change sets of ours the peer held back as dated too far ahead of
	 * its clock, as its ACKs said (docs/sync.md, "A clock ahead"), and
	 * the furthest ahead.
	 */
	uint64_t held_by, held_by_ahead_ms;
	uint64_t noted_sent, noted_received, noted_rejected;
	uint64_t last_ms;		/* last message, on the loop's clock */
	/* What arrived and waits its turn, oldest first (intake.c). */
	struct pending *qhead, *qtail;
	size_t nqueued;
	/*
	 * The ACKs of stored batches, oldest first, acks[ackfirst..+nacks):
	 * each has an entry in durable_after's queue, which sends it once
	 * its commit is on disk.
	 */
	struct ack *acks;
	size_t ackfirst, nacks, capacks;
	struct session *next;		/* responder sessions */
};

struct link {
	struct peers *p;
	uint8_t device[32];
	uint8_t curve[32];
	char devid[DEVID_TEXTLEN + 1];
	char *addr;			/* NULL: it connects to us */
	int is_peer;			/* in the peers table */
	int mark;
	struct zsock *zs;		/* DEALER to addr */
	struct zsock *mon;		/* its monitor: handshakes, disconnects */
	int up;				/* handshake done, not disconnected */
	int failing;			/* last handshake failed (logged once) */
	int heard;			/* a message came from it */
	struct session *out;		/* the latest session we started */
	uint64_t next_sync_ms;		/* on the loop's clock */
	uint8_t digest[32];		/* its replica digest, last seen */
	int has_digest;
	int again;			/* news arrived mid-session: go again */
	/*
	 * Exiled (docs/sync.md, "Exile sessions"): from circles we share
	 * nothing else with it in (exile_only), or revoked; exile_sig is a
	 * hash of the circles it is exiled from, whose change brings a new
	 * session once one was done.
	 */
	int exile_only;
	uint8_t exile_sig[16];
	uint64_t last_sync_ms;		/* wall clock, as stored */
	/*
	 * Held back (docs/sync.md, "A clock ahead"), since start-up: what
	 * we held of what it sent; what it held of what we sent, the
	 * furthest ahead and when it last said so (wall clock, 0: never).
	 */
	uint64_t held_from;
	uint64_t held_by, held_by_ahead_ms, held_by_ms;
};

struct peers {
	struct peers_env env;
	uint8_t device[32];
	uint8_t curve_pk[32];
	uint8_t curve_sk[32];
	struct zap *zap;
	struct zsock *router;
	struct link **links;
	size_t nlinks;
	struct session *inbound;
	uv_timer_t timer;
	uint64_t round;
	uint64_t rejected, dropped, handshake_failed;
	char listen[CONF_STRLEN];
	uv_idle_t refresher;
	int refresh_pending;
	uv_idle_t drainer;		/* stores verified batches, in turn */
	uint8_t unknown[16][32];	/* beacons from strangers, logged once */
	size_t nunknown;
	/* Batches checked on the pool, in the order received (intake.c). */
	struct pool_lane checks;
	/*
	 * The wall clock (clock_wall_ms; a test steps it): for what is a
	 * date, the HLC's clock-skew check and "last sync".  Deadlines and
	 * timers use the loop's monotonic clock, uv_now().
	 */
	uint64_t (*wall_ms)(void);
	/*
	 * When the first change set held as from the future comes due, on
	 * the wall clock: 0 none held, UINT64_MAX to be looked up.
	 */
	uint64_t held_due;
	/* Freed once closed, the handles closed and no check left. */
	int open_handles;
	int closed;
};

/* Something new was held as from the future: look again (peer.c). */
void peers_held_changed(struct peers *p);
/* The next tick within 20 ms (peer.c). */
void peers_tick_soon(struct peers *p);
/* News arrived from from (NULL: written here): pass it on (peer.c). */
void peers_gossip(struct peers *p, const struct link *from);
/* Frees p once it is closed and nothing needs it any more (peer.c). */
void peers_free_if_done(struct peers *p);
/* The short text form of a device key, for logs (peer.c). */
void peers_short_id(char out[DEVID_SHORTLEN + 1], const uint8_t key[32]);

#endif
