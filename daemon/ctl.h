/* ctl: the control requests: one table of decode, act and render, batches and their replies. */
#ifndef SAMEN_CTL_H
#define SAMEN_CTL_H

#include <stdint.h>

#include <uv.h>

#include "api.h"
#include "index.h"
#include "render.h"
#include "request.h"
#include "store.h"
#include "vault.h"

/*
 * Requests of one batch are handled in order.  Writes (put, rm, note,
 * import) open one transaction that the whole batch shares; every reply of
 * the batch is held back until that transaction has committed and the
 * disk has it (durable_after), so no client hears "stored" before it is
 * durable, and if the commit fails every one of them hears the error and
 * nothing of the batch is kept.  Unlock runs argon2id on libuv's thread
 * pool and replies when done.
 *
 * Each request type has one entry in ctl.c's table: its decoder
 * (proto/request.h: the args' shape), its act (what it does with the
 * store, the index and the keys: ctl_records.c, ctl_circles.c,
 * ctl_peers.c, ctl_admin.c, ctl_bulk.c), its render (render.h: the
 * reply's body) and flags (what it needs first).
 *
 * All pointers in ctl_env are borrowed and must outlive the ctl.
 */
struct ckpt;
struct durable;
struct metrics_samen;

struct ctl_env {
	uv_loop_t *loop;
	struct store *store;
	struct vault *vault;
	struct index *index;
	const char *dir;
	const char *db_path;	/* samen.db, which the index loader opens */
	/* Syncs the batches' lazy commits (NULL: each commit syncs). */
	struct durable *durable;
	/* Truncates the WAL after an erase (purges, retention, a departure). */
	struct ckpt *ckpt;
	/* Called once the keys are unlocked; the index may still be loading
	 * (on the thread pool): control requests wait for it, sync does not. */
	void (*unlocked)(void *arg);
	void *unlocked_arg;
	/* samend's metrics: samen metrics renders them (ctl_collect). */
	struct metrics_samen *metrics;
	/* Called when locking, if sync runs: stop it (peers_close; CURVE
	 * needs the device key).  Its end comes through peer_hooks.closed. */
	void (*locked)(void *arg);
	void *locked_arg;
	/* max_clock_skew: how far ahead of the wall clock the writer's own
	 * clock may be before it takes the wall clock again (hlc_bound). */
	uint64_t max_skew_ms;
};

struct ctl;

struct ctl *ctl_open(const struct ctl_env *env);
/*
 * At shutdown, once the durable is closed and before the loop's last run:
 * stops an index load early and refuses the requests waiting for it
 * (-ESHUTDOWN); commits sync themselves from then on.
 */
void ctl_stop(struct ctl *c);
/* Wipes the circle keys it holds.  After the loop has run out (no load in
 * flight). */
void ctl_close(struct ctl *c);
/* The api_batch_cb (arg is the ctl). */
void ctl_batch(void *arg, struct api_req **reqs, size_t n);
/*
 * Unlocks with passphrase (NULL for a key file without one), synchronously:
 * for start-up only.  Returns 0 or a negative code.
 */
int ctl_unlock_now(struct ctl *c, const char *passphrase, size_t len);
/* 1 while an unlock is running on the thread pool. */
int ctl_busy(const struct ctl *c);
/*
 * Locking (docs/design.md, "Locking").  The daemon locks itself after
 * seconds (0: never) without a control request that uses the keys; a
 * reload may change it.  Keys without a passphrase never lock.
 */
void ctl_set_lock_after_idle(struct ctl *c, int seconds);
/*
 * The read audit's retention (audit_retention): events older than days
 * are erased, at once and then daily (trail.h).  A reload may change it.
 */
void ctl_set_audit_retention(struct ctl *c, int days);

/*
 * The sync layer asks the circle module who shares what (circle.h) and is
 * given these hooks for what it stores: merge -> loader_merge, stored ->
 * circle_stored.
 */
struct peer_hooks;
struct peers;
void ctl_peer_hooks(struct ctl *c, struct peer_hooks *h);
struct circle *ctl_circle(struct ctl *c);
struct loader *ctl_loader(struct ctl *c);
/* The sync layer, once started (after unlock); NULL to detach. */
void ctl_set_peers(struct ctl *c, struct peers *p);
/*
 * Sets the gauges of env.metrics that are read, not counted (records,
 * change sets, lock state, peers, their last sync), from what the store,
 * the index and the peers hold now: before each render of the metrics.
 * A metricsfile_collect_cb: arg is the ctl.
 */
void ctl_collect(void *arg);

/*
 * For the acts.  The ctl's parts, which every act may use (borrowed).
 */
struct ctl_parts {
	struct ctl_env env;
	struct circle *circle;		/* which circles, who is a member */
	struct writer *writer;		/* the batch's change sets */
	struct trail *trail;		/* the read audit (trail.h) */
	struct loader *loader;		/* the index's load and refresh */
	struct peers *peers;		/* NULL until started */
	uint64_t started_ms;		/* clock_wall_ms() at ctl_open */
	int unlocking;			/* an unlock runs on the thread pool */
	int unlock_dropped;		/* locked meanwhile: drop its keys */
	int locking;			/* locked; waiting for what is in flight */
	/*
	 * Departures (depart.h): a circle we were removed from is erased;
	 * revoked, everything is, and every request but status is refused.
	 */
	struct depart *depart;
	int revoked;
	struct ctl *self;		/* the ctl of these parts */
};

/*
 * Locks: drops every secret the daemon holds on the loop at once (sync,
 * the index, the writer's groups, the circle keys, the store's key, the
 * vault's), between batches.  What is in flight on the thread pool with a
 * secret (an unlock, an index load, sync's checks) is cut short or its
 * result dropped; once all of it has ended, req (if not NULL: a lock
 * request, which this takes) is answered and the requests that came
 * meanwhile are served, as by a daemon that started locked.
 */
void ctl_lock(struct ctl *c, struct api_req *req);
/* The unlock on the thread pool has ended (ctl_admin.c). */
void ctl_unlock_ended(struct ctl *c);

/* What an act produces. */
struct ctl_reply {
	int code;
	char *msg;		/* allocated, or NULL */
	struct wbuf *body;	/* written by render if code is 0 (and by the
				 * sync layer's own writers: peers_sync) */
	/* The request: an act that answers it later itself sets it NULL. */
	struct api_req *req;
	union render_result out;	/* the act's result, for render */
};

/*
 * An act: 0 with res->out filled, or a negative code with res->code and
 * res->msg set (ctl_fail).  q is the decoded request (borrowed).
 */
typedef int ctl_act_fn(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res);

/* Sets res's code and message (printf); returns code. */
int ctl_fail(struct ctl_reply *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets res's code and message to code and cause, which it takes. */
int ctl_fail_cause(struct ctl_reply *res, int code, char *cause);
/* Fails res with why circle name cannot be written to (circle_no_writer). */
int ctl_no_writer(struct ctl_parts *p, struct ctl_reply *res,
    const char *name);

#endif
