/* index: the materialised records, in memory after unlock, for fast reads and search. */
#include "index.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct index {
	struct store_record **recs;
	size_t n;
	size_t cap;
};

struct index *
index_open(void)
{
	return xcalloc(1, sizeof(struct index));
}

void
index_clear(struct index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		store_record_free(ix->recs[i]);
	ix->n = 0;
}

void
index_close(struct index *ix)
{
	if (ix == NULL)
		return;
	index_clear(ix);
	free(ix->recs);
	free(ix);
}

/* Room for more records after the n held. */
static void
reserve(struct index *ix, size_t more)
{
	if (ix->n + more <= ix->cap)
		return;
	while (ix->n + more > ix->cap)
		ix->cap = ix->cap ? ix->cap * 2 : 256;
	ix->recs = xreallocarray(ix->recs, ix->cap, sizeof(*ix->recs));
}

static int
cmp_key(const uint8_t rid[RID_LEN], int64_t rkey, const struct store_record *r)
{
	int c = memcmp(rid, r->rid, RID_LEN);

	if (c)
		return c;
	return rkey < r->rkey ? -1 : rkey > r->rkey;
}

/* First position whose record is not below (rid, rkey). */
static size_t
lower_bound(const struct index *ix, const uint8_t rid[RID_LEN], int64_t rkey)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_key(rid, rkey, ix->recs[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t
index_after(const struct index *ix, const uint8_t rid[RID_LEN], int64_t rkey)
{
	size_t at = lower_bound(ix, rid, rkey);

	return at < ix->n && ix->recs[at]->rkey == rkey &&
	    memcmp(ix->recs[at]->rid, rid, RID_LEN) == 0 ? at + 1 : at;
}

void
index_put(struct index *ix, struct store_record *r)
{
	size_t at = lower_bound(ix, r->rid, r->rkey);

	if (at < ix->n && ix->recs[at]->rkey == r->rkey) {
		store_record_free(ix->recs[at]);
		ix->recs[at] = r;
		return;
	}
	reserve(ix, 1);
	/* New rids are usually the newest: this is mostly an append. */
	memmove(&ix->recs[at + 1], &ix->recs[at],
	    (ix->n - at) * sizeof(*ix->recs));
	ix->recs[at] = r;
	ix->n++;
}

static int
cmp_i64(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return (a > b) - (a < b);
}

void
index_remove(struct index *ix, const int64_t *rkeys, size_t n)
{
	size_t i, m = 0;

	if (n == 0)
		return;
	for (i = 0; i < ix->n; i++) {
		if (bsearch(&ix->recs[i]->rkey, rkeys, n, sizeof(*rkeys),
		    cmp_i64) != NULL) {
			store_record_free(ix->recs[i]);
			continue;
		}
		ix->recs[m++] = ix->recs[i];
	}
	ix->n = m;
}

static int
cmp_rec(const struct store_record *a, const struct store_record *b)
{
	return cmp_key(a->rid, a->rkey, b);
}

/* qsort is not stable: the position in rs breaks ties (same rkey). */
struct put_item {
	struct store_record *r;
	size_t pos;
};

static int
cmp_item(const void *pa, const void *pb)
{
	const struct put_item *a = pa, *b = pb;
	int c = cmp_rec(a->r, b->r);

	if (c)
		return c;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

void
index_put_many(struct index *ix, struct store_record **rs, size_t n)
{
	struct put_item *it;
	size_t add = 0, i, j, k;

	if (n == 0)
		return;
	it = xreallocarray(NULL, n, sizeof(*it));
	for (i = 0; i < n; i++) {
		it[i].r = rs[i];
		it[i].pos = i;
	}
	/*
	 * rs is in rkey order, which is arrival order, and new rids are
	 * mostly the newest: often sorted already, and then the passes
	 * below take each record in O(1).
	 */
	for (i = 1; i < n && cmp_item(&it[i - 1], &it[i]) < 0; i++)
		;
	if (i < n)
		qsort(it, n, sizeof(*it), cmp_item);
	/* The same record twice: the later one wins. */
	for (i = j = 0; i < n; i++) {
		if (i + 1 < n && it[i + 1].r->rkey == it[i].r->rkey) {
			store_record_free(it[i].r);
			continue;
		}
		it[j++] = it[i];
	}
	n = j;
	/* Records held already are replaced where they are; rs keeps the
	 * new ones, still sorted. */
	for (i = 0; i < n; i++) {
		size_t at;

		/* Past the last record held: new. */
		if (ix->n == 0 || cmp_rec(ix->recs[ix->n - 1], it[i].r) < 0) {
			rs[add++] = it[i].r;
			continue;
		}
		at = lower_bound(ix, it[i].r->rid, it[i].r->rkey);
		if (at < ix->n && ix->recs[at]->rkey == it[i].r->rkey) {
			store_record_free(ix->recs[at]);
			ix->recs[at] = it[i].r;
		} else
			rs[add++] = it[i].r;
	}
	free(it);
	if (add == 0)
		return;
	reserve(ix, add);
	/*
	 * From the back: each new record finds its place by binary search
	 * in what has not moved yet, and the run after it moves up in one
	 * memmove.  Every record moves at most once.
	 */
	i = ix->n;
	for (j = add; j > 0; j--) {
		struct store_record *r = rs[j - 1];
		size_t lo = 0, hi = i;

		/* After everything that has not moved: its place is i. */
		if (i == 0 || cmp_rec(ix->recs[i - 1], r) < 0)
			lo = hi;
		while (lo < hi) {
			k = lo + (hi - lo) / 2;
			if (cmp_rec(ix->recs[k], r) < 0)
				lo = k + 1;
			else
				hi = k;
		}
		memmove(&ix->recs[lo + j], &ix->recs[lo],
		    (i - lo) * sizeof(*ix->recs));
		ix->recs[lo + j - 1] = r;
		i = lo;
	}
	ix->n += add;
}

void
index_append(struct index *ix, struct store_record *r)
{
	reserve(ix, 1);
	ix->recs[ix->n++] = r;
}

static int
cmp_rec_p(const void *pa, const void *pb)
{
	return cmp_rec(*(struct store_record *const *)pa,
	    *(struct store_record *const *)pb);
}

void
index_sort(struct index *ix)
{
	if (ix->n > 1)
		qsort(ix->recs, ix->n, sizeof(*ix->recs), cmp_rec_p);
}

void
index_swap(struct index *a, struct index *b)
{
	struct index t = *a;

	*a = *b;
	*b = t;
}

size_t
index_count(const struct index *ix)
{
	return ix->n;
}

const struct store_record *
index_at(const struct index *ix, size_t i)
{
	return i < ix->n ? ix->recs[i] : NULL;
}

const struct store_record *
index_get(const struct index *ix, const char *collection,
    const uint8_t rid[RID_LEN])
{
	for (size_t i = lower_bound(ix, rid, INT64_MIN); i < ix->n &&
	    memcmp(ix->recs[i]->rid, rid, RID_LEN) == 0; i++)
		if (strcmp(ix->recs[i]->collection, collection) == 0)
			return ix->recs[i];
	return NULL;
}

const struct store_field *
index_field(const struct store_record *r, const char *name, int is_set)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (r->fields[i].is_set == is_set &&
		    strcmp(r->fields[i].name, name) == 0)
			return &r->fields[i];
	return NULL;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return 1;
	for (size_t i = 0; i + nlen <= hlen; i++) {
		size_t j = 0;

		while (j < nlen && lower((unsigned char)hay[i + j]) ==
		    lower((unsigned char)needle[j]))
			j++;
		if (j == nlen)
			return 1;
	}
	return 0;
}

size_t
index_match(const struct store_record *r, const char *needle, size_t len,
    const struct store_field **out, size_t max)
{
	size_t found = 0;

	for (size_t i = 0; i < r->nfields; i++) {
		const struct store_field *f = &r->fields[i];
		/* A register matches on its shown value; a set on any element. */
		size_t nvals = f->is_set ? f->nvals : (f->nvals > 0);
		int hit = 0;

		for (size_t j = 0; j < nvals && !hit; j++)
			hit = contains(f->vals[j].value, f->vals[j].value_len,
			    needle, len);
		if (hit) {
			if (found < max)
				out[found] = f;
			found++;
		}
	}
	return found;
}
