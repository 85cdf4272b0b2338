/* intake: what a session receives: queued in order, BATCHes checked on the thread pool, stored in groups, ACKed once on disk. */
#include "intake.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "durable.h"
#include "error.h"
#include "hlc.h"
#include "log.h"
#include "merge.h"
#include "metrics.h"
#include "peer_int.h"
#include "session.h"
#include "util.h"

/*
 * Batches that are ready together are stored in one transaction: at most
 * GROUP_MAX of them, GROUP_CS change sets in all (about 70 ms of the loop
 * at the initial sync's rate, for the control socket's sake).
 */
#define GROUP_MAX 4
#define GROUP_CS 1024

/*
 * Refusals of one group by reason, counted once it is committed: a slot
 * per code of error.h and the last for any other (samen_errname calls
 * them all "ESYSTEM").
 */
#define NWHY (SAMEN_ELAST - SAMEN_EBASE + 1)

static size_t
why_slot(int code)
{
	return code >= SAMEN_EBASE && code < SAMEN_ELAST ?
	    (size_t)(code - SAMEN_EBASE) : NWHY - 1;
}

/* Adds n refusals for code to the counter, by its reason's name. */
static void
count_rejected(struct peers *p, int code, uint32_t n)
{
	const char *reason = samen_errname(code);

	metrics_add(p->env.metrics->rejected, &reason, n);
}

/*
 * The epochs' keys a batch's check reads ahead with, at most: a circle
 * gets an epoch per removal, and its writers use one of them (the
 * preferred); a change set of an epoch beyond these is read by the merge.
 */
#define READ_AHEAD_KEYS 16

/*
 * One change set of a BATCH as the thread pool found it: everything that
 * needs neither the store nor the clock.  rc is the header's verdict
 * (decode, chain, signature), payload_rc the payload's (decode, hash); the
 * loop looks at them in that order, with the clock in between.  op holds
 * its chunks read ahead (decrypted, decoded, their rtags checked) when the
 * pool had the key of its epoch and every chunk read; else it is empty and
 * the merge reads them itself (and finds the same fault, if any).  Its
 * plaintexts are wiped by checked_free.
 */
struct checked {
	struct cs_header h;
	uint8_t id[CS_IDLEN];
	int rc;
	int payload_rc;
	struct cs_opened op;
};

static void
checked_free(struct checked *cs, uint32_t n)
{
	if (cs == NULL)
		return;
	for (uint32_t i = 0; i < n; i++)
		changeset_opened_free(&cs[i].op);
	free(cs);
}

/* The key of epoch among keys[0..n), or NULL. */
static const uint8_t *
key_of(const struct store_epoch_key *keys, size_t n, uint32_t epoch)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i].epoch == epoch)
			return keys[i].key;
	return NULL;
}

/*
 * Pure: runs on the thread pool, touches only k and what e and keys point
 * into.  keys[0..nkeys) are the chain's, one per epoch held.
 */
static void
check_one(struct checked *k, const uint8_t chain[CS_CIRCLELEN],
    const struct sync_cs *e, const struct store_epoch_key *keys,
    size_t nkeys)
{
	const uint8_t *key;
	struct cs_payload pl;

	k->payload_rc = 0;
	memset(&k->op, 0, sizeof(k->op));
	if ((k->rc = changeset_header_decode(&k->h, e->hdr, e->hdr_len)) != 0)
		return;
	if (memcmp(k->h.circle, chain, CS_CIRCLELEN) != 0) {
		k->rc = SAMEN_EPROTO;
		return;
	}
	if ((k->rc = changeset_verify(&k->h)) != 0)
		return;
	if ((k->payload_rc = changeset_payload_decode(&pl, e->payload,
	    e->payload_len)) != 0)
		return;
	k->payload_rc = changeset_payload_check(&k->h, &pl, e->payload_len);
	changeset_id(k->id, e->hdr, e->hdr_len);
	/* A chunk that does not read leaves op empty: the merge reads it. */
	if (k->payload_rc == 0 &&
	    (key = key_of(keys, nkeys, k->h.epoch)) != NULL) {
		if (changeset_open(&k->op, &k->h, &pl, key) == 0)
			merge_opened_vids(&k->op, k->id);
		else
			assert(k->op.chunks == NULL);
	}
	changeset_payload_free(&pl);
}

/*
 * The optimistic pass's store of one change set that check_one() looked
 * at (store_cs_insert_optimistic): 0 if it went in clean, else
 * SAMEN_ERETRY, and nothing is said: anything but a clean insert (refused,
 * a replay, bad, a store error) is the careful pass's to find again and
 * tell.  horizon is the store's (store_hold_horizon): one dated past it
 * is held, which the careful pass tells.
 */
static int
accept_optimistic(struct peers *p, const struct sync_cs *e,
    const struct checked *k, uint64_t horizon)
{
	if (k->rc != 0 || k->payload_rc != 0 || k->h.hlc > horizon)
		return SAMEN_ERETRY;
	if (store_cs_insert_optimistic(p->env.store, &k->h, k->id, e->hdr,
	    e->hdr_len, e->payload, e->payload_len,
	    k->op.chunks != NULL ? &k->op : NULL) != 0)
		return SAMEN_ERETRY;
	return 0;
}

/*
 * What a batch's change sets from the future came to: how many were
 * stored held (docs/sync.md, "A clock ahead"), and how far the furthest
 * was ahead of our clock, for its ACK.
 */
struct held_tally {
	uint32_t n;
	uint64_t ahead_ms;
};

/*
 * A change set dated past horizon (the store's, store_hold_horizon) is
 * stored, so that its author's chain goes on, and held: not merged until
 * our clock has caught up.  Counted for the ACK and for one line in the
 * log per batch, said once the batch is committed (store_batches): a
 * laptop back with a wrong clock may send thousands.
 */
static void
note_held(struct held_tally *t, const struct cs_header *h, uint64_t horizon,
    uint64_t skew_ms)
{
	uint64_t ahead = HLC_MS(h->hlc) - (HLC_MS(horizon) - skew_ms);

	t->n++;
	if (ahead > t->ahead_ms)
		t->ahead_ms = ahead;
}

/*
 * Stores one change set that check_one() looked at, in a savepoint of its
 * own, and logs why if it is refused: 1 if new, 0 if held already, or the
 * negative code it was refused with.  The clock and the chain are checked
 * here, on the loop; horizon is the store's, and one past it new is
 * counted in *held.
 */
static int
accept_careful(struct session *s, const struct sync_cs *e,
    const struct checked *k, uint64_t horizon, struct held_tally *held)
{
	struct peers *p = s->p;
	int rc;

	if (k->rc != 0)
		return k->rc;
	if (k->payload_rc != 0)
		return k->payload_rc;
	/* Merged from the bytes in hand, in store_batches' transaction. */
	if (k->op.chunks != NULL)
		rc = store_cs_insert_opened(p->env.store, &k->h, k->id,
		    e->hdr, e->hdr_len, e->payload, e->payload_len, &k->op);
	else
		rc = store_cs_insert_merged(p->env.store, &k->h, k->id,
		    e->hdr, e->hdr_len, e->payload, e->payload_len);
	if (rc == SAMEN_EEXIST)
		return 0;
	if (rc != 0) {
		char who[DEVID_SHORTLEN + 1], from[DEVID_SHORTLEN + 1];

		peers_short_id(who, k->h.author);
		peers_short_id(from, s->link->device);
		if (rc == SAMEN_EFORK)
			log_warnx("author %s forked its chain at seq %llu "
			    "(via %s): flagged, nothing more accepted from it",
			    who, (unsigned long long)k->h.seq, from);
		else
			log_warnx("change set %s/%llu from %s rejected: %s",
			    who, (unsigned long long)k->h.seq, from,
			    samen_strerror(rc));
		return rc;
	}
	if (k->h.hlc > horizon)
		note_held(held, &k->h, horizon, p->env.max_skew_ms);
	return 1;
}

/*
 * Stores the checked change sets of one batch (cs[i] for m->cs[i]) in the
 * open transaction, counting into *acc and *rej, and each refusal into
 * why by its code (why_slot).  Optimistic, the first
 * one that is not a clean insert stops it with SAMEN_ERETRY: the
 * transaction must go, and its batches be stored again carefully.
 * Careful, a store failure stops it with SAMEN_ESTORE (the transaction
 * must go).  Else 0.  What it stored held is counted in *held.
 */
static int
batch_store(struct session *s, const struct sync_msg *m,
    const struct checked *cs, int optimistic, uint64_t horizon,
    uint32_t *acc, uint32_t *rej, uint32_t why[NWHY],
    struct held_tally *held)
{
	for (uint32_t i = 0; i < m->ncs; i++) {
		int rc;

		if (optimistic) {
			if ((rc = accept_optimistic(s->p, &m->cs[i], &cs[i],
			    horizon)) != 0)
				return rc;
			(*acc)++;
			continue;
		}
		rc = accept_careful(s, &m->cs[i], &cs[i], horizon, held);
		if (rc == 1)
			(*acc)++;
		else if (rc == SAMEN_ESTORE)
			return rc;
		else if (rc < 0) {
			(*rej)++;
			why[why_slot(rc)]++;
		}
	}
	return 0;
}

/*
 * durable_after's callback for s's oldest ACK: its commit is on disk
 * (status 0), so the sender may hear of it; or a sync failed, and the
 * session ends with the storage error.
 */
static void
ack_ready(void *arg, int status)
{
	struct session *s = arg;
	struct ack a;
	uint8_t d[32];
	struct wbuf w;

	assert(s->nacks > 0);
	a = s->acks[s->ackfirst++];
	if (--s->nacks == 0)
		s->ackfirst = 0;
	if (s->state != SESSION_RUNNING)
		return;		/* dropped: nobody to tell */
	if (status != 0) {
		session_error(s, SAMEN_ESTORE, "storage error");
		return;
	}
	session_digest(s->p, d);
	wire_init(&w);
	sync_put_ack(&w, s->id, a.chain, a.accepted, a.rejected, d, a.held,
	    a.ahead_ms);
	if (session_send(s, &w) != 0)
		session_end(s, 0, "could not send");
	wire_free(&w);
	if (s->nacks == 0 && s->qhead == NULL)
		session_check_complete(s);
}

static void
ack_push(struct session *s, const uint8_t chain[CS_CIRCLELEN],
    uint32_t accepted, uint32_t rejected, const struct held_tally *held)
{
	struct ack *a;

	if (s->ackfirst + s->nacks == s->capacks) {
		if (s->ackfirst > 0) {
			memmove(s->acks, s->acks + s->ackfirst,
			    s->nacks * sizeof(*s->acks));
			s->ackfirst = 0;
		} else {
			s->capacks = s->capacks ? s->capacks * 2 : 8;
			s->acks = xreallocarray(s->acks, s->capacks,
			    sizeof(*s->acks));
		}
	}
	a = &s->acks[s->ackfirst + s->nacks++];
	memcpy(a->chain, chain, CS_CIRCLELEN);
	a->accepted = accepted;
	a->rejected = rejected;
	a->held = held->n;
	a->ahead_ms = held->ahead_ms;
}

void
intake_forget_acks(struct session *s)
{
	if (s->nacks == 0)
		return;
	durable_forget(s->p->env.durable, s);
	s->ackfirst = s->nacks = 0;
}

/*
 * Stores n batches of s (ms[i], checked as css[i]; each for a chain of s)
 * in one transaction: one commit, one sync and one index refresh for all
 * of them.  Each batch's ACK goes out once the disk has that commit
 * (durable_after), in order, so a sender never hears of a change set that
 * a crash could still lose.  A store failure rolls all n back and ends the
 * session (none was ACKed).
 */
static void
store_batches(struct session *s, const struct sync_msg *const *ms,
    const struct checked *const *css, size_t n)
{
	struct peers *p = s->p;
	uint32_t acc[GROUP_MAX], rej[GROUP_MAX], accepted = 0, why[NWHY];
	struct held_tally held[GROUP_MAX];
	uint64_t ticket = 0, horizon;
	int lazy = p->env.durable != NULL, optimistic = 1;
	size_t i;
	int rc;

	assert(n >= 1 && n <= GROUP_MAX);
again:
	rc = lazy ? store_begin_lazy(p->env.store) :
	    store_begin(p->env.store);
	if (rc != 0) {
		session_error(s, rc, "storage error");
		return;
	}
	/* The wall clock, for the clock-skew check: once per transaction. */
	horizon = store_hold_horizon(p->env.store);
	accepted = 0;
	memset(why, 0, sizeof(why));
	memset(held, 0, sizeof(held));
	for (i = 0; i < n; i++) {
		acc[i] = rej[i] = 0;
		rc = batch_store(s, ms[i], css[i], optimistic, horizon,
		    &acc[i], &rej[i], why, &held[i]);
		accepted += acc[i];
		if (rc != 0)
			break;
	}
	/* Not all clean: none of it stays; the careful pass sorts it out
	 * (docs/sync.md, "Receiving"). */
	if (rc == SAMEN_ERETRY) {
		store_rollback(p->env.store);
		optimistic = 0;
		goto again;
	}
	if (rc == 0 && accepted > 0)
		p->env.hooks.merge(p->env.hooks.arg);
	if (rc == 0) {
		/* The session's, for the row session_note writes; the
		 * session ends if the commit fails. */
		for (i = 0; i < n; i++) {
			s->received += acc[i];
			s->rejected += rej[i];
		}
		/* In the transaction: no synced commit of its own. */
		session_note(s, 1);
		rc = lazy ? store_commit_lazy(p->env.store, &ticket) :
		    store_commit(p->env.store);
	}
	if (rc != 0) {
		store_rollback(p->env.store);
		if (accepted > 0)
			p->env.hooks.stored(p->env.hooks.arg, 0);
		session_error(s, rc, "storage error");
		return;
	}
	if (lazy)
		durable_request(p->env.durable, ticket);
	metrics_add(p->env.metrics->cs_received, NULL, accepted);
	for (i = 0; i < NWHY; i++)
		if (why[i] > 0)
			count_rejected(p, SAMEN_EBASE + (int)i, why[i]);
	for (i = 0; i < n; i++) {
		char from[DEVID_SHORTLEN + 1], span[32];

		peers_short_id(from, s->link->device);
		if (held[i].n > 0) {
			peers_held_changed(p);
			hlc_span(span, held[i].ahead_ms);
			log_warnx("clock skew: %u of %u change sets from %s "
			    "dated up to %s ahead of our clock: stored, held "
			    "back until then", held[i].n, ms[i]->ncs, from,
			    span);
		}
		p->rejected += rej[i];	/* counted once committed */
		if (rej[i] > 0)
			log_warnx("%u of %u change sets from %s rejected",
			    rej[i], ms[i]->ncs, from);
		s->link->held_from += held[i].n;
		ack_push(s, ms[i]->chain, acc[i], rej[i], &held[i]);
	}
	/* Received change sets may travel on before they are on disk: the
	 * device that wrote them still has them. */
	if (accepted > 0) {
		peers_gossip(p, s->link);
		p->env.hooks.stored(p->env.hooks.arg, 1);
	}
	/* One entry per ACK; without durable (every commit synced) each
	 * runs at once, and may end the session. */
	for (i = 0; i < n && s->state == SESSION_RUNNING; i++)
		durable_after(p->env.durable, ticket, ack_ready, s);
}

void
intake_batch(struct session *s, const struct sync_msg *m,
    const struct checked *cs)
{
	struct peers *p = s->p;
	struct checked *here = NULL;
	const struct checked *k;

	if (!session_has_chain(s, m->chain)) {
		p->rejected += m->ncs;
		s->rejected += m->ncs;
		count_rejected(p, SAMEN_EPROTO, m->ncs);
		session_error(s, SAMEN_EPROTO, "batch for a chain not shared");
		return;
	}
	if (cs == NULL) {
		here = xcalloc(m->ncs, sizeof(*here));
		for (uint32_t i = 0; i < m->ncs; i++)
			check_one(&here[i], m->chain, &m->cs[i], NULL, 0);
		cs = here;
	}
	k = cs;
	store_batches(s, &m, &k, 1);
	checked_free(here, m->ncs);
}

/*
 * A message of a session waiting its turn.  A BATCH's change sets are
 * checked on libuv's thread pool (busy until its after-work callback runs);
 * everything a session receives is then handled on the loop in the order
 * it arrived, so a batch is stored only after every batch before it (chains
 * are hash-linked) and an ACK, DONE or ERROR waits behind the batches sent
 * before it.  It owns a copy of the message: m and the pool point into buf.
 * s is NULL once the session is gone; the after-work callback, which the
 * lane always calls (with UV_ECANCELED if pool_cancel took the work back
 * before it started), then frees it.  The pool touches only buf, m and cs.
 */
struct pending {
	struct pool_job job;	/* on p's lane of checks */
	struct peers *p;
	struct session *s;
	uint8_t *buf;
	size_t len;
	struct sync_msg m;
	struct checked *cs;	/* BATCH checked by the pool: m.ncs */
	/*
	 * The chain's keys, one per epoch held (a circle re-keyed at each
	 * removal has several), for the pool to read the chunks ahead
	 * (sodium_malloc'd; NULL if the store had none): from
	 * intake_receive() until the pool is done with them.
	 */
	struct store_epoch_key *keys;
	size_t nkeys;
	int busy;
	struct pending *next;
};

static void
pending_key_drop(struct pending *q)
{
	if (q->keys == NULL)
		return;
	sodium_memzero(q->keys, READ_AHEAD_KEYS * sizeof(*q->keys));
	sodium_free(q->keys);
	q->keys = NULL;
	q->nkeys = 0;
}

static void
pending_free(struct pending *q)
{
	pending_key_drop(q);
	checked_free(q->cs, q->m.ncs);
	sync_msg_free(&q->m);
	free(q->buf);
	free(q);
}

static void
check_work_cb(uv_work_t *w)
{
	struct pending *q = w->data;

	for (uint32_t i = 0; i < q->m.ncs; i++)
		check_one(&q->cs[i], q->m.chain, &q->m.cs[i], q->keys,
		    q->nkeys);
}

static void drain_cb(uv_idle_t *h);

/*
 * q->keys: the keys of q's chain, if the store has them (unlocked, a
 * member: a relay has none), so that the pool reads the chunks beside the
 * checks and the loop only merges (docs/design.md, "Reading ahead").  A
 * change set of an epoch without one is read by the merge, as before.
 */
static void
read_ahead_key(struct peers *p, struct pending *q)
{
	if ((q->keys = sodium_malloc(READ_AHEAD_KEYS *
	    sizeof(*q->keys))) == NULL)
		return;
	if (store_chain_keys(p->env.store, q->m.chain, q->keys,
	    READ_AHEAD_KEYS, &q->nkeys) != 0 || q->nkeys == 0)
		pending_key_drop(q);
}

static void
check_done_cb(uv_work_t *w, int status)
{
	struct pending *q = w->data;
	struct peers *p = q->p;

	(void)status;	/* cancelled: only once the session is gone */
	q->busy = 0;
	pending_key_drop(q);
	if (q->s == NULL)
		pending_free(q);
	else if (q->s->qhead == q)
		uv_idle_start(&p->drainer, drain_cb);
	peers_free_if_done(p);
}

void
intake_abandon(struct session *s)
{
	struct pending *q, *next;

	for (q = s->qhead; q != NULL; q = next) {
		next = q->next;
		if (q->busy) {
			q->s = NULL;
			pool_cancel(&q->job);
		} else
			pending_free(q);
	}
	s->qhead = s->qtail = NULL;
	s->nqueued = 0;
	intake_forget_acks(s);
}

/*
 * More than a sender within its credit can have waiting (WINDOW batches
 * per chain, the ACKs of ours, a VECTOR and a DONE per chain): it ignores
 * flow control, and we would hold its bytes without bound.
 */
static size_t
queue_cap(const struct session *s)
{
	return (2 * (size_t)WINDOW + 2) * (s->nchains + 1);
}

void
intake_receive(struct session *s, const struct sync_msg *m,
    const uint8_t *data, size_t len)
{
	struct peers *p = s->p;
	struct pending *q;

	s->last_ms = uv_now(p->env.loop);
	if (m->type != SYNC_BATCH && s->qhead == NULL) {
		session_dispatch(s, m, len, NULL);
		return;
	}
	if (s->nqueued >= queue_cap(s)) {
		p->dropped++;
		session_error(s, SAMEN_EPROTO, "more batches than credit allows");
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->p = p;
	q->s = s;
	q->buf = xmalloc(len);
	memcpy(q->buf, data, len);
	q->len = len;
	/* m points into the caller's bytes: decode our copy (the same bytes,
	 * so it cannot fail; if it ever did, the message is dropped, never
	 * trusted). */
	if (sync_decode(&q->m, q->buf, len) != 0) {
		free(q->buf);
		free(q);
		p->dropped++;
		session_error(s, SAMEN_EPROTO, "malformed message");
		return;
	}
	q->job.work.data = q;
	if (s->qtail != NULL)
		s->qtail->next = q;
	else
		s->qhead = q;
	s->qtail = q;
	s->nqueued++;
	/*
	 * A batch for a chain not shared is refused whole, unchecked.  The
	 * others are checked on the pool's lane, a few at a time in the order
	 * received, not all at once: the loop stores them in that order, and
	 * waits for the first (docs/design.md, "Checked in order").
	 */
	if (q->m.type == SYNC_BATCH && session_has_chain(s, q->m.chain)) {
		q->cs = xcalloc(q->m.ncs, sizeof(*q->cs));
		read_ahead_key(p, q);
		q->busy = 1;
		pool_submit(&p->checks, &q->job, check_work_cb, check_done_cb);
	}
	if (!s->qhead->busy)
		uv_idle_start(&p->drainer, drain_cb);
}

/* 1 if q is a BATCH the pool has checked, for a chain of s. */
static int
groupable(const struct session *s, const struct pending *q)
{
	return !q->busy && q->m.type == SYNC_BATCH && q->cs != NULL &&
	    session_has_chain(s, q->m.chain);
}

/*
 * Takes the groupable BATCHes at the head of s's queue (the first one at
 * least, within GROUP_MAX and GROUP_CS) off it and stores them together.
 */
static void
drain_group(struct session *s)
{
	struct pending *g[GROUP_MAX], *q;
	const struct sync_msg *ms[GROUP_MAX];
	const struct checked *css[GROUP_MAX];
	size_t n = 0, ncs = 0;

	while ((q = s->qhead) != NULL && n < GROUP_MAX && groupable(s, q) &&
	    (n == 0 || ncs + q->m.ncs <= GROUP_CS)) {
		s->qhead = q->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		s->nqueued--;
		s->last_ms = uv_now(s->p->env.loop);
		s->bytes_received += q->len;
		metrics_add(s->p->env.metrics->bytes_received, NULL,
		    (double)q->len);
		ncs += q->m.ncs;
		ms[n] = &q->m;
		css[n] = q->cs;
		g[n++] = q;
	}
	store_batches(s, ms, css, n);
	for (size_t i = 0; i < n; i++)
		pending_free(g[i]);
}

/*
 * Handles what is ready at the head of s's queue, in order: at most one
 * BATCH, or one group of them (drain_group), per call, so that the control
 * socket and the other sessions get their turn between them.  A predicate:
 * 1 if more is ready, else 0.
 */
static int
drain(struct session *s)
{
	struct pending *q;
	int stored = 0, handled = 0;

	while ((q = s->qhead) != NULL && !q->busy) {
		if (q->m.type == SYNC_BATCH && stored)
			return 1;
		handled = 1;
		if (s->state == SESSION_RUNNING && groupable(s, q)) {
			drain_group(s);
			stored = 1;
			continue;
		}
		s->qhead = q->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		s->nqueued--;
		/* An ended session takes nothing more in. */
		if (s->state == SESSION_RUNNING)
			session_dispatch(s, &q->m, q->len, q->cs);
		stored |= q->m.type == SYNC_BATCH;
		pending_free(q);
	}
	/* What waited may have been all the session waited for.  (Not for
	 * a session whose queue was empty anyway: it may not even have had
	 * the HELLO reply yet, and no chains means "complete".) */
	if (handled && s->qhead == NULL)
		session_check_complete(s);
	return 0;
}

static void
drain_cb(uv_idle_t *h)
{
	struct peers *p = h->data;
	int more = 0;

	for (size_t i = 0; i < p->nlinks; i++)
		if (p->links[i]->out != NULL)
			more |= drain(p->links[i]->out);
	for (struct session *s = p->inbound; s != NULL; s = s->next)
		more |= drain(s);
	if (!more)
		uv_idle_stop(h);
}
