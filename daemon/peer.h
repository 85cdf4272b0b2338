/* peer: sync with other devices: CURVE transport, ZAP, sessions (docs/sync.md). */
#ifndef SAMEN_PEER_H
#define SAMEN_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "store.h"
#include "wire.h"

/*
 * Who shares which circle with whom is the circle module's to say
 * (circle.h: circle_shared, circle_refuses, circle_members, circle_join):
 * the sync layer asks it directly.  What the daemon does with a peer's
 * change sets once they are stored is not the sync layer's business
 * either; it is told through these hooks.
 */
struct peer_hooks {
	void *arg;
	/*
	 * Change sets from a peer were inserted in the batch's transaction,
	 * which is still open: merge them in it, so that the batch is stored
	 * and merged by one commit.  A failure is the hook's to log; the
	 * change sets are committed all the same and stay pending.
	 */
	void (*merge)(void *arg);
	/* The transaction merge ran in was committed (committed = 1):
	 * refresh what it touched; or rolled back (0): forget it. */
	void (*stored)(void *arg, int committed);
	/*
	 * A session is about to say what this device holds (its HELLO, sent
	 * or answered): what waits to become change sets (the read audit's
	 * journal, trail.h) becomes them now, so that the session offers it;
	 * a device told in that session that it was removed has no later
	 * one.  Between transactions, on the loop.  May be NULL.
	 */
	void (*offering)(void *arg);
	/*
	 * After peers_close: its last check on the thread pool has ended
	 * (with the copies of circle keys it read ahead with) and the peers
	 * are freed.  May be NULL.
	 */
	void (*closed)(void *arg);
};

/*
 * Everything is borrowed and must outlive the peers.  sign_sk is the
 * unlocked device key (64 bytes): the CURVE key pair derives from it.
 * listen is "" for none.
 */
struct circle;
struct durable;
struct metrics_samen;

struct peers_env {
	uv_loop_t *loop;
	void *zctx;
	struct store *store;
	const uint8_t *sign_sk;
	const char *listen;
	const char *static_peers;	/* conf "peers" */
	int sync_interval;		/* seconds; 0: only on demand */
	uint64_t max_skew_ms;		/* change sets dated further ahead wait */
	/* Syncs the lazy commits of received batches (NULL: each commit
	 * syncs); their ACKs wait for it (durable_after). */
	struct durable *durable;
	struct circle *circle;		/* membership: circle.h */
	struct peer_hooks hooks;
	/* Where sessions, change sets, bytes and refusals are counted. */
	struct metrics_samen *metrics;
};

struct peers;

/*
 * Binds the ZAP handler, then the listening socket (if any), connects to
 * every peer with an address and schedules a first sync with each.  On
 * failure returns a negative code and *cause (free with free()).
 */
int peers_open(struct peers **out, const struct peers_env *env, char **cause);
/*
 * Closes every socket; sessions in flight are dropped (nothing half
 * stored: each batch is one transaction), and their ACKs still waiting
 * are taken off env.durable, which must not be freed yet (durable_close
 * may have run: it frees only at the loop's next turn).
 */
void peers_close(struct peers *p);
/* Re-reads the peers table and the host's members: call after a change. */
void peers_refresh(struct peers *p);
void peers_set_interval(struct peers *p, int seconds);
/* Local writes committed: with periodic sync on, pass them on soon. */
void peers_nudge(struct peers *p);

/*
 * Starts a session with device (NULL: every peer with an address).
 * Writes the round number and the devices started to the reply body w as
 * {"round": n, "started": [...]}.  SAMEN_ENOTFOUND for an unknown device,
 * SAMEN_EINVAL if it (or every peer) has no address.
 */
int peers_sync(struct peers *p, const uint8_t *device, struct wbuf *w);

/* What peer ls shows of a stored peer's connection. */
enum peers_conn {
	PEERS_IDLE,		/* no address, nothing heard from it */
	PEERS_INBOUND,		/* no address: it connects to us */
	PEERS_CONNECTING,	/* no handshake done on our connection */
	PEERS_CONNECTED
};

enum peers_run { PEERS_RUNNING, PEERS_DONE, PEERS_FAILED };

/* The latest session we started with a peer, as it stands. */
struct peers_session_stat {
	uint64_t round;
	enum peers_run state;
	char *error;			/* NULL: none */
	uint64_t sent, received, rejected;
	uint64_t bytes_sent, bytes_received;
	int in_sync;
	/* Of what we sent, held back by the peer (its clock is behind). */
	uint64_t held_by, held_by_ahead_ms;
};

/* One stored peer, as peer ls shows it (docs/api.md). */
struct peers_stat {
	uint8_t device[32];
	char *addr;			/* NULL: none (it connects to us) */
	enum peers_conn conn;
	uint64_t last_sync_ms;		/* wall clock; 0: never */
	uint64_t sent, received, rejected;	/* all sessions, as stored */
	uint8_t digest[32];		/* its replica digest, last seen */
	int has_digest;
	int has_session;		/* 0: we started none since start-up */
	struct peers_session_stat session;
	/*
	 * Since start-up (docs/sync.md, "A clock ahead"): change sets it
	 * sent that we hold back; change sets we sent that it holds back,
	 * the furthest ahead, and when it last said so (0: never).
	 */
	uint64_t held_from;
	uint64_t held_by, held_by_ahead_ms, held_by_ms;
};

/*
 * Every stored peer with the state of its link and of the latest session
 * we started, in the peers table's order.  Returns 0 with *out (free with
 * peers_snapshot_free()) and *n, or a negative code.
 */
int peers_snapshot(struct peers *p, struct peers_stat **out, size_t *n);
void peers_snapshot_free(struct peers_stat *st, size_t n);

/*
 * A beacon says device listens at addr.  A known device without an
 * address gets this one (stored as its peer address); an unknown one is
 * only logged, once.
 */
void peers_found(struct peers *p, const uint8_t device[32], const char *addr);

/*
 * Departures (depart.c): 1 if a session about circle base (NULL: any) is
 * under way (session_busy), else 0.  peers_drop_circle ends every session
 * that holds a chain of base (ours fail, "this device left the circle"),
 * once its data is erased: nothing more of it may come in.
 */
int peers_busy(const struct peers *p, const uint8_t *base);
void peers_drop_circle(struct peers *p, const uint8_t base[CS_CIRCLELEN]);

uint64_t peers_zap_refused(const struct peers *p);
uint64_t peers_rejected(const struct peers *p);
/*
 * Change sets of ours that peers said they hold back as dated too far
 * ahead of their clocks, since start-up, and the furthest ahead.
 */
uint64_t peers_held_by(const struct peers *p, uint64_t *ahead_ms);
/* Peer messages dropped unread: malformed, oversized, too many frames. */
uint64_t peers_dropped(const struct peers *p);
/* Our connections whose CURVE handshake failed (wrong device, refused). */
uint64_t peers_handshake_failed(const struct peers *p);
/* "" when not listening. */
const char *peers_listen(const struct peers *p);

#endif
