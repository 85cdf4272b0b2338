/* store_circle: circles and their keys, sealed under the storage key. */
#include "store_int.h"

#include <stdlib.h>

#include "util.h"

/* Which circle is private: its values stay out of the shared digest. */
int
store_circle_private_load(struct store *st)
{
	sqlite3_stmt *s = sql_q(st, Q_CIRCLE_PRIVATE);
	int rc;

	st->has_private = 0;
	if (s == NULL)
		return SAMEN_ESTORE;
	if ((rc = sql_row(s)) < 0)
		return rc;
	if (rc > 0)
		st->has_private = sql_col_fixed(s, 0, st->private_id,
		    CS_CIRCLELEN);
	sqlite3_reset(s);
	return 0;
}

static int
circle_put(struct store *st, const struct store_circle *c, int kind)
{
	uint8_t ad[1 + CS_CIRCLELEN + 4];
	uint8_t kbox[CS_KEYLEN + BOX_OVERHEAD], *nbox;
	size_t nlen = c->name ? strlen(c->name) : 0;
	sqlite3_stmt *s;
	int rc;

	if (kind < STORE_CIRCLE_SHARED || kind > STORE_CIRCLE_MEMBERS)
		return SAMEN_EINVAL;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((rc = store_sp_begin(st)) != 0)
		return rc;
	/* One private circle: the mark moves to this one. */
	if (kind == STORE_CIRCLE_PRIVATE) {
		if ((s = sql_q(st, Q_CIRCLE_UNPRIVATE)) == NULL) {
			store_sp_end(st, 0);
			return SAMEN_ESTORE;
		}
		sql_bind_blob(s, 1, c->id, CS_CIRCLELEN);
		if ((rc = sql_run(s)) != 0) {
			store_sp_end(st, 0);
			return rc;
		}
	}
	nbox = xmalloc(nlen + BOX_OVERHEAD);
	store_box_circle_ad(ad, 'n', c->id, c->epoch);
	store_box_seal(st, nbox, (const uint8_t *)(c->name ? c->name : ""),
	    nlen, ad, sizeof(ad));
	store_box_circle_ad(ad, 'k', c->id, c->epoch);
	store_box_seal(st, kbox, c->key, CS_KEYLEN, ad, sizeof(ad));
	if ((s = sql_q(st, Q_CIRCLE_PUT)) == NULL)
		rc = SAMEN_ESTORE;
	else {
		sql_bind_blob(s, 1, c->id, CS_CIRCLELEN);
		sqlite3_bind_int64(s, 2, c->epoch);
		sqlite3_bind_int(s, 3, kind);
		if (kind == STORE_CIRCLE_MEMBERS)
			sql_bind_blob(s, 4, c->base, CS_CIRCLELEN);
		else
			sqlite3_bind_null(s, 4);
		sql_bind_blob(s, 5, nbox, nlen + BOX_OVERHEAD);
		sql_bind_blob(s, 6, kbox, sizeof(kbox));
		rc = sql_run(s);
	}
	free(nbox);
	/*
	 * Change sets that waited for this key can now be merged.  Epoch 0
	 * is an audit secret (store.h): no change set is read with it.
	 */
	if (rc == 0 && c->epoch != 0) {
		if ((s = sql_q(st, Q_CS_READABLE)) == NULL)
			rc = SAMEN_ESTORE;
		else {
			sql_bind_blob(s, 1, c->id, CS_CIRCLELEN);
			sqlite3_bind_int64(s, 2, c->epoch);
			rc = sql_run(s);
		}
	}
	/*
	 * A members row names a circle whose audit chain we now know:
	 * what arrived of it before is never to be merged either.
	 */
	if (rc == 0 && kind == STORE_CIRCLE_MEMBERS) {
		uint8_t chain[CS_CIRCLELEN];

		sync_audit_circle(chain, c->base);
		if ((s = sql_q(st, Q_CS_AUDIT)) == NULL)
			rc = SAMEN_ESTORE;
		else {
			sql_bind_blob(s, 1, chain, CS_CIRCLELEN);
			rc = sql_run(s);
		}
		st->audit.valid = 0;
	}
	/* A merge may have cached the old key of this epoch. */
	st->ckey.valid = 0;
	if (rc == 0 && kind == STORE_CIRCLE_PRIVATE)
		rc = store_circle_private_load(st);
	return store_sp_end(st, rc == 0) ? SAMEN_ESTORE : rc;
}

/*
 * A plain put never takes the private mark away (the query keeps kind 1):
 * losing it would make the next unlock create a second private circle.
 * Only store_circle_put_private of another circle moves it.
 */
int
store_circle_put(struct store *st, const struct store_circle *c)
{
	return circle_put(st, c, c->kind);
}

int
store_circle_put_private(struct store *st, const struct store_circle *c)
{
	return circle_put(st, c, STORE_CIRCLE_PRIVATE);
}

/*
 * Decrypts a circle row's key box into key and, if name != NULL, its name
 * box into a new string.  On error key is wiped and *name untouched.
 */
static int
circle_open(struct store *st, const uint8_t id[CS_CIRCLELEN], uint32_t epoch,
    const uint8_t *kbox, size_t klen, const uint8_t *nbox, size_t nlen,
    uint8_t key[CS_KEYLEN], char **name)
{
	uint8_t ad[1 + CS_CIRCLELEN + 4];
	char *nm;

	store_box_circle_ad(ad, 'k', id, epoch);
	if (kbox == NULL || klen != CS_KEYLEN + BOX_OVERHEAD ||
	    store_box_open(st, key, kbox, klen, ad, sizeof(ad)) != 0)
		goto fail;
	if (name == NULL)
		return 0;
	store_box_circle_ad(ad, 'n', id, epoch);
	if (nbox == NULL || nlen < BOX_OVERHEAD)
		goto fail;
	nm = xmalloc(nlen - BOX_OVERHEAD + 1);
	if (store_box_open(st, (uint8_t *)nm, nbox, nlen, ad,
	    sizeof(ad)) != 0) {
		free(nm);
		goto fail;
	}
	nm[nlen - BOX_OVERHEAD] = '\0';
	*name = nm;
	return 0;
fail:
	sodium_memzero(key, CS_KEYLEN);
	return SAMEN_EDECRYPT;
}

/* Kind and base of a circle row (columns i, i + 1). */
static int
circle_kind(sqlite3_stmt *s, int i, int *kind, uint8_t base[CS_CIRCLELEN])
{
	*kind = sqlite3_column_int(s, i);
	memset(base, 0, CS_CIRCLELEN);
	if (*kind == STORE_CIRCLE_MEMBERS)
		return sql_col_fixed(s, i + 1, base, CS_CIRCLELEN);
	return 1;
}

/*
 * Decrypts the key of (id, epoch) into key; the name too if name != NULL,
 * kind and base if kind != NULL.
 */
int
store_circle_load(struct store *st, const uint8_t id[CS_CIRCLELEN],
    uint32_t epoch, uint8_t key[CS_KEYLEN], char **name, int *kind,
    uint8_t base[CS_CIRCLELEN])
{
	sqlite3_stmt *s;
	int rc;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((s = sql_q(st, Q_CIRCLE_GET)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, id, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, epoch);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	if (kind != NULL && !circle_kind(s, 2, kind, base))
		rc = SAMEN_ESTORE;
	else
		rc = circle_open(st, id, epoch, sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1),
		    sqlite3_column_blob(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0), key, name);
	sqlite3_reset(s);
	return rc;
}

int
store_circle_get(struct store *st, const uint8_t id[CS_CIRCLELEN],
    uint32_t epoch, struct store_circle *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, CS_CIRCLELEN);
	c->epoch = epoch;
	return store_circle_load(st, id, epoch, c->key, &c->name, &c->kind,
	    c->base);
}

int
store_chain_keys(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    struct store_epoch_key *out, size_t max, size_t *nout)
{
	uint32_t epochs[64];
	size_t n = 0, k = 0;
	sqlite3_stmt *s;
	int rc;

	*nout = 0;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if (max > sizeof(epochs) / sizeof(epochs[0]))
		max = sizeof(epochs) / sizeof(epochs[0]);
	if ((s = sql_q(st, Q_CIRCLE_EPOCHS)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, chain, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		epochs[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return SAMEN_ESTORE;
	for (size_t i = 0; i < n; i++) {
		if ((rc = store_circle_load(st, chain, epochs[i], out[k].key,
		    NULL, NULL, NULL)) != 0)
			continue;	/* unreadable: the merge will say */
		out[k++].epoch = epochs[i];
	}
	*nout = k;
	return 0;
}

int
store_circle_private(struct store *st, struct store_circle *c)
{
	uint8_t id[CS_CIRCLELEN];
	uint32_t epoch;
	sqlite3_stmt *s;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((s = sql_q(st, Q_CIRCLE_PRIVATE)) == NULL)
		return SAMEN_ESTORE;
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	rc = sql_col_fixed(s, 0, id, sizeof(id));
	epoch = (uint32_t)sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	if (!rc)
		return SAMEN_ESTORE;
	return store_circle_get(st, id, epoch, c);
}

/* By (kind, name, id, epoch); names hold no NUL: strcmp is byte order. */
static int
cmp_circle(const struct store_circle *a, const struct store_circle *b)
{
	int d;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((d = strcmp(a->name, b->name)) != 0)
		return d;
	if ((d = memcmp(a->id, b->id, CS_CIRCLELEN)) != 0)
		return d;
	return a->epoch < b->epoch ? -1 : a->epoch > b->epoch;
}

/*
 * The array of a circle list holds keys: it grows and is sorted without
 * leaving copies of them in freed memory (realloc and qsort may).
 */
static struct store_circle *
circles_grow(struct store_circle *c, size_t n, size_t *cap)
{
	struct store_circle *nc;

	*cap = *cap ? *cap * 2 : 8;
	nc = xcalloc(*cap, sizeof(*nc));
	if (n > 0) {
		memcpy(nc, c, n * sizeof(*c));
		sodium_memzero(c, n * sizeof(*c));
	}
	free(c);
	return nc;
}

static int
cmp_circle_p(const void *pa, const void *pb)
{
	return cmp_circle(*(const struct store_circle *const *)pa,
	    *(const struct store_circle *const *)pb);
}

static struct store_circle *
circles_sort(struct store_circle *c, size_t n)
{
	struct store_circle **p, *sorted;
	size_t i;

	if (n == 0)
		return c;
	p = xcalloc(n, sizeof(*p));
	for (i = 0; i < n; i++)
		p[i] = &c[i];
	qsort(p, n, sizeof(*p), cmp_circle_p);
	sorted = xcalloc(n, sizeof(*sorted));
	for (i = 0; i < n; i++)
		sorted[i] = *p[i];
	free(p);
	sodium_memzero(c, n * sizeof(*c));
	free(c);
	return sorted;
}

int
store_circle_list(struct store *st, struct store_circle **out, size_t *nout)
{
	struct store_circle *c = NULL, *x;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*nout = 0;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((s = sql_q(st, Q_CIRCLE_LIST)) == NULL)
		return SAMEN_ESTORE;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap)
			c = circles_grow(c, n, &cap);
		x = &c[n];
		memset(x, 0, sizeof(*x));
		x->epoch = (uint32_t)sqlite3_column_int64(s, 1);
		if (!sql_col_fixed(s, 0, x->id, CS_CIRCLELEN) ||
		    !circle_kind(s, 4, &x->kind, x->base)) {
			rc = SAMEN_ESTORE;
			goto fail;
		}
		if ((rc = circle_open(st, x->id, x->epoch,
		    sqlite3_column_blob(s, 3), (size_t)sqlite3_column_bytes(s, 3),
		    sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
		    x->key, &x->name)) != 0)
			goto fail;
		n++;
	}
	if (rc != SQLITE_DONE) {
		rc = SAMEN_ESTORE;
		goto fail;
	}
	sqlite3_reset(s);
	*out = circles_sort(c, n);
	*nout = n;
	return 0;
fail:
	sqlite3_reset(s);
	store_circle_list_free(c, n);
	return rc;
}

void
store_circle_list_free(struct store_circle *c, size_t n)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < n; i++)
		store_circle_clear(&c[i]);
	free(c);
}

void
store_circle_clear(struct store_circle *c)
{
	sodium_memzero(c->key, sizeof(c->key));
	free(c->name);
	c->name = NULL;
}

/* The audit chains. */

static int
cmp_chain(const void *a, const void *b)
{
	return memcmp(a, b, CS_CIRCLELEN);
}

int
store_circle_audit_load(struct store *st)
{
	uint8_t base[CS_CIRCLELEN];
	sqlite3_stmt *s;
	int rc;

	if (st->audit.valid)
		return 0;
	st->audit.n = 0;
	if ((s = sql_q(st, Q_AUDIT_BASES)) == NULL)
		return SAMEN_ESTORE;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!sql_col_fixed(s, 0, base, CS_CIRCLELEN))
			continue;
		if (st->audit.n == st->audit.cap) {
			st->audit.cap = st->audit.cap ? 2 * st->audit.cap : 8;
			st->audit.ids = xreallocarray(st->audit.ids,
			    st->audit.cap, CS_CIRCLELEN);
		}
		sync_audit_circle(st->audit.ids[st->audit.n++], base);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		st->audit.n = 0;
		return SAMEN_ESTORE;
	}
	if (st->audit.n > 1)
		qsort(st->audit.ids, st->audit.n, CS_CIRCLELEN, cmp_chain);
	st->audit.valid = 1;
	return 0;
}

int
store_circle_audit(struct store *st, const uint8_t chain[CS_CIRCLELEN])
{
	int rc;

	if ((rc = store_circle_audit_load(st)) != 0)
		return rc;
	return st->audit.n > 0 && bsearch(chain, st->audit.ids, st->audit.n,
	    CS_CIRCLELEN, cmp_chain) != NULL;
}

int
store_circle_audit_ncs(struct store *st, uint64_t *n)
{
	sqlite3_stmt *next, *head;
	int64_t aid;
	int rc;

	*n = 0;
	if ((rc = store_circle_audit_load(st)) != 0)
		return rc;
	if ((next = sql_q(st, Q_CS_NEXT_AID)) == NULL ||
	    (head = sql_q(st, Q_CS_HEAD_AID)) == NULL)
		return SAMEN_ESTORE;
	for (size_t i = 0; i < st->audit.n; i++)
		for (aid = INT64_MIN;;) {
			sql_bind_blob(next, 1, st->audit.ids[i], CS_CIRCLELEN);
			sqlite3_bind_int64(next, 2, aid);
			if ((rc = sql_row(next)) <= 0) {
				if (rc < 0)
					return rc;
				break;
			}
			aid = sqlite3_column_int64(next, 0);
			sqlite3_reset(next);
			sql_bind_blob(head, 1, st->audit.ids[i], CS_CIRCLELEN);
			sqlite3_bind_int64(head, 2, aid);
			if ((rc = sql_row(head)) <= 0)
				return SAMEN_ESTORE;
			*n += sql_col_u64(head, 0);
			sqlite3_reset(head);
		}
	return 0;
}

void
store_circle_audit_free(struct store *st)
{
	free(st->audit.ids);
	st->audit.ids = NULL;
	st->audit.n = st->audit.cap = 0;
	st->audit.valid = 0;
}

int
store_circle_known(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    uint32_t epoch)
{
	sqlite3_stmt *s;
	int rc;

	if (epoch != 0) {
		if ((s = sql_q(st, Q_CIRCLE_HAS)) == NULL)
			return SAMEN_ESTORE;
		sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
		sqlite3_bind_int64(s, 2, epoch);
		if ((rc = sql_row(s)) == 1)
			sqlite3_reset(s);
		if (rc != 0)
			return rc;
	}
	/* Epoch 0 is an audit secret (store.h): nothing reads with it. */
	if ((rc = store_circle_audit(st, circle)) != 1)
		return rc;
	return STORE_AUDIT;
}

/* The circle key of (circle, epoch) into st->keys->circle. */
int
store_circle_key(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    uint32_t epoch)
{
	int rc;

	if (st->ckey.valid && st->ckey.epoch == epoch &&
	    memcmp(st->ckey.id, circle, CS_CIRCLELEN) == 0)
		return 0;
	st->ckey.valid = 0;
	if ((rc = store_circle_load(st, circle, epoch, st->keys->circle, NULL,
	    NULL, NULL)) != 0)
		return rc;
	memcpy(st->ckey.id, circle, CS_CIRCLELEN);
	st->ckey.epoch = epoch;
	st->ckey.valid = 1;
	return 0;
}

int
store_departed(struct store *st, struct store_departed **out, size_t *nout)
{
	struct store_departed *d = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((s = sql_q(st, Q_DEPARTED_LIST)) == NULL)
		return SAMEN_ESTORE;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4;
			d = xreallocarray(d, cap, sizeof(*d));
		}
		d[n].revoked = sqlite3_column_int(s, 1) != 0;
		if (!sql_col_fixed(s, 0, d[n].circle, CS_CIRCLELEN)) {
			rc = SQLITE_CORRUPT;
			break;
		}
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(d);
		return SAMEN_ESTORE;
	}
	*out = d;
	*nout = n;
	return 0;
}
