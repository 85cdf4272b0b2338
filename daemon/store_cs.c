/* store_cs: the change-set log: authors, chains as received, forks kept as evidence, and what sync reads of them. */
#include "store_int.h"

#include <assert.h>
#include <stdlib.h>

#include "util.h"

/* The author's integer id; adds the author if add, else ENOTFOUND. */
int
store_cs_author_id(struct store *st, const uint8_t pk[32], int add,
    int64_t *aid)
{
	sqlite3_stmt *s;
	int rc;

	if (st->author.valid && memcmp(st->author.pk, pk, 32) == 0) {
		*aid = st->author.aid;
		return 0;
	}
	if ((s = sql_q(st, Q_AUTHOR_GET)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, pk, 32);
	if ((rc = sql_row(s)) < 0)
		return rc;
	if (rc == 1) {
		*aid = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	} else if (!add)
		return SAMEN_ENOTFOUND;
	else {
		if ((s = sql_q(st, Q_AUTHOR_ADD)) == NULL)
			return SAMEN_ESTORE;
		sql_bind_blob(s, 1, pk, 32);
		if (sql_run(s) != 0)
			return SAMEN_ESTORE;
		*aid = sqlite3_last_insert_rowid(st->db);
	}
	st->author.valid = 1;
	st->author.aid = *aid;
	memcpy(st->author.pk, pk, 32);
	return 0;
}

int
store_cs_head(struct store *st, const uint8_t author[32],
    const uint8_t circle[CS_CIRCLELEN], uint64_t *seq, uint8_t id[CS_IDLEN])
{
	sqlite3_stmt *s;
	int rc;

	*seq = 0;
	memset(id, 0, CS_IDLEN);
	if ((s = sql_q(st, Q_CS_HEAD)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, author, 32);
	sql_bind_blob(s, 2, circle, CS_CIRCLELEN);
	if ((rc = sql_row(s)) <= 0)
		return rc;
	*seq = sql_col_u64(s, 0);
	rc = sql_col_fixed(s, 1, id, CS_IDLEN);
	sqlite3_reset(s);
	return rc ? 0 : SAMEN_ESTORE;
}

/* The head of (circle, aid): seq 0 and a zero id if none. */
static int
cs_head(struct store *st, const uint8_t circle[CS_CIRCLELEN], int64_t aid,
    uint64_t *seq, uint8_t id[CS_IDLEN])
{
	sqlite3_stmt *s;
	int rc;

	*seq = 0;
	memset(id, 0, CS_IDLEN);
	if ((s = sql_q(st, Q_CS_HEAD_AID)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	if ((rc = sql_row(s)) <= 0)
		return rc;
	*seq = sql_col_u64(s, 0);
	rc = sql_col_fixed(s, 1, id, CS_IDLEN);
	sqlite3_reset(s);
	return rc ? 0 : SAMEN_ESTORE;
}

static int
is_flagged(struct store *st, int64_t aid)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_FLAGGED)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, aid);
	if ((rc = sql_row(s)) == 1)
		sqlite3_reset(s);
	return rc;
}

/*
 * Keeps the second header as evidence and flags its author.  The first one
 * is the change set already stored.
 */
static int
keep_fork(struct store *st, const struct cs_header *h, int64_t aid,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	sqlite3_stmt *s;
	int rc;

	st->head.valid = 0;
	if ((s = sql_q(st, Q_FORK_INSERT)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, h->circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	sql_bind_u64(s, 3, h->seq);
	sql_bind_blob(s, 4, id, CS_IDLEN);
	sql_bind_blob(s, 5, hdr, hdr_len);
	sql_bind_blob(s, 6, payload, payload_len);
	if ((rc = sql_run(s)) != 0)
		return rc;
	if ((s = sql_q(st, Q_FLAG)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, aid);
	sql_bind_blob(s, 2, h->circle, CS_CIRCLELEN);
	sql_bind_u64(s, 3, h->seq);
	return sql_run(s);
}

/*
 * A change set at or below the head: the stored one again (a replay), or
 * a second one for the same seq (a fork).
 */
static int
replay_or_fork(struct store *st, const struct cs_header *h, int64_t aid,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len, int *keep)
{
	uint8_t old[CS_IDLEN];
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_CS_AT)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, h->circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	sql_bind_u64(s, 3, h->seq);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ECHAIN : rc;	/* seq 0 */
	rc = sql_col_fixed(s, 0, old, CS_IDLEN);
	sqlite3_reset(s);
	if (!rc)
		return SAMEN_ESTORE;
	if (memcmp(old, id, CS_IDLEN) == 0)
		return SAMEN_EEXIST;
	if ((rc = keep_fork(st, h, aid, id, hdr, hdr_len, payload,
	    payload_len)) != 0)
		return rc;
	*keep = 1;
	return SAMEN_EFORK;
}

/*
 * The body of store_cs_insert and its variants: in's change set into the
 * log.  *keep says whether to keep what it wrote, *bad whether its row
 * says it is bad.  With in->merge, a change set it can merge now is merged
 * before its row is written, and the row says so (see
 * store_cs_insert_merged).
 */
static int
cs_insert(struct store *st, const struct store_cs_in *in, int *keep,
    int *bad)
{
	const struct cs_header *h = in->h;
	struct digests saved = st->digest;
	uint8_t head_id[CS_IDLEN];
	uint64_t head, cut;
	size_t ntouched = st->ntouched;
	int64_t aid;
	sqlite3_stmt *s;
	int rc, readable, merged = 0, quarantined, held;

	*keep = 0;
	*bad = 0;
	if ((rc = store_cs_author_id(st, h->author, 1, &aid)) != 0)
		return rc;
	if (st->head.valid && st->head.aid == aid &&
	    memcmp(st->head.circle, h->circle, CS_CIRCLELEN) == 0) {
		head = st->head.seq;
		memcpy(head_id, st->head.id, CS_IDLEN);
		cut = st->head.cut;
	} else {
		if ((rc = is_flagged(st, aid)) != 0)
			return rc == 1 ? SAMEN_EFORK : rc;
		if ((rc = cs_head(st, h->circle, aid, &head, head_id)) != 0 ||
		    (rc = store_cut_get(st, h->circle, aid, &cut)) != 0)
			return rc;
	}
	if (h->seq <= head)
		return in->optimistic ? SAMEN_EEXIST :
		    replay_or_fork(st, h, aid, in->id, in->hdr, in->hdr_len,
		    in->payload, in->payload_len, keep);
	if (h->seq != head + 1 || memcmp(h->prev, head_id, CS_IDLEN) != 0)
		return SAMEN_ECHAIN;
	if ((readable = store_circle_known(st, h->circle, h->epoch)) < 0)
		return readable;
	/*
	 * Past its author's cut (a removal's): kept, never merged, not an
	 * error (its author may not have known), until an accept moves the
	 * cut.
	 */
	quarantined = h->seq > cut;
	/*
	 * From the future (store_set_hold): stored, so that its author's
	 * chain goes on, and merged once the clock has caught up.  What
	 * this device wrote itself is never held.
	 */
	held = in->own == NULL && h->hlc > store_hold_horizon(st);

	if (in->merge && readable == 1 && !quarantined && !held &&
	    st->has_key && st->in_txn) {
		/*
		 * Inside savepoint "cs", nested in store_cs_insert's "st":
		 * a bad change set or a store error takes back its merge
		 * alone; then it is stored bad, or pending for a retry.
		 * Optimistic there is no savepoint, and either is the
		 * caller's to roll back with the whole transaction.
		 */
		st->want_touched = 1;
		if (!in->optimistic && sql_run_q(st, Q_SP_CS) != 0)
			return SAMEN_ESTORE;
		rc = store_merge_bytes(st, in, &saved, ntouched, bad);
		if (in->optimistic && (rc != 0 || *bad)) {
			rc = SAMEN_ERETRY;
			goto undo;
		}
		merged = rc == 0 && !*bad;
		if (!in->optimistic && sql_run_q(st, Q_SP_CS_RELEASE) != 0) {
			rc = SAMEN_ESTORE;
			goto undo;
		}
	}
	if ((s = sql_q(st, Q_CS_INSERT)) == NULL) {
		rc = SAMEN_ESTORE;
		goto undo;
	}
	sql_bind_blob(s, 1, h->circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	sql_bind_u64(s, 3, h->seq);
	sqlite3_bind_int64(s, 4, h->epoch);
	sql_bind_u64(s, 5, h->hlc);
	sqlite3_bind_int(s, 6, readable);
	sql_bind_blob(s, 7, in->id, CS_IDLEN);
	sql_bind_blob(s, 8, in->hdr, in->hdr_len);
	sql_bind_blob(s, 9, in->payload, in->payload_len);
	sqlite3_bind_int(s, 10, merged);
	sqlite3_bind_int(s, 11, *bad);
	sqlite3_bind_int(s, 12, quarantined);
	if ((rc = sql_run(s)) != 0)
		goto undo;
	*keep = 1;
	if (merged && memcmp(&saved, &st->digest, sizeof(saved)) != 0)
		st->digest_unsaved = 1;
	st->head.valid = 1;
	memcpy(st->head.circle, h->circle, CS_CIRCLELEN);
	st->head.aid = aid;
	st->head.seq = h->seq;
	memcpy(st->head.id, in->id, CS_IDLEN);
	st->head.cut = cut;
	return 0;
undo:
	/* store_cs_insert rolls back to "st" (optimistic, the caller rolls
	 * the transaction back): the merge goes with it. */
	st->digest = saved;
	st->ntouched = ntouched;
	return rc;
}

/*
 * cs_insert of in, with the chunks that carry a tag purged in its circle
 * erased first (store_erase_arrival: a peer that has not heard of the
 * purge, or a write of ours from before it); *dropped says how many of
 * them there were if it kept the change set (stored, or as a fork's
 * evidence), else 0.
 */
static int
cs_insert_erasing(struct store *st, const struct store_cs_in *in, int *keep,
    int *bad, uint64_t *dropped)
{
	struct store_cs_in x;
	struct wbuf w;
	uint8_t *mask = NULL;
	int rc, n;

	*dropped = 0;
	*keep = *bad = 0;
	if ((n = store_erase_arrival(st, in, &x, &w, &mask)) < 0)
		return n;
	if (n == 0)
		return cs_insert(st, in, keep, bad);
	rc = cs_insert(st, &x, keep, bad);
	if (*keep)
		*dropped = (uint64_t)n;
	wire_free(&w);
	free(mask);
	return rc;
}

/*
 * cs_insert inside savepoint "st": a refused change set leaves nothing,
 * not even a new author.
 */
static int
cs_insert_sp(struct store *st, const struct store_cs_in *in, int *bad)
{
	struct digests saved = st->digest;
	size_t ntouched = st->ntouched;
	uint64_t dropped;
	int rc, keep;

	if ((rc = store_sp_begin(st)) != 0)
		return rc;
	rc = cs_insert_erasing(st, in, &keep, bad, &dropped);
	if (store_sp_end(st, keep) != 0) {
		/* Rolled back or not, what it merged is not to be trusted. */
		st->digest = saved;
		st->ntouched = ntouched;
		return SAMEN_ESTORE;
	}
	if (dropped > 0)
		store_erase_count(st, dropped);
	return rc;
}

int
store_cs_insert(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct store_cs_in in = { .h = h, .id = id, .hdr = hdr,
	    .hdr_len = hdr_len, .payload = payload,
	    .payload_len = payload_len };
	int bad;

	return cs_insert_sp(st, &in, &bad);
}

int
store_cs_insert_merged(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct store_cs_in in = { .h = h, .id = id, .hdr = hdr,
	    .hdr_len = hdr_len, .payload = payload,
	    .payload_len = payload_len, .merge = 1 };
	int bad;

	return cs_insert_sp(st, &in, &bad);
}

int
store_cs_insert_optimistic(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len, const struct cs_opened *op)
{
	struct store_cs_in in = { .h = h, .id = id, .hdr = hdr,
	    .hdr_len = hdr_len, .payload = payload,
	    .payload_len = payload_len, .merge = 1, .optimistic = 1,
	    .opened = op };
	uint64_t dropped;
	int rc, keep, bad;

	assert(st->in_txn);
	rc = cs_insert_erasing(st, &in, &keep, &bad, &dropped);
	if (rc == 0 && dropped > 0)
		store_erase_count(st, dropped);
	return rc == 0 ? 0 : SAMEN_ERETRY;
}

int
store_cs_insert_own(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len,
    const struct cs_plain *plain, size_t nplain)
{
	struct store_cs_in in = { .h = h, .id = id, .hdr = hdr,
	    .hdr_len = hdr_len, .payload = payload,
	    .payload_len = payload_len, .merge = 1, .own = plain,
	    .nown = nplain };
	int rc, bad;

	rc = cs_insert_sp(st, &in, &bad);
	/* Stored bad, it would apply nothing: the caller rolls back. */
	if (rc == 0 && bad)
		return SAMEN_EINVAL;
	if (rc == 0 && st->lazy)
		store_held_add(st, h);
	return rc;
}

int
store_cs_insert_opened(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len, const struct cs_opened *op)
{
	struct store_cs_in in = { .h = h, .id = id, .hdr = hdr,
	    .hdr_len = hdr_len, .payload = payload,
	    .payload_len = payload_len, .merge = 1, .opened = op };
	int bad;

	return cs_insert_sp(st, &in, &bad);
}

/* Sync support: none of it needs the storage key. */

static int
cmp_head(const void *pa, const void *pb)
{
	const struct sync_head *a = pa, *b = pb;

	return memcmp(a->author, b->author, 32);
}

static int cs_id_at(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, uint8_t id[CS_IDLEN]);

/*
 * A skip scan over cs_chain: the next author of the chain, then that
 * author's last entry, two index seeks per author whatever the chain's
 * length.  Forks live in their own table, so only the first change set of a
 * forked seq counts, as it does for store_cs_head().
 */
int
store_vector(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    struct sync_head **out, size_t *nout)
{
	struct sync_head *h = NULL, *x;
	sqlite3_stmt *next, *head;
	size_t n = 0, cap = 0;
	int64_t aid = INT64_MIN;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((next = sql_q(st, Q_CS_NEXT_AID)) == NULL ||
	    (head = sql_q(st, Q_CS_HEAD_PK)) == NULL)
		return SAMEN_ESTORE;
	for (;;) {
		sql_bind_blob(next, 1, chain, CS_CIRCLELEN);
		sqlite3_bind_int64(next, 2, aid);
		if ((rc = sql_row(next)) < 0)
			goto fail;
		if (rc == 0)
			break;
		aid = sqlite3_column_int64(next, 0);
		sqlite3_reset(next);

		sql_bind_blob(head, 1, chain, CS_CIRCLELEN);
		sqlite3_bind_int64(head, 2, aid);
		if ((rc = sql_row(head)) <= 0) {
			rc = SAMEN_ESTORE;	/* it was there a moment ago */
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			h = xreallocarray(h, cap, sizeof(*h));
		}
		x = &h[n];
		x->seq = sql_col_u64(head, 0);
		rc = sql_col_fixed(head, 1, x->head, CS_IDLEN) &&
		    sql_col_fixed(head, 2, x->author, 32);
		sqlite3_reset(head);
		if (!rc) {
			rc = SAMEN_ESTORE;
			goto fail;
		}
		n++;
	}
	/* What is not synced yet is not there for peers (held_own). */
	for (size_t i = 0; i < n; i++) {
		const struct held_own *o = store_held_find(st, chain,
		    h[i].author);

		if (o == NULL || h[i].seq < o->seq)
			continue;
		if (o->seq <= 1) {
			h[i--] = h[--n];
			continue;
		}
		h[i].seq = o->seq - 1;
		if ((rc = cs_id_at(st, chain, h[i].author, h[i].seq,
		    h[i].head)) != 0)
			goto fail;
	}
	/* By author bytes, as VECTOR wants; aids are in arrival order. */
	if (n > 1)
		qsort(h, n, sizeof(*h), cmp_head);
	*out = h;
	*nout = n;
	return 0;
fail:
	free(h);
	return rc;
}

int
store_cs_id_at(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, uint8_t id[CS_IDLEN])
{
	const struct held_own *o = store_held_find(st, chain, author);

	if (o != NULL && seq >= o->seq) {
		memset(id, 0, CS_IDLEN);
		return SAMEN_ENOTFOUND;
	}
	return cs_id_at(st, chain, author, seq, id);
}

static int
cs_id_at(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, uint8_t id[CS_IDLEN])
{
	sqlite3_stmt *s;
	int64_t aid;
	int rc;

	memset(id, 0, CS_IDLEN);
	if ((rc = store_cs_author_id(st, author, 0, &aid)) != 0)
		return rc;
	if ((s = sql_q(st, Q_CS_AT)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, chain, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	sql_bind_u64(s, 3, seq);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	rc = sql_col_fixed(s, 0, id, CS_IDLEN);
	sqlite3_reset(s);
	return rc ? 0 : SAMEN_ESTORE;
}

/*
 * cb runs while the statement is stepped, so the blobs need no copy; it must
 * not call store_cs_range() itself.
 */
int
store_cs_range(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t after, uint64_t limit, int clean,
    int (*cb)(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len), void *arg)
{
	const struct held_own *o = store_held_find(st, chain, author);
	uint64_t end = o != NULL ? o->seq : UINT64_MAX;	/* not sent */
	uint64_t cut;
	sqlite3_stmt *s;
	int64_t aid;
	int rc;

	/* Seqs are stored as SQLite's signed integers. */
	if (limit == 0 || after >= INT64_MAX || after + 1 >= end)
		return 0;
	if ((rc = store_cs_author_id(st, author, 0, &aid)) != 0)
		return rc == SAMEN_ENOTFOUND ? 0 : rc;
	/* Quarantined change sets are the tail past the cut. */
	if (clean) {
		if ((rc = store_cut_get(st, chain, aid, &cut)) != 0)
			return rc;
		if (cut < end - 1)
			end = cut + 1;
		if (after + 1 >= end)
			return 0;
	}
	if ((s = sql_q(st, Q_CS_RANGE)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, chain, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	sql_bind_u64(s, 3, after);
	sqlite3_bind_int64(s, 4, limit > INT64_MAX ? -1 : (int64_t)limit);
	for (;;) {
		const uint8_t *hdr, *payload;
		size_t hdr_len, payload_len;

		if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : SAMEN_ESTORE;
			break;
		}
		hdr = sqlite3_column_blob(s, 1);
		hdr_len = (size_t)sqlite3_column_bytes(s, 1);
		payload = sqlite3_column_blob(s, 2);
		payload_len = (size_t)sqlite3_column_bytes(s, 2);
		if (hdr == NULL || hdr_len == 0) {
			rc = SAMEN_ESTORE;
			break;
		}
		if (sql_col_u64(s, 0) >= end) {
			rc = 0;
			break;
		}
		if ((rc = cb(arg, sql_col_u64(s, 0), hdr, hdr_len, payload,
		    payload_len)) != 0)
			break;
	}
	sqlite3_reset(s);
	return rc;
}

int
store_author_flagged(struct store *st, const uint8_t author[32])
{
	int64_t aid;
	int rc;

	if ((rc = store_cs_author_id(st, author, 0, &aid)) != 0)
		return rc == SAMEN_ENOTFOUND ? 0 : rc;
	return is_flagged(st, aid);
}
