/* store_record: records as the CLI sees them: loaded and decrypted, their history, and the replica's counts and digests. */
#include "store_int.h"

#include <assert.h>
#include <stdlib.h>

#include "util.h"

/* Frees a string of plaintext (a name or a value), wiped first. */
static void
text_free(char *s, size_t len)
{
	if (s == NULL)
		return;
	sodium_memzero(s, len);
	free(s);
}

static void
items_free(struct item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		text_free(it[i].field, it[i].field_len);
		text_free(it[i].value, it[i].value_len);
	}
	free(it);
}

/* 1 if kind, read back from the replica, is an op's. */
static int
kind_ok(int kind)
{
	return kind == OP_SET || kind == OP_EXIST || kind == OP_ADD ||
	    kind == OP_REM;
}

/*
 * Appends the values of rkey's pack to it[0..*n) (those not dead unless
 * all), decrypted.
 */
static int
items_pack(struct store *st, int64_t rkey, int all, struct item **it,
    size_t *n, size_t *cap)
{
	struct valpack *p = &st->rdvp;
	struct packval v;
	struct item *x;
	const uint8_t *k;
	size_t i, off = 0;
	int rc;

	if ((rc = store_vp_read(st, rkey, p)) != 0 || p->n == 0)
		goto out;
	for (i = 0, k = p->keys; i < p->n; i++, k += PACK_KEY) {
		if ((rc = store_vp_next(p, &off, &v)) != 0)
			goto out;
		if (p->dead[i] && !all)
			continue;
		if (!kind_ok(k[0])) {
			rc = SAMEN_ESTORE;
			goto out;
		}
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*it = xreallocarray(*it, *cap, sizeof(**it));
		}
		x = &(*it)[(*n)++];
		memset(x, 0, sizeof(*x));
		x->kind = (enum op_type)k[0];
		memcpy(x->vid, k + 1 + TAGLEN, VID_LEN);
		x->hlc = p->hlc;
		memcpy(x->author, p->author, 32);
		x->seq = p->seq;
		x->nrefs = get_le32(k + 1 + TAGLEN + VID_LEN);
		x->alive = (v.flags & VAL_ALIVE) != 0;
		x->field = xstrndup(v.field, v.field_len);
		x->field_len = v.field_len;
		if (v.value != NULL) {
			x->value = xstrndup(v.value, v.value_len);
			x->value_len = v.value_len;
		}
	}
out:
	store_vp_clear(p);	/* wipes the plaintext */
	return rc;
}

/*
 * Reads and decrypts rkey's values: the rows of a Q_VALS_* query bound to
 * rkey, then its pack's (Q_VALS_ALL: all of them; else the live ones).
 */
static int
items_load(struct store *st, enum store_q which, int64_t rkey,
    struct item **out, size_t *nout)
{
	struct item *it = NULL, *x;
	struct plainval pv;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((s = sql_q(st, which)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, rkey);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			it = xreallocarray(it, cap, sizeof(*it));
		}
		x = &it[n];
		memset(x, 0, sizeof(*x));
		x->kind = (enum op_type)sqlite3_column_int(s, 0);
		if (!kind_ok(x->kind)) {
			rc = SAMEN_ESTORE;	/* a damaged row */
			goto fail;
		}
		x->hlc = sql_col_u64(s, 2);
		x->seq = sql_col_u64(s, 4);
		x->nrefs = (uint32_t)sqlite3_column_int64(s, 5);
		if (!sql_col_fixed(s, 1, x->vid, VID_LEN) ||
		    !sql_col_fixed(s, 3, x->author, 32)) {
			rc = SAMEN_ESTORE;
			goto fail;
		}
		if ((rc = store_box_val_open(st, &pv, x->vid,
		    sqlite3_column_blob(s, 6),
		    (size_t)sqlite3_column_bytes(s, 6))) != 0)
			goto fail;
		n++;
		x->alive = pv.alive;
		x->field = xstrndup(pv.field, pv.field_len);
		x->field_len = pv.field_len;
		if (pv.value != NULL) {
			x->value = xstrndup(pv.value, pv.value_len);
			x->value_len = pv.value_len;
		}
		sodium_memzero(st->buf, 2 + pv.field_len + pv.value_len);
	}
	if (rc != SQLITE_DONE) {
		rc = SAMEN_ESTORE;
		goto fail;
	}
	sqlite3_reset(s);
	if ((rc = items_pack(st, rkey, which == Q_VALS_ALL, &it, &n,
	    &cap)) != 0) {
		items_free(it, n);
		return rc;
	}
	*out = it;
	*nout = n;
	return 0;
fail:
	sqlite3_reset(s);
	items_free(it, n);
	return rc;
}

int
store_record_find(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const char *collection, const uint8_t rid[RID_LEN], int64_t *rkey)
{
	uint8_t ctag[TAGLEN];
	sqlite3_stmt *s;
	int rc;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	store_box_tag(st, ctag, 0, collection, strlen(collection));
	if ((s = sql_q(st, Q_REC_FIND)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, rid, RID_LEN);
	sql_bind_blob(s, 2, circle, CS_CIRCLELEN);
	sql_bind_blob(s, 3, ctag, TAGLEN);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	*rkey = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

static void
value_take(struct store_value *sv, struct item *it)
{
	memcpy(sv->vid, it->vid, VID_LEN);
	sv->hlc = it->hlc;
	sv->author = it->author;	/* until record_pack copies it */
	sv->value = it->value;
	sv->value_len = (uint32_t)it->value_len;
	sv->alive = it->alive != 0;
	it->value = NULL;
}

/* By (field bytes, is_set); strcmp order, as names hold no NUL. */
static int
cmp_group(const struct item *a, const struct item *b)
{
	int d, sa = a->kind == OP_ADD, sb = b->kind == OP_ADD;

	if ((d = strcmp(a->field, b->field)) != 0)
		return d;
	return sa - sb;
}

static int
cmp_item_group(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int d;

	if ((d = cmp_group(a, b)) != 0)
		return d;
	/* A set's tags by (element bytes, vid). */
	if (a->kind == OP_ADD) {
		size_t n = a->value_len < b->value_len ? a->value_len :
		    b->value_len;

		if (n > 0 && (d = memcmp(a->value, b->value, n)) != 0)
			return d;
		if (a->value_len != b->value_len)
			return a->value_len < b->value_len ? -1 : 1;
	}
	return memcmp(a->vid, b->vid, VID_LEN);
}

/* Register survivors it[0..n) into out, display order first. */
static size_t
register_take(struct store_value *out, struct item *it, size_t n)
{
	struct merge_survivor few[8], *sv = few;
	size_t i, distinct;

	/* A register has a survivor or two, but for conflicts.  Every
	 * member is set below. */
	if (n > sizeof(few) / sizeof(few[0]))
		sv = xreallocarray(NULL, n, sizeof(*sv));
	for (i = 0; i < n; i++) {
		sv[i].vid = it[i].vid;
		sv[i].hlc = it[i].hlc;
		sv[i].author = it[i].author;
		sv[i].value = it[i].value;
		sv[i].value_len = it[i].value_len;
		sv[i].alive = it[i].kind == OP_EXIST ? it[i].alive : 0;
		sv[i].user = &it[i];
	}
	distinct = merge_order(sv, n);
	for (i = 0; i < n; i++)
		value_take(&out[i], sv[i].user);
	if (sv != few)
		free(sv);
	return distinct;
}

/*
 * The collection's name of row s of Q_REC_ROW, named in colls: from the
 * names read last (struct store_keys), else from its box.
 */
static int
colls_name(struct store *st, sqlite3_stmt *s, struct store_record *r)
{
	uint8_t ctag[TAGLEN], ad[1 + TAGLEN];
	const uint8_t *box = sqlite3_column_blob(s, 6);
	size_t n = (size_t)sqlite3_column_bytes(s, 6);
	struct name_memo *m;
	int rc;

	if (!sql_col_fixed(s, 5, ctag, TAGLEN))
		return SAMEN_ESTORE;
	m = &st->keys->names[ctag[0] & (NAME_MEMO - 1)];
	if (m->used && memcmp(m->ctag, ctag, TAGLEN) == 0) {
		r->collection = xstrndup(m->name, m->len);
		return 0;
	}
	if (box == NULL || n < BOX_OVERHEAD ||
	    n - BOX_OVERHEAD > OPS_MAX_COLLECTION)
		return SAMEN_ESTORE;
	n -= BOX_OVERHEAD;
	store_box_colls_ad(ad, ctag);
	r->collection = xmalloc(n + 1);
	rc = store_box_open(st, (uint8_t *)r->collection, box,
	    n + BOX_OVERHEAD, ad, sizeof(ad));
	r->collection[n] = '\0';
	if (rc == 0) {
		m->used = 1;
		m->len = (uint8_t)n;
		memcpy(m->ctag, ctag, TAGLEN);
		memcpy(m->name, r->collection, n);
	}
	return rc;
}

/*
 * r's row: its collection's name from coll's box, or from colls if coll
 * is empty (a packed record: items_pack opens its pack, whose associated
 * data binds the row's ctag, rid and circle).
 */
static int
record_row(struct store *st, int64_t rkey, struct store_record *r)
{
	uint8_t ad[1 + RID_LEN + CS_CIRCLELEN];
	const uint8_t *box;
	sqlite3_stmt *s;
	size_t n;
	int rc;

	if ((s = sql_q(st, Q_REC_ROW)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, rkey);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	r->rkey = rkey;
	r->created = sql_col_u64(s, 3);
	r->updated = sql_col_u64(s, 4);
	if (!sql_col_fixed(s, 0, r->rid, RID_LEN) ||
	    !sql_col_fixed(s, 1, r->circle, CS_CIRCLELEN)) {
		rc = SAMEN_ESTORE;
		goto out;
	}
	if (sqlite3_column_bytes(s, 2) == 0) {
		rc = colls_name(st, s, r);
		goto out;
	}
	box = sqlite3_column_blob(s, 2);
	n = (size_t)sqlite3_column_bytes(s, 2);
	if (box == NULL || n < BOX_OVERHEAD) {
		rc = SAMEN_ESTORE;
		goto out;
	}
	store_box_coll_ad(ad, r->rid, r->circle);
	r->collection = xmalloc(n - BOX_OVERHEAD + 1);
	rc = store_box_open(st, (uint8_t *)r->collection, box, n, ad,
	    sizeof(ad));
	r->collection[n - BOX_OVERHEAD] = '\0';
out:
	sqlite3_reset(s);
	return rc;
}

int
store_record_collection(struct store *st, int64_t rkey, char **out)
{
	struct store_record r;
	int rc;

	memset(&r, 0, sizeof(r));
	*out = NULL;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((rc = record_row(st, rkey, &r)) != 0) {
		free(r.collection);
		return rc;
	}
	*out = r.collection;
	return 0;
}

/* The distinct authors of a record being packed, and where they go. */
struct pack {
	const uint8_t **authors;
	size_t na;
	uint8_t *pa;		/* the authors' 32-byte slots in the block */
	char *ps;		/* the next string's place in the block */
};


/* The slot of author a, which is added if it is new. */
static size_t
pack_author(struct pack *k, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < k->na && memcmp(k->authors[i], a, 32) != 0; i++)
		;
	if (i == k->na)
		k->authors[k->na++] = a;
	return i;
}

static char *
pack_str(struct pack *k, const char *src, size_t len)
{
	char *d = k->ps;

	memcpy(d, src, len);
	d[len] = '\0';
	k->ps += len + 1;
	return d;
}

static void
pack_val(struct pack *k, struct store_value *d, const struct store_value *v)
{
	*d = *v;
	d->author = k->pa + 32 * pack_author(k, v->author);
	if (v->value != NULL)
		d->value = pack_str(k, v->value, v->value_len);
}

/*
 * One allocation for what r holds, laid out as: the record, the existence
 * values, the fields, every field's values, the distinct authors (32 bytes
 * each), then the strings.  The sizes of the structs are multiples of 8, so
 * each array stays aligned.  r is left as it was (the caller frees it).
 */
static struct store_record *
record_pack(const struct store_record *r)
{
	const uint8_t *few[8];	/* the distinct authors, most of the time */
	struct pack k;
	size_t i, j, nv = r->nexist, strs, size;
	struct store_record *p;
	struct store_value *pv;

	strs = strlen(r->collection) + 1;
	for (i = 0; i < r->nfields; i++) {
		strs += strlen(r->fields[i].name) + 1;
		nv += r->fields[i].nvals;
		for (j = 0; j < r->fields[i].nvals; j++)
			strs += r->fields[i].vals[j].value_len + 1;
	}
	memset(&k, 0, sizeof(k));
	k.authors = nv <= sizeof(few) / sizeof(few[0]) ? few :
	    xcalloc(nv, sizeof(*k.authors));
	for (i = 0; i < r->nexist; i++)
		(void)pack_author(&k, r->exist[i].author);
	for (i = 0; i < r->nfields; i++)
		for (j = 0; j < r->fields[i].nvals; j++)
			(void)pack_author(&k, r->fields[i].vals[j].author);
	size = sizeof(*p) + nv * sizeof(*pv) +
	    r->nfields * sizeof(*p->fields) + k.na * 32 + strs;
	p = xmalloc(size);
	*p = *r;
	p->packed = 1;
	pv = (struct store_value *)(p + 1);
	p->exist = r->nexist ? pv : NULL;
	pv += r->nexist;
	p->fields = r->nfields ? (struct store_field *)pv : NULL;
	pv = (struct store_value *)((struct store_field *)pv + r->nfields);
	k.pa = (uint8_t *)(pv + (nv - r->nexist));
	for (i = 0; i < k.na; i++)
		memcpy(k.pa + 32 * i, k.authors[i], 32);
	k.ps = (char *)(k.pa + 32 * k.na);

	p->collection = pack_str(&k, r->collection, strlen(r->collection));
	for (i = 0; i < r->nexist; i++)
		pack_val(&k, &p->exist[i], &r->exist[i]);
	for (i = 0; i < r->nfields; i++) {
		const struct store_field *f = &r->fields[i];

		p->fields[i] = *f;
		p->fields[i].name = pack_str(&k, f->name, strlen(f->name));
		p->fields[i].vals = f->nvals ? pv : NULL;
		for (j = 0; j < f->nvals; j++)
			pack_val(&k, &pv[j], &f->vals[j]);
		pv += f->nvals;
	}
	assert((size_t)(k.ps - (char *)p) == size);
	if (k.authors != few)
		free(k.authors);
	return p;
}

/* Frees r's arrays and r, not its strings (store_record_build's, borrowed). */
static void
record_free_arrays(struct store_record *r)
{
	free(r->exist);
	for (size_t i = 0; i < r->nfields; i++)
		free(r->fields[i].vals);
	free(r->fields);
	free(r);
}

/*
 * Fills r (its row already in) from its live values it[0..n), which it
 * consumes, and returns it packed; r is freed.  borrowed: the strings of
 * r and it are not theirs (store_fresh.c's): only the arrays are freed.
 */
struct store_record *
store_record_build(struct store_record *r, struct item *it, size_t n,
    int borrowed)
{
	struct store_record *packed;
	struct store_field *f;
	size_t i, j, k, nex = 0;

	/* EXIST first, then the fields' groups in (name, is_set) order. */
	for (i = 0; i < n; i++)
		if (it[i].kind == OP_EXIST) {
			struct item t = it[nex];

			it[nex++] = it[i];
			it[i] = t;
		}
	if (nex > 0) {
		r->exist = xcalloc(nex, sizeof(*r->exist));
		r->nexist = nex;
		r->exist_conflict = register_take(r->exist, it, nex) > 1;
		r->deleted = !r->exist[0].alive;
	}
	if (n > nex)
		qsort(it + nex, n - nex, sizeof(*it), cmp_item_group);
	r->fields = xcalloc(n - nex, sizeof(*r->fields));
	for (i = nex; i < n; i = j) {
		for (j = i + 1; j < n && cmp_group(&it[i], &it[j]) == 0; j++)
			;
		f = &r->fields[r->nfields++];
		f->name = it[i].field;
		it[i].field = NULL;
		f->is_set = it[i].kind == OP_ADD;
		f->nvals = j - i;
		f->vals = xcalloc(f->nvals, sizeof(*f->vals));
		if (!f->is_set) {
			f->ndistinct = register_take(f->vals, it + i, j - i);
			continue;
		}
		for (k = 0; k < f->nvals; k++) {
			value_take(&f->vals[k], &it[i + k]);
			if (k == 0 || f->vals[k].value_len !=
			    f->vals[k - 1].value_len || memcmp(f->vals[k].value,
			    f->vals[k - 1].value, f->vals[k].value_len) != 0)
				f->ndistinct++;
		}
	}
	/* The values point at the items' authors until packed. */
	packed = record_pack(r);
	if (borrowed) {
		record_free_arrays(r);
		free(it);
	} else {
		store_record_free(r);
		items_free(it, n);
	}
	return packed;
}

int
store_record_load(struct store *st, int64_t rkey, struct store_record **out)
{
	struct store_record *r;
	struct item *it;
	size_t n;
	int rc;

	*out = NULL;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	r = xcalloc(1, sizeof(*r));
	if ((rc = record_row(st, rkey, r)) != 0 ||
	    (rc = items_load(st, Q_VALS_LIVE, rkey, &it, &n)) != 0) {
		store_record_free(r);
		return rc;
	}
	*out = store_record_build(r, it, n, 0);
	return 0;
}

/*
 * A read transaction unless the caller is in one: one snapshot, and SQLite
 * takes the WAL read lock once instead of for every statement.  Returns 1
 * if it began one (read_end ends it), 0 if not, or SAMEN_ESTORE.
 */
static int
read_begin(struct store *st)
{
	if (st->in_txn || !sqlite3_get_autocommit(st->db))
		return 0;
	return sql_run_q(st, Q_BEGIN_READ) != 0 ? SAMEN_ESTORE : 1;
}

/* Ends what read_begin began (own = its return).  Nothing was written:
 * ending the read is all COMMIT does here. */
static int
read_end(struct store *st, int own)
{
	if (own > 0 && !sqlite3_get_autocommit(st->db) &&
	    sql_run_q(st, Q_COMMIT) != 0)
		return SAMEN_ESTORE;
	return 0;
}

/* The rkeys s yields in its first column, all of them (s is reset). */
static int
rkeys_of(sqlite3_stmt *s, int64_t **out, size_t *nout)
{
	int64_t *keys = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			keys = xreallocarray(keys, cap, sizeof(*keys));
		}
		keys[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(keys);
		return SAMEN_ESTORE;
	}
	*out = keys;
	*nout = n;
	return 0;
}

int
store_record_load_many(struct store *st, const int64_t *rkeys, size_t n,
    struct store_record **out)
{
	size_t i;
	int own;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	/* What this transaction created needs no reading back. */
	store_fresh_take(st, rkeys, n, out);
	if ((own = read_begin(st)) < 0)
		return own;
	for (i = 0; i < n; i++)
		if (out[i] == NULL &&
		    store_record_load(st, rkeys[i], &out[i]) != 0)
			out[i] = NULL;
	(void)read_end(st, own);
	return 0;
}

static void
values_free(struct store_value *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		text_free(v[i].value, v[i].value_len);
	free(v);
}

/*
 * A record's strings are the plaintext of people's records: wiped before
 * the memory goes back, so that a lock (which frees the index) leaves none
 * of it behind.  A packed record holds them in its one block.
 */
static void
record_wipe(struct store_record *r)
{
	size_t i, j;

	if (r->collection != NULL)
		sodium_memzero(r->collection, strlen(r->collection));
	for (i = 0; i < r->nfields; i++) {
		struct store_field *f = &r->fields[i];

		if (f->name != NULL)
			sodium_memzero(f->name, strlen(f->name));
		for (j = 0; j < f->nvals; j++)
			if (f->vals[j].value != NULL)
				sodium_memzero(f->vals[j].value,
				    f->vals[j].value_len);
	}
}

void
store_record_free(struct store_record *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->packed) {
		record_wipe(r);
		free(r);
		return;
	}
	if (r->collection != NULL)
		text_free(r->collection, strlen(r->collection));
	values_free(r->exist, r->nexist);
	for (i = 0; i < r->nfields; i++) {
		if (r->fields[i].name != NULL)
			text_free(r->fields[i].name,
			    strlen(r->fields[i].name));
		values_free(r->fields[i].vals, r->fields[i].nvals);
	}
	free(r->fields);
	free(r);
}

int
store_record_foreach(struct store *st,
    int (*cb)(void *arg, struct store_record *r), void *arg)
{
	struct store_record *r;
	int64_t *keys = NULL;
	size_t i, n = 0;
	sqlite3_stmt *s;
	int rc, own;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	/* One snapshot for the whole walk (the per-statement read lock was
	 * a fifth of a start-up).  The keys first: cb may use the store. */
	if ((own = read_begin(st)) < 0)
		return own;
	if ((s = sql_q(st, Q_REC_KEYS)) == NULL)
		rc = SAMEN_ESTORE;
	else
		rc = rkeys_of(s, &keys, &n);
	for (i = 0; rc == 0 && i < n; i++)
		if ((rc = store_record_load(st, keys[i], &r)) == 0)
			rc = cb(arg, r);
	free(keys);
	if (read_end(st, own) != 0 && rc == 0)
		rc = SAMEN_ESTORE;
	return rc;
}

static int
cmp_rec_rid(const void *pa, const void *pb)
{
	const struct store_record *a = *(struct store_record *const *)pa;
	const struct store_record *b = *(struct store_record *const *)pb;
	int c = memcmp(a->rid, b->rid, RID_LEN);

	if (c)
		return c;
	return a->rkey < b->rkey ? -1 : a->rkey > b->rkey;
}

int
store_circle_records(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    struct store_record ***out, size_t *nout)
{
	struct store_record **r = NULL;
	int64_t *keys = NULL;
	size_t i, n = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*nout = 0;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((s = sql_q(st, Q_REC_CIRCLE)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, circle, CS_CIRCLELEN);
	if ((rc = rkeys_of(s, &keys, &n)) != 0)
		return rc;
	r = xcalloc(n ? n : 1, sizeof(*r));
	for (i = 0, rc = 0; rc == 0 && i < n; i++)
		rc = store_record_load(st, keys[i], &r[i]);
	free(keys);
	if (rc != 0) {
		store_record_list_free(r, i);
		return rc;
	}
	qsort(r, n, sizeof(*r), cmp_rec_rid);
	*out = r;
	*nout = n;
	return 0;
}

void
store_record_list_free(struct store_record **r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_record_free(r[i]);
	free(r);
}

static int
cmp_hist(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int d;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	if ((d = memcmp(a->author, b->author, 32)) != 0)
		return d;
	return memcmp(a->vid, b->vid, VID_LEN);
}

int
store_history(struct store *st, int64_t rkey, struct store_hist **out,
    size_t *nout)
{
	struct store_hist *h;
	struct item *it;
	size_t i, n;
	int rc;

	*out = NULL;
	*nout = 0;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((rc = items_load(st, Q_VALS_ALL, rkey, &it, &n)) != 0)
		return rc;
	if (n == 0) {
		free(it);
		return SAMEN_ENOTFOUND;
	}
	qsort(it, n, sizeof(*it), cmp_hist);
	h = xcalloc(n, sizeof(*h));
	for (i = 0; i < n; i++) {
		h[i].hlc = it[i].hlc;
		memcpy(h[i].author, it[i].author, 32);
		h[i].seq = it[i].seq;
		h[i].kind = it[i].kind;
		h[i].field = it[i].field;
		h[i].value = it[i].value;
		h[i].alive = it[i].alive;
		h[i].nrefs = it[i].nrefs;
		it[i].field = it[i].value = NULL;
	}
	items_free(it, n);
	*out = h;
	*nout = n;
	return 0;
}

void
store_history_free(struct store_hist *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		text_free(h[i].field, strlen(h[i].field));
		if (h[i].value != NULL)
			text_free(h[i].value, strlen(h[i].value));
	}
	free(h);
}

/* Stats and digests. */

int
store_stats(struct store *st, struct store_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (sql_scalar(st, Q_N_RECORDS, &s->records) != 0)
		return SAMEN_ESTORE;
	return store_stats_but_records(st, s);
}

int
store_stats_but_records(struct store *st, struct store_stats *s)
{
	uint64_t todo, nokey, next;

	/* Held ones are few, and counted on cs_hlc; the queue's count
	 * comes from its index alone (docs/sync.md, "A clock ahead"). */
	if (store_held(st, &s->held, &next) != 0 ||
	    sql_scalar(st, Q_N_CS, &s->changesets) != 0 ||
	    sql_scalar(st, Q_N_TODO, &todo) != 0 ||
	    sql_scalar(st, Q_N_NOKEY, &nokey) != 0 ||
	    sql_scalar(st, Q_N_BAD, &s->bad) != 0 ||
	    sql_scalar(st, Q_N_FLAGGED, &s->flagged) != 0 ||
	    sql_scalar(st, Q_N_QUAR, &s->quarantined) != 0 ||
	    sql_scalar(st, Q_MAX_HLC, &s->max_hlc) != 0)
		return SAMEN_ESTORE;
	/* What cannot be read yet (no circle key) waits too; what is held
	 * is counted apart. */
	s->pending = todo - (s->held < todo ? s->held : todo) + nokey;
	/* The read audit's change sets, apart from the records'. */
	if (store_circle_audit_ncs(st, &s->audit) != 0)
		return SAMEN_ESTORE;
	s->changesets -= s->audit < s->changesets ? s->audit : s->changesets;
	s->purged_dropped = st->purged.dropped;
	return 0;
}

int
store_max_hlc(struct store *st, uint64_t *out)
{
	return sql_scalar(st, Q_MAX_HLC, out) != 0 ? SAMEN_ESTORE : 0;
}

int
store_digest(struct store *st, uint8_t out[32])
{
	merge_digest_final(out, &st->digest.all);
	return 0;
}

int
store_shared_digest(struct store *st, uint8_t out[32])
{
	merge_digest_final(out, &st->digest.shared);
	return 0;
}
