/* store_replica_ops: the replica's tables as merge.h's replica_ops: records, their values and kills, and the shown existence value. */
#include "store_int.h"

#include "util.h"

static void
touch(struct store *st, int64_t rkey)
{
	if (!st->want_touched ||
	    (st->ntouched > 0 && st->touched[st->ntouched - 1] == rkey))
		return;
	if (st->ntouched == st->captouched) {
		st->captouched = st->captouched ? st->captouched * 2 : 16;
		st->touched = xreallocarray(st->touched, st->captouched,
		    sizeof(*st->touched));
	}
	st->touched[st->ntouched++] = rkey;
}

/* A survivor of the existence register, for merge_cmp(). */
static struct merge_survivor
shown_survivor(const struct shown *x)
{
	struct merge_survivor sv;

	memset(&sv, 0, sizeof(sv));
	sv.vid = x->vid;
	sv.hlc = x->hlc;
	sv.author = x->author;
	return sv;
}

/* 1 if (vid, hlc, author) comes before the cached shown value. */
static int
shown_beaten(const struct store *st, const uint8_t vid[VID_LEN],
    uint64_t hlc, const uint8_t author[32])
{
	struct merge_survivor a, b;

	if (!st->rec.shown.has)
		return 1;
	memset(&a, 0, sizeof(a));
	a.vid = vid;
	a.hlc = hlc;
	a.author = author;
	b = shown_survivor(&st->rec.shown);
	return merge_cmp(&a, &b) < 0;
}

/*
 * Finds the cached record's shown existence value again, after the shown
 * one was killed: the order needs no decryption, only the winner's box is
 * opened (for alive).  Costs one read per live existence value; it runs
 * only when the shown value dies, which a writer that saw it and whose
 * clock is sound never causes (its own value comes first, then its kills).
 */
static int
shown_scan(struct store *st)
{
	struct shown *x = &st->rec.shown;
	struct valpack *p = &st->rec.vp;
	struct plainval pv;
	struct packval v;
	uint8_t vid[VID_LEN], author[32];
	const uint8_t *k;
	ptrdiff_t from_pack = -1;
	uint64_t hlc;
	sqlite3_stmt *s;
	size_t i, off;
	int rc;

	x->has = 0;
	if ((s = sql_q(st, Q_VALS_EXIST)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		hlc = sql_col_u64(s, 1);
		if (!sql_col_fixed(s, 0, vid, VID_LEN) ||
		    !sql_col_fixed(s, 2, author, 32)) {
			sqlite3_reset(s);
			return SAMEN_ESTORE;
		}
		if (shown_beaten(st, vid, hlc, author)) {
			memcpy(x->vid, vid, VID_LEN);
			x->hlc = hlc;
			memcpy(x->author, author, 32);
			x->has = 1;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return SAMEN_ESTORE;
	/* And the pack's: one author, one hlc. */
	for (i = 0, k = p->keys; i < p->n; i++, k += PACK_KEY) {
		if (k[0] != OP_EXIST || p->dead[i])
			continue;
		if (shown_beaten(st, k + 1 + TAGLEN, p->hlc, p->author)) {
			memcpy(x->vid, k + 1 + TAGLEN, VID_LEN);
			x->hlc = p->hlc;
			memcpy(x->author, p->author, 32);
			x->has = 1;
			from_pack = (ptrdiff_t)i;
		}
	}
	st->rec.shown_lost = 0;
	if (!x->has)
		return 0;
	if (from_pack >= 0) {
		if ((rc = store_vp_open(st)) != 0)
			return rc;
		for (i = 0, off = 0; i <= (size_t)from_pack; i++)
			if ((rc = store_vp_next(p, &off, &v)) != 0)
				return rc;
		x->alive = (v.flags & VAL_ALIVE) != 0;
		return 0;
	}
	if ((s = sql_q(st, Q_VAL_BOX)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sql_bind_blob(s, 2, st->exist_ftag, TAGLEN);
	sql_bind_blob(s, 3, x->vid, VID_LEN);
	if ((rc = sql_row(s)) <= 0)
		return rc == 0 ? SAMEN_ESTORE : rc;
	rc = store_box_val_open(st, &pv, x->vid, sqlite3_column_blob(s, 0),
	    (size_t)sqlite3_column_bytes(s, 0));
	sqlite3_reset(s);
	if (rc != 0)
		return rc;
	x->alive = pv.alive;
	sodium_memzero(st->buf, 2 + pv.field_len + pv.value_len);
	return 0;
}

/*
 * The cached record's shown existence value from its pack: records.shown
 * names a vid that vals does not hold.  A shown vid found nowhere live
 * cannot happen; should it, the scan at flush finds the right one.
 */
static void
shown_in_pack(struct store *st)
{
	struct shown *x = &st->rec.shown;
	struct valpack *p = &st->rec.vp;
	ptrdiff_t i;

	if ((i = vp_find(p, OP_EXIST, st->exist_ftag, x->vid)) < 0 ||
	    p->dead[i])
		return;
	x->hlc = p->hlc;
	memcpy(x->author, p->author, 32);
	x->has = 1;
	st->rec.shown_lost = 0;
}

/*
 * Runs s with the cached record's (created, updated, deleted, shown, pdead)
 * bound from parameter first on.
 */
static int
run_rec_state(struct store *st, sqlite3_stmt *s, int first)
{
	const struct shown *x = &st->rec.shown;
	int rc;

	if (st->rec.has_range) {
		sql_bind_u64(s, first, st->rec.created);
		sql_bind_u64(s, first + 1, st->rec.updated);
	}
	sqlite3_bind_int(s, first + 2, x->has && !x->alive);
	if (x->has)
		sql_bind_blob(s, first + 3, x->vid, VID_LEN);
	if (st->rec.vp.n > 0)
		sql_bind_blob(s, first + 4, st->rec.vp.dead, st->rec.vp.n);
	rc = sql_run(s);
	sqlite3_clear_bindings(s);
	return rc;
}

/* The rkey for a new record: one more than any, read once per run. */
static int
next_rkey(struct store *st, int64_t *rkey)
{
	uint64_t max;

	if (!st->rkey.valid) {
		if (sql_scalar(st, Q_REC_MAX, &max) != 0)
			return SAMEN_ESTORE;
		st->rkey.next = (int64_t)max + 1;
		st->rkey.valid = 1;
	}
	*rkey = st->rkey.next++;
	return 0;
}

/* The colls row of the cached record's collection, written if new. */
static int
colls_ensure(struct store *st)
{
	uint8_t ad[1 + TAGLEN];
	uint8_t box[OPS_MAX_COLLECTION + BOX_OVERHEAD];
	sqlite3_stmt *s;
	size_t i;
	int rc;

	for (i = 0; i < st->colls.n; i++)
		if (memcmp(st->colls.tag[i], st->rec.ctag, TAGLEN) == 0)
			return 0;
	store_box_colls_ad(ad, st->rec.ctag);
	store_box_seal(st, box, (const uint8_t *)st->rec.coll,
	    st->rec.coll_len, ad, sizeof(ad));
	if ((s = sql_q(st, Q_COLL_ADD)) == NULL)
		return SAMEN_ESTORE;
	sql_bind_blob(s, 1, st->rec.ctag, TAGLEN);
	sql_bind_blob(s, 2, box, st->rec.coll_len + BOX_OVERHEAD);
	if ((rc = sql_run(s)) != 0)
		return rc;
	memcpy(st->colls.tag[st->colls.next], st->rec.ctag, TAGLEN);
	st->colls.next = (st->colls.next + 1) % COLLS_MEMO;
	if (st->colls.n < COLLS_MEMO)
		st->colls.n++;
	return 0;
}

/*
 * Writes the cached new record's row, whole.  With a pack, its collection
 * is named in colls and coll is empty; without, coll seals the name.
 */
static int
rec_insert(struct store *st)
{
	uint8_t ad[1 + RID_LEN + CS_CIRCLELEN];
	uint8_t box[OPS_MAX_COLLECTION + BOX_OVERHEAD];
	size_t boxlen = 0;
	sqlite3_stmt *s;
	int rc;

	/* The rest of the row is known: written whole, pack and all. */
	if (!st->rec.vp.known)
		return SAMEN_ESTORE;
	if (st->rec.vp.n > 0 && !st->no_colls) {
		if ((rc = colls_ensure(st)) != 0)
			return rc;
	} else {
		store_box_coll_ad(ad, st->rec.rid, st->rec.circle);
		store_box_seal(st, box, (const uint8_t *)st->rec.coll,
		    st->rec.coll_len, ad, sizeof(ad));
		boxlen = st->rec.coll_len + BOX_OVERHEAD;
	}
	if ((s = sql_q(st, Q_REC_ADD)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sql_bind_blob(s, 2, st->rec.rid, RID_LEN);
	sql_bind_blob(s, 3, st->rec.circle, CS_CIRCLELEN);
	sql_bind_blob(s, 4, st->rec.ctag, TAGLEN);
	sql_bind_blob(s, 5, box, boxlen);
	store_vp_bind(st, s,
	    store_box_scratch(st, st->rec.vp.ptlen + BOX_OVERHEAD));
	if ((rc = run_rec_state(st, s, 6)) == 0) {
		uint8_t key[RK_KEYLEN];

		store_rk_key(key, st->rec.circle, st->rec.rid, st->rec.ctag);
		store_rk_add(st, key);
		st->rec.row_pending = 0;
		st->rec.dirty = 0;
	}
	return rc;
}

/*
 * Writes what changed of the cached record's row: its (created, updated)
 * range and its shown existence value with deleted, which lets counting
 * live records do without decryption.  One write per chunk at most.
 */
int
store_replica_flush(struct store *st)
{
	sqlite3_stmt *s;
	int rc;

	if (!st->rec.valid)
		return 0;
	if (st->rec.shown_lost && (rc = shown_scan(st)) != 0)
		return rc;
	if (st->rec.row_pending)
		return rec_insert(st);
	if (!st->rec.dirty)
		return 0;
	st->rec.dirty = 0;
	/* pdead is written whole: it must be the row's, or NULL. */
	if (!st->rec.vp.known)
		return SAMEN_ESTORE;
	if ((s = sql_q(st, Q_REC_UPDATE)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	return run_rec_state(st, s, 2);
}

/*
 * The rkey of rec, which gets one if new (its row is written at flush);
 * cached while one chunk is merged.
 */
static int
rec_resolve(struct store *st, const struct merge_rec *rec)
{
	uint8_t ctag[TAGLEN], key[RK_KEYLEN];
	sqlite3_stmt *s;
	int rc;

	if (st->rec.valid && st->rec.coll_len == rec->collection_len &&
	    memcmp(st->rec.rid, rec->rid, RID_LEN) == 0 &&
	    memcmp(st->rec.circle, rec->circle, CS_CIRCLELEN) == 0 &&
	    memcmp(st->rec.coll, rec->collection, rec->collection_len) == 0)
		return 0;
	if ((rc = store_replica_flush(st)) != 0)
		return rc;
	st->rec.valid = 0;
	st->rec.fr = NO_FRESH;
	store_vp_clear(&st->rec.vp);
	if (rec->collection_len == 0 ||
	    rec->collection_len > OPS_MAX_COLLECTION)
		return SAMEN_EINVAL;
	store_box_tag(st, ctag, 0, rec->collection, rec->collection_len);
	store_rk_key(key, rec->circle, rec->rid, ctag);
	if (store_rk_absent(st, key))
		rc = 0;		/* new: no need to ask */
	else {
		if ((s = sql_q(st, Q_REC_MERGE)) == NULL)
			return SAMEN_ESTORE;
		sql_bind_blob(s, 1, rec->rid, RID_LEN);
		sql_bind_blob(s, 2, rec->circle, CS_CIRCLELEN);
		sql_bind_blob(s, 3, ctag, TAGLEN);
		sql_bind_blob(s, 4, st->exist_ftag, TAGLEN);
		if ((rc = sql_row(s)) < 0)
			return rc;
	}
	memset(&st->rec.shown, 0, sizeof(st->rec.shown));
	st->rec.shown_lost = 0;
	st->rec.row_pending = 0;
	if (rc == 1) {
		int in_pack = 0;

		st->rec.rkey = sqlite3_column_int64(s, 0);
		st->rec.has_range = sqlite3_column_type(s, 1) != SQLITE_NULL;
		st->rec.created = sql_col_u64(s, 1);
		st->rec.updated = sql_col_u64(s, 2);
		st->rec.fresh = 0;
		if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
			struct shown *x = &st->rec.shown;

			x->alive = sqlite3_column_int(s, 3) == 0;
			x->hlc = sql_col_u64(s, 5);
			x->has = sql_col_fixed(s, 4, x->vid, VID_LEN) &&
			    sql_col_fixed(s, 6, x->author, 32);
			/* Not in vals: in the pack, or lost. */
			in_pack = !x->has &&
			    sql_col_fixed(s, 4, x->vid, VID_LEN);
			st->rec.shown_lost = !x->has;
		}
		rc = store_vp_cols(&st->rec.vp, s, 7);
		sqlite3_reset(s);
		if (rc != 0)
			return rc;
		if (in_pack)
			shown_in_pack(st);
	} else {
		if ((rc = next_rkey(st, &st->rec.rkey)) != 0)
			return rc;
		memcpy(st->rec.ctag, ctag, TAGLEN);
		st->rec.has_range = 0;
		st->rec.fresh = 1;
		st->rec.row_pending = 1;
		st->rec.vp.known = 1;
		st->rec.vp.pending = !st->no_packs;
	}
	memcpy(st->rec.rid, rec->rid, RID_LEN);
	memcpy(st->rec.circle, rec->circle, CS_CIRCLELEN);
	memcpy(st->rec.coll, rec->collection, rec->collection_len);
	st->rec.coll_len = rec->collection_len;
	st->rec.dirty = 0;
	st->rec.valid = 1;
	store_fresh_resolved(st, rec, st->rec.fresh);
	touch(st, st->rec.rkey);
	return 0;
}

/* Widens the record's (created, updated) to hlc; written at flush. */
static void
rec_range(struct store *st, uint64_t hlc)
{
	if (st->rec.has_range && hlc >= st->rec.created &&
	    hlc <= st->rec.updated)
		return;
	if (!st->rec.has_range) {
		st->rec.created = st->rec.updated = hlc;
		st->rec.has_range = 1;
	} else if (hlc < st->rec.created)
		st->rec.created = hlc;
	else
		st->rec.updated = hlc;
	st->rec.dirty = 1;
}

/* 1 if a kill names (rkey, kind, ftag, vid), 0 if not, or an error. */
static int
killed(struct store *st, int kind, const uint8_t ftag[TAGLEN],
    const uint8_t vid[VID_LEN])
{
	sqlite3_stmt *s;
	int rc;

	if ((s = sql_q(st, Q_KILL_HAS)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sqlite3_bind_int(s, 2, kind);
	sql_bind_blob(s, 3, ftag, TAGLEN);
	sql_bind_blob(s, 4, vid, VID_LEN);
	if ((rc = sql_row(s)) == 1)
		sqlite3_reset(s);
	return rc;
}

static int rep_added(struct store *, const struct merge_value *, int);

static int
rep_add(void *ctx, const struct merge_value *v)
{
	struct store *st = ctx;
	uint8_t ftag[TAGLEN], *pt, *box;
	size_t ptlen;
	int64_t aid;
	sqlite3_stmt *s;
	int rc, live;

	if (v->field_len > OPS_MAX_FIELD || v->value_len > OPS_MAX_VALUE)
		return SAMEN_EINVAL;
	if ((rc = rec_resolve(st, v->rec)) != 0 ||
	    (rc = store_cs_author_id(st, v->author, 1, &aid)) != 0)
		return rc;
	store_box_tag(st, ftag, (uint8_t)v->kind, v->field, v->field_len);
	live = v->kind != OP_REM;
	/*
	 * A kill can come before the value it names (another author saw it
	 * first).  A record created in this merge has no kills but its own
	 * chunk's, and those cannot name its own values (a vid depends on the
	 * change set's id, which depends on the preds).
	 */
	if (live && !st->rec.fresh) {
		if ((rc = killed(st, v->kind, ftag, v->vid)) < 0)
			return rc;
		live = !rc;
	}
	/* In the pack already: idempotent, as vals' INSERT OR IGNORE. */
	if (vp_find(&st->rec.vp, v->kind, ftag, v->vid) >= 0)
		return 0;
	if (vp_takes(st, v, aid)) {
		store_vp_append(st, v, aid, ftag, live);
		return rep_added(st, v, live);
	}

	/* The plaintext, then the box, share the scratch buffer. */
	ptlen = 2 + v->field_len + v->value_len;
	pt = store_box_scratch(st, 2 * ptlen + BOX_OVERHEAD);
	box = pt + ptlen;
	pt[0] = (v->alive ? VAL_ALIVE : 0) |
	    (v->kind != OP_EXIST ? VAL_HASVALUE : 0);
	pt[1] = (uint8_t)v->field_len;
	if (v->field_len > 0)
		memcpy(pt + 2, v->field, v->field_len);
	if (v->value_len > 0)
		memcpy(pt + 2 + v->field_len, v->value, v->value_len);
	store_box_seal(st, box, pt, ptlen, v->vid, VID_LEN);
	sodium_memzero(pt, ptlen);

	if ((s = sql_q(st, Q_VAL_ADD)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sqlite3_bind_int(s, 2, v->kind);
	sql_bind_blob(s, 3, ftag, TAGLEN);
	sql_bind_blob(s, 4, v->vid, VID_LEN);
	sql_bind_u64(s, 5, v->hlc);
	sqlite3_bind_int64(s, 6, aid);
	sql_bind_u64(s, 7, v->seq);
	sqlite3_bind_int64(s, 8, v->nrefs);
	sqlite3_bind_int(s, 9, live);
	sql_bind_blob(s, 10, box, ptlen + BOX_OVERHEAD);
	if ((rc = sql_run(s)) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return 0;	/* had it already: idempotent */
	return rep_added(st, v, live);
}

/* What follows a new value v of the cached record, in vals or its pack. */
static int
rep_added(struct store *st, const struct merge_value *v, int live)
{
	store_fresh_added(st, v, live);
	if (live) {
		uint8_t own[MERGE_VID_HASHLEN];
		const uint8_t *vh = v->vid_hash;

		if (vh == NULL) {
			merge_vid_hash(own, v->vid);
			vh = own;
		}
		merge_digest_add_hash(&st->digest.all, vh);
		if (!circle_is_private(st, v->rec->circle))
			merge_digest_add_hash(&st->digest.shared, vh);
		/*
		 * A new live existence value is compared with the shown one
		 * alone.  Once the shown one is lost the scan at flush sees
		 * this one too.
		 */
		if (v->kind == OP_EXIST && !st->rec.shown_lost &&
		    shown_beaten(st, v->vid, v->hlc, v->author)) {
			struct shown *x = &st->rec.shown;

			memcpy(x->vid, v->vid, VID_LEN);
			x->hlc = v->hlc;
			memcpy(x->author, v->author, 32);
			x->alive = v->alive != 0;
			x->has = 1;
			st->rec.dirty = 1;
		}
	}
	rec_range(st, v->hlc);
	return 0;
}

static int
rep_kill(void *ctx, const struct merge_rec *rec, enum op_type kind,
    const char *field, size_t field_len, const uint8_t vid[VID_LEN])
{
	struct store *st = ctx;
	uint8_t ftag[TAGLEN];
	sqlite3_stmt *s;
	int rc, dead;

	if ((rc = rec_resolve(st, rec)) != 0)
		return rc;
	store_box_tag(st, ftag, (uint8_t)kind, field, field_len);
	if ((s = sql_q(st, Q_KILL_ADD)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sqlite3_bind_int(s, 2, kind);
	sql_bind_blob(s, 3, ftag, TAGLEN);
	sql_bind_blob(s, 4, vid, VID_LEN);
	if ((rc = sql_run(s)) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return 0;
	if ((s = sql_q(st, Q_VAL_KILL)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sqlite3_bind_int(s, 2, kind);
	sql_bind_blob(s, 3, ftag, TAGLEN);
	sql_bind_blob(s, 4, vid, VID_LEN);
	if ((rc = sql_run(s)) != 0)
		return rc;
	if ((dead = sqlite3_changes(st->db) == 1) == 0) {
		struct valpack *p = &st->rec.vp;
		ptrdiff_t i;

		if ((i = vp_find(p, kind, ftag, vid)) >= 0 && !p->dead[i]) {
			p->dead[i] = 1;
			st->rec.dirty = 1;	/* pdead, at flush */
			dead = 1;
		}
	}
	if (dead) {
		uint8_t vh[MERGE_VID_HASHLEN];

		merge_vid_hash(vh, vid);
		merge_digest_sub_hash(&st->digest.all, vh);
		if (!circle_is_private(st, rec->circle))
			merge_digest_sub_hash(&st->digest.shared, vh);
		store_fresh_stale(st);
		/* Only the death of the shown value needs a scan. */
		if (kind == OP_EXIST && st->rec.shown.has &&
		    memcmp(st->rec.shown.vid, vid, VID_LEN) == 0) {
			st->rec.shown_lost = 1;
			st->rec.dirty = 1;
		}
	}
	return 0;
}

const struct replica_ops store_replica_ops = { rep_add, rep_kill };
