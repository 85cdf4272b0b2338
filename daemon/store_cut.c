/* store_cut: cuts (where a removed author's change sets stop counting) and the quarantine past them. */
#include "store_int.h"

#include <stdlib.h>

#include "util.h"

/*
 * A removal pins, for the removed device, the last seq of its chain in the
 * circle that counts (docs/sync.md, "Removal, cuts and quarantine").  The
 * circle module sets the cuts its rosters resolve after every resolve;
 * here they are kept (cuts) and applied: every change set of (circle,
 * author) past the cut is marked quarantined, which keeps it out of the
 * merge queue (cs_todo) and so out of the replica, and one at or below it
 * is not.  Nothing is deleted: an accept raises the cut, and what it lets
 * in becomes pending and is merged by the next store_merge_pending.
 */

/* 1 if the store holds any cut, 0 if not (remembered), or an error. */
static int
cuts_any(struct store *st)
{
	int rc;

	if (st->cuts_any < 0) {
		if ((rc = sql_row(sql_q(st, Q_CUT_ANY))) < 0)
			return rc;
		if (rc == 1)
			sqlite3_reset(sql_q(st, Q_CUT_ANY));
		st->cuts_any = rc;
	}
	return st->cuts_any;
}

int
store_cut_get(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    int64_t aid, uint64_t *cut)
{
	sqlite3_stmt *s;
	int rc;

	*cut = UINT64_MAX;
	if ((rc = cuts_any(st)) <= 0)
		return rc;
	if ((s = sql_q(st, Q_CUT_GET)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	if ((rc = sql_row(s)) <= 0)
		return rc;
	*cut = sql_col_u64(s, 0);
	sqlite3_reset(s);
	return 0;
}

/* The statement s with (circle, aid, seq) bound as ?1, ?2, ?3, run. */
static int
run_cut(struct store *st, enum store_q q, const uint8_t circle[CS_CIRCLELEN],
    int64_t aid, uint64_t seq, int *row)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, q)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	if (sqlite3_bind_parameter_count(s) >= 3)
		sql_bind_u64(s, 3, seq);
	if (row == NULL)
		return sql_run(s);
	if ((rc = sql_row(s)) < 0)
		return rc;
	if (rc == 1)
		sqlite3_reset(s);
	*row = rc;
	return 0;
}

static int
cut_set(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, int *rebuild)
{
	int64_t aid;
	int rc;

	/* A device that never wrote here may be removed too. */
	if ((rc = store_cs_author_id(st, author, 1, &aid)) != 0 ||
	    (rc = run_cut(st, Q_CUT_PUT, circle, aid, seq, NULL)) != 0 ||
	    (rc = run_cut(st, Q_CUT_STALE, circle, aid, seq, rebuild)) != 0)
		return rc;
	return run_cut(st, Q_CUT_MARK, circle, aid, seq, NULL);
}

int
store_cut_set(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, int *rebuild)
{
	int rc;

	*rebuild = 0;
	if (seq > INT64_MAX)
		return SAMEN_EINVAL;
	if ((rc = store_sp_begin(st)) != 0)
		return rc;
	rc = cut_set(st, circle, author, seq, rebuild);
	/* The insert's cached head carries the cut it saw. */
	st->head.valid = 0;
	st->cuts_any = rc == 0 ? 1 : -1;
	if (store_sp_end(st, rc == 0) != 0 && rc == 0)
		rc = SAMEN_ESTORE;
	if (rc != 0)
		*rebuild = 0;
	return rc;
}

int
store_cut_clear(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t author[32])
{
	int64_t aid;
	int rc;

	if ((rc = store_cs_author_id(st, author, 0, &aid)) != 0)
		return rc == SAMEN_ENOTFOUND ? 0 : rc;
	if ((rc = store_sp_begin(st)) != 0)
		return rc;
	if ((rc = run_cut(st, Q_CUT_DEL, circle, aid, 0, NULL)) == 0)
		rc = run_cut(st, Q_CUT_UNMARK, circle, aid, 0, NULL);
	st->head.valid = 0;
	st->cuts_any = -1;
	if (store_sp_end(st, rc == 0) != 0 && rc == 0)
		rc = SAMEN_ESTORE;
	return rc;
}

int
store_cuts(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    struct store_cut **out, size_t *nout)
{
	struct store_cut *c = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((s = sql_q(st, Q_CUT_LIST)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			c = xreallocarray(c, cap, sizeof(*c));
		}
		c[n].seq = sql_col_u64(s, 1);
		if (!sql_col_fixed(s, 0, c[n].author, 32)) {
			rc = SQLITE_ERROR;
			break;
		}
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(c);
		return SAMEN_ESTORE;
	}
	*out = c;
	*nout = n;
	return 0;
}

/* The cut of author among c[0..n) (sorted by author), or NULL. */
static const struct store_cut *
cut_of(const struct store_cut *c, size_t n, const uint8_t author[32])
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = memcmp(c[mid].author, author, 32);

		if (d == 0)
			return &c[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
cmp_cut(const void *pa, const void *pb)
{
	const struct store_cut *a = pa, *b = pb;

	return memcmp(a->author, b->author, 32);
}

int
store_vector_capped(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t keep[32], struct sync_head **out, size_t *nout)
{
	struct store_cut *c = NULL;
	struct sync_head *h;
	size_t nc = 0, n, i, k;
	int rc;

	if ((rc = store_vector(st, chain, out, nout)) != 0)
		return rc;
	/* No cut anywhere (the store remembers): not a query more. */
	if ((rc = cuts_any(st)) <= 0 || *nout == 0)
		goto out;
	if ((rc = store_cuts(st, chain, &c, &nc)) != 0 || nc == 0)
		goto out;
	if (nc > 1)
		qsort(c, nc, sizeof(*c), cmp_cut);
	h = *out;
	n = *nout;
	for (i = k = 0; rc == 0 && i < n; i++) {
		const struct store_cut *cut = cut_of(c, nc, h[i].author);

		if (cut != NULL && h[i].seq > cut->seq &&
		    (keep == NULL || memcmp(keep, h[i].author, 32) != 0)) {
			if (cut->seq == 0)
				continue;	/* nothing of it counts */
			h[i].seq = cut->seq;
			rc = store_cs_id_at(st, chain, h[i].author, cut->seq,
			    h[i].head);
		}
		h[k++] = h[i];
	}
	*nout = k;
out:
	free(c);
	if (rc != 0) {
		free(*out);
		*out = NULL;
		*nout = 0;
	}
	return rc < 0 ? rc : 0;
}

int
store_quarantine_each(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    int (*cb)(void *arg, const struct store_quarantined *q), void *arg)
{
	struct store_quarantined q;
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_QUAR_LIST)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	for (;;) {
		if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : SAMEN_ESTORE;
			break;
		}
		memset(&q, 0, sizeof(q));
		q.seq = sql_col_u64(s, 1);
		q.hlc = sql_col_u64(s, 2);
		q.epoch = (uint32_t)sqlite3_column_int64(s, 3);
		q.hdr = sqlite3_column_blob(s, 4);
		q.hdr_len = (size_t)sqlite3_column_bytes(s, 4);
		q.payload = sqlite3_column_blob(s, 5);
		q.payload_len = (size_t)sqlite3_column_bytes(s, 5);
		if (!sql_col_fixed(s, 0, q.author, 32) || q.hdr == NULL) {
			rc = SAMEN_ESTORE;
			break;
		}
		if ((rc = cb(arg, &q)) != 0)
			break;
	}
	sqlite3_reset(s);
	return rc;
}

int
store_quarantine_count(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    uint64_t *n)
{
	sqlite3_stmt *s;
	int rc;

	*n = 0;
	if ((s = sql_q(st, Q_QUAR_COUNT)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	if ((rc = sql_row(s)) <= 0)
		return rc;
	*n = sql_col_u64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int
store_chain_each(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    int (*cb)(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len), void *arg)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_CHAIN_ALL)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, chain, CS_CIRCLELEN);
	for (;;) {
		const uint8_t *hdr;
		size_t hdr_len;

		if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : SAMEN_ESTORE;
			break;
		}
		hdr = sqlite3_column_blob(s, 0);
		hdr_len = (size_t)sqlite3_column_bytes(s, 0);
		if (hdr == NULL || hdr_len == 0) {
			rc = SAMEN_ESTORE;
			break;
		}
		if ((rc = cb(arg, hdr, hdr_len, sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1))) != 0)
			break;
	}
	sqlite3_reset(s);
	return rc;
}
