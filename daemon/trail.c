/* trail: the read audit (NEN 7513) and a record's audit trail: reads noted, sealed to admins, written, opened, expired. */
#include "trail.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ckpt.h"
#include "circle.h"
#include "clock.h"
#include "error.h"
#include "hlc.h"
#include "keyring.h"
#include "log.h"
#include "sync.h"
#include "testhook.h"
#include "util.h"
#include "vault.h"
#include "writer.h"

/*
 * A block is sealed when it passes TRAIL_BLOCK bytes (the next event
 * starts another), an event names at most TRAIL_EVENT_RECS records (a
 * bigger read is several events of one time and action), and an audit
 * change set holds at most TRAIL_CS_BLOCKS boxes: all well inside the
 * format's caps (AUDIT_MAX_BLOCK, CS_MAX_CHUNK, CS_MAX_PAYLOAD).
 */
#define TRAIL_BLOCK (1u << 20)
#define TRAIL_EVENT_RECS 16384
#define TRAIL_CS_BLOCKS 2
#define TRAIL_DAY_MS (86400ull * 1000)
/* Expiry passes: at start, then daily (each erase that finds something
 * truncates and writes the WAL ahead again). */
#define TRAIL_EXPIRE_EVERY_MS TRAIL_DAY_MS

/* A block at most: full, then one more event (a run per record, at
 * worst), and the box around it. */
#define TRAIL_BOX_MAX (TRAIL_BLOCK + TRAIL_EVENT_RECS * \
	(2 + RID_LEN + 4 + OPS_MAX_COLLECTION) + 512)
_Static_assert(TRAIL_EVENT_RECS <= AUDIT_MAX_RECS, "event records");
_Static_assert(TRAIL_BOX_MAX < AUDIT_MAX_BLOCK, "a block's bytes");
_Static_assert(TRAIL_BOX_MAX + 128 < CS_MAX_CHUNK, "a box's chunk");
_Static_assert(TRAIL_CS_BLOCKS * (TRAIL_BOX_MAX + 128) < CS_MAX_PAYLOAD,
    "an audit change set's bytes");

/* What one batch noted in one circle. */
struct pend {
	uint8_t circle[CS_CIRCLELEN];
	uint8_t pk[32];			/* its audit key when first noted */
	struct wbuf ev;			/* the open block's events */
	uint32_t nev;
	struct wbuf *boxes;		/* sealed, waiting for the flush */
	size_t nboxes;
};

/*
 * The key a device seals with for one audit key: crypto_box_beforenm of
 * the audit key and an ephemeral secret, which is wiped at once.  Kept
 * while unlocked (guarded memory), wiped at lock.
 */
struct seal_key {
	uint8_t pk[32];
	uint8_t eph[32];
	uint8_t *k;			/* AUDIT_KEYLEN, sodium_malloc */
};

struct trail {
	struct trail_env env;
	struct pend *pend;
	size_t npend;
	struct seal_key *keys;
	size_t nkeys;
	uint64_t noted;			/* events noted since open */
	int days;			/* audit_retention */
	uv_timer_t timer;
	int stopped;
	/* trail_events' reads of one circle, while nothing was committed. */
	struct {
		int valid;
		uint8_t circle[CS_CIRCLELEN];
		uint64_t commits;	/* store_wal_commits when read */
		int readable;
		struct trail_list reads;
	} cache;
};

static void expire_cb(uv_timer_t *h);

struct trail *
trail_open(const struct trail_env *env)
{
	struct trail *t = xcalloc(1, sizeof(*t));

	t->env = *env;
	uv_timer_init(env->loop, &t->timer);
	t->timer.data = t;
	/* A pending expiry does not keep the loop alive. */
	uv_unref((uv_handle_t *)&t->timer);
	return t;
}

void
trail_stop(struct trail *t)
{
	if (t->stopped)
		return;
	t->stopped = 1;
	uv_close((uv_handle_t *)&t->timer, NULL);
}

static void
pend_free(struct pend *p)
{
	wire_free(&p->ev);
	for (size_t i = 0; i < p->nboxes; i++)
		wire_free(&p->boxes[i]);
	free(p->boxes);
}

static void
keys_free(struct trail *t)
{
	for (size_t i = 0; i < t->nkeys; i++)
		sodium_free(t->keys[i].k);
	free(t->keys);
	t->keys = NULL;
	t->nkeys = 0;
}

static void
cache_drop(struct trail *t)
{
	if (t->cache.valid)
		trail_list_free(&t->cache.reads);
	t->cache.valid = 0;
}

void
trail_close(struct trail *t)
{
	if (t == NULL)
		return;
	trail_drop(t);
	free(t->pend);
	keys_free(t);
	cache_drop(t);
	free(t);
}

void
trail_lock(struct trail *t)
{
	trail_drop(t);
	keys_free(t);
	cache_drop(t);
}

void
trail_drop(struct trail *t)
{
	for (size_t i = 0; i < t->npend; i++)
		pend_free(&t->pend[i]);
	t->npend = 0;
}

uint64_t
trail_noted(const struct trail *t)
{
	return t->noted;
}

/* Circles. */

/* The shared circle id as circle_list has it, or NULL. */
static const struct circle_info *
info_of(struct trail *t, const uint8_t id[CS_CIRCLELEN])
{
	const struct circle_info *ci;
	size_t n;

	ci = circle_list(t->env.circle, &n);
	for (size_t i = 0; i < n; i++)
		if (memcmp(ci[i].id, id, CS_CIRCLELEN) == 0)
			return &ci[i];
	return NULL;
}

/* Sealing. */

/* The key to seal to audit key pk with, made at its first use. */
static const struct seal_key *
seal_key(struct trail *t, const uint8_t pk[32])
{
	struct seal_key *sk;
	uint8_t esk[32];

	for (size_t i = 0; i < t->nkeys; i++)
		if (memcmp(t->keys[i].pk, pk, 32) == 0)
			return &t->keys[i];
	t->keys = xreallocarray(t->keys, t->nkeys + 1, sizeof(*t->keys));
	sk = &t->keys[t->nkeys];
	memcpy(sk->pk, pk, 32);
	if ((sk->k = sodium_malloc(AUDIT_KEYLEN)) == NULL)
		fatalx("out of memory");
	crypto_box_keypair(sk->eph, esk);
	if (crypto_box_beforenm(sk->k, pk, esk) != 0) {
		/* A key of low order: nothing can be sealed to it. */
		sodium_memzero(esk, sizeof(esk));
		sodium_free(sk->k);
		return NULL;
	}
	sodium_memzero(esk, sizeof(esk));
	t->nkeys++;
	return sk;
}

/* p's open block, sealed into a new box (nothing if it is empty). */
static int
pend_seal(struct trail *t, struct pend *p, char **cause)
{
	const struct seal_key *sk;
	uint8_t nonce[AUDIT_NONCELEN];
	struct wbuf block, *box;
	char hex[2 * CS_CIRCLELEN + 1];

	if (p->nev == 0)
		return 0;
	if ((sk = seal_key(t, p->pk)) == NULL) {
		hex_encode(hex, p->circle, CS_CIRCLELEN);
		return samen_fail(cause, SAMEN_EVALUE, "circle %.8s has an "
		    "audit key nothing can be sealed to", hex);
	}
	wire_init(&block);
	audit_put_block(&block, p->circle, vault_public_key(t->env.vault),
	    wire_data(&p->ev), wire_len(&p->ev), p->nev);
	randombytes_buf(nonce, sizeof(nonce));
	p->boxes = xreallocarray(p->boxes, p->nboxes + 1, sizeof(*p->boxes));
	box = &p->boxes[p->nboxes++];
	wire_init(box);
	audit_seal(box, p->pk, sk->eph, sk->k, nonce, wire_data(&block),
	    wire_len(&block));
	wire_free(&block);
	wire_reset(&p->ev);
	p->nev = 0;
	return 0;
}

static struct pend *
pend_of(struct trail *t, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t pk[32])
{
	struct pend *p;

	for (size_t i = 0; i < t->npend; i++)
		if (memcmp(t->pend[i].circle, circle, CS_CIRCLELEN) == 0)
			return &t->pend[i];
	t->pend = xreallocarray(t->pend, t->npend + 1, sizeof(*t->pend));
	p = &t->pend[t->npend++];
	memset(p, 0, sizeof(*p));
	memcpy(p->circle, circle, CS_CIRCLELEN);
	memcpy(p->pk, pk, 32);
	wire_init(&p->ev);
	return p;
}

/*
 * The events of action over recs[0..n), all of circle p's: one, or
 * several of one time if n is past TRAIL_EVENT_RECS; one without records
 * if n is 0 (a search that found nothing there).
 */
static int
note_circle(struct trail *t, struct pend *p, uint64_t hlc, unsigned action,
    const struct store_record *const *recs, size_t n, char **cause)
{
	struct audit_rec *ar;
	size_t i = 0, k;
	int rc;

	ar = xreallocarray(NULL, n == 0 ? 1 : n < TRAIL_EVENT_RECS ? n :
	    TRAIL_EVENT_RECS, sizeof(*ar));
	do {
		for (k = 0; i < n && k < TRAIL_EVENT_RECS; i++, k++) {
			/* A collection name is at most OPS_MAX_COLLECTION. */
			size_t len = strnlen(recs[i]->collection,
			    OPS_MAX_COLLECTION);

			memcpy(ar[k].collection, recs[i]->collection, len);
			ar[k].collection[len] = '\0';
			memcpy(ar[k].rid, recs[i]->rid, RID_LEN);
		}
		if (wire_len(&p->ev) >= TRAIL_BLOCK &&
		    (rc = pend_seal(t, p, cause)) != 0) {
			free(ar);
			return rc;
		}
		audit_put_event(&p->ev, hlc, action, ar, k);
		p->nev++;
		t->noted++;
	} while (i < n);
	free(ar);
	return 0;
}

/* 1 if one of recs[0..n) is of circle id. */
static int
found_in(const struct store_record *const *recs, size_t n,
    const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(recs[i]->circle, id, CS_CIRCLELEN) == 0)
			return 1;
	return 0;
}

/*
 * A search looked through every shared circle whose records this device
 * reads, and is an event of each, with what it found there or nothing
 * (NEN 7513 logs searches, not only what they returned): recs[0..n) were
 * noted already, the other circles get an event without records.  A
 * circle without an audit key is left out: nothing of it was returned.
 */
static int
note_search(struct trail *t, const struct store_record *const *recs,
    size_t n, uint64_t hlc, char **cause)
{
	const struct circle_info *ci;
	const uint8_t *pk;
	size_t nc;
	int rc = 0;

	ci = circle_list(t->env.circle, &nc);
	for (size_t i = 0; i < nc && rc == 0; i++) {
		if (ci[i].r == NULL || ci[i].state != ROSTER_CURRENT ||
		    (ci[i].role != ROSTER_MEMBER &&
		    ci[i].role != ROSTER_ADMIN) ||
		    (pk = roster_audit(ci[i].r)) == NULL ||
		    found_in(recs, n, ci[i].id))
			continue;
		if (hlc == 0)
			hlc = writer_hlc(t->env.writer);
		rc = note_circle(t, pend_of(t, ci[i].id, pk), hlc, AUDIT_FIND,
		    NULL, 0, cause);
	}
	return rc;
}

int
trail_read(struct ctl_parts *p, const char *action,
    const struct store_record *const *recs, size_t n, char **cause)
{
	struct trail *t = p->trail;
	const struct store_circle *priv = circle_private(p->circle);
	const struct store_record **mine;
	const struct circle_info *ci;
	const uint8_t *pk;
	char hex[2 * CS_CIRCLELEN + 1];
	unsigned act = audit_action_parse(action);
	uint64_t hlc = 0;
	size_t i, j, k;
	uint8_t *done;
	int rc = 0;

	assert(act != 0);
	if (testhook()->audit_off || (n == 0 && act != AUDIT_FIND))
		return 0;
	done = xcalloc(n ? n : 1, 1);
	mine = xreallocarray(NULL, n ? n : 1, sizeof(*mine));
	/* One event per circle, its records in the order returned. */
	for (i = 0; i < n && rc == 0; i++) {
		if (done[i])
			continue;
		for (j = i, k = 0; j < n; j++)
			if (!done[j] && memcmp(recs[j]->circle, recs[i]->circle,
			    CS_CIRCLELEN) == 0) {
				done[j] = 1;
				mine[k++] = recs[j];
			}
		/* This device's own notes: nobody else could open them. */
		if (priv != NULL &&
		    memcmp(recs[i]->circle, priv->id, CS_CIRCLELEN) == 0)
			continue;
		hex_encode(hex, recs[i]->circle, CS_CIRCLELEN);
		if ((ci = info_of(t, recs[i]->circle)) == NULL ||
		    ci->r == NULL || (pk = roster_audit(ci->r)) == NULL) {
			rc = samen_fail(cause, SAMEN_EVALUE, "this read cannot "
			    "be audited: circle %.8s has no audit key", hex);
			break;
		}
		if (hlc == 0)
			hlc = writer_hlc(p->writer);
		rc = note_circle(t, pend_of(t, recs[i]->circle, pk), hlc, act,
		    mine, k, cause);
	}
	if (rc == 0 && act == AUDIT_FIND)
		rc = note_search(t, recs, n, hlc, cause);
	free(mine);
	free(done);
	return rc;
}

int
trail_flush(struct trail *t, char **cause)
{
	uint8_t chain[CS_CIRCLELEN], key[CS_KEYLEN];
	struct cs_plain chunks[TRAIL_CS_BLOCKS];
	int rc = 0;

	for (size_t i = 0; i < t->npend; i++) {
		struct pend *p = &t->pend[i];

		if ((rc = pend_seal(t, p, cause)) != 0) {
			log_warnx("the batch's reads could not be sealed: %s",
			    *cause);
			break;
		}
		sync_audit_circle(chain, p->circle);
		sync_audit_key(key, p->circle);
		for (size_t b = 0; b < p->nboxes;) {
			size_t n = 0;

			for (; b < p->nboxes && n < TRAIL_CS_BLOCKS; b++, n++) {
				/* Nothing finds an event by its tag. */
				randombytes_buf(chunks[n].rtag, CS_RTAGLEN);
				chunks[n].data = wire_data(&p->boxes[b]);
				chunks[n].len = wire_len(&p->boxes[b]);
			}
			/* A failure rolled the batch back (and dropped p). */
			if ((rc = writer_sealed(t->env.writer, chain, key,
			    chunks, n, cause)) != 0)
				goto out;
		}
	}
out:
	sodium_memzero(key, sizeof(key));
	trail_drop(t);
	cache_drop(t);
	return rc;
}

/* Reading. */

/* The audit secrets of one circle this device holds, and what they open. */
struct opener {
	uint8_t circle[CS_CIRCLELEN];
	uint8_t key[CS_KEYLEN];		/* the audit chain's chunks */
	/* Every audit secret sealed to us, with its public key. */
	struct secret {
		uint8_t pk[32];
		uint8_t sk[32];
	} *sec;				/* sodium_allocarray */
	size_t nsec;
	/* Shared keys of the boxes opened so far, by (hint, ephemeral). */
	struct shared {
		uint8_t id[AUDIT_HINTLEN + 32];
		uint8_t k[AUDIT_KEYLEN];
		int ok;			/* 0: no secret of ours opens it */
	} *sh;				/* sodium_allocarray, sorted by id */
	size_t nsh, capsh;
};

static void
opener_free(struct opener *o)
{
	if (o->sec != NULL)
		sodium_free(o->sec);
	if (o->sh != NULL)
		sodium_free(o->sh);
	sodium_memzero(o->key, sizeof(o->key));
	memset(o, 0, sizeof(*o));
}

/*
 * Every audit secret of circle ci sealed to us, opened.  0 with o ready;
 * SAMEN_ENOTFOUND if there is none (not an admin, or a demoted one that
 * is still asked about is refused before).
 */
static int
opener_init(struct trail *t, const struct circle_info *ci, struct opener *o)
{
	const struct roster_seal *seals;
	const uint8_t *me = vault_public_key(t->env.vault);
	size_t n, k = 0;

	memset(o, 0, sizeof(*o));
	memcpy(o->circle, ci->id, CS_CIRCLELEN);
	sync_audit_key(o->key, ci->id);
	if (ci->r == NULL)
		return SAMEN_ENOTFOUND;
	seals = roster_seals(ci->r, me, &n);
	for (size_t i = 0; i < n; i++)
		k += seals[i].epoch == ROSTER_AUDIT_EPOCH;
	if (k == 0)
		return SAMEN_ENOTFOUND;
	if ((o->sec = sodium_allocarray(k, sizeof(*o->sec))) == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < n; i++) {
		struct secret *s = &o->sec[o->nsec];

		if (seals[i].epoch != ROSTER_AUDIT_EPOCH ||
		    keyring_open(s->sk, &seals[i], me,
		    vault_sign_sk(t->env.vault)) != 0 ||
		    crypto_scalarmult_base(s->pk, s->sk) != 0)
			continue;
		o->nsec++;
	}
	if (o->nsec == 0) {
		opener_free(o);
		return SAMEN_ENOTFOUND;
	}
	return 0;
}

/* The shared key of box b: made with the secret its hint names, once. */
static const struct shared *
shared_of(struct opener *o, const struct audit_box *b)
{
	uint8_t id[AUDIT_HINTLEN + 32];
	struct shared *s;
	size_t lo = 0, hi = o->nsh;

	memcpy(id, b->hint, AUDIT_HINTLEN);
	memcpy(id + AUDIT_HINTLEN, b->eph, 32);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = memcmp(o->sh[mid].id, id, sizeof(id));

		if (d == 0)
			return &o->sh[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (o->nsh == o->capsh) {
		size_t cap = o->capsh ? 2 * o->capsh : 16;
		struct shared *grown = sodium_allocarray(cap, sizeof(*grown));

		if (grown == NULL)
			fatalx("out of memory");
		if (o->nsh > 0)
			memcpy(grown, o->sh, o->nsh * sizeof(*grown));
		if (o->sh != NULL)
			sodium_free(o->sh);
		o->sh = grown;
		o->capsh = cap;
	}
	memmove(&o->sh[lo + 1], &o->sh[lo], (o->nsh - lo) * sizeof(*o->sh));
	s = &o->sh[lo];
	o->nsh++;
	memcpy(s->id, id, sizeof(id));
	s->ok = 0;
	for (size_t i = 0; i < o->nsec && !s->ok; i++)
		if (audit_box_for(b, o->sec[i].pk))
			s->ok = crypto_box_beforenm(s->k, b->eph,
			    o->sec[i].sk) == 0;
	return s;
}

/* What a walk over a chain collects into. */
struct walk {
	struct trail_list *out;
	const struct trail_query *q;
	struct opener *o;
	int (*keep)(const struct walk *, const struct audit_rec *);
	const struct store_epoch_key *keys;	/* a data chain's */
	size_t nkeys;
	uint64_t refused;			/* blocks not theirs */
};

static int
cmp_entry(const void *pa, const void *pb)
{
	const struct trail_entry *a = pa, *b = pb;
	int d;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	if ((d = memcmp(a->device, b->device, 32)) != 0)
		return d;
	if (a->action != b->action)
		return a->action == TRAIL_WRITE ? -1 : 1;
	return strcmp(a->what, b->what);
}

static void
entry_free(struct trail_entry *e)
{
	free(e->recs);
	e->recs = NULL;
	e->nrecs = 0;
}

void
trail_list_free(struct trail_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_free(&l->e[i]);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* Sorts l and keeps its oldest TRAIL_QUERY_MAX. */
static void
list_trim(struct trail_list *l)
{
	if (l->n > 1)
		qsort(l->e, l->n, sizeof(*l->e), cmp_entry);
	if (l->n <= TRAIL_QUERY_MAX)
		return;
	for (size_t i = TRAIL_QUERY_MAX; i < l->n; i++)
		entry_free(&l->e[i]);
	l->n = TRAIL_QUERY_MAX;
	l->truncated = 1;
}

/* A new entry at the end of l (sorted and trimmed when it grows). */
static struct trail_entry *
list_add(struct trail_list *l)
{
	struct trail_entry *e;

	if (l->n >= 2 * TRAIL_QUERY_MAX)
		list_trim(l);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->e = xreallocarray(l->e, l->cap, sizeof(*l->e));
	}
	e = &l->e[l->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* Keeps every record: the timeline of a whole circle. */
static int
keep_all(const struct walk *w, const struct audit_rec *r)
{
	(void)w;
	(void)r;
	return 1;
}

/* Keeps the record the query names. */
static int
keep_named(const struct walk *w, const struct audit_rec *r)
{
	return memcmp(r->rid, w->q->rid, RID_LEN) == 0 &&
	    strcmp(r->collection, w->q->collection) == 0;
}

/*
 * The entry of one event, with the records w keeps: none, no entry,
 * unless the event had none (a search that found nothing) and the
 * question names no record.
 */
static void
add_read(struct walk *w, const struct cs_header *h,
    const struct audit_event *ev)
{
	struct trail_entry *e;
	size_t k = 0;

	if (ev->hlc < w->q->since)
		return;
	for (size_t i = 0; i < ev->nrecs; i++)
		k += w->keep(w, &ev->recs[i]);
	if (k == 0 && (ev->nrecs > 0 || w->q->has_record))
		return;
	e = list_add(w->out);
	e->hlc = ev->hlc;
	memcpy(e->device, h->author, 32);
	memcpy(e->circle, w->o->circle, CS_CIRCLELEN);
	e->action = TRAIL_READ;
	e->what = audit_action_name(ev->action);
	e->recs = xreallocarray(NULL, k ? k : 1, sizeof(*e->recs));
	for (size_t i = 0; i < ev->nrecs; i++)
		if (w->keep(w, &ev->recs[i]))
			e->recs[e->nrecs++] = ev->recs[i];
}

/* One chunk of an audit change set: its box opened, its events taken. */
static void
read_box(struct walk *w, const struct cs_header *h, const struct cs_chunk *c)
{
	const struct shared *s;
	struct audit_block blk;
	struct audit_box box;
	uint8_t *outer, *plain;
	size_t olen, plen;

	if (changeset_chunk_open(&outer, &olen, h, c, w->o->key) != 0)
		return;
	if (audit_box_parse(&box, outer, olen) != 0 ||
	    !(s = shared_of(w->o, &box))->ok ||
	    audit_box_open(&plain, &plen, &box, s->k) != 0) {
		free(outer);
		return;
	}
	if (audit_block_decode(&blk, plain, plen) == 0) {
		/* Sealed by its author, for this circle: else not counted. */
		if (memcmp(blk.device, h->author, 32) != 0 ||
		    memcmp(blk.circle, w->o->circle, CS_CIRCLELEN) != 0)
			w->refused++;
		else
			for (size_t i = 0; i < blk.nevents; i++)
				add_read(w, h, &blk.events[i]);
		audit_block_free(&blk);
	}
	sodium_memzero(plain, plen);
	free(plain);
	free(outer);
}

/* Filters a change set by its header: author and time (events are older
 * than their change set, writes as old). */
static int
header_kept(const struct walk *w, const struct cs_header *h)
{
	if (w->q->has_device && memcmp(h->author, w->q->device, 32) != 0)
		return 0;
	return h->hlc >= w->q->since;
}

/* store_chain_each over an audit chain. */
static int
reads_cb(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct walk *w = arg;
	struct cs_payload pl;
	struct cs_header h;

	if (changeset_header_decode(&h, hdr, hdr_len) != 0 ||
	    !header_kept(w, &h))
		return 0;
	if (changeset_payload_decode(&pl, payload, payload_len) != 0)
		return 0;
	for (uint32_t i = 0; i < pl.nchunks; i++)
		if (!pl.chunks[i].purged)
			read_box(w, &h, &pl.chunks[i]);
	changeset_payload_free(&pl);
	return 0;
}

static int
walk_reads(struct trail *t, struct walk *w)
{
	uint8_t chain[CS_CIRCLELEN];
	char hex[2 * CS_CIRCLELEN + 1];
	int rc;

	sync_audit_circle(chain, w->o->circle);
	rc = store_chain_each(t->env.store, chain, reads_cb, w);
	if (w->refused > 0) {
		hex_encode(hex, w->o->circle, CS_CIRCLELEN);
		log_warnx("circle %.8s: %llu audit blocks sealed for another "
		    "circle or author were not counted", hex,
		    (unsigned long long)w->refused);
		w->refused = 0;
	}
	return rc;
}

/* Writes. */

/*
 * One change set's part of a history, h[0..n) (its entries are adjacent),
 * as a person names it; *alive is the existence before it, and after.
 */
static const char *
write_kind(const struct store_hist *h, size_t n, int *alive)
{
	const char *what = "update";

	for (size_t i = 0; i < n; i++) {
		if (h[i].kind != OP_EXIST)
			continue;
		if (!h[i].alive)
			what = "delete";
		else if (h[i].nrefs == 0)
			what = "create";
		else if (!*alive)
			what = "restore";
		*alive = h[i].alive;
	}
	return what;
}

/* The writes of record rec (its history) that q keeps, into out. */
static int
record_writes(struct trail *t, const struct store_record *rec,
    const struct trail_query *q, struct trail_list *out)
{
	struct store_hist *h;
	size_t nh, i, j;
	int alive = 1, rc;

	if ((rc = store_history(t->env.store, rec->rkey, &h, &nh)) != 0)
		return rc;
	for (i = 0; i < nh; i = j) {
		const char *what;
		struct trail_entry *e;

		for (j = i + 1; j < nh && h[j].seq == h[i].seq &&
		    memcmp(h[j].author, h[i].author, 32) == 0; j++)
			;
		what = write_kind(&h[i], j - i, &alive);
		if (h[i].hlc < q->since || (q->has_device &&
		    memcmp(h[i].author, q->device, 32) != 0))
			continue;
		e = list_add(out);
		e->hlc = h[i].hlc;
		memcpy(e->device, h[i].author, 32);
		memcpy(e->circle, rec->circle, CS_CIRCLELEN);
		e->action = TRAIL_WRITE;
		e->what = what;
		e->recs = xcalloc(1, sizeof(*e->recs));
		snprintf(e->recs[0].collection, sizeof(e->recs[0].collection),
		    "%s", rec->collection);
		memcpy(e->recs[0].rid, rec->rid, RID_LEN);
		e->nrecs = 1;
	}
	store_history_free(h, nh);
	return 0;
}

/* What one chunk of a data change set writes: create, update, delete. */
static const char *
chunk_kind(const struct ops_chunk *oc)
{
	for (uint32_t i = 0; i < oc->nops; i++)
		if (oc->ops[i].type == OP_EXIST)
			return !oc->ops[i].alive ? "delete" :
			    oc->ops[i].nrefs == 0 ? "create" : "update";
	return "update";
}

/* store_chain_each over a data chain: one entry per change set. */
static int
writes_cb(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct walk *w = arg;
	struct trail_entry *e = NULL;
	const uint8_t *key = NULL;
	struct cs_payload pl;
	struct cs_header h;
	struct ops_chunk oc;
	uint8_t *plain;
	size_t plen;

	if (changeset_header_decode(&h, hdr, hdr_len) != 0 ||
	    !header_kept(w, &h))
		return 0;
	for (size_t i = 0; i < w->nkeys; i++)
		if (w->keys[i].epoch == h.epoch)
			key = w->keys[i].key;
	if (key == NULL ||
	    changeset_payload_decode(&pl, payload, payload_len) != 0)
		return 0;
	for (uint32_t i = 0; i < pl.nchunks; i++) {
		const char *what;

		if (pl.chunks[i].purged || changeset_chunk_read(&plain, &plen,
		    &oc, &h, &pl.chunks[i], key) != 0)
			continue;
		what = chunk_kind(&oc);
		if (e == NULL) {
			e = list_add(w->out);
			e->hlc = h.hlc;
			memcpy(e->device, h.author, 32);
			memcpy(e->circle, w->o->circle, CS_CIRCLELEN);
			e->action = TRAIL_WRITE;
			e->what = what;
			e->recs = xreallocarray(NULL, pl.nchunks,
			    sizeof(*e->recs));
		} else if (strcmp(e->what, what) != 0)
			e->what = "write";
		snprintf(e->recs[e->nrecs].collection,
		    sizeof(e->recs[0].collection), "%.*s",
		    (int)oc.collection_len, oc.collection);
		memcpy(e->recs[e->nrecs].rid, oc.rid, RID_LEN);
		e->nrecs++;
		ops_chunk_free(&oc);
		sodium_memzero(plain, plen);
		free(plain);
	}
	changeset_payload_free(&pl);
	return 0;
}

#define TRAIL_MAX_EPOCHS 16

static int
walk_writes(struct trail *t, struct walk *w)
{
	struct store_epoch_key *keys;
	size_t n = 0;
	int rc;

	keys = sodium_allocarray(TRAIL_MAX_EPOCHS, sizeof(*keys));
	if (keys == NULL)
		fatalx("out of memory");
	rc = store_chain_keys(t->env.store, w->o->circle, keys,
	    TRAIL_MAX_EPOCHS, &n);
	if (rc == 0) {
		w->keys = keys;
		w->nkeys = n;
		rc = store_chain_each(t->env.store, w->o->circle, writes_cb, w);
	}
	sodium_free(keys);
	w->keys = NULL;
	w->nkeys = 0;
	return rc;
}

/* Queries. */

/* 1 if this device is a current admin of ci. */
static int
admin_of(const struct circle_info *ci)
{
	return ci->r != NULL && ci->role == ROSTER_ADMIN &&
	    ci->state == ROSTER_CURRENT;
}

static int
storage_fail(char **cause, int rc)
{
	return samen_fail(cause, rc, "storage error: %s", samen_strerror(rc));
}

/*
 * The reads (and, with writes, the writes of every change set) of one
 * circle that q keeps.
 */
static int
query_circle(struct trail *t, const struct circle_info *ci,
    const struct trail_query *q, int writes, struct trail_list *out,
    char **cause)
{
	struct opener o;
	struct walk w;
	int rc;

	if (opener_init(t, ci, &o) != 0)
		return samen_fail(cause, SAMEN_EINVAL, "only an admin of '%s' "
		    "can read its audit: this device holds no audit key of it",
		    ci->name);
	memset(&w, 0, sizeof(w));
	w.out = out;
	w.q = q;
	w.o = &o;
	w.keep = q->has_record ? keep_named : keep_all;
	rc = walk_reads(t, &w);
	if (rc == 0 && writes)
		rc = walk_writes(t, &w);
	opener_free(&o);
	return rc != 0 ? storage_fail(cause, rc) : 0;
}

int
trail_query(struct trail *t, const struct trail_query *q,
    const struct store_record *rec, struct trail_list *out, char **cause)
{
	const struct circle_info *ci;
	size_t n, asked = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	ci = circle_list(t->env.circle, &n);
	if (rec != NULL) {
		const struct circle_info *in = info_of(t, rec->circle);

		if (in == NULL || !admin_of(in))
			return samen_fail(cause, SAMEN_EINVAL, "only an admin "
			    "of the circle of %s %s can read who read it",
			    q->collection, "that record");
		if ((rc = query_circle(t, in, q, 0, out, cause)) == 0 &&
		    (rc = record_writes(t, rec, q, out)) != 0)
			rc = storage_fail(cause, rc);
	} else
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (!admin_of(&ci[i]))
				continue;
			asked++;
			rc = query_circle(t, &ci[i], q, !q->has_record, out,
			    cause);
		}
	if (rc == 0 && rec == NULL && asked == 0)
		rc = samen_fail(cause, SAMEN_EINVAL, "only a circle's admins "
		    "can read its audit, and this device is an admin of none");
	if (rc != 0) {
		trail_list_free(out);
		return rc;
	}
	list_trim(out);
	return 0;
}

/* The subject export's trail. */

/* Every read of circle ci, kept while nothing is committed. */
static const struct trail_list *
circle_reads(struct trail *t, const struct circle_info *ci, int *rc)
{
	struct trail_query all;
	char *cause = NULL;
	uint64_t commits = store_wal_commits(t->env.store);

	*rc = 0;
	if (t->cache.valid && t->cache.commits == commits &&
	    memcmp(t->cache.circle, ci->id, CS_CIRCLELEN) == 0)
		return t->cache.readable ? &t->cache.reads : NULL;
	cache_drop(t);
	memset(&all, 0, sizeof(all));
	memcpy(t->cache.circle, ci->id, CS_CIRCLELEN);
	t->cache.commits = commits;
	t->cache.readable = 0;
	if (admin_of(ci)) {
		*rc = query_circle(t, ci, &all, 0, &t->cache.reads, &cause);
		if (*rc == SAMEN_EINVAL)	/* no audit key: the writes */
			*rc = 0;
		else if (*rc == 0)
			t->cache.readable = 1;
		free(cause);
	}
	if (*rc != 0)
		return NULL;
	t->cache.valid = 1;
	return t->cache.readable ? &t->cache.reads : NULL;
}

static int
cmp_event(const void *pa, const void *pb)
{
	const struct trail_event *a = pa, *b = pb;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	return memcmp(a->device, b->device, 32);
}

int
trail_events(struct ctl_parts *p, const struct store_record *rec,
    struct trail_event **out, size_t *n, char **cause)
{
	struct trail *t = p->trail;
	const struct trail_list *reads = NULL;
	const struct circle_info *ci;
	struct trail_query q;
	struct trail_list w;
	struct trail_event *ev;
	size_t k = 0, cap;
	int rc;

	*out = NULL;
	*n = 0;
	memset(&q, 0, sizeof(q));
	q.has_record = 1;
	snprintf(q.collection, sizeof(q.collection), "%s", rec->collection);
	memcpy(q.rid, rec->rid, RID_LEN);
	memset(&w, 0, sizeof(w));
	if ((rc = record_writes(t, rec, &q, &w)) != 0)
		return storage_fail(cause, rc);
	if ((ci = info_of(t, rec->circle)) != NULL &&
	    (reads = circle_reads(t, ci, &rc)) == NULL && rc != 0) {
		trail_list_free(&w);
		return storage_fail(cause, rc);
	}
	cap = w.n + (reads != NULL ? reads->n : 0);
	ev = xreallocarray(NULL, cap ? cap : 1, sizeof(*ev));
	for (size_t i = 0; i < w.n; i++) {
		ev[k].hlc = w.e[i].hlc;
		memcpy(ev[k].device, w.e[i].device, 32);
		ev[k].action = TRAIL_WRITE;
		ev[k].what = w.e[i].what;
		k++;
	}
	for (size_t i = 0; reads != NULL && i < reads->n; i++) {
		const struct trail_entry *e = &reads->e[i];
		int names = 0;

		for (size_t j = 0; j < e->nrecs && !names; j++)
			names = memcmp(e->recs[j].rid, rec->rid, RID_LEN) == 0 &&
			    strcmp(e->recs[j].collection, rec->collection) == 0;
		if (!names)
			continue;
		ev[k].hlc = e->hlc;
		memcpy(ev[k].device, e->device, 32);
		ev[k].action = TRAIL_READ;
		ev[k].what = e->what;
		k++;
	}
	trail_list_free(&w);
	/* Writes come in history order; reads by chain: one timeline. */
	if (k > 1)
		qsort(ev, k, sizeof(*ev), cmp_event);
	*out = ev;
	*n = k;
	return 0;
}

/* Retention. */

int
trail_expire(struct trail *t, uint64_t now_ms)
{
	struct store_erased out;
	uint64_t keep_ms = (uint64_t)t->days * TRAIL_DAY_MS;
	int rc;

	if (t->days <= 0 || now_ms <= keep_ms)
		return 0;
	rc = store_erase_expired(t->env.store,
	    HLC_MAKE(now_ms - keep_ms, 0), &out);
	if (rc != 0) {
		log_warnx("audit events older than %d days could not be "
		    "erased: %s; trying again tomorrow", t->days,
		    samen_strerror(rc));
		return rc;
	}
	if (out.chunks > 0) {
		log_info("audit: erased the events of %llu change sets older "
		    "than %d days", (unsigned long long)out.changesets,
		    t->days);
		cache_drop(t);
		if (t->env.ckpt != NULL &&
		    store_wal_truncate_owed(t->env.store))
			ckpt_erased(t->env.ckpt);
	}
	store_erased_free(&out);
	return 0;
}

static void
expire_cb(uv_timer_t *h)
{
	struct trail *t = h->data;
	uint64_t now = testhook_retention_now();

	/* Between batches: a timer never runs inside one. */
	assert(!writer_in_txn(t->env.writer));
	(void)trail_expire(t, now != 0 ? now : clock_wall_ms());
}

void
trail_set_retention(struct trail *t, int days)
{
	if (t->stopped || days == t->days)
		return;
	t->days = days;
	uv_timer_start(&t->timer, expire_cb, 0, TRAIL_EXPIRE_EVERY_MS);
}
