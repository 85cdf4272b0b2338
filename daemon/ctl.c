/* ctl: the control requests: one table of decode, act and render, batches and their replies. */
#include "ctl.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circle.h"
#include "clock.h"
#include "ctl_admin.h"
#include "ctl_bulk.h"
#include "ctl_circles.h"
#include "ctl_peers.h"
#include "ctl_records.h"
#include "depart.h"
#include "durable.h"
#include "error.h"
#include "loader.h"
#include "log.h"
#include "peer.h"
#include "testhook.h"
#include "trail.h"
#include "util.h"
#include "writer.h"

/* What a request needs before it acts. */
#define CTL_F_KEYS	0x1	/* the keys: the daemon is unlocked */
#define CTL_F_UNLOCKED	0x2	/* the keys and the whole index */
#define CTL_F_WRITES	0x4	/* writes, in the batch's transaction */
#define CTL_F_ALONE	0x8	/* runs outside the batch: what the batch
				 * wrote so far is committed first */
#define CTL_F_SYNCED	0x10	/* and, with CTL_F_ALONE, on the disk */

/*
 * Every control request, in protocol.h's order.  Requests also wait for
 * the index while it loads (ctl_batch), all of them, so that replies keep
 * their order.
 */
static const struct handler {
	enum ctl_type type;
	request_decode_fn *decode;
	ctl_act_fn *act;
	render_fn *render;	/* NULL: the act wrote the body */
	unsigned flags;
} handlers[] = {
	{ CTL_STATUS, request_decode_status, ctl_admin_status,
	  render_status, 0 },
	{ CTL_UNLOCK, request_decode_unlock, ctl_admin_unlock,
	  render_unlock, CTL_F_ALONE },
	{ CTL_PUT, request_decode_put, ctl_records_put,
	  render_put, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_GET, request_decode_get, ctl_records_get,
	  render_get, CTL_F_UNLOCKED },
	{ CTL_LS, request_decode_ls, ctl_records_ls,
	  render_ls, CTL_F_UNLOCKED },
	{ CTL_FIND, request_decode_find, ctl_records_find,
	  render_find, CTL_F_UNLOCKED },
	{ CTL_RM, request_decode_rm, ctl_records_rm,
	  render_rm, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_LOG, request_decode_log, ctl_records_log,
	  render_log, CTL_F_UNLOCKED },
	{ CTL_CONFLICTS, request_decode_conflicts, ctl_records_conflicts,
	  render_conflicts, CTL_F_UNLOCKED },
	{ CTL_NOTE, request_decode_note, ctl_records_note,
	  render_note, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_REBUILD, request_decode_rebuild, ctl_admin_rebuild,
	  render_rebuild, CTL_F_KEYS | CTL_F_ALONE },
	{ CTL_PEER_ADD, request_decode_peer_add, ctl_peers_add,
	  render_peer_add, 0 },
	{ CTL_PEER_LS, request_decode_peer_ls, ctl_peers_ls,
	  render_peer_ls, 0 },
	{ CTL_PEER_RM, request_decode_peer_rm, ctl_peers_rm,
	  render_peer_rm, 0 },
	/* Its sessions offer this device's change sets once the disk has
	 * them: the audit journal shipped just before too. */
	{ CTL_SYNC, request_decode_sync, ctl_peers_sync,
	  NULL, CTL_F_UNLOCKED | CTL_F_ALONE | CTL_F_SYNCED },
	{ CTL_CIRCLE_NEW, request_decode_circle_new, ctl_circles_new,
	  render_circle_new, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_CIRCLE_ADD, request_decode_circle_add, ctl_circles_add,
	  render_circle_add, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_CIRCLE_LS, request_decode_circle_ls, ctl_circles_ls,
	  render_circle_ls, CTL_F_UNLOCKED },
	{ CTL_CIRCLE_USE, request_decode_circle_use, ctl_circles_use,
	  render_circle_use, CTL_F_UNLOCKED },
	{ CTL_METRICS, request_decode_metrics, ctl_admin_metrics,
	  render_metrics, 0 },
	{ CTL_CIRCLE_ROLE, request_decode_circle_role, ctl_circles_role,
	  render_circle_role, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_CIRCLE_RM, request_decode_circle_rm, ctl_circles_rm,
	  render_circle_rm, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_CIRCLE_QUARANTINE, request_decode_circle_quarantine,
	  ctl_circles_quarantine, render_circle_quarantine, CTL_F_UNLOCKED },
	{ CTL_CIRCLE_ACCEPT, request_decode_circle_accept, ctl_circles_accept,
	  render_circle_accept, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_DEVICE_REVOKE, request_decode_device_revoke, ctl_circles_revoke,
	  render_device_revoke, CTL_F_UNLOCKED | CTL_F_WRITES },
	{ CTL_LOCK, request_decode_lock, ctl_admin_lock,
	  render_lock, CTL_F_ALONE },
	{ CTL_HANDOVER, request_decode_handover, ctl_records_handover,
	  render_handover, CTL_F_UNLOCKED | CTL_F_WRITES },
	/* The batch's reads before it are audited, so it sees them. */
	{ CTL_AUDIT, request_decode_audit, ctl_records_audit,
	  render_audit, CTL_F_UNLOCKED | CTL_F_ALONE },
	/* An export reads the store (histories): the batch's writes first. */
	{ CTL_EXPORT, request_decode_export, ctl_bulk_export,
	  render_export, CTL_F_UNLOCKED | CTL_F_ALONE },
	{ CTL_IMPORT, request_decode_import, ctl_bulk_import,
	  render_import, CTL_F_UNLOCKED | CTL_F_WRITES },
	/* Alone: a purge of the private circle erases in a transaction of
	 * its own (a shared one's op opens the batch's). */
	{ CTL_PURGE, request_decode_purge, ctl_records_purge,
	  render_purge, CTL_F_UNLOCKED | CTL_F_WRITES | CTL_F_ALONE },
	{ CTL_CIRCLE_RETENTION, request_decode_circle_retention,
	  ctl_circles_retention, render_retention,
	  CTL_F_UNLOCKED | CTL_F_WRITES },
};

#define NHANDLERS (sizeof(handlers) / sizeof(handlers[0]))

/*
 * A batch of one read (samen get) syncs its commit on the loop when the
 * sync thread is idle (durable_sync_here): the thread would only make
 * its reply wait for two hand-offs more (docs/performance.md §11).  A
 * larger batch is a client with reads in flight: the loop goes on with
 * the next while the thread syncs.
 */
#define CTL_SYNC_HERE_MAX 1

/* A reply waiting for its batch's commit, then for the disk. */
struct held {
	struct api_req *req;
	int code;
	char *msg;
	struct wbuf body;
	int has_body;
	int audited;		/* a read whose event the batch writes */
};

/* A batch's replies, waiting in durable_after for its commit's ticket. */
struct sent {
	struct ctl *c;
	uint64_t ticket;
	int wrote;		/* the batch changed records: nudge the peers */
	size_t n;
	struct held held[];
};

struct ctl {
	struct ctl_parts parts;
	/* The batch being handled: its replies, held until it commits. */
	struct held *held;
	size_t nheld;
	size_t capheld;
	uint64_t ticket;	/* the last lazy commit's */
	uint64_t wticket;	/* SAMEND_TEST_AUDIT=wal: the last batch
				 * whose replies waited for its own sync */
	/* Requests that came while the index loads (loader_busy) or the
	 * daemon locks (parts.locking). */
	struct api_req **deferred;
	size_t ndeferred;
	size_t capdeferred;
	/* Locking: lock requests answered once it is complete. */
	struct api_req **lockreqs;
	size_t nlockreqs;
	size_t caplockreqs;
	int peers_closing;	/* locked, and sync not over yet */
	/* The idle timer (lock_after_idle), on the loop's clock. */
	uv_timer_t idle;
	uint64_t idle_ms;	/* 0: off */
	uint64_t last_use;	/* uv_now() of the last use of the keys */
	int stopped;		/* ctl_stop: the timer is closed */
	int batching;		/* inside ctl_batch: serve nothing more now */
	/* Retention passes (circle_retention_run): hourly, and soon after
	 * an unlock or a peer's batch. */
	uv_timer_t retention;
	/* The read audit's journal shipped when reads stop (trail.h). */
	uv_timer_t ship;
};

/* How often retention runs; how soon after an unlock or a sync. */
#define RETENTION_MS (3600 * 1000)
#define RETENTION_SOON_MS 1000

static void retention_arm(struct ctl *c, uint64_t ms);
static void ship_arm(struct ctl *c, uint64_t ms);
static int ship_now(struct ctl *c);
static void ship_cb(uv_timer_t *t);

int
ctl_fail(struct ctl_reply *res, int code, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(res->msg);
	res->msg = xstrdup(buf);
	res->code = code;
	return code;
}

int
ctl_fail_cause(struct ctl_reply *res, int code, char *cause)
{
	free(res->msg);
	res->msg = cause;
	res->code = code;
	return code;
}

int
ctl_no_writer(struct ctl_parts *p, struct ctl_reply *res, const char *name)
{
	char *cause = NULL;
	int rc = circle_no_writer(p->circle, name, &cause);

	return ctl_fail_cause(res, rc, cause);
}

/* Replies. */

static void
send_held(struct held *h)
{
	api_reply(h->req, h->code, h->msg, h->has_body ? wire_data(&h->body) :
	    NULL, wire_len(&h->body));
	free(h->msg);
	/* A read's reply holds the records it read. */
	wire_wipe(&h->body);
	wire_free(&h->body);
}

/*
 * The disk has the batch's commit (durable_after): its replies go out, in
 * order.  After a failed sync, replies that waited for a commit past the
 * last good sync are answered with it: what they wait for is committed,
 * visible here, and maybe not on disk, and no later sync will say
 * otherwise.
 */
static void
send_batch(void *arg, int status)
{
	struct sent *b = arg;
	struct ctl *c = b->c;
	int lost = status != 0;

	for (size_t i = 0; i < b->n; i++) {
		struct held *h = &b->held[i];

		if (lost) {
			free(h->msg);
			h->msg = xasprintf("storage error: the disk failed to "
			    "sync; writes since the last sync may be lost at a "
			    "power cut (restart samend)");
			h->code = SAMEN_ESTORE;
			h->has_body = 0;
		}
		send_held(h);
	}
	if (!lost && b->wrote && c->parts.peers != NULL)
		peers_nudge(c->parts.peers);
	free(b);
}

/* The writer rolled the batch back: every reply held so far says so. */
static size_t
aborted(void *arg, int code)
{
	struct ctl *c = arg;

	loader_forget(c->parts.loader);
	trail_drop(c->parts.trail);
	for (size_t i = 0; i < c->nheld; i++) {
		struct held *h = &c->held[i];

		free(h->msg);
		/* A read is refused when its audit event is not stored. */
		h->msg = h->audited ? xasprintf("refused: the read could not "
		    "be audited: %s", samen_strerror(code)) :
		    xasprintf("not stored: %s", samen_strerror(code));
		h->code = code;
		h->has_body = 0;
	}
	return c->nheld;
}

/*
 * Builds the batch's change sets (one per circle written), commits,
 * refreshes the index for what they touched, and hands the held replies to
 * durable_after, which sends them once the disk has the commit.  If a
 * change set cannot be stored or the commit fails, every held reply has
 * become that error (aborted): no client was told anything yet, and
 * nothing of it was kept.  A reply never overtakes one before it, so a
 * client that sees a reply sees only what is on the disk.  ship: the
 * read audit's journal is shipped in the batch, due or not (trail_flush).
 */
static void
flush(struct ctl *c, int ship)
{
	struct sent *b;
	char *cause = NULL;
	uint64_t before = c->ticket;
	int rc, wrote, here, reads = 0;

	/*
	 * The batch's read events first, into its transaction: a read
	 * waits for its event's commit as a write does.  If they cannot be
	 * written, the batch is rolled back and every reply held says so.
	 */
	for (size_t i = 0; i < c->nheld; i++)
		reads |= c->held[i].audited;
	if ((rc = trail_flush(c->parts.trail, ship, &cause)) != 0) {
		free(cause);
		if (writer_in_txn(c->parts.writer))
			writer_abort(c->parts.writer, rc);
		else
			(void)aborted(c, rc);
	}
	here = reads && c->nheld <= CTL_SYNC_HERE_MAX &&
	    loader_pending(c->parts.loader) == 0 && !testhook()->audit_nosync;
	if (here)
		writer_sync_later(c->parts.writer);
	rc = writer_commit(c->parts.writer, &c->ticket);
	if (here && c->ticket != before &&
	    !durable_sync_here(c->parts.env.durable, c->ticket))
		durable_request(c->parts.env.durable, c->ticket);
	wrote = rc == 0 && loader_pending(c->parts.loader) > 0;
	if (rc == 0)
		(void)loader_refresh(c->parts.loader, c->parts.circle);
	loader_forget(c->parts.loader);
	if (c->nheld > 0) {
		b = xmalloc(sizeof(*b) + c->nheld * sizeof(b->held[0]));
		b->c = c;
		b->ticket = c->ticket;
		/*
		 * SAMEND_TEST_AUDIT=wal (the bench's other choice): a batch
		 * that wrote nothing but read events waits for the last
		 * batch that wrote, not for its own sync nor for that of the
		 * read batches before it.
		 */
		if (testhook()->audit_nosync && reads && !wrote)
			b->ticket = c->wticket;
		else
			c->wticket = b->ticket;
		b->wrote = wrote;
		b->n = c->nheld;
		memcpy(b->held, c->held, c->nheld * sizeof(b->held[0]));
		c->nheld = 0;
		durable_after(c->parts.env.durable, b->ticket, send_batch, b);
	}
	/*
	 * After the replies are handed over: the refresh may write a batch
	 * of its own (an admin's new epoch), whose failure must not reach
	 * them.  The next batch is handled after it.
	 */
	circle_refresh_pending(c->parts.circle);
	if (trail_pending(c->parts.trail))
		ship_arm(c, trail_ship_ms());
}

static struct held *
hold(struct ctl *c, struct api_req *req)
{
	struct held *h;

	if (c->nheld == c->capheld) {
		c->capheld = c->capheld ? c->capheld * 2 : 16;
		c->held = xreallocarray(c->held, c->capheld, sizeof(*c->held));
	}
	h = &c->held[c->nheld++];
	memset(h, 0, sizeof(*h));
	h->req = req;
	/* A write's reply is under a hundred bytes; ls grows it. */
	wire_init_size(&h->body, 128);
	return h;
}

/* Dispatch. */

static const struct handler *
handler(uint32_t type)
{
	for (size_t i = 0; i < NHANDLERS; i++)
		if (handlers[i].type == type)
			return &handlers[i];
	return NULL;
}

/* What the flags ask for before the act. */
static int
ready(struct ctl *c, unsigned flags, struct ctl_reply *res)
{
	if ((flags & (CTL_F_KEYS | CTL_F_UNLOCKED)) &&
	    (vault_locked(c->parts.env.vault) ||
	    circle_private(c->parts.circle) == NULL))
		return ctl_fail(res, SAMEN_ELOCKED, "the daemon is locked: run "
		    "'samen unlock'");
	/* Never answer from a partial index. */
	if ((flags & CTL_F_UNLOCKED) && loader_bad(c->parts.loader))
		return ctl_fail(res, SAMEN_ESTORE, "the replica could not be "
		    "read into memory (see samend's log): run 'samen rebuild'");
	return 0;
}

static void
handle_one(struct ctl *c, struct api_req *req)
{
	struct wire_reader r;
	const struct handler *e;
	const uint8_t *data;
	union request q;
	struct ctl_reply res;
	struct held *h;
	char *cause = NULL;
	uint32_t type;
	size_t len;
	uint64_t noted;
	int rc, was_open;

	data = api_req_data(req, &len);
	wire_reader_init(&r, data, len);
	if ((rc = request_frame(&r, &type, &cause)) != 0) {
		api_reply(req, rc, cause, NULL, 0);
		free(cause);
		return;
	}
	e = handler(type);
	/* The journal too: an audit or an export reads the audit chains,
	 * a sync offers them, a lock stops the signing. */
	if (e != NULL && (e->flags & CTL_F_ALONE))
		flush(c, 1);
	if (e != NULL && (e->flags & CTL_F_SYNCED))
		durable_wait(c->parts.env.durable, c->ticket);
	h = hold(c, req);
	memset(&res, 0, sizeof(res));
	res.body = &h->body;
	res.req = req;
	if (e == NULL)
		ctl_fail(&res, SAMEN_EPROTO, "unknown request type %u", type);
	else if (c->parts.revoked && type != CTL_STATUS)
		ctl_fail(&res, SAMEN_EREVOKED, "this device was revoked: its "
		    "data and keys are erased");
	else if ((rc = e->decode(&r, &q, &cause)) != 0)
		ctl_fail_cause(&res, rc, cause);
	else if (ready(c, e->flags, &res) == 0) {
		/* A person uses what the lock protects: not idle.  (Status,
		 * metrics and the peer table do not count: a monitor polling
		 * them must not keep the keys in memory for ever.) */
		if (e->flags & (CTL_F_KEYS | CTL_F_UNLOCKED))
			c->last_use = uv_now(c->parts.env.loop);
		was_open = writer_in_txn(c->parts.writer);
		noted = trail_noted(c->parts.trail);
		rc = e->act(&c->parts, &q, &res);
		h->audited = trail_noted(c->parts.trail) != noted;
		/* Only writes open the batch's transaction. */
		assert((e->flags & CTL_F_WRITES) || was_open ||
		    !writer_in_txn(c->parts.writer));
		if (res.req == NULL) {
			/* Taken: the act answers it later (unlock). */
			c->nheld--;
			wire_free(&h->body);
			return;
		}
		if (rc == 0 && res.code == 0 && e->render != NULL)
			e->render(res.body, &res.out);
	}
	free(h->msg);	/* an abort of the batch may have set one */
	h->code = res.code;
	h->msg = res.msg;
	h->has_body = res.code == 0;
}

static void
push_req(struct api_req ***a, size_t *n, size_t *cap, struct api_req *r)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*a = xreallocarray(*a, *cap, sizeof(**a));
	}
	(*a)[(*n)++] = r;
}

/* Requests wait while the index loads or the daemon locks. */
static int
waiting(const struct ctl *c)
{
	return loader_busy(c->parts.loader) || c->parts.locking;
}

/* 1 if req is a lock request (handle_one decodes it again). */
static int
is_lock(const struct api_req *req)
{
	struct wire_reader r;
	const uint8_t *data;
	char *cause = NULL;
	uint32_t type;
	size_t len;

	data = api_req_data(req, &len);
	wire_reader_init(&r, data, len);
	if (request_frame(&r, &type, &cause) != 0) {
		free(cause);
		return 0;
	}
	return type == CTL_LOCK;
}

static void serve_deferred(struct ctl *c);

void
ctl_batch(void *arg, struct api_req **reqs, size_t n)
{
	struct ctl *c = arg;
	size_t i = 0;

	c->batching++;
	if (!waiting(c)) {
		/* A lock makes the rest of the batch wait for it. */
		while (i < n && !waiting(c))
			handle_one(c, reqs[i++]);
		flush(c, 0);
	}
	/* Answered once the index is in or the lock complete
	 * (serve_deferred).  A lock does not wait for the index: it cuts
	 * the load short, and what waited is answered as locked. */
	for (; i < n; i++)
		if (!c->parts.locking && is_lock(reqs[i])) {
			handle_one(c, reqs[i]);
			flush(c, 0);
		} else
			push_req(&c->deferred, &c->ndeferred, &c->capdeferred,
			    reqs[i]);
	/* A lock that was complete at once has nothing to wait for. */
	if (--c->batching == 0 && !waiting(c) && c->ndeferred > 0)
		serve_deferred(c);
}

/* The index is in or the lock complete: what waited for it is served. */
static void
serve_deferred(struct ctl *c)
{
	struct api_req **reqs = c->deferred;
	size_t n = c->ndeferred;

	c->deferred = NULL;
	c->ndeferred = c->capdeferred = 0;
	if (n > 0)
		ctl_batch(c, reqs, n);
	free(reqs);
}

/* Locking. */

static void lock_settle(struct ctl *c);

/* A load has ended (loader.h): in, bad, or cut short by a lock. */
static void
load_ended(void *arg)
{
	struct ctl *c = arg;

	if (c->parts.locking)
		lock_settle(c);
	else
		serve_deferred(c);
}

static void idle_cb(uv_timer_t *t);

/* (Re)starts the idle timer for the time left, or stops it. */
static void
idle_arm(struct ctl *c)
{
	uint64_t now, due;

	if (c->stopped)
		return;
	if (c->idle_ms == 0 || vault_locked(c->parts.env.vault) ||
	    !vault_has_passphrase(c->parts.env.vault)) {
		uv_timer_stop(&c->idle);
		return;
	}
	now = uv_now(c->parts.env.loop);
	due = c->last_use + c->idle_ms;
	uv_timer_start(&c->idle, idle_cb, due > now ? due - now : 0, 0);
}

/*
 * The timer only fires: requests move last_use, and the time left is
 * measured here, so that a request costs a store and not a timer move.
 */
static void
idle_cb(uv_timer_t *t)
{
	struct ctl *c = t->data;
	uint64_t now = uv_now(c->parts.env.loop);

	if (c->idle_ms == 0 || vault_locked(c->parts.env.vault))
		return;
	/* Someone waits for the index: not idle. */
	if (loader_busy(c->parts.loader) || c->ndeferred > 0)
		c->last_use = now;
	if (now - c->last_use < c->idle_ms) {
		idle_arm(c);
		return;
	}
	log_info("locking: no control request for %llu s",
	    (unsigned long long)(c->idle_ms / 1000));
	ctl_lock(c, NULL);
}

void
ctl_set_lock_after_idle(struct ctl *c, int seconds)
{
	c->idle_ms = seconds > 0 ? (uint64_t)seconds * 1000 : 0;
	if (c->idle_ms > 0 && !vault_has_passphrase(c->parts.env.vault))
		log_warnx("lock_after_idle is ignored: the device keys have no "
		    "passphrase, so there is nothing to lock");
	idle_arm(c);
}

void
ctl_set_audit_retention(struct ctl *c, int days)
{
	trail_set_retention(c->parts.trail, days);
}

/*
 * Everything held on the loop that a lock drops, at once: sync first
 * (its sessions use the store and the circles), then the index, the
 * writer's groups, the circle keys, the store's key, the vault's secrets.
 */
static void
drop_secrets(struct ctl *c)
{
	struct ctl_parts *p = &c->parts;

	if (p->peers != NULL) {
		assert(p->env.locked != NULL);
		c->peers_closing = 1;
		p->env.locked(p->env.locked_arg);
		assert(p->peers == NULL);
	}
	loader_lock(p->loader);
	writer_lock(p->writer);
	trail_lock(p->trail);
	circle_lock(p->circle);
	store_forget_key(p->env.store);
	vault_lock(p->env.vault);
	if (p->unlocking)
		p->unlock_dropped = 1;
}

/* Lock requests, answered after the replies before them (durable_after). */
struct locked {
	size_t n;
	struct api_req *reqs[];
};

static void
send_locked(void *arg, int status)
{
	struct locked *b = arg;
	struct wbuf body;

	(void)status;	/* the lock is complete, whatever the disk did */
	wire_init(&body);
	render_lock(&body, NULL);
	for (size_t i = 0; i < b->n; i++)
		api_reply(b->reqs[i], 0, NULL, wire_data(&body),
		    wire_len(&body));
	wire_free(&body);
	free(b);
}

/* The lock is complete once nothing in flight holds a secret. */
static void
lock_settle(struct ctl *c)
{
	struct locked *b;

	if (!c->parts.locking || c->stopped ||
	    loader_busy(c->parts.loader) || c->parts.unlocking ||
	    c->peers_closing)
		return;
	c->parts.locking = 0;
	log_info("locked");
	if (c->nlockreqs > 0) {
		b = xmalloc(sizeof(*b) + c->nlockreqs * sizeof(b->reqs[0]));
		b->n = c->nlockreqs;
		memcpy(b->reqs, c->lockreqs, b->n * sizeof(b->reqs[0]));
		c->nlockreqs = 0;
		durable_after(c->parts.env.durable, c->ticket, send_locked, b);
	}
	/* Inside a batch, ctl_batch serves them when it is done. */
	if (c->batching == 0)
		serve_deferred(c);
}

void
ctl_lock(struct ctl *c, struct api_req *req)
{
	/* Between batches: what came before is committed (CTL_F_ALONE),
	 * what comes after waits (ctl_batch). */
	assert(!writer_in_txn(c->parts.writer));
	/* Signed while the keys are there; what is left waits for them. */
	if (!vault_locked(c->parts.env.vault) && !c->parts.unlocking)
		(void)ship_now(c);
	if (!vault_locked(c->parts.env.vault) || c->parts.unlocking)
		drop_secrets(c);
	c->parts.locking = 1;
	if (!c->stopped)
		uv_timer_stop(&c->idle);
	if (req != NULL)
		push_req(&c->lockreqs, &c->nlockreqs, &c->caplockreqs, req);
	lock_settle(c);
}

void
ctl_unlock_ended(struct ctl *c)
{
	if (c->parts.locking) {
		lock_settle(c);
		return;
	}
	if (!vault_locked(c->parts.env.vault)) {
		c->last_use = uv_now(c->parts.env.loop);
		idle_arm(c);
		retention_arm(c, RETENTION_SOON_MS);
		/* What the journal kept across a restart or a lock. */
		ship_arm(c, 0);
	}
}

/* Retention. */

static void retention_cb(uv_timer_t *t);

/* Timer t fires cb within ms, unless it is due sooner already. */
static void
timer_arm(struct ctl *c, uv_timer_t *t, uv_timer_cb cb, uint64_t ms)
{
	if (c->stopped || (uv_is_active((uv_handle_t *)t) &&
	    uv_timer_get_due_in(t) <= ms))
		return;
	uv_timer_start(t, cb, ms, 0);
}

/* The next pass within ms, unless one is due sooner. */
static void
retention_arm(struct ctl *c, uint64_t ms)
{
	timer_arm(c, &c->retention, retention_cb, ms);
}

/* Between batches: what a pass writes is a batch of its own. */
static void
retention_cb(uv_timer_t *t)
{
	struct ctl *c = t->data;
	struct ctl_parts *p = &c->parts;
	int rc = 0;

	if (!vault_locked(p->env.vault) && circle_private(p->circle) != NULL &&
	    !p->locking && !p->unlocking && !writer_in_txn(p->writer) &&
	    (rc = circle_retention_run(p->circle)) < 0)
		log_warnx("retention: %s", samen_strerror(rc));
	uv_timer_start(&c->retention, retention_cb, rc > 0 ?
	    RETENTION_SOON_MS : RETENTION_MS, 0);
}

/* The read audit's journal. */

/*
 * Between batches, no reply held: ships the journal as a batch of its
 * own (trail_flush), if there is anything to ship and the keys to sign.
 * 0, or the failure (logged).
 */
static int
ship_now(struct ctl *c)
{
	struct ctl_parts *p = &c->parts;
	char *cause = NULL;
	int rc;

	if (c->nheld > 0 || c->batching > 0 || writer_in_txn(p->writer) ||
	    !trail_pending(p->trail) || vault_locked(p->env.vault) ||
	    circle_private(p->circle) == NULL || p->locking || p->unlocking ||
	    loader_busy(p->loader))
		return 0;
	if ((rc = trail_flush(p->trail, 1, &cause)) != 0) {
		log_warnx("audit: the journal could not be shipped: %s; "
		    "trying again with the next reads",
		    cause ? cause : samen_strerror(rc));
		free(cause);
		if (writer_in_txn(p->writer))
			writer_abort(p->writer, rc);
		return rc;
	}
	return writer_commit(p->writer, &c->ticket);
}

/* A ship within ms, unless one is due sooner. */
static void
ship_arm(struct ctl *c, uint64_t ms)
{
	timer_arm(c, &c->ship, ship_cb, ms);
}

static void
ship_cb(uv_timer_t *t)
{
	struct ctl *c = t->data;

	/* Waiting for a batch to end: later.  Failed (the disk): with the
	 * next reads (flush), not every second. */
	if (ship_now(c) == 0 && trail_pending(c->parts.trail) &&
	    !vault_locked(c->parts.env.vault))
		ship_arm(c, trail_ship_ms());
}

/* What happens to a peer's change sets once stored (peer.h). */

static void
hook_merge(void *arg)
{
	loader_merge(((struct ctl *)arg)->parts.loader);
}

static void
hook_stored(void *arg, int committed)
{
	struct ctl *c = arg;

	circle_stored(c->parts.circle, committed);
	if (committed) {
		circle_note_dropped(c->parts.circle);
		retention_arm(c, RETENTION_SOON_MS);
	}
}

/*
 * A session is about to offer what this device holds: the read audit's
 * journal is shipped first, so that it is among it (peer.h).  The store
 * hides an own change set from peers until the disk has it (store.h,
 * store_commit_lazy), so the ship's sync is waited for here, on the loop,
 * as for samen sync (CTL_F_SYNCED).
 */
static void
hook_offering(void *arg)
{
	struct ctl *c = arg;
	uint64_t before = c->ticket;

	if (ship_now(c) == 0 && c->ticket != before)
		durable_wait(c->parts.env.durable, c->ticket);
}

/* Sync has ended after peers_close: a lock may be complete. */
static void
hook_closed(void *arg)
{
	struct ctl *c = arg;

	c->peers_closing = 0;
	lock_settle(c);
}

void
ctl_peer_hooks(struct ctl *c, struct peer_hooks *h)
{
	h->arg = c;
	h->merge = hook_merge;
	h->stored = hook_stored;
	h->offering = hook_offering;
	h->closed = hook_closed;
}

struct circle *
ctl_circle(struct ctl *c)
{
	return c->parts.circle;
}

struct loader *
ctl_loader(struct ctl *c)
{
	return c->parts.loader;
}

void
ctl_set_peers(struct ctl *c, struct peers *p)
{
	c->parts.peers = p;
}

void
ctl_collect(void *arg)
{
	ctl_admin_collect(&((struct ctl *)arg)->parts);
}

/* The circles changed: so may who can connect. */
static void
circles_changed(void *arg)
{
	struct ctl *c = arg;

	if (c->parts.peers != NULL)
		peers_refresh(c->parts.peers);
	/* A roster may say we were removed or revoked. */
	depart_check(c->parts.depart);
}

/* Life cycle. */

int
ctl_unlock_now(struct ctl *c, const char *passphrase, size_t len)
{
	int rc = ctl_admin_unlock_now(&c->parts, passphrase, len);

	/* What the journal kept across a restart. */
	if (rc == 0)
		ship_arm(c, 0);
	return rc;
}

int
ctl_busy(const struct ctl *c)
{
	return c->parts.unlocking;
}

struct ctl *
ctl_open(const struct ctl_env *env)
{
	struct ctl *c = xcalloc(1, sizeof(*c));
	struct loader_env le;
	struct writer_env we;
	struct circle_env ce;
	struct trail_env te;

	c->parts.env = *env;
	c->parts.started_ms = clock_wall_ms();
	c->parts.self = c;

	memset(&le, 0, sizeof(le));
	le.loop = env->loop;
	le.store = env->store;
	le.index = env->index;
	le.db_path = env->db_path;
	le.loaded = load_ended;
	le.arg = c;
	c->parts.loader = loader_open(&le);

	memset(&we, 0, sizeof(we));
	we.store = env->store;
	we.vault = env->vault;
	we.durable = env->durable;
	we.touched = loader_touched;
	we.touched_arg = c->parts.loader;
	we.aborted = aborted;
	we.arg = c;
	we.max_skew_ms = env->max_skew_ms;
	c->parts.writer = writer_open(&we);

	memset(&ce, 0, sizeof(ce));
	ce.store = env->store;
	ce.vault = env->vault;
	ce.writer = c->parts.writer;
	ce.loader = c->parts.loader;
	ce.dir = env->dir;
	ce.ckpt = env->ckpt;
	ce.changed = circles_changed;
	ce.arg = c;
	c->parts.circle = circle_open(&ce);

	memset(&te, 0, sizeof(te));
	te.loop = env->loop;
	te.store = env->store;
	te.vault = env->vault;
	te.circle = c->parts.circle;
	te.writer = c->parts.writer;
	te.ckpt = env->ckpt;
	c->parts.trail = trail_open(&te);
	c->parts.depart = depart_open(&c->parts);
	c->parts.revoked = vault_revoked(env->vault);

	uv_timer_init(env->loop, &c->idle);
	c->idle.data = c;
	c->last_use = uv_now(env->loop);
	uv_timer_init(env->loop, &c->retention);
	c->retention.data = c;
	uv_timer_init(env->loop, &c->ship);
	c->ship.data = c;
	/* A ship due does not keep the loop alive. */
	uv_unref((uv_handle_t *)&c->ship);
	/* A pass due does not keep the loop alive. */
	uv_unref((uv_handle_t *)&c->retention);
	retention_arm(c, RETENTION_SOON_MS);
	return c;
}

void
ctl_stop(struct ctl *c)
{
	/* The durable was closed first (main.c, stop). */
	c->parts.env.durable = NULL;
	writer_set_durable(c->parts.writer, NULL);
	/* The journal's events reach the audit chain before samend stops
	 * (kept and shipped after the next unlock otherwise). */
	(void)ship_now(c);
	loader_stop(c->parts.loader);
	for (size_t i = 0; i < c->ndeferred; i++)
		api_reply(c->deferred[i], -ESHUTDOWN, "samend is shutting down",
		    NULL, 0);
	c->ndeferred = 0;
	for (size_t i = 0; i < c->nlockreqs; i++)
		api_reply(c->lockreqs[i], -ESHUTDOWN, "samend is shutting down",
		    NULL, 0);
	c->nlockreqs = 0;
	c->stopped = 1;
	uv_close((uv_handle_t *)&c->idle, NULL);
	depart_stop(c->parts.depart);
	trail_stop(c->parts.trail);
	uv_close((uv_handle_t *)&c->retention, NULL);
	uv_close((uv_handle_t *)&c->ship, NULL);
}

void
ctl_close(struct ctl *c)
{
	if (c == NULL)
		return;
	assert(!loader_busy(c->parts.loader));
	depart_close(c->parts.depart);
	trail_close(c->parts.trail);
	circle_close(c->parts.circle);
	writer_close(c->parts.writer);
	loader_close(c->parts.loader);
	free(c->held);
	free(c->deferred);
	free(c->lockreqs);
	free(c);
}
