/* writer: a batch's writes become signed change sets, one per circle, in one transaction. */
#include "writer.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "changeset.h"
#include "clock.h"
#include "durable.h"
#include "error.h"
#include "hlc.h"
#include "log.h"
#include "util.h"
#include "wire.h"

/*
 * A group holds each chunk's plaintext (ops_encode), unencrypted: the
 * rtag, the nonce and the encryption come at the build.  Groups live only
 * while a batch is handled; their memory is kept for the next batch.
 */
struct group_chunk {
	uint8_t rid[RID_LEN];
	char collection[OPS_MAX_COLLECTION + 1];
	size_t off, len;		/* its plaintext in group.plain */
};

struct group {
	uint8_t circle[CS_CIRCLELEN];
	/* The circle's key and epoch, taken with the group's first chunk:
	 * the caller's circle list may be read again before the build. */
	uint32_t epoch;
	uint8_t key[CS_KEYLEN];
	struct wbuf plain;		/* the chunks' plaintexts, in order */
	struct group_chunk *chunks;
	uint32_t nchunks;
	uint32_t capchunks;
	size_t payload;			/* bound on the encoded payload */
	uint32_t *slots;		/* rid hash: chunk index + 1, 0 empty */
	size_t nslots;			/* a power of 2, >= 2 * capchunks */
};

struct writer {
	struct writer_env env;
	struct hlc clock;
	int in_txn;
	int lazy;			/* the open transaction is lazy */
	int sync_later;			/* writer_sync_later: no request */
	struct group *groups;		/* one per circle written */
	size_t ngroups;
	struct wbuf scratch;		/* a chunk's plaintext, wiped after */
	uint8_t rnd[102 * RID_RANDOM];	/* for writer_new_rid */
	size_t nrnd;
};

/* Encoded size of a chunk around plaintext of len bytes, at most:
 * [rtag bin8, nonce bin8, ciphertext bin32] in a fixarray. */
#define GROUP_CHUNK_OVERHEAD (1 + 2 + CS_RTAGLEN + 2 + CS_NONCELEN + 5 + \
	CS_ABYTES)
#define GROUP_PAYLOAD_HEAD 5		/* the payload's array32 header */
#define GROUP_KEEP (256u << 10)		/* plaintext buffer kept between batches */


struct writer *
writer_open(const struct writer_env *env)
{
	struct writer *w = xcalloc(1, sizeof(*w));

	w->env = *env;
	hlc_init(&w->clock, 0);
	wire_init(&w->scratch);
	return w;
}

static void group_reset(struct group *g);

/* Wipes and frees every group. */
static void
groups_free(struct writer *w)
{
	for (size_t i = 0; i < w->ngroups; i++) {
		group_reset(&w->groups[i]);
		wire_free(&w->groups[i].plain);
		/* Their collections' names. */
		if (w->groups[i].chunks != NULL)
			sodium_memzero(w->groups[i].chunks,
			    w->groups[i].capchunks *
			    sizeof(*w->groups[i].chunks));
		free(w->groups[i].chunks);
		free(w->groups[i].slots);
	}
	free(w->groups);
	w->groups = NULL;
	w->ngroups = 0;
}

void
writer_close(struct writer *w)
{
	if (w == NULL)
		return;
	assert(!w->in_txn);
	groups_free(w);
	wire_free(&w->scratch);
	free(w);
}

void
writer_lock(struct writer *w)
{
	assert(!w->in_txn);
	groups_free(w);
	wire_wipe(&w->scratch);
}

void
writer_set_durable(struct writer *w, struct durable *d)
{
	w->env.durable = d;
}

void
writer_start(struct writer *w, uint64_t max_hlc)
{
	hlc_init(&w->clock, max_hlc);
}

/*
 * The next timestamp of a write.  A clock that ran ahead (the device's
 * was wrong when it wrote, and has been set right) takes the wall clock
 * again, so that what it writes now reaches peers at once; said once,
 * when it happens.
 */
static uint64_t
writer_now(struct writer *w)
{
	uint64_t wall = clock_wall_ms(), ahead;
	char d[32];

	if (w->env.max_skew_ms > 0 &&
	    (ahead = hlc_bound(&w->clock, wall, w->env.max_skew_ms)) > 0) {
		hlc_span(d, ahead);
		log_warnx("clock was ahead by %s (the last timestamp written "
		    "or held): new writes take the wall clock", d);
	}
	return hlc_now(&w->clock, wall);
}

/*
 * Its 80 random bits come from a pool refilled with one randombytes_buf
 * (a getrandom system call) per 102 ids rather than one per id: they only
 * make ids unique, they guard nothing.
 */
void
writer_new_rid(struct writer *w, uint8_t rid[RID_LEN])
{
	if (w->nrnd < RID_RANDOM) {
		randombytes_buf(w->rnd, sizeof(w->rnd));
		w->nrnd = sizeof(w->rnd);
	}
	w->nrnd -= RID_RANDOM;
	rid_make(rid, clock_wall_ms(), w->rnd + w->nrnd);
}

/* Ops. */

void
writer_ops_init(struct writer_ops *l)
{
	l->n = 0;
	l->refs = NULL;
	l->nrefs = 0;
	l->caprefs = 0;
}

void
writer_ops_free(struct writer_ops *l)
{
	free(l->refs);
}

struct op *
writer_ops_add(struct writer_ops *l, enum op_type type, const char *field,
    size_t field_len, const char *value, size_t value_len)
{
	struct op *op = &l->ops[l->n];

	assert(l->n < CTL_MAX_ASSIGNS);
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->field = field;
	op->field_len = field_len;
	op->value = value;
	op->value_len = value_len;
	l->ref[l->n].first = l->nrefs;
	l->ref[l->n].count = 0;
	l->n++;
	return op;
}

/* Appends the vids of vals (those matching element, if given) as refs. */
static size_t
add_refs(struct writer_ops *l, const struct store_value *vals, size_t n,
    const char *element)
{
	size_t added = 0;

	for (size_t i = 0; i < n; i++) {
		if (element && strcmp(vals[i].value, element) != 0)
			continue;
		if (l->nrefs == l->caprefs) {
			l->caprefs = l->caprefs ? l->caprefs * 2 : 16;
			l->refs = xreallocarray(l->refs, l->caprefs, VID_LEN);
		}
		memcpy(l->refs + l->nrefs * VID_LEN, vals[i].vid, VID_LEN);
		l->nrefs++;
		added++;
	}
	return added;
}

void
writer_ops_ref(struct writer_ops *l, const struct store_value *vals,
    size_t n, const char *element)
{
	assert(l->n > 0);
	l->ref[l->n - 1].count += add_refs(l, vals, n, element);
}

/* Groups. */

static size_t
group_hash(const uint8_t rid[RID_LEN], size_t nslots)
{
	uint64_t x;

	/* The rid's last 8 bytes are random (rid.h) or a hash (members). */
	memcpy(&x, rid + RID_LEN - 8, 8);
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (size_t)x & (nslots - 1);
}

/* The slot of (collection, rid) in g: holding its chunk, or empty. */
static uint32_t *
group_slot(struct group *g, const char *collection,
    const uint8_t rid[RID_LEN])
{
	size_t i = group_hash(rid, g->nslots);

	for (;; i = (i + 1) & (g->nslots - 1)) {
		const struct group_chunk *gc;

		if (g->slots[i] == 0)
			return &g->slots[i];
		gc = &g->chunks[g->slots[i] - 1];
		if (memcmp(gc->rid, rid, RID_LEN) == 0 &&
		    strcmp(gc->collection, collection) == 0)
			return &g->slots[i];
	}
}

static void
group_reset(struct group *g)
{
	wire_wipe(&g->plain);
	sodium_memzero(g->key, sizeof(g->key));
	if (g->nchunks > 0)
		memset(g->slots, 0, g->nslots * sizeof(*g->slots));
	g->nchunks = 0;
	g->payload = GROUP_PAYLOAD_HEAD;
}

static struct group *
group_find(struct writer *w, const uint8_t circle[CS_CIRCLELEN])
{
	for (size_t i = 0; i < w->ngroups; i++)
		if (memcmp(w->groups[i].circle, circle, CS_CIRCLELEN) == 0)
			return &w->groups[i];
	return NULL;
}

static struct group *
group_of(struct writer *w, const uint8_t circle[CS_CIRCLELEN])
{
	struct group *g;

	if ((g = group_find(w, circle)) != NULL)
		return g;
	w->groups = xreallocarray(w->groups, w->ngroups + 1,
	    sizeof(*w->groups));
	g = &w->groups[w->ngroups++];
	memset(g, 0, sizeof(*g));
	memcpy(g->circle, circle, CS_CIRCLELEN);
	wire_init(&g->plain);
	g->payload = GROUP_PAYLOAD_HEAD;
	return g;
}

static void
groups_drop(struct writer *w)
{
	for (size_t i = 0; i < w->ngroups; i++)
		group_reset(&w->groups[i]);
}

/*
 * Rolls back the transaction, drops every open group, and has the held
 * replies say code.  Returns how many replies that is.
 */
static size_t
abort_batch(struct writer *w, int code)
{
	groups_drop(w);
	if (!w->in_txn)
		return 0;
	store_rollback(w->env.store);
	w->in_txn = 0;
	return w->env.aborted(w->env.arg, code);
}

void
writer_abort(struct writer *w, int code)
{
	(void)abort_batch(w, code);
}

/*
 * Builds, signs and stores a change set of ours in chain (epoch, key) of
 * chunks[0..n), in the batch's transaction.  merged: the plaintexts it
 * merges from (chunks), or NULL for a chain that is never merged.
 */
static int
put_own(struct writer *w, const uint8_t chain[CS_CIRCLELEN], uint32_t epoch,
    const uint8_t key[CS_KEYLEN], const struct cs_plain *chunks, size_t n,
    int merged)
{
	struct cs_header h;
	struct wbuf hw, payw;
	uint8_t id[CS_IDLEN], *nonces;
	uint64_t head;
	int rc;

	memset(&h, 0, sizeof(h));
	memcpy(h.author, vault_public_key(w->env.vault), 32);
	memcpy(h.circle, chain, CS_CIRCLELEN);
	h.epoch = epoch;
	if ((rc = store_cs_head(w->env.store, h.author, h.circle, &head,
	    h.prev)) != 0)
		return rc;
	h.seq = head + 1;
	h.hlc = writer_now(w);
	nonces = xreallocarray(NULL, n ? n : 1, CS_NONCELEN);
	randombytes_buf(nonces, n * CS_NONCELEN);
	wire_init(&hw);
	wire_init(&payw);
	changeset_build(&hw, &payw, id, &h, vault_sign_sk(w->env.vault), key,
	    chunks, n, nonces);
	rc = store_cs_insert_own(w->env.store, &h, id, wire_data(&hw),
	    wire_len(&hw), wire_data(&payw), wire_len(&payw),
	    merged ? chunks : NULL, merged ? n : 0);
	wire_free(&hw);
	wire_free(&payw);
	free(nonces);
	return rc;
}

/*
 * A change set of n of what (chunks, writes) could not be stored: half
 * of it may be in the transaction, so the whole batch is rolled back.
 */
static int
put_failed(struct writer *w, int rc, size_t n, const char *what,
    char **cause)
{
	size_t refused = abort_batch(w, rc);

	log_warnx("a change set of %zu %s could not be stored: %s; the "
	    "batch's %zu requests are refused", n, what, samen_strerror(rc),
	    refused);
	return samen_fail(cause, rc, "could not store the change: %s",
	    samen_strerror(rc));
}

/*
 * Builds, signs, stores and merges g's change set, and empties g.  On
 * failure the transaction may hold half of it: the whole batch is rolled
 * back (abort_batch).
 */
static int
group_close(struct writer *w, struct group *g, char **cause)
{
	struct cs_plain *plain;
	uint32_t n = g->nchunks;
	size_t used;
	int rc;

	if (n == 0)
		return 0;
	plain = xreallocarray(NULL, n, sizeof(*plain));
	for (uint32_t i = 0; i < n; i++) {
		const struct group_chunk *gc = &g->chunks[i];

		changeset_rtag(plain[i].rtag, g->key, gc->collection,
		    strlen(gc->collection), gc->rid);
		plain[i].data = wire_data(&g->plain) + gc->off;
		plain[i].len = gc->len;
	}
	/* Merged from the plaintexts in hand, in the batch's transaction;
	 * the merge call only reports what it touched (nothing else
	 * pends). */
	rc = put_own(w, g->circle, g->epoch, g->key, plain, n, 1);
	if (rc == 0)
		rc = store_merge_pending(w->env.store, w->env.touched,
		    w->env.touched_arg);
	free(plain);
	if (rc != 0)
		return put_failed(w, rc, n, "writes", cause);
	used = wire_len(&g->plain);
	group_reset(g);
	/* Kept for the next batch, unless a big one left it large. */
	if (used > GROUP_KEEP) {
		wire_free(&g->plain);
		wire_init(&g->plain);
	}
	return 0;
}

int
writer_sealed(struct writer *w, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t key[CS_KEYLEN], const struct cs_plain *chunks, size_t n,
    char **cause)
{
	int rc;

	if ((rc = writer_begin(w, cause)) != 0)
		return rc;
	/* Its chain is never merged: nothing is read back. */
	if ((rc = put_own(w, chain, 1, key, chunks, n, 0)) != 0)
		return put_failed(w, rc, n, "sealed chunks", cause);
	return 0;
}

uint64_t
writer_hlc(struct writer *w)
{
	return writer_now(w);
}

int
writer_close_all(struct writer *w, char **cause)
{
	int rc;

	for (size_t i = 0; i < w->ngroups; i++)
		if ((rc = group_close(w, &w->groups[i], cause)) != 0)
			return rc;
	return 0;
}

int
writer_settle(struct writer *w, const uint8_t circle[CS_CIRCLELEN],
    const char *collection, const uint8_t rid[RID_LEN], char **cause)
{
	struct group *g = group_find(w, circle);

	if (g == NULL || g->nchunks == 0 ||
	    *group_slot(g, collection, rid) == 0)
		return 0;
	return group_close(w, g, cause);
}

static void
group_grow(struct group *g)
{
	g->capchunks = g->capchunks ? g->capchunks * 2 : 64;
	g->chunks = xreallocarray(g->chunks, g->capchunks, sizeof(*g->chunks));
	free(g->slots);
	g->nslots = (size_t)g->capchunks * 2;
	g->slots = xcalloc(g->nslots, sizeof(*g->slots));
	for (uint32_t i = 0; i < g->nchunks; i++)
		*group_slot(g, g->chunks[i].collection, g->chunks[i].rid) =
		    i + 1;
}

/*
 * Adds chunk to the open group of circ, closing that group first if the
 * chunk would take it past the format's limits (CS_MAX_CHUNKS chunks,
 * CS_MAX_PAYLOAD bytes of payload).  The caller has settled the record
 * (writer_settle): a group holds at most one chunk per record.
 */
static int
group_add(struct writer *w, const struct store_circle *circ,
    const struct ops_chunk *chunk, char **cause)
{
	struct group *g = group_of(w, circ->id);
	struct group_chunk *gc;
	size_t len;
	uint32_t *slot;
	int rc;

	/* Encoded aside first: whether it fits decides where it goes. */
	wire_wipe(&w->scratch);
	ops_encode(&w->scratch, chunk);
	len = wire_len(&w->scratch);
	if (len + GROUP_CHUNK_OVERHEAD + GROUP_PAYLOAD_HEAD > CS_MAX_PAYLOAD ||
	    len + CS_ABYTES > CS_MAX_CHUNK) {
		wire_wipe(&w->scratch);
		return samen_fail(cause, SAMEN_ETOOBIG, "the change is too big for "
		    "one change set");
	}
	if (g->nchunks > 0 && (g->nchunks == CS_MAX_CHUNKS ||
	    g->payload + len + GROUP_CHUNK_OVERHEAD > CS_MAX_PAYLOAD) &&
	    (rc = group_close(w, g, cause)) != 0) {
		wire_wipe(&w->scratch);
		return rc;
	}
	if (g->nchunks == 0) {
		g->epoch = circ->epoch;
		memcpy(g->key, circ->key, CS_KEYLEN);
	}
	if (g->nchunks == g->capchunks)
		group_grow(g);
	slot = group_slot(g, chunk->collection, chunk->rid);
	assert(*slot == 0);
	gc = &g->chunks[g->nchunks];
	memcpy(gc->rid, chunk->rid, RID_LEN);
	memcpy(gc->collection, chunk->collection, chunk->collection_len);
	gc->collection[chunk->collection_len] = '\0';
	gc->off = wire_len(&g->plain);
	gc->len = len;
	wire_put_raw(&g->plain, wire_data(&w->scratch), len);
	wire_wipe(&w->scratch);
	*slot = ++g->nchunks;
	g->payload += len + GROUP_CHUNK_OVERHEAD;
	return 0;
}

/* The batch's transaction. */

int
writer_begin(struct writer *w, char **cause)
{
	int rc;

	if (w->in_txn)
		return 0;
	w->lazy = w->env.durable != NULL;
	rc = w->lazy ? store_begin_lazy(w->env.store) :
	    store_begin(w->env.store);
	if (rc != 0)
		return samen_fail(cause, rc, "storage error: %s",
		    samen_strerror(rc));
	w->in_txn = 1;
	return 0;
}

int
writer_record(struct writer *w, const struct store_circle *circ,
    const char *collection, const uint8_t rid[RID_LEN],
    const struct store_record *cur, int alive, struct writer_ops *l,
    char **cause)
{
	struct ops_chunk chunk;
	struct writer_ref exist_ref;
	int rc;

	/* The existence op replaces every existence value we see. */
	exist_ref.first = l->nrefs;
	exist_ref.count = cur ? add_refs(l, cur->exist, cur->nexist, NULL) : 0;
	memmove(&l->ops[1], &l->ops[0], l->n * sizeof(l->ops[0]));
	memmove(&l->ref[1], &l->ref[0], l->n * sizeof(l->ref[0]));
	memset(&l->ops[0], 0, sizeof(l->ops[0]));
	l->ops[0].type = OP_EXIST;
	l->ops[0].alive = alive;
	l->ref[0] = exist_ref;
	l->n++;
	for (uint32_t i = 0; i < l->n; i++) {
		l->ops[i].refs = l->ref[i].count ?
		    l->refs + l->ref[i].first * VID_LEN : NULL;
		l->ops[i].nrefs = (uint32_t)l->ref[i].count;
	}
	memset(&chunk, 0, sizeof(chunk));
	chunk.collection = collection;
	chunk.collection_len = strlen(collection);
	memcpy(chunk.rid, rid, RID_LEN);
	chunk.ops = l->ops;
	chunk.nops = l->n;
	if ((rc = writer_begin(w, cause)) != 0)
		return rc;
	return group_add(w, circ, &chunk, cause);
}

int
writer_chunk(struct writer *w, const struct store_circle *circ,
    const struct ops_chunk *chunk, char **cause)
{
	int rc;

	if ((rc = writer_begin(w, cause)) != 0)
		return rc;
	return group_add(w, circ, chunk, cause);
}

int
writer_commit(struct writer *w, uint64_t *ticket)
{
	size_t refused;
	char *cause = NULL;
	int rc;

	if (w->in_txn && (rc = writer_close_all(w, &cause)) != 0) {
		/* Logged and rolled back (group_close). */
		free(cause);
		return rc;
	}
	if (!w->in_txn)
		return 0;
	if (!w->lazy)
		rc = store_commit(w->env.store);
	else if ((rc = store_commit_lazy(w->env.store, ticket)) == 0 &&
	    w->env.durable != NULL && !w->sync_later)
		durable_request(w->env.durable, *ticket);
	w->sync_later = 0;
	if (rc == 0) {
		w->in_txn = 0;
		return 0;
	}
	refused = abort_batch(w, rc);
	log_warnx("commit failed: %s; %zu requests refused",
	    samen_strerror(rc), refused);
	return rc;
}

void
writer_sync_later(struct writer *w)
{
	w->sync_later = 1;
}

int
writer_in_txn(const struct writer *w)
{
	return w->in_txn;
}
