/* store_vp: value packs: the values of a record's first chunk, sealed in one box in its row (the p columns). */
#include "store_int.h"

#include <stdlib.h>

#include "util.h"

/* What store_vp_clear keeps for the next pack: a case's, many times over. */
#define PACK_KEEP_N 64
#define PACK_KEEP_PT 16384

static void
vp_release(struct valpack *p)
{
	free(p->kbuf);
	free(p->dead);
	free(p->pt);
	p->kbuf = p->keys = p->dead = p->pt = NULL;
	p->cap = p->ptcap = 0;
}

/*
 * Empties p (and wipes its plaintext); its buffers stay for reuse unless
 * a large pack left them large.
 */
void
store_vp_clear(struct valpack *p)
{
	if (p->ptlen > 0)
		sodium_memzero(p->pt, p->ptlen);
	p->known = p->pending = p->opened = 0;
	p->n = p->ptlen = 0;
	if (p->cap > PACK_KEEP_N || p->ptcap > PACK_KEEP_PT)
		vp_release(p);
}

void
store_vp_free(struct valpack *p)
{
	store_vp_clear(p);
	vp_release(p);
}

/* Room for n values. */
static void
vp_room(struct valpack *p, size_t n)
{
	if (n <= p->cap)
		return;
	p->cap = p->cap ? p->cap : 8;
	while (p->cap < n)
		p->cap *= 2;
	p->kbuf = xrealloc(p->kbuf, PACK_AD + p->cap * PACK_KEY);
	p->keys = p->kbuf + PACK_AD;
	p->dead = xreallocarray(p->dead, p->cap, 1);
}

/* Room for n bytes of plaintext; moved by hand, so the old copy is wiped. */
static void
vp_ptroom(struct valpack *p, size_t n)
{
	size_t cap = p->ptcap ? p->ptcap : 256;
	uint8_t *nb;

	if (n <= p->ptcap)
		return;
	while (cap < n)
		cap *= 2;
	nb = xmalloc(cap);
	if (p->ptlen > 0) {
		memcpy(nb, p->pt, p->ptlen);
		sodium_memzero(p->pt, p->ptlen);
	}
	free(p->pt);
	p->pt = nb;
	p->ptcap = cap;
}

/*
 * The box's associated data: what the row says in clear, so that neither
 * its values nor their keys can be moved to another record or changed,
 * and for a record named in colls (ctag not NULL), its ctag, rid and
 * circle: which collection it is in, and where.  Written in front of the
 * keys, so that it ends where they do; returns where it starts, and its
 * length in *n.
 */
static const uint8_t *
vp_ad(struct valpack *p, int64_t rkey, const uint8_t *ctag,
    const uint8_t *rid, const uint8_t *circle, size_t *n)
{
	size_t len = ctag != NULL ? PACK_AD : PACK_AD_ROW;
	uint8_t *ad = p->keys - len;

	ad[0] = ctag != NULL ? 'P' : 'p';
	put_le64(ad + 1, (uint64_t)rkey);
	put_le64(ad + 9, (uint64_t)p->aid);
	put_le64(ad + 17, p->seq);
	put_le64(ad + 25, p->hlc);
	if (ctag != NULL) {
		memcpy(ad + PACK_AD_ROW, ctag, TAGLEN);
		memcpy(ad + PACK_AD_ROW + TAGLEN, rid, RID_LEN);
		memcpy(ad + PACK_AD_ROW + TAGLEN + RID_LEN, circle,
		    CS_CIRCLELEN);
	}
	*n = len + p->n * PACK_KEY;
	return ad;
}

/*
 * p (emptied first) from the pack's clear columns of row s, (paid, pseq,
 * phlc, pkeys, pdead) from column i on, then its author's key (joined):
 * known, and empty if they are NULL.
 */
int
store_vp_cols(struct valpack *p, sqlite3_stmt *s, int i)
{
	size_t nk, nd;

	store_vp_clear(p);
	p->known = 1;
	if (sqlite3_column_type(s, i + 3) == SQLITE_NULL)
		return 0;
	p->aid = sqlite3_column_int64(s, i);
	p->seq = sql_col_u64(s, i + 1);
	p->hlc = sql_col_u64(s, i + 2);
	nk = (size_t)sqlite3_column_bytes(s, i + 3);
	nd = (size_t)sqlite3_column_bytes(s, i + 4);
	if (nk == 0 || nk % PACK_KEY != 0 || nd != nk / PACK_KEY ||
	    nd > PACK_MAX || !sql_col_fixed(s, i + 5, p->author, 32)) {
		p->known = 0;
		return SAMEN_ESTORE;
	}
	vp_room(p, nd);
	memcpy(p->keys, sqlite3_column_blob(s, i + 3), nk);
	memcpy(p->dead, sqlite3_column_blob(s, i + 4), nd);
	p->n = nd;
	return 0;
}

/*
 * Reads rkey's pack into p (emptied first) and decrypts its box.  No pack,
 * or no record, is not an error: p is known and empty.
 */
int
store_vp_read(struct store *st, int64_t rkey, struct valpack *p)
{
	uint8_t ctag[TAGLEN], rid[RID_LEN], circle[CS_CIRCLELEN];
	const uint8_t *box, *ad;
	size_t nb, adlen;
	sqlite3_stmt *s;
	int rc, named;

	store_vp_clear(p);
	if ((s = sql_q(st, Q_PACK_GET)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, rkey);
	if ((rc = sql_row(s)) < 0)
		return rc;
	if (rc == 0) {
		p->known = 1;
		return 0;
	}
	if ((rc = store_vp_cols(p, s, 0)) != 0 || p->n == 0)
		goto out;
	box = sqlite3_column_blob(s, 6);
	nb = (size_t)sqlite3_column_bytes(s, 6);
	if (box == NULL || nb < BOX_OVERHEAD) {
		rc = SAMEN_EDECRYPT;
		goto out;
	}
	/* Named in colls (an empty coll): its AD binds ctag, rid, circle. */
	named = sqlite3_column_int(s, 7);
	if (named &&
	    (!sql_col_fixed(s, 8, ctag, TAGLEN) ||
	    !sql_col_fixed(s, 9, rid, RID_LEN) ||
	    !sql_col_fixed(s, 10, circle, CS_CIRCLELEN))) {
		rc = SAMEN_ESTORE;
		goto out;
	}
	vp_ptroom(p, nb - BOX_OVERHEAD);
	ad = named ? vp_ad(p, rkey, ctag, rid, circle, &adlen) :
	    vp_ad(p, rkey, NULL, NULL, NULL, &adlen);
	if ((rc = store_box_open(st, p->pt, box, nb, ad, adlen)) == 0) {
		p->ptlen = nb - BOX_OVERHEAD;
		p->opened = 1;
	}
out:
	sqlite3_reset(s);
	if (rc != 0)
		store_vp_clear(p);
	return rc;
}

/*
 * The cached record's pack (known: store_replica.c's rec_resolve read it)
 * with its plaintext, read back from the row once sealed.
 */
int
store_vp_open(struct store *st)
{
	struct valpack *p = &st->rec.vp;
	uint8_t dead[PACK_MAX];
	size_t n = p->n;
	int rc;

	if (p->opened || n == 0)
		return 0;
	/* Kills not written yet are the cache's, not the row's. */
	memcpy(dead, p->dead, n);
	if ((rc = store_vp_read(st, st->rec.rkey, p)) != 0)
		return rc;
	if (p->n != n)
		return SAMEN_ESTORE;
	memcpy(p->dead, dead, n);
	return 0;
}

/* The value at *off of an opened pack's plaintext; *off moves past it. */
int
store_vp_next(const struct valpack *p, size_t *off, struct packval *v)
{
	const uint8_t *x = p->pt + *off;
	size_t left = p->ptlen - *off;
	uint32_t vlen;

	if (left < 2 || left - 2 < (size_t)x[1] + 4)
		return SAMEN_EDECRYPT;
	v->flags = x[0];
	v->field = (const char *)x + 2;
	v->field_len = x[1];
	vlen = get_le32(x + 2 + x[1]);
	if (vlen > left - 6 - x[1])
		return SAMEN_EDECRYPT;
	v->value = v->field + v->field_len + 4;
	v->value_len = vlen;
	if (!(v->flags & VAL_HASVALUE))
		v->value = NULL;
	*off += 6 + (size_t)x[1] + vlen;
	return 0;
}

/* Adds v to the cached new record's pack: live, or killed already. */
void
store_vp_append(struct store *st, const struct merge_value *v, int64_t aid,
    const uint8_t ftag[TAGLEN], int live)
{
	struct valpack *p = &st->rec.vp;
	uint8_t *k, *x;

	if (p->n == 0) {
		p->aid = aid;
		p->seq = v->seq;
		p->hlc = v->hlc;
		memcpy(p->author, v->author, 32);
	}
	vp_room(p, p->n + 1);
	k = p->keys + p->n * PACK_KEY;
	k[0] = (uint8_t)v->kind;
	memcpy(k + 1, ftag, TAGLEN);
	memcpy(k + 1 + TAGLEN, v->vid, VID_LEN);
	put_le32(k + 1 + TAGLEN + VID_LEN, v->nrefs);
	p->dead[p->n++] = !live;
	vp_ptroom(p, p->ptlen + 6 + v->field_len + v->value_len);
	x = p->pt + p->ptlen;
	x[0] = (uint8_t)((v->alive ? VAL_ALIVE : 0) |
	    (v->kind != OP_EXIST ? VAL_HASVALUE : 0));
	x[1] = (uint8_t)v->field_len;
	if (v->field_len > 0)
		memcpy(x + 2, v->field, v->field_len);
	put_le32(x + 2 + v->field_len, (uint32_t)v->value_len);
	if (v->value_len > 0)
		memcpy(x + 6 + v->field_len, v->value, v->value_len);
	p->ptlen += 6 + v->field_len + v->value_len;
	p->opened = 1;
}

/*
 * Binds the cached new record's pack to Q_REC_ADD's (paid, pseq, phlc,
 * pkeys, pbox), sealed into box (room for ptlen + BOX_OVERHEAD), or NULLs
 * if its first chunk filled none.  Its pdead goes with store_replica.c's
 * run_rec_state.  The record is named in colls if it has a pack, unless
 * store_set_naming(0) (rec_insert).
 */
void
store_vp_bind(struct store *st, sqlite3_stmt *s, uint8_t *box)
{
	struct valpack *p = &st->rec.vp;
	const uint8_t *ad;
	size_t adlen;

	p->pending = 0;
	if (p->n == 0)
		return;
	ad = st->no_colls ? vp_ad(p, st->rec.rkey, NULL, NULL, NULL, &adlen) :
	    vp_ad(p, st->rec.rkey, st->rec.ctag, st->rec.rid, st->rec.circle,
	    &adlen);
	store_box_seal(st, box, p->pt, p->ptlen, ad, adlen);
	sqlite3_bind_int64(s, 11, p->aid);
	sql_bind_u64(s, 12, p->seq);
	sql_bind_u64(s, 13, p->hlc);
	sql_bind_blob(s, 14, p->keys, p->n * PACK_KEY);
	sql_bind_blob(s, 15, box, p->ptlen + BOX_OVERHEAD);
	/* Wiped once sealed, as a value's; store_vp_open reads it back. */
	sodium_memzero(p->pt, p->ptlen);
	p->ptlen = 0;
	p->opened = 0;
}
