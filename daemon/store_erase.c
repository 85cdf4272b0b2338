/* store_erase: erasure: a purge's record tags out of every change set and the replica, a departed circle, everything. */
#include "store_int.h"

#include <stdlib.h>

#include "util.h"

/*
 * docs/design.md, "Erasure", says what goes and what stays.  Each erase
 * runs in savepoint "st": its own transaction, or part of the caller's,
 * whole or not at all.  secure_delete (store.c's setup) zeroes what
 * leaves the database's pages; the WAL keeps its own copies until
 * store_wal_truncate.
 */

#define PKEY (CS_CIRCLELEN + CS_RTAGLEN)	/* a purged key: circle, rtag */

/* Tests only: the named steps of an erase, where a crash test kills. */
static void
hook(struct store *st, const char *where)
{
	if (st->purged.hook != NULL)
		st->purged.hook(st->purged.hook_arg, where);
}

void
store_set_erase_hook(struct store *st, void (*fn)(void *arg,
    const char *where), void *arg)
{
	st->purged.hook = fn;
	st->purged.hook_arg = arg;
}

void
store_erase_free(struct store *st)
{
	free(st->purged.keys);
	st->purged.keys = NULL;
	st->purged.n = st->purged.cap = 0;
	st->purged.valid = 0;
}

void
store_erased_free(struct store_erased *e)
{
	free(e->rkeys);
	memset(e, 0, sizeof(*e));
}

/* The purged tags. */

/* Reads the purged table, in (circle, rtag) order, unless read already. */
static int
purged_load(struct store *st)
{
	sqlite3_stmt *s;
	uint8_t *k;
	int rc;

	if (st->purged.valid)
		return 0;
	st->purged.n = 0;
	if ((s = sql_q(st, Q_PURGED_LIST)) == NULL)
		return SAMEN_ESTORE;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (st->purged.n == st->purged.cap) {
			st->purged.cap = st->purged.cap ? 2 * st->purged.cap :
			    16;
			st->purged.keys = xreallocarray(st->purged.keys,
			    st->purged.cap, PKEY);
		}
		k = st->purged.keys[st->purged.n];
		if (!sql_col_fixed(s, 0, k, CS_CIRCLELEN) ||
		    !sql_col_fixed(s, 1, k + CS_CIRCLELEN, CS_RTAGLEN)) {
			rc = SQLITE_CORRUPT;
			break;
		}
		st->purged.n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		st->purged.n = 0;
		return SAMEN_ESTORE;
	}
	st->purged.valid = 1;
	return 0;
}

/* The index of the first purged key >= key (n if none). */
static size_t
purged_lower(const struct store *st, const uint8_t *key, size_t len)
{
	size_t lo = 0, hi = st->purged.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(st->purged.keys[mid], key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* 1 if a tag of circle is purged (read: purged_load). */
static int
purged_circle(const struct store *st, const uint8_t circle[CS_CIRCLELEN])
{
	size_t i = purged_lower(st, circle, CS_CIRCLELEN);

	return i < st->purged.n &&
	    memcmp(st->purged.keys[i], circle, CS_CIRCLELEN) == 0;
}

static int
purged_has(const struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t rtag[CS_RTAGLEN])
{
	uint8_t key[PKEY];
	size_t i;

	memcpy(key, circle, CS_CIRCLELEN);
	memcpy(key + CS_CIRCLELEN, rtag, CS_RTAGLEN);
	i = purged_lower(st, key, PKEY);
	return i < st->purged.n && memcmp(st->purged.keys[i], key, PKEY) == 0;
}

static int expired_load(struct store *st);

/*
 * 1 if in is an audit change set dated before what the read audit's
 * retention erased (store_erase_expired): a peer's that was away longer
 * than the retention.  0 if not, or an error.
 */
static int
expired_arrival(struct store *st, const struct store_cs_in *in)
{
	int rc;

	if ((rc = expired_load(st)) != 0)
		return rc;
	if (st->audit.expired == 0 || in->h->hlc >= st->audit.expired)
		return 0;
	return store_circle_audit(st, in->h->circle);
}

/*
 * in with its chunks purged, as store_erase_arrival hands it out: every
 * one if all, else those whose tag is purged in its circle.
 */
static int
arrival_purge(struct store *st, const struct store_cs_in *in, int all,
    struct store_cs_in *x, struct wbuf *w, uint8_t **mask)
{
	struct cs_payload pl;
	uint8_t *m;
	int n = 0;

	/* Undecodable, it is the caller's to refuse: it is not ours. */
	if (changeset_payload_decode(&pl, in->payload, in->payload_len) != 0)
		return 0;
	m = xcalloc(pl.nchunks ? pl.nchunks : 1, 1);
	for (uint32_t i = 0; i < pl.nchunks; i++) {
		if (pl.chunks[i].purged || (!all &&
		    !purged_has(st, in->h->circle, pl.chunks[i].rtag)))
			continue;
		m[i] = 1;
		n++;
	}
	if (n > 0) {
		wire_init(w);
		changeset_payload_purge(w, &pl, m);
		*x = *in;
		x->payload = wire_data(w);
		x->payload_len = wire_len(w);
		x->dropped = m;
		*mask = m;
	} else
		free(m);
	changeset_payload_free(&pl);
	return n;
}

int
store_erase_arrival(struct store *st, const struct store_cs_in *in,
    struct store_cs_in *x, struct wbuf *w, uint8_t **mask)
{
	int rc;

	if ((rc = purged_load(st)) != 0)
		return rc;
	if ((rc = expired_arrival(st, in)) != 0)
		return rc < 0 ? rc : arrival_purge(st, in, 1, x, w, mask);
	if (st->purged.n == 0 || !purged_circle(st, in->h->circle))
		return 0;
	return arrival_purge(st, in, 0, x, w, mask);
}

void
store_erase_count(struct store *st, uint64_t n)
{
	if (st->in_txn)
		st->purged.dropped_txn += n;
	else
		st->purged.dropped += n;
}

int
store_wal_truncate_owed(const struct store *st)
{
	return st->purged.owed;
}

int
store_erase_done(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t (*tags)[CS_RTAGLEN], size_t ntags)
{
	int rc;

	if ((rc = purged_load(st)) != 0)
		return rc;
	for (size_t i = 0; i < ntags; i++)
		if (!purged_has(st, circle, tags[i]))
			return 0;
	return 1;
}

int
store_purged_op(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t rtag[CS_RTAGLEN], uint8_t op[CS_IDLEN])
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_PURGED_OP)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	sql_bind_blob(s, 2, rtag, CS_RTAGLEN);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	rc = sql_col_fixed(s, 0, op, CS_IDLEN) ? 0 : SAMEN_ESTORE;
	sqlite3_reset(s);
	return rc;
}

uint64_t
store_purged_dropped(const struct store *st)
{
	return st->purged.dropped;
}

int
store_expired(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const char *collection, uint64_t before, size_t max,
    struct store_expired **out, size_t *n)
{
	struct store_expired *e = NULL;
	uint8_t ctag[TAGLEN];
	size_t cap = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if (max == 0)
		return 0;
	store_box_tag(st, ctag, 0, collection, strlen(collection));
	if ((s = sql_q(st, Q_ER_EXPIRED)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	sql_bind_blob(s, 2, ctag, TAGLEN);
	sql_bind_u64(s, 3, before > INT64_MAX ? INT64_MAX : before);
	sqlite3_bind_int64(s, 4, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			e = xreallocarray(e, cap, sizeof(*e));
		}
		if (!sql_col_fixed(s, 0, e[*n].rid, RID_LEN)) {
			rc = SQLITE_CORRUPT;
			break;
		}
		e[(*n)++].updated = sql_col_u64(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(e);
		*n = 0;
		return SAMEN_ESTORE;
	}
	*out = e;
	return 0;
}

/* The tags one erase works with: sorted, each once. */
struct tagset {
	uint8_t (*t)[CS_RTAGLEN];
	size_t n, cap;
};

static void
tagset_add(struct tagset *ts, const uint8_t tag[CS_RTAGLEN])
{
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? 2 * ts->cap : 16;
		ts->t = xreallocarray(ts->t, ts->cap, CS_RTAGLEN);
	}
	memcpy(ts->t[ts->n++], tag, CS_RTAGLEN);
}

static int
cmp_tag(const void *a, const void *b)
{
	return memcmp(a, b, CS_RTAGLEN);
}

static void
tagset_sort(struct tagset *ts)
{
	size_t i, n = 0;

	if (ts->n > 1)
		qsort(ts->t, ts->n, CS_RTAGLEN, cmp_tag);
	for (i = 0; i < ts->n; i++)
		if (n == 0 || memcmp(ts->t[n - 1], ts->t[i], CS_RTAGLEN) != 0)
			memmove(ts->t[n++], ts->t[i], CS_RTAGLEN);
	ts->n = n;
}

static int
tagset_has(const struct tagset *ts, const uint8_t tag[CS_RTAGLEN])
{
	return ts->n > 0 &&
	    bsearch(tag, ts->t, ts->n, CS_RTAGLEN, cmp_tag) != NULL;
}

/* The keys of every epoch of a circle the store holds. */
struct epkeys {
	uint8_t (*key)[CS_KEYLEN];
	size_t n;
};

static void
epkeys_free(struct epkeys *k)
{
	if (k->key != NULL)
		sodium_memzero(k->key, k->n * CS_KEYLEN);
	free(k->key);
	k->key = NULL;
	k->n = 0;
}

static int
epkeys_load(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    struct epkeys *k)
{
	uint32_t *ep = NULL;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *s;
	int rc;

	k->key = NULL;
	k->n = 0;
	if ((s = sql_q(st, Q_ER_EPOCHS)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4;
			ep = xreallocarray(ep, cap, sizeof(*ep));
		}
		ep[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(ep);
		return SAMEN_ESTORE;
	}
	k->key = xcalloc(n ? n : 1, CS_KEYLEN);
	for (i = 0, rc = 0; i < n && rc == 0; i++)
		rc = store_circle_load(st, circle, ep[i], k->key[i], NULL, NULL,
		    NULL);
	k->n = n;
	free(ep);
	if (rc != 0)
		epkeys_free(k);
	return rc;
}

int
store_erase_rtags(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const char *collection, const uint8_t rid[RID_LEN],
    uint8_t (**tags)[CS_RTAGLEN], size_t *ntags)
{
	struct epkeys k;
	int rc;

	*tags = NULL;
	*ntags = 0;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((rc = epkeys_load(st, circle, &k)) != 0)
		return rc;
	if (k.n == 0) {
		epkeys_free(&k);
		return SAMEN_ENOTFOUND;
	}
	*tags = xcalloc(k.n, CS_RTAGLEN);
	for (size_t i = 0; i < k.n; i++)
		changeset_rtag((*tags)[i], k.key[i], collection,
		    strlen(collection), rid);
	*ntags = k.n;
	epkeys_free(&k);
	return 0;
}

/* Naming the records. */

/* The collections' names, by ctag: a circle holds a handful. */
struct colnames {
	struct colname {
		uint8_t ctag[TAGLEN];
		char *name;
	} *c;
	size_t n;
};

static void
colnames_free(struct colnames *cn)
{
	for (size_t i = 0; i < cn->n; i++)
		free(cn->c[i].name);
	free(cn->c);
	cn->c = NULL;
	cn->n = 0;
}

/* The name of ctag's collection, read from rkey's row the first time. */
static int
colname(struct store *st, struct colnames *cn, const uint8_t ctag[TAGLEN],
    int64_t rkey, const char **name)
{
	char *nm;
	int rc;

	for (size_t i = 0; i < cn->n; i++)
		if (memcmp(cn->c[i].ctag, ctag, TAGLEN) == 0) {
			*name = cn->c[i].name;
			return 0;
		}
	if ((rc = store_record_collection(st, rkey, &nm)) != 0)
		return rc;
	cn->c = xreallocarray(cn->c, cn->n + 1, sizeof(*cn->c));
	memcpy(cn->c[cn->n].ctag, ctag, TAGLEN);
	cn->c[cn->n].name = nm;
	*name = cn->c[cn->n++].name;
	return 0;
}

/* A record an erase names. */
struct named {
	int64_t rkey;
	uint8_t rid[RID_LEN];
	const char *coll;	/* in the colnames */
};

static int
cmp_named(const void *pa, const void *pb)
{
	const struct named *a = pa, *b = pb;

	return (a->rkey > b->rkey) - (a->rkey < b->rkey);
}

/*
 * The records of circle that ts names: each record's rtag under every
 * epoch key it holds is worked out (its collection's name read once per
 * collection), and one among ts names it.  Its rtags under every key
 * then join ts: so the chunks of epochs whose key the purge's writer did
 * not hold go too, and no rebuild brings part of the record back.
 * *out is new (free()), in rkey order.
 */
static int
name_records(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const struct epkeys *k, struct tagset *ts, struct colnames *cn,
    struct named **out, size_t *nout)
{
	struct named *nd = NULL;
	size_t n = 0, cap = 0, i, e;
	uint8_t rtag[CS_RTAGLEN], rid[RID_LEN], ctag[TAGLEN];
	const char *name;
	sqlite3_stmt *s;
	int64_t rkey;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((s = sql_q(st, Q_ER_RECS)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rkey = sqlite3_column_int64(s, 0);
		if (!sql_col_fixed(s, 1, rid, RID_LEN) ||
		    !sql_col_fixed(s, 2, ctag, TAGLEN)) {
			rc = SAMEN_ESTORE;
			break;
		}
		if ((rc = colname(st, cn, ctag, rkey, &name)) != 0)
			break;
		for (e = 0; e < k->n; e++) {
			changeset_rtag(rtag, k->key[e], name, strlen(name),
			    rid);
			if (tagset_has(ts, rtag))
				break;
		}
		if (e == k->n)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			nd = xreallocarray(nd, cap, sizeof(*nd));
		}
		nd[n].rkey = rkey;
		memcpy(nd[n].rid, rid, RID_LEN);
		nd[n].coll = name;
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(nd);
		return rc < 0 ? rc : SAMEN_ESTORE;
	}
	for (i = 0; i < n; i++)
		for (e = 0; e < k->n; e++) {
			changeset_rtag(rtag, k->key[e], nd[i].coll,
			    strlen(nd[i].coll), nd[i].rid);
			tagset_add(ts, rtag);
		}
	tagset_sort(ts);
	if (n > 1)
		qsort(nd, n, sizeof(*nd), cmp_named);
	*out = nd;
	*nout = n;
	return 0;
}

/* Erasing chunks. */

/*
 * 1 if a sealed chunk of payload carries a tag of ts: a walk over the
 * chunks' tags only (changeset_payload_decode also hashes every chunk),
 * since an erase reads every change set of the circle.  0 for one that
 * does not decode: nothing of it is taken for a tag.
 */
static int
names_a_chunk(const uint8_t *p, size_t n, const struct tagset *ts)
{
	struct wire_reader r;
	uint8_t rtag[CS_RTAGLEN];
	const uint8_t *b;
	uint32_t nchunks, len;
	size_t blen;

	wire_reader_init(&r, p, n);
	if (wire_get_array(&r, &nchunks, CS_MAX_CHUNKS) != 0)
		return 0;
	for (uint32_t i = 0; i < nchunks; i++) {
		if (wire_get_array(&r, &len, 3) != 0)
			return 0;
		if (len == 1) {
			wire_get_bin(&r, &b, &blen, CS_HASHLEN);
			continue;
		}
		if (wire_get_bin_fixed(&r, rtag, CS_RTAGLEN) != 0)
			return 0;
		if (tagset_has(ts, rtag))
			return 1;
		wire_get_bin(&r, &b, &blen, CS_NONCELEN);
		if (wire_get_bin(&r, &b, &blen, CS_MAX_CHUNK) != 0)
			return 0;
	}
	return 0;
}

/*
 * payload (of header hdr) with its chunks that carry a tag of ts purged
 * (ts NULL: every chunk, the read audit's expiry), into w; checked
 * against the header as a peer would check it, so that nothing is
 * written that would not verify.  *n: how many it purged.
 */
static int
erase_payload(const uint8_t *hdr, size_t hdr_len, const uint8_t *payload,
    size_t payload_len, const struct tagset *ts, struct wbuf *w,
    uint32_t *n)
{
	struct cs_header h;
	struct cs_payload pl, out;
	uint8_t *mask;
	int rc;

	*n = 0;
	if (changeset_header_decode(&h, hdr, hdr_len) != 0 ||
	    changeset_payload_decode(&pl, payload, payload_len) != 0)
		return SAMEN_ESTORE;	/* it holds only checked ones */
	mask = xcalloc(pl.nchunks ? pl.nchunks : 1, 1);
	for (uint32_t i = 0; i < pl.nchunks; i++)
		mask[i] = !pl.chunks[i].purged && (ts == NULL ||
		    tagset_has(ts, pl.chunks[i].rtag));
	*n = changeset_payload_purge(w, &pl, mask);
	free(mask);
	changeset_payload_free(&pl);
	if ((rc = changeset_payload_decode(&out, wire_data(w),
	    wire_len(w))) != 0)
		return SAMEN_ESTORE;
	rc = changeset_payload_check(&h, &out, wire_len(w));
	changeset_payload_free(&out);
	return rc == 0 ? 0 : SAMEN_ESTORE;
}

/* Rewrites change set csn's payload with ts's chunks purged (NULL: all). */
static int
erase_cs(struct store *st, int64_t csn, const struct tagset *ts,
    struct store_erased *out)
{
	uint8_t *hdr = NULL, *payload = NULL;
	size_t hdr_len = 0, payload_len = 0;
	struct wbuf w;
	sqlite3_stmt *s;
	uint32_t n;
	int rc;

	if ((s = sql_q(st, Q_CS_LOAD)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, csn);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ESTORE : rc;
	hdr_len = (size_t)sqlite3_column_bytes(s, 1);
	payload_len = (size_t)sqlite3_column_bytes(s, 2);
	hdr = xmalloc(hdr_len ? hdr_len : 1);
	payload = xmalloc(payload_len ? payload_len : 1);
	if (hdr_len > 0)
		memcpy(hdr, sqlite3_column_blob(s, 1), hdr_len);
	if (payload_len > 0)
		memcpy(payload, sqlite3_column_blob(s, 2), payload_len);
	sqlite3_reset(s);
	wire_init(&w);
	rc = erase_payload(hdr, hdr_len, payload, payload_len, ts, &w, &n);
	if (rc == 0 && n > 0) {
		if ((s = sql_q(st, Q_ER_CS_PUT)) == NULL)
			rc = SAMEN_ESTORE;
		else {
			sqlite3_bind_int64(s, 1, csn);
			sql_bind_blob(s, 2, wire_data(&w), wire_len(&w));
			rc = sql_run(s);
		}
		out->changesets++;
		out->chunks += n;
	}
	/* No copy of what was erased outlives the erase, in memory either. */
	sodium_memzero(payload, payload_len);
	free(payload);
	free(hdr);
	wire_free(&w);
	return rc;
}

/* A fork kept as evidence, to rewrite. */
struct fork_row {
	int64_t aid;
	uint64_t seq;
	uint8_t id[CS_IDLEN];
	uint8_t *payload;
	size_t len;
};

/*
 * The forks of circle: the same, from their own table.  ts NULL (the
 * read audit's expiry): every chunk of the forks dated before before.
 */
static int
erase_forks(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const struct tagset *ts, uint64_t before, struct store_erased *out)
{
	struct fork_row *f = NULL;
	struct cs_header h;
	size_t n = 0, i;
	sqlite3_stmt *s;
	struct wbuf w;
	uint32_t k;
	int rc;

	if ((s = sql_q(st, Q_ER_FORK_SCAN)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *hp = sqlite3_column_blob(s, 3);
		size_t hlen = (size_t)sqlite3_column_bytes(s, 3);
		const uint8_t *p = sqlite3_column_blob(s, 4);
		size_t len = (size_t)sqlite3_column_bytes(s, 4);

		if (p == NULL || (ts != NULL ? !names_a_chunk(p, len, ts) :
		    hp == NULL || changeset_header_decode(&h, hp, hlen) != 0 ||
		    h.hlc >= before))
			continue;
		wire_init(&w);
		rc = erase_payload(hp, hlen, p, len, ts, &w, &k);
		if (rc != 0 || k == 0) {
			wire_free(&w);
			if (rc != 0)
				break;
			continue;
		}
		f = xreallocarray(f, n + 1, sizeof(*f));
		f[n].aid = sqlite3_column_int64(s, 0);
		f[n].seq = sql_col_u64(s, 1);
		if (!sql_col_fixed(s, 2, f[n].id, CS_IDLEN)) {
			wire_free(&w);
			rc = SAMEN_ESTORE;
			break;
		}
		f[n].payload = wire_take(&w, &f[n].len);
		n++;
		out->changesets++;
		out->chunks += k;
	}
	sqlite3_reset(s);
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : SAMEN_ESTORE;
	for (i = 0; i < n; i++) {
		if (rc == 0 && (s = sql_q(st, Q_ER_FORK_PUT)) == NULL)
			rc = SAMEN_ESTORE;
		if (rc == 0) {
			sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
			sqlite3_bind_int64(s, 2, f[i].aid);
			sql_bind_u64(s, 3, f[i].seq);
			sql_bind_blob(s, 4, f[i].id, CS_IDLEN);
			sql_bind_blob(s, 5, f[i].payload, f[i].len);
			rc = sql_run(s);
		}
		free(f[i].payload);
	}
	free(f);
	return rc;
}

/*
 * Every change set of circle with a chunk that carries a tag of ts,
 * rewritten with those chunks purged: the log's first (found by a walk
 * over every payload's tags, then rewritten one by one, no statement
 * open on cs while it changes), then the forks'.
 */
static int
erase_chunks(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const struct tagset *ts, struct store_erased *out)
{
	int64_t *csn = NULL;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_ER_CS_SCAN)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *p = sqlite3_column_blob(s, 1);

		if (p == NULL || !names_a_chunk(p,
		    (size_t)sqlite3_column_bytes(s, 1), ts))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			csn = xreallocarray(csn, cap, sizeof(*csn));
		}
		csn[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	rc = rc == SQLITE_DONE ? 0 : SAMEN_ESTORE;
	for (i = 0; rc == 0 && i < n; i++) {
		rc = erase_cs(st, csn[i], ts, out);
		hook(st, "rewrite");
	}
	free(csn);
	if (rc == 0)
		rc = erase_forks(st, circle, ts, 0, out);
	return rc;
}

/* Erasing records. */

/* Takes one live value out of the digests. */
static void
digest_sub(struct store *st, const uint8_t vid[VID_LEN], int shared)
{
	uint8_t vh[MERGE_VID_HASHLEN];

	merge_vid_hash(vh, vid);
	merge_digest_sub_hash(&st->digest.all, vh);
	if (shared)
		merge_digest_sub_hash(&st->digest.shared, vh);
}

/*
 * Takes rkey's live values out of the digests (the shared one too unless
 * its circle is the private one): those in vals, and those in its pack
 * that pdead does not mark.  The digest is the sum over the live vids,
 * so this leaves what a rebuild without the record computes.
 */
static int
digest_out(struct store *st, int64_t rkey, const uint8_t circle[CS_CIRCLELEN])
{
	int shared = !circle_is_private(st, circle);
	const uint8_t *keys, *dead;
	size_t nk, nd, i;
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_ER_LIVE_VALS)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, rkey);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != VID_LEN) {
			rc = SQLITE_CORRUPT;
			break;
		}
		digest_sub(st, sqlite3_column_blob(s, 0), shared);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return SAMEN_ESTORE;
	if ((s = sql_q(st, Q_ER_PACK)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, rkey);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ESTORE : rc;
	keys = sqlite3_column_blob(s, 0);
	nk = (size_t)sqlite3_column_bytes(s, 0);
	dead = sqlite3_column_blob(s, 1);
	nd = (size_t)sqlite3_column_bytes(s, 1);
	rc = 0;
	if (keys != NULL && (dead == NULL || nk != nd * PACK_KEY))
		rc = SAMEN_ESTORE;
	for (i = 0; rc == 0 && keys != NULL && i < nd; i++)
		if (!dead[i])
			digest_sub(st, keys + i * PACK_KEY + 1 + TAGLEN,
			    shared);
	sqlite3_reset(s);
	return rc;
}

/* Deletes rkey's record, its values and kills, and its digest's part. */
static int
erase_record(struct store *st, int64_t rkey, const uint8_t circle[CS_CIRCLELEN])
{
	static const enum store_q del[] = { Q_ER_DEL_VALS, Q_ER_DEL_KILLS,
	    Q_ER_DEL_REC };
	sqlite3_stmt *s;
	int rc;

	if ((rc = digest_out(st, rkey, circle)) != 0)
		return rc;
	for (size_t i = 0; i < sizeof(del) / sizeof(del[0]); i++) {
		if ((s = sql_q(st, del[i])) == NULL)
			return SAMEN_ESTORE;
		sqlite3_bind_int64(s, 1, rkey);
		if ((rc = sql_run(s)) != 0)
			return rc;
	}
	return 0;
}

static int
cmp_rkey(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return (a > b) - (a < b);
}

/*
 * What this transaction's merges touched (store_merge_pending reports it)
 * less the records erased (rkeys, sorted): they are not to be reloaded.
 */
static void
untouch(struct store *st, const int64_t *rkeys, size_t n)
{
	size_t i, m = 0;

	for (i = 0; i < st->ntouched; i++)
		if (n == 0 || bsearch(&st->touched[i], rkeys, n,
		    sizeof(*rkeys), cmp_rkey) == NULL)
			st->touched[m++] = st->touched[i];
	st->ntouched = m;
}

/* Starting and ending an erase. */

static int
erase_begin(struct store *st, struct digests *saved)
{
	*saved = st->digest;
	/* Nothing the merge caches may be written over what goes. */
	st->rec.valid = 0;
	store_vp_clear(&st->rec.vp);
	return store_sp_begin(st);
}

/*
 * Saves the digest and ends the savepoint: kept (committed, if it was
 * the transaction) if rc is 0, else rolled back with the digest in
 * memory.  What the caches remember of what went is forgotten either
 * way.
 */
static int
erase_end(struct store *st, int rc, const struct digests *saved)
{
	if (rc == 0)
		rc = store_digest_save(st);
	if (rc == 0)
		hook(st, "commit");
	if (store_sp_end(st, rc == 0) != 0 && rc == 0)
		rc = SAMEN_ESTORE;
	store_drop_caches(st);
	if (rc != 0) {
		st->digest = *saved;
		return rc;
	}
	if (st->in_txn)
		st->purged.erased = 1;
	else
		st->purged.owed = 1;
	return 0;
}

static int
has_records(struct store *st, const uint8_t circle[CS_CIRCLELEN])
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_ER_HAS_RECS)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	if ((rc = sql_row(s)) == 1)
		sqlite3_reset(s);
	return rc;
}

static int
purged_add(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t op[CS_IDLEN], const struct tagset *ts)
{
	sqlite3_stmt *s;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < ts->n; i++) {
		if ((s = sql_q(st, Q_PURGED_ADD)) == NULL)
			return SAMEN_ESTORE;
		sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
		sql_bind_blob(s, 2, ts->t[i], CS_RTAGLEN);
		sql_bind_blob(s, 3, op, CS_IDLEN);
		rc = sql_run(s);
	}
	return rc;
}

int
store_erase_tags(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t op[CS_IDLEN], const uint8_t (*tags)[CS_RTAGLEN],
    size_t ntags, struct store_erased *out)
{
	struct tagset ts = { NULL, 0, 0 };
	struct colnames cn = { NULL, 0 };
	struct epkeys k = { NULL, 0 };
	struct named *nd = NULL;
	struct digests saved;
	size_t nnd = 0, i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ntags == 0)
		return SAMEN_EINVAL;
	if (st->broken)
		return SAMEN_ESTORE;
	for (i = 0; i < ntags; i++)
		tagset_add(&ts, tags[i]);
	tagset_sort(&ts);
	/*
	 * Without a key of the circle (a relay's), the tags name chunks
	 * only: there is no record of it here.  A locked member has records
	 * it cannot name yet: it erases once unlocked.
	 */
	if (st->has_key && (rc = epkeys_load(st, circle, &k)) != 0)
		goto out;
	if (k.n == 0 && (rc = has_records(st, circle)) != 0) {
		rc = rc == 1 ? SAMEN_ELOCKED : rc;
		goto out;
	}
	if ((rc = erase_begin(st, &saved)) != 0)
		goto out;
	if (k.n > 0)
		rc = name_records(st, circle, &k, &ts, &cn, &nd, &nnd);
	if (rc == 0)
		rc = purged_add(st, circle, op, &ts);
	if (rc == 0)
		rc = erase_chunks(st, circle, &ts, out);
	for (i = 0; rc == 0 && i < nnd; i++)
		rc = erase_record(st, nd[i].rkey, circle);
	if ((rc = erase_end(st, rc, &saved)) == 0 && nnd > 0) {
		out->rkeys = xcalloc(nnd, sizeof(*out->rkeys));
		for (i = 0; i < nnd; i++)
			out->rkeys[i] = nd[i].rkey;
		out->nrkeys = nnd;
		untouch(st, out->rkeys, nnd);
	}
	if (rc != 0)
		memset(out, 0, sizeof(*out));
out:
	free(nd);
	colnames_free(&cn);
	epkeys_free(&k);
	free(ts.t);
	return rc;
}

/* A departed circle; everything. */

/* Appends the rkeys of circle's records to *rk (of *n, room *cap). */
static int
circle_rkeys(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    int64_t **rk, size_t *n, size_t *cap)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_REC_CIRCLE)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 64;
			*rk = xreallocarray(*rk, *cap, sizeof(**rk));
		}
		(*rk)[(*n)++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : SAMEN_ESTORE;
}

/* Runs a statement on circle; *changes (if not NULL) adds its rows. */
static int
run_circle(struct store *st, enum store_q q,
    const uint8_t circle[CS_CIRCLELEN], uint64_t *changes)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, q)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	if ((rc = sql_run(s)) == 0 && changes != NULL)
		*changes += (uint64_t)sqlite3_changes(st->db);
	return rc;
}

/*
 * One chain of a departed circle: its records (with their part of the
 * digests), then its change sets, forks, cuts, purged tags and keys.
 */
static int
erase_chain(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    int64_t **rk, size_t *n, size_t *cap, struct store_erased *out)
{
	size_t from = *n;
	int rc;

	if ((rc = circle_rkeys(st, chain, rk, n, cap)) != 0)
		return rc;
	for (size_t i = from; rc == 0 && i < *n; i++)
		rc = erase_record(st, (*rk)[i], chain);
	if (rc == 0)
		rc = run_circle(st, Q_ER_DEL_CS, chain, &out->changesets);
	if (rc == 0)
		rc = run_circle(st, Q_ER_DEL_FORKS, chain, &out->changesets);
	if (rc == 0)
		rc = run_circle(st, Q_ER_DEL_CUTS, chain, NULL);
	if (rc == 0)
		rc = run_circle(st, Q_ER_DEL_PURGED, chain, NULL);
	if (rc == 0)
		rc = run_circle(st, Q_ER_DEL_CIRCLE, chain, NULL);
	return rc;
}

/* Own change sets of chain held back from peers: there are none now. */
static void
unhold(struct store *st, const uint8_t chain[CS_CIRCLELEN])
{
	size_t i, m = 0;

	for (i = 0; i < st->nheld; i++)
		if (memcmp(st->held[i].chain, chain, CS_CIRCLELEN) != 0)
			st->held[m++] = st->held[i];
	st->nheld = m;
}

int
store_erase_circle(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    uint64_t at_ms, int revoked, struct store_erased *out)
{
	uint8_t chain[3][CS_CIRCLELEN];
	struct digests saved;
	int64_t *rk = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (st->broken)
		return SAMEN_ESTORE;
	memcpy(chain[0], circle, CS_CIRCLELEN);
	sync_members_circle(chain[1], circle);
	sync_audit_circle(chain[2], circle);
	if ((rc = erase_begin(st, &saved)) != 0)
		return rc;
	for (int c = 0; rc == 0 && c < 3; c++)
		rc = erase_chain(st, chain[c], &rk, &n, &cap, out);
	/* Its audit chain's events not shipped yet go with it. */
	if (rc == 0)
		rc = run_circle(st, Q_ER_DEL_JNL, circle, NULL);
	/* Collections no record is of any more take their names along. */
	if (rc == 0)
		rc = sql_run_q(st, Q_ER_COLLS_GC);
	if (rc == 0 && (s = sql_q(st, Q_ER_DEPARTED)) == NULL)
		rc = SAMEN_ESTORE;
	else if (rc == 0) {
		sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
		sql_bind_u64(s, 2, at_ms);
		sqlite3_bind_int(s, 3, revoked != 0);
		rc = sql_run(s);
	}
	if ((rc = erase_end(st, rc, &saved)) != 0) {
		free(rk);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	unhold(st, chain[0]);
	unhold(st, chain[1]);
	unhold(st, chain[2]);
	if (n > 1)
		qsort(rk, n, sizeof(*rk), cmp_rkey);
	untouch(st, rk, n);
	out->rkeys = rk;
	out->nrkeys = n;
	/* It may have been the private one. */
	return store_circle_private_load(st);
}

int
store_erase_all(struct store *st, uint64_t at_ms, struct store_erased *out)
{
	static const char wipe[] = "DELETE FROM kills; DELETE FROM vals;"
	    "DELETE FROM records; DELETE FROM colls; DELETE FROM cs;"
	    "DELETE FROM forks; DELETE FROM cuts; DELETE FROM purged;"
	    "DELETE FROM circles; DELETE FROM peers; DELETE FROM flagged;"
	    "DELETE FROM authors; DELETE FROM audit_journal;";
	struct digests saved;
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (st->broken)
		return SAMEN_ESTORE;
	if ((rc = erase_begin(st, &saved)) != 0)
		return rc;
	if ((rc = sql_scalar(st, Q_N_CS, &out->changesets)) == 0 &&
	    (s = sql_q(st, Q_ER_DEPART_ALL)) == NULL)
		rc = SAMEN_ESTORE;
	else if (rc == 0) {
		sql_bind_u64(s, 1, at_ms);
		rc = sql_run(s);
	}
	if (rc == 0)
		rc = store_sql_exec(st->db, wipe, NULL);

	if (rc == 0)
		store_digests_init(&st->digest);
	if ((rc = erase_end(st, rc, &saved)) != 0) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	st->nheld = 0;
	st->ntouched = 0;
	return store_circle_private_load(st);
}

/* The read audit's retention. */

/* meta "audit_expired" into st->audit, unless read already. */
static int
expired_load(struct store *st)
{
	sqlite3_stmt *s;
	int rc;

	if (st->audit.has_expired)
		return 0;
	if ((s = sql_q(st, Q_META_GET)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_text(s, 1, "audit_expired", -1, SQLITE_STATIC);
	if ((rc = sql_row(s)) < 0)
		return rc;
	st->audit.expired = rc > 0 ? sql_col_u64(s, 0) : 0;
	if (rc > 0)
		sqlite3_reset(s);
	st->audit.has_expired = 1;
	return 0;
}

static int
expired_save(struct store *st, uint64_t before)
{
	sqlite3_stmt *s;

	if ((s = sql_q(st, Q_META_PUT)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_text(s, 1, "audit_expired", -1, SQLITE_STATIC);
	sql_bind_u64(s, 2, before);
	return sql_run(s);
}

int
store_erase_expired(struct store *st, uint64_t before,
    struct store_erased *out)
{
	struct digests saved;
	int64_t *csn = NULL;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *s;
	int rc, was_erased, was_owed;

	memset(out, 0, sizeof(*out));
	if (st->broken)
		return SAMEN_ESTORE;
	if ((rc = expired_load(st)) != 0 ||
	    (rc = store_circle_audit_load(st)) != 0)
		return rc;
	if (before <= st->audit.expired)
		return 0;
	if ((rc = erase_begin(st, &saved)) != 0)
		return rc;
	if ((s = sql_q(st, Q_AUDIT_OLD)) == NULL)
		rc = SAMEN_ESTORE;
	else {
		sql_bind_u64(s, 1, st->audit.expired);
		sql_bind_u64(s, 2, before);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				csn = xreallocarray(csn, cap, sizeof(*csn));
			}
			csn[n++] = sqlite3_column_int64(s, 0);
		}
		sqlite3_reset(s);
		rc = rc == SQLITE_DONE ? 0 : SAMEN_ESTORE;
	}
	for (i = 0; rc == 0 && i < n; i++)
		rc = erase_cs(st, csn[i], NULL, out);
	for (i = 0; rc == 0 && i < st->audit.n; i++)
		rc = erase_forks(st, st->audit.ids[i], NULL, before, out);
	if (rc == 0)
		rc = expired_save(st, before);
	free(csn);
	was_erased = st->purged.erased;
	was_owed = st->purged.owed;
	if ((rc = erase_end(st, rc, &saved)) != 0) {
		memset(out, 0, sizeof(*out));
		st->audit.has_expired = 0;
		return rc;
	}
	st->audit.expired = before;
	/* Nothing was erased: the WAL holds nothing more to truncate. */
	if (out->chunks == 0) {
		st->purged.erased = was_erased;
		st->purged.owed = was_owed;
	}
	return 0;
}
