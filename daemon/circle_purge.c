/* circle_purge: erasure in the membership layer: purge ops written and applied, retention policies and their passes. */
#include "circle_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ckpt.h"
#include "clock.h"
#include "error.h"
#include "hlc.h"
#include "keyring.h"
#include "loader.h"
#include "log.h"
#include "testhook.h"
#include "util.h"
#include "writer.h"

/*
 * docs/design.md, "Erasure", says what an erase takes and what stays;
 * docs/sync.md, "Purges and retention", what the ops carry.  The store
 * erases (store_erase_tags); this file decides what, and when.
 *
 * A purge op's reason and rids are opaque to the roster.  Here each is
 * le32(epoch) || keyring blob (keyring.h) sealed under that epoch's key
 * (the preferred one of the op's writer), with what "reason" or "rids":
 * the epoch says which key opens it, as a removal's epoch field does for
 * its reason.  The rids plaintext is groups of records of one collection:
 * u8 length, the collection's name, le16 count (1 or more), then count
 * record ids of RID_LEN bytes.
 */

#define DAY_MS 86400000ull
#define EPOCH_BYTES 4
/* Records one retention pass erases per circle and collection. */
#define RETENTION_BATCH 256
/* The most records circle retention --due lists. */
#define DUE_MAX 10000
/* Records of one collection in one group of the rids (le16). */
#define GROUP_MAX 65535

static const uint8_t *
me(const struct circle *cs)
{
	return vault_public_key(cs->env.vault);
}

static const char *
short_hex(char out[2 * CS_CIRCLELEN + 1], const uint8_t *id)
{
	hex_encode(out, id, CS_CIRCLELEN);
	return out;
}

/* Record tags, grown one at a time. */
struct tags {
	uint8_t (*t)[CS_RTAGLEN];
	size_t n, cap;
};

static void
tags_add(struct tags *ts, const uint8_t tag[CS_RTAGLEN])
{
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? 2 * ts->cap : 16;
		ts->t = xreallocarray(ts->t, ts->cap, CS_RTAGLEN);
	}
	memcpy(ts->t[ts->n++], tag, CS_RTAGLEN);
}

/* The rtags of one record of circle id under every key of it held. */
static void
tags_of(const struct circle *cs, const uint8_t id[CS_CIRCLELEN],
    const char *collection, const uint8_t rid[RID_LEN], struct tags *ts)
{
	uint8_t tag[CS_RTAGLEN];

	for (size_t i = 0; i < cs->ncircles; i++) {
		if (!circle_is_key(&cs->circles[i], id))
			continue;
		changeset_rtag(tag, cs->circles[i].key, collection,
		    strlen(collection), rid);
		tags_add(ts, tag);
	}
}

/* Sealed blobs: le32 epoch || keyring blob under that epoch's key. */

static void
blob_seal(uint8_t **out, size_t *len, const struct store_circle *row,
    const char *what, const void *text, size_t n)
{
	uint8_t *b;
	size_t blen;

	keyring_blob_seal(&b, &blen, row->key, row->id, what, text, n);
	*out = xmalloc(EPOCH_BYTES + blen);
	put_le32(*out, row->epoch);
	memcpy(*out + EPOCH_BYTES, b, blen);
	*len = EPOCH_BYTES + blen;
	free(b);
}

/*
 * Opens a blob of circle id: 0 and a new *text (NUL-terminated, *n
 * bytes; wipe and free it), SAMEN_ENOTFOUND without the key of its
 * epoch, or SAMEN_EDECRYPT / SAMEN_EVALUE.
 */
static int
blob_open(const struct circle *cs, const uint8_t id[CS_CIRCLELEN],
    const uint8_t *blob, size_t len, const char *what, char **text,
    size_t *n)
{
	const struct store_circle *row;
	uint32_t epoch;

	*text = NULL;
	*n = 0;
	if (blob == NULL || len < EPOCH_BYTES + KEYRING_BLOB_OVERHEAD)
		return SAMEN_EVALUE;
	if ((epoch = get_le32(blob)) == ROSTER_AUDIT_EPOCH ||
	    (row = circle_row(cs, id, epoch)) == NULL)
		return SAMEN_ENOTFOUND;
	return keyring_blob_open(text, n, blob + EPOCH_BYTES,
	    len - EPOCH_BYTES, row->key, id, what);
}

/* The rids plaintext. */

static int
cmp_rec(const void *pa, const void *pb)
{
	const struct circle_rec *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->collection, b->collection)) != 0)
		return c;
	return memcmp(a->rid, b->rid, RID_LEN);
}

/* recs (n of them) as groups by collection; a new buffer of *len. */
static uint8_t *
rids_encode(const struct circle_rec *recs, size_t n, size_t *len)
{
	struct circle_rec *s = xcalloc(n ? n : 1, sizeof(*s));
	size_t i, j, k, cl, cap = 0, off = 0;
	uint8_t *p = NULL;

	memcpy(s, recs, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_rec);
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && j - i < GROUP_MAX &&
		    strcmp(s[j].collection, s[i].collection) == 0; j++)
			;
		cl = strlen(s[i].collection);
		cap = off + 1 + cl + 2 + (j - i) * RID_LEN;
		p = xrealloc(p, cap);
		p[off++] = (uint8_t)cl;
		memcpy(p + off, s[i].collection, cl);
		off += cl;
		p[off++] = (uint8_t)((j - i) & 0xff);
		p[off++] = (uint8_t)((j - i) >> 8);
		for (k = i; k < j; k++, off += RID_LEN)
			memcpy(p + off, s[k].rid, RID_LEN);
	}
	free(s);
	*len = off;
	return p;
}

/* The records of a rids plaintext: *out new (free()), or SAMEN_EVALUE. */
static int
rids_decode(const uint8_t *p, size_t len, struct circle_rec **out,
    size_t *n)
{
	struct circle_rec *r = NULL;
	size_t off = 0, cl, cnt, k, nr = 0;

	*out = NULL;
	*n = 0;
	while (off < len) {
		cl = p[off++];
		if (cl == 0 || cl > OPS_MAX_COLLECTION || len - off < cl + 2)
			goto bad;
		if (!ops_collection_valid((const char *)p + off, cl))
			goto bad;
		cnt = p[off + cl] | (size_t)p[off + cl + 1] << 8;
		if (cnt == 0 || (len - off - cl - 2) / RID_LEN < cnt)
			goto bad;
		r = xreallocarray(r, nr + cnt, sizeof(*r));
		for (k = 0; k < cnt; k++) {
			memcpy(r[nr + k].collection, p + off, cl);
			r[nr + k].collection[cl] = '\0';
			memcpy(r[nr + k].rid, p + off + cl + 2 + k * RID_LEN,
			    RID_LEN);
		}
		nr += cnt;
		off += cl + 2 + cnt * RID_LEN;
	}
	*out = r;
	*n = nr;
	return 0;
bad:
	free(r);
	return SAMEN_EVALUE;
}

/* Erasing here. */

/* After an erase: the index forgets its records, the WAL its copies. */
static void
erased(struct circle *cs, struct store_erased *e)
{
	if (e->nrkeys > 0)
		loader_erased(cs->env.loader, e->rkeys, e->nrkeys);
	store_erased_free(e);
}

static void
truncate_wal(struct circle *cs)
{
	if (cs->env.ckpt != NULL && store_wal_truncate_owed(cs->env.store))
		ckpt_erased(cs->env.ckpt);
}

/*
 * The private circle's purge: erased now, in a transaction of its own.
 * Its op id, kept in the purged table, is be64(hlc) || 24 random bytes:
 * samen log tells when from it.
 */
static int
purge_local(struct circle *cs, const struct circle_rec *recs, size_t n,
    struct circle_purged_op *out, char **cause)
{
	struct tags ts = { NULL, 0, 0 };
	struct store_erased e;
	int rc;

	if (writer_in_txn(cs->env.writer))
		return samen_fail(cause, SAMEN_EINVAL, "a purge of the private "
		    "circle cannot share a batch");
	for (size_t i = 0; i < n; i++)
		tags_of(cs, cs->priv.id, recs[i].collection, recs[i].rid,
		    &ts);
	put_be64(out->op, HLC_MAKE(clock_wall_ms(), 0));
	randombytes_buf(out->op + 8, CS_IDLEN - 8);
	out->local = 1;
	out->name = "private";
	out->ntags = ts.n;
	rc = store_erase_tags(cs->env.store, cs->priv.id, out->op,
	    (const uint8_t (*)[CS_RTAGLEN])ts.t, ts.n, &e);
	free(ts.t);
	if (rc != 0)
		return samen_fail(cause, rc, "could not erase: %s",
		    samen_strerror(rc));
	log_info("purged %zu records of the private circle", e.nrkeys);
	erased(cs, &e);
	truncate_wal(cs);
	return 0;
}

int
circle_purge(struct circle *cs, const uint8_t id[CS_CIRCLELEN],
    const struct circle_rec *recs, size_t n, const char *reason,
    size_t reason_len, struct circle_purged_op *out, char **cause)
{
	struct tags ts = { NULL, 0, 0 };
	char hex[2 * CS_CIRCLELEN + 1];
	uint8_t *plain;
	size_t k, plen;
	struct roster_op op;
	struct view *v;
	int rc;

	memset(out, 0, sizeof(*out));
	memcpy(out->id, id, CS_CIRCLELEN);
	if (n == 0)
		return samen_fail(cause, SAMEN_EINVAL, "nothing to purge");
	if (cs->have_priv && memcmp(cs->priv.id, id, CS_CIRCLELEN) == 0)
		return purge_local(cs, recs, n, out, cause);
	v = circle_view_of(cs, id);
	if (v == NULL || v->r == NULL || !roster_circle_valid(v->r))
		return samen_fail(cause, SAMEN_ENOTFOUND, "the record's circle has "
		    "no valid member list on this device");
	if (!roster_is_admin(v->r, me(cs)))
		return samen_fail(cause, SAMEN_EINVAL, "only an admin of '%s' can "
		    "purge its records", v->label);
	if (v->writer == NULL)
		return samen_fail(cause, SAMEN_EINVAL, "this device holds no key "
		    "of the current epoch of '%s'", v->label);
	k = circle_nkeys(cs, id);
	if (n > ROSTER_MAX_TAGS / (k ? k : 1))
		return samen_fail(cause, SAMEN_ETOOBIG, "%zu records under %zu "
		    "epoch keys are more record tags than one purge holds (%d): "
		    "purge what links to it first, in parts", n, k,
		    ROSTER_MAX_TAGS);
	for (size_t i = 0; i < n; i++)
		tags_of(cs, id, recs[i].collection, recs[i].rid, &ts);
	memset(&op, 0, sizeof(op));
	op.type = ROSTER_PURGE;
	op.tags = ts.t;
	op.ntags = ts.n;
	plain = rids_encode(recs, n, &plen);
	blob_seal(&op.rids, &op.rids_len, v->writer, "rids", plain, plen);
	sodium_memzero(plain, plen);
	free(plain);
	blob_seal(&op.reason, &op.reason_len, v->writer, "reason", reason,
	    reason_len);
	if (op.rids_len > ROSTER_MAX_BLOB || op.reason_len > ROSTER_MAX_BLOB) {
		roster_op_free(&op);
		return samen_fail(cause, SAMEN_ETOOBIG, "%zu records are more than "
		    "one purge can name: purge what links to it first, in "
		    "parts", n);
	}
	out->ntags = ts.n;
	rc = circle_op_write(cs, v, &op, cause);
	roster_op_free(&op);
	if (rc != 0)
		return rc;
	/* v is stale: the op is the newest purge of ours in the chain. */
	if ((v = circle_view_of(cs, id)) != NULL) {
		uint64_t seq = 0;

		out->name = v->label;
		for (size_t i = 0; i < v->nops; i++)
			if (v->ops[i].type == ROSTER_PURGE &&
			    v->ops[i].seq > seq &&
			    memcmp(v->ops[i].author, me(cs), 32) == 0) {
				seq = v->ops[i].seq;
				memcpy(out->op, v->ops[i].id, CS_IDLEN);
			}
	}
	log_info("circle %s: a purge of %zu records (%zu tags) written",
	    short_hex(hex, id), n, out->ntags);
	return 0;
}

/* Applying purges. */

static struct circle_applied *
applied_of(struct circle *cs, const uint8_t op[32])
{
	for (size_t i = 0; i < cs->napplied; i++)
		if (memcmp(cs->applied[i].op, op, 32) == 0)
			return &cs->applied[i];
	return NULL;
}

static void
mark_applied(struct circle *cs, const uint8_t op[32], size_t k)
{
	struct circle_applied *a = applied_of(cs, op);

	if (a == NULL) {
		cs->applied = xreallocarray(cs->applied, cs->napplied + 1,
		    sizeof(*cs->applied));
		a = &cs->applied[cs->napplied++];
		memcpy(a->op, op, 32);
	}
	a->nkeys = k;
}

void
circle_erasure_forget(struct circle *cs)
{
	free(cs->applied);
	cs->applied = NULL;
	cs->napplied = 0;
}

/*
 * The tags purge p of v names on this device: the op's own, and the
 * rtags of the records it names (its sealed rids, if a key here opens
 * them) under every key held.
 */
static void
purge_tags(const struct circle *cs, const struct view *v,
    const struct roster_purge *p, struct tags *ts)
{
	const struct roster_op *op = &v->ops[p->index];
	struct circle_rec *recs;
	size_t plen, nr;
	char *plain;

	for (size_t i = 0; i < p->ntags; i++)
		tags_add(ts, p->tags[i]);
	if (op->rids_len == 0 || blob_open(cs, v->info.id, op->rids,
	    op->rids_len, "rids", &plain, &plen) != 0)
		return;
	if (rids_decode((const uint8_t *)plain, plen, &recs, &nr) == 0) {
		for (size_t i = 0; i < nr; i++)
			tags_of(cs, v->info.id, recs[i].collection, recs[i].rid,
			    ts);
		sodium_memzero(recs, nr * sizeof(*recs));
		free(recs);
	}
	sodium_memzero(plain, plen);
	free(plain);
}

/* Applies purge p of v, unless every tag it names is purged already. */
static int
apply_one(struct circle *cs, const struct view *v,
    const struct roster_purge *p, size_t k)
{
	struct tags ts = { NULL, 0, 0 };
	char hex[2 * CS_CIRCLELEN + 1], ophex[2 * CS_IDLEN + 1];
	struct store_erased e;
	int rc;

	purge_tags(cs, v, p, &ts);
	if (ts.n == 0)
		rc = 1;		/* names nothing: nothing to do */
	else
		rc = store_erase_done(cs->env.store, v->info.id,
		    (const uint8_t (*)[CS_RTAGLEN])ts.t, ts.n);
	if (rc == 0 && (rc = store_erase_tags(cs->env.store, v->info.id,
	    p->op, (const uint8_t (*)[CS_RTAGLEN])ts.t, ts.n, &e)) == 0) {
		hex_encode(ophex, p->op, CS_IDLEN);
		ophex[16] = '\0';
		log_info("circle %s: purge %s applied: %zu records erased, "
		    "%llu change sets rewritten", short_hex(hex, v->info.id),
		    ophex, e.nrkeys, (unsigned long long)e.changesets);
		erased(cs, &e);
	}
	free(ts.t);
	if (rc < 0)
		return rc;
	mark_applied(cs, p->op, k);
	return 0;
}

uint64_t
circle_purges_refused(const struct circle *cs)
{
	uint64_t n = 0;
	enum roster_verdict vd;

	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];

		for (size_t k = 0; v->r != NULL && k < v->nops; k++) {
			if (v->ops[k].type != ROSTER_PURGE)
				continue;
			vd = roster_verdict(v->r, k);
			n += vd == ROSTER_UNAUTHORIZED || vd == ROSTER_FILTERED;
		}
	}
	return n;
}

/* Every valid purge of every circle held, applied with every key held. */
static void
apply_purges(struct circle *cs)
{
	char hex[2 * CS_CIRCLELEN + 1];
	const struct roster_purge *p;
	uint64_t refused;
	size_t np, k;
	int rc;

	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];
		struct circle_applied *a;

		if (v->r == NULL || !roster_circle_valid(v->r))
			continue;
		k = circle_nkeys(cs, v->info.id);
		p = roster_purges(v->r, &np);
		for (size_t j = 0; j < np; j++) {
			if ((a = applied_of(cs, p[j].op)) != NULL &&
			    a->nkeys == k)
				continue;
			/* Locked with records of it: once unlocked. */
			if ((rc = apply_one(cs, v, &p[j], k)) != 0 &&
			    rc != SAMEN_ELOCKED)
				log_warnx("circle %s: could not apply a purge: %s",
				    short_hex(hex, v->info.id),
				    samen_strerror(rc));
		}
	}
	if ((refused = circle_purges_refused(cs)) > cs->refused_seen)
		log_warnx("%llu purge ops by devices that were not admins "
		    "refused (status: purges_refused)",
		    (unsigned long long)(refused - cs->refused_seen));
	cs->refused_seen = refused;
	truncate_wal(cs);
}

/* Retention. */

/* Now, as the retention check reads it (a test may set it). */
static uint64_t
retention_now(void)
{
	uint64_t t = testhook_retention_now();

	return t != 0 ? t : clock_wall_ms();
}

/* The hlc a record kept days must have changed at or after; 0: all may. */
static uint64_t
cutoff(uint64_t now, uint32_t days)
{
	uint64_t span = (uint64_t)days * DAY_MS;

	return days == 0 || now <= span ? 0 : HLC_MAKE(now - span, 0);
}

/* One policy to run: views move as ops are written, so by value. */
struct policy {
	uint8_t id[CS_CIRCLELEN];
	char coll[OPS_MAX_COLLECTION + 1];
	uint32_t days;
	uint8_t op[32];
};

/* The policies of the circles this device reads and may erase in. */
static size_t
policies(const struct circle *cs, const uint8_t *only, struct policy **out)
{
	const struct roster_retention *rt;
	const struct roster_member *m;
	size_t n = 0, nr;

	*out = NULL;
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];

		if (v->r == NULL || !roster_circle_valid(v->r) ||
		    (only != NULL && memcmp(v->info.id, only,
		    CS_CIRCLELEN) != 0))
			continue;
		/* A relay reads nothing: its admins' purges reach it. */
		if ((m = roster_member(v->r, me(cs))) == NULL ||
		    m->state != ROSTER_CURRENT || m->role == ROSTER_RELAY)
			continue;
		rt = roster_retentions(v->r, &nr);
		for (size_t k = 0; k < nr; k++) {
			if (rt[k].keep == 0)
				continue;
			*out = xreallocarray(*out, n + 1, sizeof(**out));
			memcpy((*out)[n].id, v->info.id, CS_CIRCLELEN);
			memcpy((*out)[n].coll, rt[k].coll, sizeof(rt[k].coll));
			(*out)[n].days = rt[k].keep;
			memcpy((*out)[n].op, rt[k].op, 32);
			n++;
		}
	}
	return n;
}

/*
 * An admin's purge of what a policy erases, in a batch of its own, so
 * that relays (which cannot tell a record's age) erase it too.
 */
static int
retention_purge(struct circle *cs, const struct policy *pl,
    const struct circle_rec *recs, size_t n)
{
	char hex[2 * CS_CIRCLELEN + 1], *reason, *cause = NULL;
	struct circle_purged_op out;
	uint64_t ticket = 0;
	int rc;

	reason = xasprintf("retention: %s kept %u days", pl->coll, pl->days);
	rc = circle_purge(cs, pl->id, recs, n, reason, strlen(reason), &out,
	    &cause);
	free(reason);
	if (rc == 0 && (rc = writer_commit(cs->env.writer, &ticket)) == 0) {
		(void)loader_refresh(cs->env.loader, cs);
		rc = circle_reload(cs);
	} else if (rc == 0)
		loader_forget(cs->env.loader);
	else if (writer_in_txn(cs->env.writer))
		writer_abort(cs->env.writer, rc);
	if (rc != 0)
		log_warnx("circle %s: could not write a retention purge: %s",
		    short_hex(hex, pl->id), cause != NULL ? cause :
		    samen_strerror(rc));
	free(cause);
	return rc;
}

/* A member's erase of what a policy says is old enough, by itself. */
static int
retention_local(struct circle *cs, const struct policy *pl,
    const struct circle_rec *recs, size_t n)
{
	struct tags ts = { NULL, 0, 0 };
	char hex[2 * CS_CIRCLELEN + 1];
	struct store_erased e;
	int rc;

	for (size_t i = 0; i < n; i++)
		tags_of(cs, pl->id, recs[i].collection, recs[i].rid, &ts);
	/* The purged rows name the policy's op: samen log says so. */
	rc = store_erase_tags(cs->env.store, pl->id, pl->op,
	    (const uint8_t (*)[CS_RTAGLEN])ts.t, ts.n, &e);
	free(ts.t);
	if (rc != 0)
		return rc;
	log_info("circle %s: retention erased %zu records",
	    short_hex(hex, pl->id), e.nrkeys);
	erased(cs, &e);
	return 0;
}

/*
 * One pass: per policy at most RETENTION_BATCH records (fewer if they
 * would not fit one purge's tags).  Returns 1 if more is due, 0, or a
 * negative code.
 */
static int
retention_pass(struct circle *cs, int *wrote)
{
	struct store_expired *ex;
	struct circle_rec *recs;
	struct policy *pl;
	size_t npl, nex, k, limit;
	uint64_t now = retention_now(), before;
	int rc = 0, more = 0;
	struct view *v;

	npl = policies(cs, NULL, &pl);
	for (size_t i = 0; i < npl; i++) {
		if ((before = cutoff(now, pl[i].days)) == 0 ||
		    (k = circle_nkeys(cs, pl[i].id)) == 0)
			continue;
		limit = ROSTER_MAX_TAGS / k;
		if (limit > RETENTION_BATCH)
			limit = RETENTION_BATCH;
		if ((rc = store_expired(cs->env.store, pl[i].id, pl[i].coll,
		    before, limit + 1, &ex, &nex)) != 0)
			break;
		if (nex == 0)
			continue;
		if (nex > limit) {
			more = 1;
			nex = limit;
		}
		recs = xcalloc(nex, sizeof(*recs));
		for (size_t j = 0; j < nex; j++) {
			memcpy(recs[j].collection, pl[i].coll,
			    sizeof(pl[i].coll));
			memcpy(recs[j].rid, ex[j].rid, RID_LEN);
		}
		free(ex);
		v = circle_view_of(cs, pl[i].id);
		if (v != NULL && v->r != NULL && v->writer != NULL &&
		    roster_is_admin(v->r, me(cs))) {
			if ((rc = retention_purge(cs, &pl[i], recs, nex)) == 0)
				*wrote = 1;
		} else
			rc = retention_local(cs, &pl[i], recs, nex);
		free(recs);
		if (rc != 0)
			break;
	}
	free(pl);
	return rc < 0 ? rc : more;
}

/* The purges owed, a retention pass, and what its purges owe. */
static int
erasure(struct circle *cs)
{
	int rc, wrote = 0;

	if (writer_in_txn(cs->env.writer) || !cs->have_priv)
		return 0;
	apply_purges(cs);
	rc = retention_pass(cs, &wrote);
	if (wrote)
		apply_purges(cs);
	truncate_wal(cs);
	return rc;
}

int
circle_erasure(struct circle *cs)
{
	int rc = erasure(cs);

	return rc < 0 ? rc : 0;
}

int
circle_retention_run(struct circle *cs)
{
	int rc;

	if (cs->refreshing)
		return 0;
	cs->refreshing = 1;
	rc = erasure(cs);
	cs->refreshing = 0;
	return rc;
}

int
circle_retention(struct circle *cs, const char *name, const char *collection,
    uint32_t days, struct circle_done *out, char **cause)
{
	const struct roster_retention *rt;
	const struct circle_info *c;
	char hex[2 * CS_CIRCLELEN + 1];
	uint8_t id[CS_CIRCLELEN];
	struct roster_op op;
	struct view *v;
	uint32_t now = 0;
	size_t nr;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((c = circle_find(cs, name)) == NULL)
		return samen_fail(cause, SAMEN_ENOTFOUND, "no shared circle named "
		    "'%s' (samen circle ls)", name);
	v = circle_view_of(cs, c->id);
	if (v->r == NULL || !roster_circle_valid(v->r))
		return samen_fail(cause, SAMEN_ENOTFOUND, "circle '%s' has no valid "
		    "member list on this device yet", name);
	if (!roster_is_admin(v->r, me(cs)))
		return samen_fail(cause, SAMEN_EINVAL, "only an admin of '%s' can "
		    "set its retention", name);
	rt = roster_retentions(v->r, &nr);
	for (size_t i = 0; i < nr; i++)
		if (strcmp(rt[i].coll, collection) == 0)
			now = rt[i].keep;
	if (now == days && days == 0)
		return samen_fail(cause, SAMEN_EEXIST, "'%s' keeps %s for ever "
		    "already: it has no retention", name, collection);
	if (now == days)
		return samen_fail(cause, SAMEN_EEXIST, "'%s' keeps %s for %u days "
		    "already", name, collection, days);
	memset(&op, 0, sizeof(op));
	op.type = ROSTER_RETENTION;
	snprintf(op.coll, sizeof(op.coll), "%s", collection);
	op.keep = days;
	memcpy(id, v->info.id, CS_CIRCLELEN);
	rc = circle_op_write(cs, v, &op, cause);
	roster_op_free(&op);
	if (rc != 0)
		return rc;
	memcpy(out->id, id, CS_CIRCLELEN);
	v = circle_view_of(cs, id);
	out->name = v != NULL ? v->label : "";
	/* Ids only: a collection's name is not for the log either. */
	log_info("circle %s: retention of a collection set to %u days",
	    short_hex(hex, id), days);
	return 0;
}

int
circle_retention_due(struct circle *cs, const char *name,
    const struct circle_info **info, struct circle_due **out, size_t *n,
    char **cause)
{
	const struct circle_info *c;
	struct store_expired *ex;
	struct policy *pl;
	size_t npl, nex;
	uint64_t now = retention_now(), before;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if ((c = circle_find(cs, name)) == NULL)
		return samen_fail(cause, SAMEN_ENOTFOUND, "no shared circle named "
		    "'%s' (samen circle ls)", name);
	if (circle_nkeys(cs, c->id) == 0)
		return samen_fail(cause, SAMEN_EINVAL, "this device holds no key "
		    "of '%s': it cannot tell how old its records are", name);
	*info = c;
	npl = policies(cs, c->id, &pl);
	for (size_t i = 0; i < npl && rc == 0 && *n < DUE_MAX; i++) {
		if ((before = cutoff(now, pl[i].days)) == 0)
			continue;
		if ((rc = store_expired(cs->env.store, c->id, pl[i].coll,
		    before, DUE_MAX - *n, &ex, &nex)) != 0)
			break;
		*out = xreallocarray(*out, *n + nex + 1, sizeof(**out));
		for (size_t j = 0; j < nex; j++) {
			struct circle_due *d = &(*out)[(*n)++];

			memcpy(d->collection, pl[i].coll, sizeof(pl[i].coll));
			memcpy(d->rid, ex[j].rid, RID_LEN);
			d->updated = ex[j].updated;
			d->days = pl[i].days;
		}
		free(ex);
	}
	free(pl);
	if (rc != 0) {
		free(*out);
		*out = NULL;
		*n = 0;
		return samen_fail(cause, rc, "storage error: %s",
		    samen_strerror(rc));
	}
	return 0;
}

/* samen log of what is gone. */

/*
 * Fills out from op, the op of circle id that purged the record: 0, or
 * SAMEN_ENOTFOUND if no op of circle id has that id.
 */
static int
purged_by(struct circle *cs, const uint8_t id[CS_CIRCLELEN],
    const uint8_t op[CS_IDLEN], struct circle_purged *out)
{
	struct view *v = circle_view_of(cs, id);
	size_t len;

	for (size_t k = 0; v != NULL && k < v->nops; k++) {
		const struct roster_op *o = &v->ops[k];

		if (memcmp(o->id, op, CS_IDLEN) != 0)
			continue;
		memcpy(out->author, o->author, 32);
		out->seq = o->seq;
		out->hlc = o->hlc;
		if (o->type == ROSTER_RETENTION) {
			out->retention = 1;
			out->reason = xasprintf("retention: %s kept %u days",
			    o->coll, o->keep);
		} else if (blob_open(cs, id, o->reason, o->reason_len,
		    "reason", &out->reason, &len) != 0)
			out->reason = NULL;
		return 0;
	}
	/* A purge of the private circle: this device's, at its op's hlc. */
	if (!cs->have_priv || memcmp(cs->priv.id, id, CS_CIRCLELEN) != 0)
		return SAMEN_ENOTFOUND;
	memcpy(out->author, me(cs), 32);
	out->hlc = get_be64(op);
	return 0;
}

int
circle_purged(struct circle *cs, const char *collection,
    const uint8_t rid[RID_LEN], struct circle_purged *out)
{
	uint8_t tag[CS_RTAGLEN], op[CS_IDLEN];

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < cs->ncircles; i++) {
		const struct store_circle *c = &cs->circles[i];

		if (c->kind == STORE_CIRCLE_MEMBERS ||
		    c->epoch == ROSTER_AUDIT_EPOCH)
			continue;
		changeset_rtag(tag, c->key, collection, strlen(collection),
		    rid);
		if (store_purged_op(cs->env.store, c->id, tag, op) == 0 &&
		    purged_by(cs, c->id, op, out) == 0)
			return 0;
	}
	return SAMEN_ENOTFOUND;
}

void
circle_purged_free(struct circle_purged *p)
{
	if (p->reason != NULL) {
		sodium_memzero(p->reason, strlen(p->reason));
		free(p->reason);
	}
	memset(p, 0, sizeof(*p));
}

void
circle_note_dropped(struct circle *cs)
{
	uint64_t d = store_purged_dropped(cs->env.store);

	if (d > cs->dropped_seen)
		log_info("a peer sent %llu chunks of purged records: dropped "
		    "(status: purged_dropped)",
		    (unsigned long long)(d - cs->dropped_seen));
	cs->dropped_seen = d;
}
