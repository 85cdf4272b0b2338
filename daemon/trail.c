/* trail: the read audit (NEN 7513): reads noted, sealed to the circle's admins, written with the batch, expired. */
#include "trail.h"
#include "trail_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ckpt.h"
#include "circle.h"
#include "clock.h"
#include "error.h"
#include "hlc.h"
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
 * change set holds boxes of at most TRAIL_CS_BYTES in all (its chunks'
 * overhead counted): all well inside the format's caps (AUDIT_MAX_BLOCK,
 * CS_MAX_CHUNK, CS_MAX_PAYLOAD, CS_MAX_CHUNKS).
 */
#define TRAIL_BLOCK (1u << 20)
#define TRAIL_EVENT_RECS 16384
#define TRAIL_CS_BYTES (4u << 20)
#define TRAIL_CHUNK_OVERHEAD 128
#define TRAIL_DAY_MS (86400ull * 1000)
/* Expiry passes: at start, then daily (each erase that finds something
 * truncates and writes the WAL ahead again). */
#define TRAIL_EXPIRE_EVERY_MS TRAIL_DAY_MS
/*
 * The journal is shipped (trail_flush) once it holds TRAIL_SHIP_BYTES of
 * boxes or its oldest is TRAIL_SHIP_MS old, whichever comes first, and
 * whenever the caller asks (ctl: before an audit, an export, a sync, a
 * lock, after TRAIL_SHIP_MS without reads, and at shutdown).
 */
#define TRAIL_SHIP_BYTES (1u << 20)

/* A block at most: full, then one more event (a run per record, at
 * worst), and the box around it. */
#define TRAIL_BOX_MAX (TRAIL_BLOCK + TRAIL_EVENT_RECS * \
	(2 + RID_LEN + 4 + OPS_MAX_COLLECTION) + 512)
_Static_assert(TRAIL_EVENT_RECS <= AUDIT_MAX_RECS, "event records");
_Static_assert(TRAIL_BOX_MAX < AUDIT_MAX_BLOCK, "a block's bytes");
_Static_assert(TRAIL_BOX_MAX + TRAIL_CHUNK_OVERHEAD < CS_MAX_CHUNK,
    "a box's chunk");
_Static_assert(TRAIL_BOX_MAX + TRAIL_CHUNK_OVERHEAD <= TRAIL_CS_BYTES,
    "one box at least in an audit change set");
_Static_assert(TRAIL_CS_BYTES + 4096 < CS_MAX_PAYLOAD,
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

void
trail_close(struct trail *t)
{
	if (t == NULL)
		return;
	trail_drop(t);
	free(t->pend);
	keys_free(t);
	trail_cache_drop(t);
	free(t);
}

void
trail_lock(struct trail *t)
{
	trail_drop(t);
	keys_free(t);
	trail_cache_drop(t);
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

const struct circle_info *
trail_info_of(struct trail *t, const uint8_t id[CS_CIRCLELEN])
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
		if ((ci = trail_info_of(t, recs[i]->circle)) == NULL ||
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

uint64_t
trail_ship_ms(void)
{
	long ms = testhook()->audit_ship_ms;

	return ms > 0 ? (uint64_t)ms : TRAIL_SHIP_MS;
}

/* What the journal holds that trail_flush has not shipped, as far as known. */
int
trail_pending(const struct trail *t)
{
	return !t->jknown || t->jbytes > 0;
}

/*
 * rows[0..n), all of one circle, as change sets of its audit chain (a
 * box each chunk), and deleted from the journal, in the open transaction.
 */
static int
ship_circle(struct trail *t, const struct store_journal_row *rows, size_t n,
    char **cause)
{
	uint8_t chain[CS_CIRCLELEN], key[CS_KEYLEN];
	struct cs_plain *chunks;
	size_t i = 0, k, bytes;
	int rc = 0;

	chunks = xreallocarray(NULL, n, sizeof(*chunks));
	sync_audit_circle(chain, rows[0].circle);
	sync_audit_key(key, rows[0].circle);
	while (i < n && rc == 0) {
		for (k = 0, bytes = 0; i + k < n && k < CS_MAX_CHUNKS &&
		    (k == 0 || bytes + rows[i + k].len +
		    TRAIL_CHUNK_OVERHEAD <= TRAIL_CS_BYTES); k++) {
			/* Nothing finds an event by its tag. */
			randombytes_buf(chunks[k].rtag, CS_RTAGLEN);
			chunks[k].data = rows[i + k].box;
			chunks[k].len = rows[i + k].len;
			bytes += rows[i + k].len + TRAIL_CHUNK_OVERHEAD;
		}
		/* A failure rolled the batch back. */
		rc = writer_sealed(t->env.writer, chain, key, chunks, k, cause);
		for (; rc == 0 && k > 0; k--, i++)
			if (store_journal_del(t->env.store, rows[i].n) != 0)
				rc = samen_fail(cause, SAMEN_ESTORE, "the audit "
				    "journal could not be emptied");
	}
	sodium_memzero(key, sizeof(key));
	free(chunks);
	return rc;
}

/*
 * Every row of the journal, as change sets (signed: only while unlocked,
 * with the circles known).  A circle this device does not know now keeps
 * its rows for a later ship (or for the erase of its departure).
 */
static int
ship(struct trail *t, char **cause)
{
	struct store_journal_row *rows;
	size_t n, i, j;
	int rc;

	if (vault_locked(t->env.vault) ||
	    circle_private(t->env.circle) == NULL)
		return 0;
	if ((rc = store_journal_all(t->env.store, &rows, &n)) != 0)
		return samen_fail(cause, rc, "the audit journal could not be "
		    "read");
	for (i = 0; i < n && rc == 0; i = j) {
		for (j = i + 1; j < n && memcmp(rows[j].circle, rows[i].circle,
		    CS_CIRCLELEN) == 0; j++)
			;
		if (trail_info_of(t, rows[i].circle) != NULL)
			rc = ship_circle(t, rows + i, j - i, cause);
	}
	store_journal_free(rows, n);
	if (rc == 0) {
		t->jknown = 1;
		t->jbytes = 0;
		t->jsince = 0;
	}
	return rc;
}

int
trail_flush(struct trail *t, int now, char **cause)
{
	uint64_t ms = clock_mono_ms();
	int rc = 0;

	for (size_t i = 0; i < t->npend && rc == 0; i++) {
		struct pend *p = &t->pend[i];

		if ((rc = pend_seal(t, p, cause)) != 0) {
			log_warnx("the batch's reads could not be sealed: %s",
			    *cause);
			break;
		}
		if (p->nboxes > 0 &&
		    (rc = writer_begin(t->env.writer, cause)) != 0)
			break;
		for (size_t b = 0; b < p->nboxes && rc == 0; b++) {
			if (store_journal_add(t->env.store, p->circle,
			    wire_data(&p->boxes[b]), wire_len(&p->boxes[b])) != 0)
				rc = samen_fail(cause, SAMEN_ESTORE, "the "
				    "batch's reads could not be written");
			if (t->jbytes == 0)
				t->jsince = ms;
			t->jbytes += wire_len(&p->boxes[b]);
		}
	}
	if (rc == 0 && trail_pending(t) && (now ||
	    t->jbytes >= TRAIL_SHIP_BYTES ||
	    (t->jbytes > 0 && ms - t->jsince >= trail_ship_ms())))
		rc = ship(t, cause);
	trail_drop(t);
	trail_cache_drop(t);
	return rc;
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
		trail_cache_drop(t);
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
