/* store_merge: merging change sets into the replica: as they arrive, from the queue of pending ones, or all again (rebuild). */
#include "store_int.h"

#include <stdlib.h>

#include "hlc.h"
#include "util.h"

#define PENDING_BATCH 256

/* No clock given: nothing is held (SQLite's integers are signed). */
#define NO_HORIZON ((uint64_t)INT64_MAX)

void
store_set_hold(struct store *st, uint64_t (*wall_ms)(void), uint64_t skew_ms)
{
	st->hold_clock = wall_ms;
	st->hold_skew_ms = skew_ms;
	st->horizon = NO_HORIZON;
}

/* The horizon by the clock now: the last hlc of wall + skew ms. */
uint64_t
store_horizon_now(struct store *st)
{
	uint64_t ms;

	if (st->hold_clock == NULL)
		return NO_HORIZON;
	ms = st->hold_clock() + st->hold_skew_ms;
	if (ms >= HLC_MS(NO_HORIZON))
		return NO_HORIZON;
	return HLC_MAKE(ms, 0xffff);
}

uint64_t
store_hold_horizon(struct store *st)
{
	return st->in_txn && st->hold_clock != NULL ? st->horizon :
	    store_horizon_now(st);
}

/* The one integer query q answers about what lies past horizon. */
static int
held_scalar(struct store *st, enum store_q q, uint64_t horizon, uint64_t *v)
{
	sqlite3_stmt *s;
	int rc;

	*v = 0;
	if ((s = sql_q(st, q)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_u64(s, 1, horizon);
	if ((rc = sql_row(s)) < 0)
		return rc;
	if (rc == 1) {
		*v = sql_col_u64(s, 0);
		sqlite3_reset(s);
	}
	return 0;
}

int
store_held(struct store *st, uint64_t *n, uint64_t *next)
{
	uint64_t horizon = store_hold_horizon(st);
	int rc;

	*n = *next = 0;
	if (horizon == NO_HORIZON)
		return 0;
	if ((rc = held_scalar(st, Q_N_HELD, horizon, n)) != 0 || *n == 0)
		return rc;
	return held_scalar(st, Q_HELD_NEXT, horizon, next);
}

/*
 * merge_chunks from the plaintexts in hand (store_cs_insert_own); one that
 * does not decode (past a schema limit) makes the change set bad.
 */
static int
merge_own(struct store *st, const struct store_cs_in *in,
    const struct cs_header *h, int *bad)
{
	struct ops_chunk oc;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < in->nown; i++) {
		/* Purged as it was stored: its record is gone. */
		if (in->dropped != NULL && in->dropped[i])
			continue;
		if (ops_decode(&oc, in->own[i].data, in->own[i].len) != 0) {
			*bad = 1;
			return 0;
		}
		if ((rc = merge_chunk(&store_replica_ops, st, h, in->id,
		    (uint32_t)i, &oc)) == 0)
			rc = store_replica_flush(st);
		ops_chunk_free(&oc);
	}
	return rc;
}

/* merge_chunks from the chunks read ahead (store_cs_insert_opened). */
static int
merge_opened(struct store *st, const struct store_cs_in *in,
    const struct cs_header *h)
{
	const struct cs_opened *op = in->opened;
	/* Vids worked out ahead are used only for the change set they are
	 * of. */
	int ahead = op->has_vids && memcmp(op->csid, in->id, CS_IDLEN) == 0;
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < op->n; i++) {
		/*
		 * A purged chunk's record is gone: nothing to apply.  So for
		 * one purged as it was stored, which the pool read ahead.
		 */
		if (op->chunks[i].plain == NULL ||
		    (in->dropped != NULL && in->dropped[i]))
			continue;
		if ((rc = merge_chunk_vids(&store_replica_ops, st, h, in->id,
		    i, &op->chunks[i].oc,
		    ahead ? op->chunks[i].vids : NULL)) == 0)
			rc = store_replica_flush(st);
	}
	return rc;
}

/*
 * Applies the chunks of in's change set, decrypted from its payload unless
 * in has them.  Returns 0, and *bad = 1 if the change set is bad (its
 * author's fault: nothing of it may stay), or a store error.
 */
static int
merge_chunks(struct store *st, const struct store_cs_in *in, int *bad)
{
	struct cs_header h;
	struct cs_payload pl;
	struct ops_chunk oc;
	uint8_t *plain;
	size_t plen;
	uint32_t i;
	int rc;

	if (changeset_header_decode(&h, in->hdr, in->hdr_len) != 0) {
		*bad = 1;
		return 0;
	}
	if (in->own != NULL)
		return merge_own(st, in, &h, bad);
	if (in->opened != NULL)
		return merge_opened(st, in, &h);
	/* A circle key we cannot read is our fault, not the author's. */
	if ((rc = store_circle_key(st, h.circle, h.epoch)) != 0)
		return rc;
	if (changeset_payload_decode(&pl, in->payload, in->payload_len) != 0) {
		*bad = 1;
		return 0;
	}
	rc = 0;
	for (i = 0; rc == 0 && i < pl.nchunks; i++) {
		/* A purged chunk's record is gone: nothing to apply. */
		if (pl.chunks[i].purged)
			continue;
		if (changeset_chunk_read(&plain, &plen, &oc, &h, &pl.chunks[i],
		    st->keys->circle) != 0) {
			*bad = 1;
			break;
		}
		if ((rc = merge_chunk(&store_replica_ops, st, &h, in->id, i,
		    &oc)) == 0)
			rc = store_replica_flush(st);
		ops_chunk_free(&oc);
		sodium_memzero(plain, plen);
		free(plain);
	}
	changeset_payload_free(&pl);
	return rc;
}

static int
cmp_i64(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return (a > b) - (a < b);
}

int
store_merge_bytes(struct store *st, const struct store_cs_in *in,
    const struct digests *saved, size_t ntouched, int *bad)
{
	int rc;

	*bad = 0;
	/* A chunk's record cache must not outlive its savepoint. */
	st->rec.valid = 0;
	store_vp_clear(&st->rec.vp);
	rc = merge_chunks(st, in, bad);
	if (rc != 0 || *bad) {
		/* All chunks or none; optimistic, the caller rolls back. */
		if (!in->optimistic)
			sql_run_q(st, Q_SP_CS_ROLLBACK);
		st->digest = *saved;
		st->author.valid = 0;
		st->ntouched = ntouched;
		/* It may hold records whose creation was just undone. */
		store_fresh_clear(st, 1);
		st->colls.n = st->colls.next = 0;
	}
	st->rec.valid = 0;
	store_vp_clear(&st->rec.vp);	/* no plaintext outlives the merge */
	return rc;
}

/* Loads change set csn and merges it inside savepoint "cs". */
static int
merge_one(struct store *st, int64_t csn, int digest_each)
{
	struct digests saved = st->digest;
	struct store_cs_in in;
	uint8_t id[CS_IDLEN], *hdr = NULL, *payload = NULL;
	size_t hdr_len, payload_len, ntouched = st->ntouched;
	sqlite3_stmt *s;
	int rc, bad;

	if ((s = sql_q(st, Q_CS_LOAD)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, csn);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ESTORE : rc;
	/* Copied out: the statement is reset before the replica changes. */
	hdr_len = (size_t)sqlite3_column_bytes(s, 1);
	payload_len = (size_t)sqlite3_column_bytes(s, 2);
	if (sql_col_fixed(s, 0, id, CS_IDLEN) && hdr_len > 0) {
		hdr = xmalloc(hdr_len);
		memcpy(hdr, sqlite3_column_blob(s, 1), hdr_len);
		payload = xmalloc(payload_len);
		if (payload_len > 0)
			memcpy(payload, sqlite3_column_blob(s, 2), payload_len);
	}
	sqlite3_reset(s);
	if (hdr == NULL)
		return SAMEN_ESTORE;

	if ((rc = sql_run_q(st, Q_SP_CS)) != 0)
		goto out;
	in = (struct store_cs_in){ .id = id, .hdr = hdr, .hdr_len = hdr_len,
	    .payload = payload, .payload_len = payload_len, .merge = 1 };
	if ((rc = store_merge_bytes(st, &in, &saved, ntouched, &bad)) == 0) {
		if ((s = sql_q(st, bad ? Q_CS_BAD : Q_CS_MERGED)) == NULL)
			rc = SAMEN_ESTORE;
		else {
			sqlite3_bind_int64(s, 1, csn);
			rc = sql_run(s);
		}
		if (rc == 0 && digest_each)
			rc = store_digest_save(st);
		if (rc != 0) {
			sql_run_q(st, Q_SP_CS_ROLLBACK);
			st->digest = saved;
			store_drop_caches(st);
			st->ntouched = ntouched;
		}
	}
	if (sql_run_q(st, Q_SP_CS_RELEASE) != 0 && rc == 0) {
		rc = SAMEN_ESTORE;
		st->ntouched = ntouched;
	}
	st->rec.valid = 0;
out:
	free(hdr);
	free(payload);
	return rc;
}

/*
 * Merges in batches of the queue's head: each change set leaves the queue
 * (merged or bad) before the next batch is read, and no read statement is
 * open while the replica changes.
 */
static int
merge_all(struct store *st, int digest_each)
{
	int64_t batch[PENDING_BATCH];
	uint64_t horizon = store_hold_horizon(st);
	sqlite3_stmt *s;
	size_t i, n;
	int rc;

	for (;;) {
		if ((s = sql_q(st, Q_CS_TODO)) == NULL)
			return SAMEN_ESTORE;
		sqlite3_bind_int(s, 1, PENDING_BATCH);
		sql_bind_u64(s, 2, horizon);
		n = 0;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			batch[n++] = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return SAMEN_ESTORE;
		if (n == 0)
			return 0;
		for (i = 0; i < n; i++)
			if ((rc = merge_one(st, batch[i], digest_each)) != 0)
				return rc;
	}
}

int
store_merge_pending(struct store *st,
    void (*touched)(void *arg, int64_t rkey), void *arg)
{
	struct digests before = st->digest;
	size_t i, n;
	int rc, rc2;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	/* What store_cs_insert_merged touched before is reported too. */
	st->want_touched = touched != NULL || st->ntouched > 0;
	/*
	 * Inside the caller's transaction the digest is written once at the
	 * end; on its own, each change set commits with its digest.
	 */
	rc = merge_all(st, !st->in_txn);
	if (st->in_txn && (st->digest_unsaved ||
	    memcmp(&before, &st->digest, sizeof(before)) != 0)) {
		if ((rc2 = store_digest_save(st)) != 0 && rc == 0)
			rc = rc2;
		else if (rc2 == 0)
			st->digest_unsaved = 0;
	}
	sodium_memzero(st->keys->circle, sizeof(st->keys->circle));
	st->ckey.valid = 0;
	/*
	 * Once per record, however many of the change sets touched it: the
	 * caller reloads each (1,500 writers to one record would otherwise
	 * make it decrypt that record 1,500 times).  After an error too, for
	 * what was merged before it: outside a transaction that is kept.
	 */
	if (st->ntouched > 1)
		qsort(st->touched, st->ntouched, sizeof(*st->touched),
		    cmp_i64);
	for (i = 0, n = 0; i < st->ntouched; i++)
		if (i == 0 || st->touched[i] != st->touched[i - 1])
			st->touched[n++] = st->touched[i];
	st->ntouched = 0;
	st->want_touched = 0;
	for (i = 0; touched != NULL && i < n; i++)
		touched(arg, st->touched[i]);
	return rc;
}

static int
rebuild(struct store *st)
{
	int rc;

	if ((rc = sql_run_q(st, Q_RB_KILLS)) != 0 ||
	    (rc = sql_run_q(st, Q_RB_VALS)) != 0 ||
	    (rc = sql_run_q(st, Q_RB_RECORDS)) != 0 ||
	    (rc = sql_run_q(st, Q_RB_COLLS)) != 0 ||
	    (rc = sql_run_q(st, Q_RB_CS)) != 0)
		return rc;
	store_drop_caches(st);
	store_digests_init(&st->digest);
	if ((rc = merge_all(st, 0)) != 0)
		return rc;
	return store_digest_save(st);
}

int
store_rebuild(struct store *st)
{
	int rc;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	/* A savepoint: its own transaction, or part of the caller's. */
	if ((rc = store_sp_begin(st)) != 0)
		return rc;
	rc = rebuild(st);
	sodium_memzero(st->keys->circle, sizeof(st->keys->circle));
	st->ckey.valid = 0;
	if (store_sp_end(st, rc == 0) != 0 && rc == 0)
		rc = SAMEN_ESTORE;
	if (rc != 0 && store_digest_load(st) != 0)
		store_digests_init(&st->digest);
	return rc;
}
