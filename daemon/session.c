/* session: the sync protocol of one session with a peer: HELLO, VECTOR, BATCH, ACK, DONE, credit (docs/sync.md). */
#include "session.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "circle.h"
#include "durable.h"
#include "error.h"
#include "intake.h"
#include "link.h"
#include "hlc.h"
#include "log.h"
#include "metrics.h"
#include "peer_int.h"
#include "util.h"
#include "zmsg.h"
#include "zsock.h"

/*
 * Why a session ends when a newer one of ours replaces it (samen sync
 * while one runs): not a failure, so not counted or logged as one.
 * Compared by address.
 */
const char session_superseded[] = "superseded";

#define BATCH_BYTES (1u << 20)		/* a batch closes past this size */
#define RETRY_MS 10000			/* after a failed session */
/* A session that received this much gives freed memory back at its end. */
#define TRIM_AFTER (16u << 20)
#define MAX_JOIN 8			/* unknown circles taken per HELLO */

struct range {
	uint8_t author[32];
	uint64_t next;		/* first seq still to send */
	uint64_t last;
};

/*
 * How a chain is served to the session's peer (docs/sync.md, "Quarantine
 * travels to admins" and "Exile sessions").
 */
enum chain_mode {
	/* Everything held: a members chain, or a data chain to an admin or
	 * relay of its circle. */
	CHAIN_FULL,
	/* A data chain to anyone else: each author stops at its cut. */
	CHAIN_CAPPED,
	/* An exile's members chain: the ops naming it and their past. */
	CHAIN_EXILE_MEMBERS,
	/* An exile's data chain: nothing sent, whatever it sends taken. */
	CHAIN_EXILE_DATA,
};

struct chain {
	uint8_t id[CS_CIRCLELEN];
	enum chain_mode mode;
	struct roster_dep *cap;	/* CHAIN_EXILE_MEMBERS: per author */
	size_t ncap;
	/* Sending: planned once we know the other side's vector. */
	int planned;
	struct range *ranges;
	size_t nranges, cur;
	int inflight;
	int done_sent;
	uint64_t sent;
	/* Receiving (initiator): we sent our vector and wait for DONE. */
	int asked;
	int their_done;
};

static struct chain *
chain_find(const struct session *s, const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < s->nchains; i++)
		if (memcmp(s->chains[i].id, id, CS_CIRCLELEN) == 0)
			return &s->chains[i];
	return NULL;
}

int
session_has_chain(const struct session *s, const uint8_t chain[CS_CIRCLELEN])
{
	return chain_find(s, chain) != NULL;
}

static struct chain *
chain_add(struct session *s, const uint8_t id[CS_CIRCLELEN])
{
	struct chain *c;

	if ((c = chain_find(s, id)) != NULL)
		return c;
	s->chains = xreallocarray(s->chains, s->nchains + 1,
	    sizeof(*s->chains));
	c = &s->chains[s->nchains++];
	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, CS_CIRCLELEN);
	return c;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	intake_abandon(s);
	for (size_t i = 0; i < s->nchains; i++) {
		free(s->chains[i].ranges);
		free(s->chains[i].cap);
	}
	free(s->chains);
	free(s->acks);
	free(s->error);
	free(s);
}

struct session *
session_new(struct peers *p, struct link *l, int initiator, uint64_t id)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->p = p;
	s->link = l;
	s->initiator = initiator;
	s->id = id;
	s->state = SESSION_RUNNING;
	s->last_ms = uv_now(p->env.loop);
	return s;
}

void
session_digest(struct peers *p, uint8_t out[32])
{
	if (store_shared_digest(p->env.store, out) != 0)
		memset(out, 0, 32);
}

int
session_send(struct session *s, const struct wbuf *w)
{
	struct peers *p = s->p;
	void *sock;

	if (s->initiator) {
		if (s->link->zs == NULL)
			return SAMEN_EINVAL;
		sock = zsock_socket(s->link->zs);
		if (zmq_send(sock, wire_data(w), wire_len(w),
		    ZMQ_DONTWAIT) < 0)
			return -errno;
	} else {
		if (p->router == NULL)
			return SAMEN_EINVAL;
		sock = zsock_socket(p->router);
		if (zmq_send(sock, s->rid, s->rid_len,
		    ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
		    zmq_send(sock, wire_data(w), wire_len(w),
		    ZMQ_DONTWAIT) < 0)
			return -errno;
	}
	s->bytes_sent += wire_len(w);
	metrics_add(p->env.metrics->bytes_sent, NULL, (double)wire_len(w));
	return 0;
}

/* 1 if s is about circles its peer is exiled from, and nothing else. */
static int
exile_only(const struct session *s)
{
	for (size_t i = 0; i < s->nchains; i++)
		if (s->chains[i].mode == CHAIN_FULL ||
		    s->chains[i].mode == CHAIN_CAPPED)
			return 0;
	return s->nchains > 0;
}

int
session_busy(const struct session *s, const uint8_t *base)
{
	uint8_t mc[CS_CIRCLELEN];

	if (s->state != SESSION_RUNNING)
		return 0;
	if (base != NULL) {
		sync_members_circle(mc, base);
		if (chain_find(s, base) == NULL && chain_find(s, mc) == NULL)
			return 0;
	}
	if (s->qhead != NULL || s->nacks > 0)
		return 1;
	for (size_t i = 0; i < s->nchains; i++) {
		const struct chain *c = &s->chains[i];

		if (c->planned && (c->cur < c->nranges || c->inflight > 0 ||
		    !c->done_sent))
			return 1;
		if ((c->asked || c->planned) && !c->their_done)
			return 1;
	}
	return 0;
}

void
session_end(struct session *s, int ok, const char *why)
{
	struct peers *p = s->p;
	struct link *l = s->link;
	char who[DEVID_SHORTLEN + 1];
	const char *result;
	int rc;

	if (s->state != SESSION_RUNNING)
		return;
	s->state = ok ? SESSION_DONE : SESSION_FAILED;
	/* ACKs still waiting for the disk: nobody to tell any more. */
	intake_forget_acks(s);
	/*
	 * SQLite's cache is full of the pages a large sync wrote, and the
	 * pool read its chunks ahead: its threads' arenas hold the freed
	 * plaintexts, which glibc keeps resident until asked.
	 */
	if (s->bytes_received >= TRIM_AFTER) {
		store_release_memory(p->env.store);
#ifdef __GLIBC__
		malloc_trim(0);
#endif
	}
	if (why != NULL) {
		free(s->error);
		s->error = xstrdup(why);
	}
	peers_short_id(who, l->device);
	if (!s->initiator)
		return;
	/*
	 * Ours only: a peer's session has no end here but a drop.  Once a
	 * session, so the label's lookup (two series) costs nothing.
	 */
	result = ok ? "done" : why == session_superseded ? "superseded" :
	    "failed";
	metrics_add(p->env.metrics->sessions, &result, 1);
	if (why == session_superseded)
		log_debug("sync with %s: superseded by a newer session", who);
	else if (ok) {
		log_info("sync with %s: %s, %llu sent, %llu received, "
		    "%llu rejected", who, s->in_sync ? "in sync" : "done",
		    (unsigned long long)s->sent,
		    (unsigned long long)s->received,
		    (unsigned long long)s->rejected);
	} else
		log_warnx("sync with %s failed: %s", who, why ? why : "?");
	if (ok)
		l->last_sync_ms = p->wall_ms();
	if (l->is_peer && (rc = store_peer_note(p->env.store, l->device,
	    l->last_sync_ms, l->digest, s->sent, s->received,
	    s->rejected)) != 0 && rc != SAMEN_ENOTFOUND)
		log_warnx("could not record the sync with %s: %s", who,
		    samen_strerror(rc));
	/* A deadline: the loop's clock, which no one sets back. */
	l->next_sync_ms = uv_now(p->env.loop) +
	    (ok && p->env.sync_interval > 0 ?
	    (uint64_t)p->env.sync_interval * 1000 : RETRY_MS);
	if (ok && p->env.sync_interval == 0)
		l->next_sync_ms = UINT64_MAX;
	if (ok && l->again && p->env.sync_interval > 0) {
		l->next_sync_ms = 0;
		peers_tick_soon(p);
	}
	l->again = 0;
	/* An exile was handed what concerns it: nothing more until that
	 * changes (peers_refresh). */
	if (ok && exile_only(s))
		l->next_sync_ms = UINT64_MAX;
}

/*
 * The responder never knows when a session is over: it records what moved
 * as it goes, so that "peer ls" on a hub shows its inbound peers too.
 * Inside intake's transaction, or alone (after an ACK) in a lazy one of
 * its own: counters are not worth a sync on the loop each.
 */
void
session_note(struct session *s, int in_txn)
{
	struct peers *p = s->p;
	struct link *l = s->link;
	uint64_t ticket;
	int rc, crc;

	if (s->initiator || !l->is_peer || (s->sent == s->noted_sent &&
	    s->received == s->noted_received &&
	    s->rejected == s->noted_rejected))
		return;
	l->last_sync_ms = p->wall_ms();
	if (!in_txn && p->env.durable != NULL &&
	    (rc = store_begin_lazy(p->env.store)) != 0)
		goto out;
	rc = store_peer_note(p->env.store, l->device, l->last_sync_ms,
	    l->digest, s->sent - s->noted_sent,
	    s->received - s->noted_received,
	    s->rejected - s->noted_rejected);
	if (!in_txn && p->env.durable != NULL) {
		if (rc != 0 && rc != SAMEN_ENOTFOUND)
			store_rollback(p->env.store);
		else if ((crc = store_commit_lazy(p->env.store, &ticket)) != 0) {
			store_rollback(p->env.store);
			rc = crc;
		} else
			durable_request(p->env.durable, ticket);
	}
out:
	if (rc != 0 && rc != SAMEN_ENOTFOUND)
		log_warnx("could not record the sync with %.12s: %s", l->devid,
		    samen_strerror(rc));
	s->noted_sent = s->sent;
	s->noted_received = s->received;
	s->noted_rejected = s->rejected;
}

void
session_error(struct session *s, int code, const char *why)
{
	struct wbuf w;

	wire_init(&w);
	sync_put_error(&w, s->id, code, why);
	(void)session_send(s, &w);
	wire_free(&w);
	session_end(s, 0, why);
}

void
session_check_complete(struct session *s)
{
	if (!s->initiator || s->state != SESSION_RUNNING)
		return;
	if (s->qhead != NULL)
		return;		/* batches received and not stored yet */
	if (s->nacks > 0)
		return;		/* stored, not on disk yet */
	for (size_t i = 0; i < s->nchains; i++) {
		struct chain *c = &s->chains[i];

		if (c->asked && (!c->their_done || !c->planned))
			return;
		if (c->planned && (c->cur < c->nranges || c->inflight > 0))
			return;
	}
	session_end(s, 1, NULL);
}

/* Sending change sets. */

struct batch_fill {
	struct wbuf entries;
	uint32_t count;
	size_t bytes;
	struct range *r;
};

static int
fill_cb(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct batch_fill *f = arg;

	sync_put_batch_cs(&f->entries, hdr, hdr_len, payload, payload_len);
	f->count++;
	f->bytes += hdr_len + payload_len;
	f->r->next = seq + 1;
	return f->bytes >= BATCH_BYTES ? 1 : 0;
}

static void
pump(struct session *s, struct chain *c)
{
	struct peers *p = s->p;
	struct batch_fill f;
	struct wbuf w;
	int rc;

	while (s->state == SESSION_RUNNING && c->inflight < WINDOW &&
	    c->cur < c->nranges) {
		wire_init(&f.entries);
		f.count = 0;
		f.bytes = 0;
		while (c->cur < c->nranges && f.count < SYNC_MAX_BATCH &&
		    f.bytes < BATCH_BYTES) {
			struct range *r = &c->ranges[c->cur];
			uint64_t before = r->next, want;

			if (r->next > r->last) {
				c->cur++;
				continue;
			}
			f.r = r;
			/* What is quarantined past a cut goes to admins and
			 * relays only; our own, if we were removed, to whoever
			 * told us. */
			want = SYNC_MAX_BATCH - f.count;
			if (want > r->last - r->next + 1)
				want = r->last - r->next + 1;	/* a cap */
			rc = store_cs_range(p->env.store, c->id, r->author,
			    r->next - 1, want, c->mode == CHAIN_CAPPED &&
			    memcmp(r->author, p->device, 32) != 0, fill_cb, &f);
			if (rc < 0) {
				wire_free(&f.entries);
				session_error(s, rc, "storage error");
				return;
			}
			if (r->next == before)	/* gone: nothing to send */
				c->cur++;
		}
		if (f.count == 0) {
			wire_free(&f.entries);
			break;
		}
		wire_init(&w);
		sync_put_batch_start(&w, s->id, c->id, f.count);
		wire_put_raw(&w, wire_data(&f.entries), wire_len(&f.entries));
		wire_free(&f.entries);
		rc = session_send(s, &w);
		wire_free(&w);
		if (rc != 0) {
			session_end(s, 0, "could not send");
			return;
		}
		c->inflight++;
		c->sent += f.count;
		s->sent += f.count;
		metrics_add(p->env.metrics->cs_sent, NULL, f.count);
	}
	if (s->state == SESSION_RUNNING && c->planned &&
	    c->cur >= c->nranges && !c->done_sent) {
		uint8_t d[32];

		session_digest(p, d);
		wire_init(&w);
		sync_put_done(&w, s->id, c->id, c->sent, d);
		rc = session_send(s, &w);
		wire_free(&w);
		c->done_sent = 1;
		if (rc != 0)
			session_end(s, 0, "could not send");
	}
	session_check_complete(s);
}

/*
 * The heads of an exile's members chain: each author's stops at its cap
 * (sorted by author, as the heads), an author without one is left out.
 */
static int
cap_heads(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const struct roster_dep *cap, size_t ncap, struct sync_head *h,
    size_t *n)
{
	size_t i, k, j = 0;
	int rc;

	for (i = k = 0; i < *n; i++) {
		int d = 1;

		while (j < ncap &&
		    (d = memcmp(cap[j].author, h[i].author, 32)) < 0)
			j++;
		if (j == ncap || d != 0 || cap[j].seq == 0)
			continue;
		if (h[i].seq > cap[j].seq) {
			h[i].seq = cap[j].seq;
			if ((rc = store_cs_id_at(st, chain, h[i].author,
			    h[i].seq, h[i].head)) != 0)
				return rc;
		}
		h[k++] = h[i];
	}
	*n = k;
	return 0;
}

/*
 * c's vector as it is offered to s's peer (its mode): what the digest in
 * HELLO covers and what we plan from.  The VECTOR we send is always what
 * we hold (send_vector): the peer then sends us nothing we have.
 */
static int
offered(struct session *s, const struct chain *c, struct sync_head **h,
    size_t *n)
{
	struct store *st = s->p->env.store;
	int rc;

	switch (c->mode) {
	case CHAIN_CAPPED:
		return store_vector_capped(st, c->id, s->p->device, h, n);
	case CHAIN_EXILE_MEMBERS:
		if ((rc = store_vector(st, c->id, h, n)) == 0 &&
		    (rc = cap_heads(st, c->id, c->cap, c->ncap, *h, n)) != 0) {
			free(*h);
			*h = NULL;
			*n = 0;
		}
		return rc;
	default:
		return store_vector(st, c->id, h, n);
	}
}

/* What the other side lacks: our vector against theirs. */
static int
plan(struct session *s, struct chain *c, const struct sync_head *theirs,
    size_t ntheirs)
{
	struct peers *p = s->p;
	struct sync_head *mine = NULL;
	size_t nmine = 0, j = 0;
	int rc;

	/* An exile is sent nothing of the circle's data. */
	if (c->mode != CHAIN_EXILE_DATA &&
	    (rc = offered(s, c, &mine, &nmine)) != 0)
		return rc;
	log_debug("plan: %zu authors here, %zu there", nmine, ntheirs);
	free(c->ranges);
	c->ranges = NULL;
	c->nranges = c->cur = 0;
	for (size_t i = 0; i < nmine; i++) {
		uint64_t have = 0;
		int cmp = 1;

		/* Both vectors are sorted by author. */
		while (j < ntheirs &&
		    (cmp = memcmp(theirs[j].author, mine[i].author, 32)) < 0)
			j++;
		if (j < ntheirs && cmp == 0) {
			uint8_t id[CS_IDLEN];

			have = theirs[j].seq;
			if (have >= mine[i].seq)
				continue;
			/* Their head must be in our chain, else one of us
			 * holds a fork: send nothing of that author. */
			if (store_cs_id_at(p->env.store, c->id,
			    mine[i].author, have, id) != 0 ||
			    memcmp(id, theirs[j].head, CS_IDLEN) != 0) {
				char who[DEVID_SHORTLEN + 1];

				peers_short_id(who, mine[i].author);
				log_warnx("author %s: the peer's chain differs "
				    "from ours at seq %llu; not sending it",
				    who, (unsigned long long)have);
				continue;
			}
		}
		c->ranges = xreallocarray(c->ranges, c->nranges + 1,
		    sizeof(*c->ranges));
		memcpy(c->ranges[c->nranges].author, mine[i].author, 32);
		c->ranges[c->nranges].next = have + 1;
		c->ranges[c->nranges].last = mine[i].seq;
		c->nranges++;
		log_debug("plan: send seq %llu..%llu", (unsigned long long)have + 1,
		    (unsigned long long)mine[i].seq);
	}
	free(mine);
	c->planned = 1;
	return 0;
}

static int
send_vector(struct session *s, const uint8_t chain[CS_CIRCLELEN])
{
	struct sync_head *h = NULL;
	size_t n = 0;
	struct wbuf w;
	int rc;

	if ((rc = store_vector(s->p->env.store, chain, &h, &n)) != 0)
		return rc;
	if (n > SYNC_MAX_AUTHORS)
		n = SYNC_MAX_AUTHORS;	/* the rest next time */
	wire_init(&w);
	sync_put_vector(&w, s->id, chain, h, n);
	rc = session_send(s, &w);
	wire_free(&w);
	free(h);
	return rc;
}

/* The digest of c as offered to s's peer (offered). */
static int
chain_digest(struct session *s, const struct chain *c, uint8_t out[32])
{
	struct sync_head *h = NULL;
	size_t n = 0;
	int rc;

	if ((rc = offered(s, c, &h, &n)) != 0)
		return rc;
	sync_vector_digest(out, c->id, h, n);
	free(h);
	return 0;
}

/*
 * 1 if s's peer is a current admin or relay of circle base: it is sent
 * what is quarantined there too (it carries it to the admins).
 */
static int
carries_quarantine(const struct session *s, const uint8_t base[CS_CIRCLELEN])
{
	enum roster_state st;
	enum roster_role r = circle_role(s->p->env.circle, base,
	    s->link->device, &st);

	return st == ROSTER_CURRENT && (r == ROSTER_ADMIN || r == ROSTER_RELAY);
}

/*
 * Adds circle base's three chains to s (or sets them again), served to
 * its peer as a member (exile 0) or as an exile (1).  The audit chain
 * goes whole to every member and relay (no cut: a removed device's reads
 * before its removal are still its reads); an exile is sent none of it,
 * and what it sends of it is taken (its reads reach the admins).
 */
static void
chains_add(struct session *s, const uint8_t base[CS_CIRCLELEN], int exile)
{
	uint8_t mc[CS_CIRCLELEN], ac[CS_CIRCLELEN];
	struct chain *m, *d;

	sync_members_circle(mc, base);
	sync_audit_circle(ac, base);
	(void)chain_add(s, mc);
	(void)chain_add(s, base);
	(void)chain_add(s, ac);
	chain_find(s, ac)->mode = exile ? CHAIN_EXILE_DATA : CHAIN_FULL;
	m = chain_find(s, mc);
	d = chain_find(s, base);
	free(m->cap);
	m->cap = NULL;
	m->ncap = 0;
	if (exile) {
		m->mode = CHAIN_EXILE_MEMBERS;
		m->ncap = circle_exile_cap(s->p->env.circle, base,
		    s->link->device, &m->cap);
		d->mode = CHAIN_EXILE_DATA;
	} else {
		m->mode = CHAIN_FULL;
		d->mode = carries_quarantine(s, base) ? CHAIN_FULL :
		    CHAIN_CAPPED;
	}
}

/* base's entry of a HELLO to s's peer, from its chains (chains_add). */
static int
hello_entry(struct session *s, const uint8_t base[CS_CIRCLELEN],
    struct sync_circle *e)
{
	uint8_t mc[CS_CIRCLELEN], ac[CS_CIRCLELEN];
	int rc;

	sync_members_circle(mc, base);
	sync_audit_circle(ac, base);
	memcpy(e->circle, base, CS_CIRCLELEN);
	if ((rc = chain_digest(s, chain_find(s, base), e->data)) != 0 ||
	    (rc = chain_digest(s, chain_find(s, mc), e->members)) != 0)
		return rc;
	return chain_digest(s, chain_find(s, ac), e->audit);
}

/*
 * The circles of a session with s's peer: those it shares with us as a
 * member (none if it is revoked: it is never a peer again), and those it
 * is exiled from.  Both new (free()).
 */
static void
peer_circles(struct session *s, uint8_t (**shared)[CS_CIRCLELEN],
    size_t *nshared, uint8_t (**exiled)[CS_CIRCLELEN], size_t *nexiled)
{
	struct circle *cs = s->p->env.circle;
	const uint8_t *dev = s->link->device;

	*shared = NULL;
	*nshared = 0;
	if (!circle_revoked(cs, dev))
		*nshared = circle_shared(cs, dev, shared);
	*nexiled = circle_exiled(cs, dev, exiled);
}

/* Receiving. */

static int
in_list(uint8_t (*list)[CS_CIRCLELEN], size_t n,
    const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list[i], id, CS_CIRCLELEN) == 0)
			return 1;
	return 0;
}

/* Before a HELLO says what we hold: what waits to become change sets
 * becomes them (peer_hooks.offering). */
static void
offering(struct peers *p)
{
	if (p->env.hooks.offering != NULL)
		p->env.hooks.offering(p->env.hooks.arg);
}

/* The responder's side of HELLO: what we share, and what we would take. */
static void
on_hello(struct session *s, const struct sync_msg *m)
{
	struct peers *p = s->p;
	uint8_t (*shared)[CS_CIRCLELEN], (*exiled)[CS_CIRCLELEN];
	struct sync_circle *out;
	size_t nshared, nexiled, n = 0, first;
	int revoked = circle_revoked(p->env.circle, s->link->device);
	uint8_t d[32];
	struct wbuf w;
	int rc = 0;

	offering(p);
	peer_circles(s, &shared, &nshared, &exiled, &nexiled);
	out = xcalloc(nshared + nexiled + m->ncircles + 1, sizeof(*out));
	for (size_t i = 0; rc == 0 && i < nshared + nexiled &&
	    n < SYNC_MAX_CIRCLES; i++) {
		const uint8_t *base = i < nshared ? shared[i] :
		    exiled[i - nshared];

		chains_add(s, base, i >= nshared);
		if ((rc = hello_entry(s, base, &out[n])) == 0)
			n++;
	}
	/*
	 * A circle they offer that we do not know: they say we are a member;
	 * take it (its members chain tells us, and holds our key).  A few per
	 * session: each costs a members chain in the store.  Never from a
	 * revoked device.
	 */
	first = n;
	for (uint32_t i = 0; rc == 0 && !revoked && i < m->ncircles &&
	    n < SYNC_MAX_CIRCLES && n - first < MAX_JOIN; i++) {
		if (in_list(shared, nshared, m->circles[i].circle) ||
		    in_list(exiled, nexiled, m->circles[i].circle) ||
		    circle_refuses(p->env.circle, m->circles[i].circle,
		    s->link->device))
			continue;
		memcpy(out[n].circle, m->circles[i].circle, CS_CIRCLELEN);
		n++;
	}
	if (n > first) {
		uint8_t (*join)[CS_CIRCLELEN] = xcalloc(n - first,
		    sizeof(*join));

		for (size_t i = first; i < n; i++)
			memcpy(join[i - first], out[i].circle, CS_CIRCLELEN);
		circle_join(p->env.circle, join, n - first);
		free(join);
		for (size_t i = first; i < n; i++)
			chains_add(s, out[i].circle, 0);
	}
	free(shared);
	free(exiled);
	if (rc != 0) {
		free(out);
		session_error(s, rc, "storage error");
		return;
	}
	session_digest(p, d);
	wire_init(&w);
	sync_put_hello(&w, s->id, d, out, n);
	if (session_send(s, &w) != 0)
		session_end(s, 0, "could not send");
	wire_free(&w);
	free(out);
}

/* The initiator's side: compare digests, ask for what differs. */
static void
on_hello_reply(struct session *s, const struct sync_msg *m)
{
	struct peers *p = s->p;
	uint8_t (*shared)[CS_CIRCLELEN], (*exiled)[CS_CIRCLELEN];
	uint8_t (*join)[CS_CIRCLELEN];
	size_t nshared, nexiled, njoin = 0;
	int revoked = circle_revoked(p->env.circle, s->link->device);
	int rc = 0;

	peer_circles(s, &shared, &nshared, &exiled, &nexiled);
	/* Circles they say we are in that we do not know yet: join a few. */
	join = xcalloc(MAX_JOIN, sizeof(*join));
	for (uint32_t i = 0; !revoked && i < m->ncircles && njoin < MAX_JOIN;
	    i++)
		if (!in_list(shared, nshared, m->circles[i].circle) &&
		    !in_list(exiled, nexiled, m->circles[i].circle) &&
		    !circle_refuses(p->env.circle,
		    m->circles[i].circle, s->link->device))
			memcpy(join[njoin++], m->circles[i].circle,
			    CS_CIRCLELEN);
	if (njoin > 0)
		circle_join(p->env.circle, join, njoin);
	for (uint32_t i = 0; rc == 0 && i < m->ncircles; i++) {
		const struct sync_circle *e = &m->circles[i];
		uint8_t mc[CS_CIRCLELEN], ac[CS_CIRCLELEN], mine[32];
		const uint8_t *chains[3];
		const uint8_t *theirs[3];
		int exile = in_list(exiled, nexiled, e->circle);

		if (!exile && !in_list(shared, nshared, e->circle) &&
		    !in_list(join, njoin, e->circle))
			continue;	/* not theirs by our lights */
		chains_add(s, e->circle, exile);
		sync_members_circle(mc, e->circle);
		sync_audit_circle(ac, e->circle);
		/* The members chain first: it may hold our key. */
		chains[0] = mc;
		theirs[0] = e->members;
		chains[1] = e->circle;
		theirs[1] = e->data;
		chains[2] = ac;
		theirs[2] = e->audit;
		for (int k = 0; rc == 0 && k < 3; k++) {
			struct chain *c = chain_find(s, chains[k]);

			if ((rc = chain_digest(s, c, mine)) != 0)
				break;
			if (memcmp(mine, theirs[k], 32) == 0)
				continue;
			if ((rc = send_vector(s, chains[k])) == 0)
				c->asked = 1;
		}
	}
	free(shared);
	free(exiled);
	free(join);
	if (rc != 0) {
		session_error(s, rc, "could not start");
		return;
	}
	s->in_sync = 1;
	for (size_t i = 0; i < s->nchains; i++)
		if (s->chains[i].asked)
			s->in_sync = 0;
	session_check_complete(s);
}

static void
on_vector(struct session *s, const struct sync_msg *m)
{
	struct chain *c = chain_find(s, m->chain);
	int rc;

	if (c == NULL) {
		session_error(s, SAMEN_EPROTO, "vector for a chain not shared");
		return;
	}
	if (c->planned) {
		session_error(s, SAMEN_EPROTO, "second vector for a chain");
		return;
	}
	if (!s->initiator && (rc = send_vector(s, c->id)) != 0) {
		session_error(s, rc, "could not send");
		return;
	}
	if ((rc = plan(s, c, m->heads, m->nheads)) != 0) {
		session_error(s, rc, "storage error");
		return;
	}
	pump(s, c);
}

/*
 * The peer held back m->held of the change sets we sent, dated too far
 * ahead of its clock (docs/sync.md, "A clock ahead"): kept for peer ls,
 * status and sync --wait, and said once per ACK.
 */
static void
note_held_by(struct session *s, const struct sync_msg *m)
{
	struct link *l = s->link;
	char who[DEVID_SHORTLEN + 1], span[32];

	s->held_by += m->held;
	if (m->ahead_ms > s->held_by_ahead_ms)
		s->held_by_ahead_ms = m->ahead_ms;
	l->held_by += m->held;
	if (l->held_by_ms == 0 || m->ahead_ms > l->held_by_ahead_ms)
		l->held_by_ahead_ms = m->ahead_ms;
	l->held_by_ms = s->p->wall_ms();
	peers_short_id(who, l->device);
	hlc_span(span, m->ahead_ms);
	log_warnx("held back by %s: %u change set%s, clock %s ahead of the "
	    "peer", who, m->held, m->held == 1 ? "" : "s", span);
}

static void
on_ack(struct session *s, const struct sync_msg *m)
{
	struct chain *c = chain_find(s, m->chain);

	if (c == NULL || c->inflight == 0) {
		session_error(s, SAMEN_EPROTO, "unexpected ack");
		return;
	}
	c->inflight--;
	if (m->held > 0)
		note_held_by(s, m);
	pump(s, c);
	session_note(s, 0);
}

static void
on_done(struct session *s, const struct sync_msg *m)
{
	struct chain *c = chain_find(s, m->chain);

	if (c == NULL) {
		session_error(s, SAMEN_EPROTO, "done for a chain not shared");
		return;
	}
	c->their_done = 1;
	session_check_complete(s);
}

static void
note_digest(struct link *l, const uint8_t d[32])
{
	memcpy(l->digest, d, 32);
	l->has_digest = 1;
}

void
session_dispatch(struct session *s, const struct sync_msg *m, size_t len,
    const struct checked *cs)
{
	s->last_ms = uv_now(s->p->env.loop);
	s->bytes_received += len;
	metrics_add(s->p->env.metrics->bytes_received, NULL, (double)len);
	switch (m->type) {
	case SYNC_HELLO:
		note_digest(s->link, m->digest);
		if (s->initiator)
			on_hello_reply(s, m);
		else
			on_hello(s, m);
		break;
	case SYNC_VECTOR:
		on_vector(s, m);
		break;
	case SYNC_BATCH:
		intake_batch(s, m, cs);
		break;
	case SYNC_ACK:
		note_digest(s->link, m->digest);
		on_ack(s, m);
		break;
	case SYNC_DONE:
		note_digest(s->link, m->digest);
		on_done(s, m);
		break;
	case SYNC_ERROR: {
		char why[SYNC_MAX_TEXT + 32];
		int n = snprintf(why, sizeof(why), "peer said: %.*s",
		    (int)m->text_len, m->text);

		/* Its words go to our log: no control characters. */
		for (int i = 0; i < n && i < (int)sizeof(why) - 1; i++)
			if ((unsigned char)why[i] < 0x20 || why[i] == 0x7f)
				why[i] = '?';
		session_end(s, 0, why);
		break;
	}
	}
}

/* The ROUTER: sessions that peers start. */

static struct session *
inbound_find(struct peers *p, struct link *l, uint64_t id)
{
	for (struct session *s = p->inbound; s != NULL; s = s->next)
		if (s->link == l && s->id == id)
			return s;
	return NULL;
}

void
session_drop_inbound(struct peers *p, struct session *s)
{
	for (struct session **pp = &p->inbound; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			session_free(s);
			return;
		}
	}
}

static void
router_one(struct peers *p, zmq_msg_t *f)
{
	const char *user;
	uint8_t device[32];
	struct link *l;
	struct session *s;
	struct sync_msg m;
	size_t len = zmq_msg_size(&f[1]);
	int rc;

	/* ZAP put the device id there; nothing else can. */
	user = zmq_msg_gets(&f[1], "User-Id");
	if (user == NULL || devid_decode(device, user, strlen(user)) != 0) {
		p->dropped++;
		return;
	}
	if ((l = link_find(p, device)) == NULL)
		l = link_add(p, device);
	l->heard = 1;
	if (zmq_msg_size(&f[0]) > MAX_ROUTING_ID) {
		p->dropped++;
		return;
	}
	if ((rc = sync_decode(&m, zmq_msg_data(&f[1]), len)) != 0) {
		p->dropped++;
		log_warnx("%.12s: malformed sync message: %s", l->devid,
		    samen_strerror(rc));
		return;
	}
	s = inbound_find(p, l, m.session);
	if (m.type == SYNC_HELLO) {
		if (s != NULL)
			session_drop_inbound(p, s);
		/* One session per peer at a time. */
		for (struct session *o = p->inbound; o != NULL; o = o->next)
			if (o->link == l) {
				session_drop_inbound(p, o);
				break;
			}
		s = session_new(p, l, 0, m.session);
		memcpy(s->rid, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]));
		s->rid_len = zmq_msg_size(&f[0]);
		s->next = p->inbound;
		p->inbound = s;
	}
	if (s != NULL && s->state == SESSION_RUNNING)
		intake_receive(s, &m, zmq_msg_data(&f[1]), len);
	sync_msg_free(&m);
}

void
session_router_cb(struct zsock *zs, void *arg)
{
	struct peers *p = arg;
	zmq_msg_t f[3];
	int n;

	for (int i = 0; i < ZMSG_BATCH; i++) {
		if ((n = zmsg_recv(zsock_socket(zs), f, 2)) == 0)
			return;
		if (n != 2) {
			if (n == 1)
				zmq_msg_close(&f[0]);
			p->dropped++;
			continue;
		}
		router_one(p, f);
		zmq_msg_close(&f[0]);
		zmq_msg_close(&f[1]);
	}
}

/* Starting sessions. */

int
session_start(struct peers *p, struct link *l)
{
	uint8_t (*shared)[CS_CIRCLELEN], (*exiled)[CS_CIRCLELEN];
	struct sync_circle *c;
	struct session *s;
	size_t nshared, nexiled, n = 0;
	uint8_t d[32];
	struct wbuf w;
	int rc = 0;

	if (l->zs == NULL)
		return SAMEN_EINVAL;
	/* First: it may run what waited for the disk (durable_wait), which
	 * may look at l->out, freed below. */
	offering(p);
	if (l->out != NULL) {
		if (l->out->state == SESSION_RUNNING)
			session_end(l->out, 0, session_superseded);
		session_free(l->out);
	}
	s = session_new(p, l, 1, randombytes_random() |
	    ((uint64_t)randombytes_random() << 32));
	s->round = ++p->round;
	l->out = s;
	/* What we share with it, then what it is exiled from. */
	peer_circles(s, &shared, &nshared, &exiled, &nexiled);
	c = xcalloc(nshared + nexiled + 1, sizeof(*c));
	for (size_t i = 0; rc == 0 && i < nshared + nexiled &&
	    n < SYNC_MAX_CIRCLES; i++) {
		const uint8_t *base = i < nshared ? shared[i] :
		    exiled[i - nshared];

		chains_add(s, base, i >= nshared);
		if ((rc = hello_entry(s, base, &c[n])) == 0)
			n++;
	}
	free(shared);
	free(exiled);
	if (rc == 0) {
		session_digest(p, d);
		wire_init(&w);
		sync_put_hello(&w, s->id, d, c, n);
		/*
		 * The last handshake failed (say the peer did not know us
		 * yet), or nobody watches the socket to say: libzmq may not
		 * retry that connection, yet take messages for it and never
		 * deliver them.  Or it left no pipe at all (-EAGAIN).  A
		 * fresh socket queues the HELLO until it connects.
		 */
		if (l->failing || l->mon == NULL)
			rc = link_reopen(l);
		if (rc == 0 && (rc = session_send(s, &w)) == -EAGAIN &&
		    (rc = link_reopen(l)) == 0)
			rc = session_send(s, &w);
		wire_free(&w);
	}
	free(c);
	if (rc != 0)
		session_end(s, 0, samen_strerror(rc));
	/* Until this one ends, no timer-driven session. */
	l->next_sync_ms = UINT64_MAX;
	return 0;
}
