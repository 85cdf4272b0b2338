/* test_trail: the read audit: reads noted, grouped and written by the writer; read by admins only; expired; kept past a purge. */
#define _GNU_SOURCE	/* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit.h"
#include "circle.h"
#include "circle_fixture.h"
#include "error.h"
#include "hlc.h"
#include "index.h"
#include "loader.h"
#include "roster.h"
#include "store.h"
#include "sync.h"
#include "trail.h"
#include "util.h"
#include "writer.h"

static void
make_circle(struct dev *d, const char *name, uint8_t id[CS_CIRCLELEN])
{
	struct circle_done done;
	char *cause = NULL;

	assert_int_equal(circle_create(d->cs, name, &done, &cause), 0);
	memcpy(id, done.id, CS_CIRCLELEN);
	dev_commit(d);
}

static void
add(struct dev *d, const char *name, const struct dev *who,
    enum roster_role role)
{
	struct circle_done done;
	char *cause = NULL;

	assert_int_equal(circle_add(d->cs, name, dev_key(who), role, 1, &done,
	    &cause), 0);
	dev_commit(d);
}

/* The audit chain of circle id, from to. */
static size_t
sync_audit(struct dev *from, struct dev *to, const uint8_t id[CS_CIRCLELEN])
{
	uint8_t chain[CS_CIRCLELEN];

	sync_audit_circle(chain, id);
	return dev_copy_chain(from, to, chain);
}

/* A record written on d in circle (the private one if id is NULL). */
static void
put(struct dev *d, const uint8_t *id, const char *coll, const char *name,
    uint8_t rid[RID_LEN])
{
	struct writer_ops *l = xcalloc(1, sizeof(*l));
	const struct store_circle *c = id != NULL ? circle_by_id(d->cs, id) :
	    circle_private(d->cs);
	char *cause = NULL;

	assert_non_null(c);
	writer_ops_init(l);
	writer_ops_add(l, OP_SET, "name", 4, name, strlen(name));
	writer_new_rid(d->w, rid);
	assert_int_equal(writer_record(d->w, c, coll, rid, NULL, 1, l,
	    &cause), 0);
	writer_ops_free(l);
	free(l);
	dev_commit(d);
}

static const struct store_record *
rec(const struct dev *d, const char *coll, const uint8_t rid[RID_LEN])
{
	const struct store_record *r = index_get(d->ix, coll, rid);

	assert_non_null(r);
	return r;
}

/* d reads recs[0..n) through action. */
static void
read_(struct dev *d, const char *action, const struct store_record **recs,
    size_t n)
{
	char *cause = NULL;

	assert_int_equal(trail_read(&d->p, action, recs, n, &cause), 0);
	assert_null(cause);
}

/* What one walk of a chain counts. */
struct count {
	size_t n, chunks, purged;
	uint64_t first_hlc;
};

static int
count_cb(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct count *c = arg;
	struct cs_payload pl;
	struct cs_header h;

	assert_int_equal(changeset_header_decode(&h, hdr, hdr_len), 0);
	assert_int_equal(changeset_verify(&h), 0);
	assert_int_equal(changeset_payload_decode(&pl, payload, payload_len),
	    0);
	assert_int_equal(changeset_payload_check(&h, &pl, payload_len), 0);
	if (c->n++ == 0)
		c->first_hlc = h.hlc;
	for (uint32_t i = 0; i < pl.nchunks; i++) {
		c->chunks++;
		c->purged += pl.chunks[i].purged;
	}
	changeset_payload_free(&pl);
	return 0;
}

static struct count
audit_chain(struct dev *d, const uint8_t id[CS_CIRCLELEN])
{
	uint8_t chain[CS_CIRCLELEN];
	struct count c;

	memset(&c, 0, sizeof(c));
	sync_audit_circle(chain, id);
	assert_int_equal(store_chain_each(d->st, chain, count_cb, &c), 0);
	return c;
}

/* d's answer to q, which must be given. */
static void
query(struct dev *d, const struct trail_query *q,
    const struct store_record *r, struct trail_list *l)
{
	char *cause = NULL;
	int rc = trail_query(d->t, q, r, l, &cause);

	if (rc != 0)
		fail_msg("query: %d %s", rc, cause ? cause : "");
}

static size_t
reads_in(const struct trail_list *l, const char *what, const uint8_t dev[32])
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += l->e[i].action == TRAIL_READ &&
		    strcmp(l->e[i].what, what) == 0 &&
		    memcmp(l->e[i].device, dev, 32) == 0;
	return n;
}

/* A admin, B member, R relay of "team"; B holds a case and two notes. */
struct world {
	struct dev a, b, r;
	uint8_t id[CS_CIRCLELEN];
	uint8_t kase[RID_LEN], n1[RID_LEN], n2[RID_LEN], mine[RID_LEN];
};

static void
world_open(struct world *x)
{
	dev_open(&x->a);
	dev_open(&x->b);
	dev_open(&x->r);
	make_circle(&x->a, "team", x->id);
	add(&x->a, "team", &x->b, ROSTER_MEMBER);
	add(&x->a, "team", &x->r, ROSTER_RELAY);
	put(&x->a, x->id, "case", "Jansen", x->kase);
	put(&x->a, x->id, "note", "first", x->n1);
	put(&x->a, x->id, "note", "second", x->n2);
	dev_sync_circle(&x->a, &x->b, x->id);
	dev_sync_circle(&x->a, &x->r, x->id);
	put(&x->b, NULL, "note", "my own", x->mine);
}

static void
world_close(struct world *x)
{
	assert_int_equal(x->a.aborts + x->b.aborts + x->r.aborts, 0);
	dev_close(&x->a);
	dev_close(&x->b);
	dev_close(&x->r);
}

/*
 * The writer's grouping: the reads of one batch in one circle are one
 * change set of its audit chain, one box; a batch without reads writes
 * none; two circles, two change sets; the private circle none.  They are
 * not pending (never merged), and a relay carries them as they are.
 */
static void
test_grouping(void **state)
{
	struct world x;
	const struct store_record *r[3];
	struct store_stats s;
	struct count c;
	uint8_t other[CS_CIRCLELEN], orid[RID_LEN];
	uint64_t before;

	(void)state;
	world_open(&x);
	r[0] = rec(&x.b, "case", x.kase);
	r[1] = rec(&x.b, "note", x.n1);
	r[2] = rec(&x.b, "note", x.mine);
	before = trail_noted(x.b.t);
	read_(&x.b, "get", r, 3);		/* case, note, and a private */
	read_(&x.b, "ls", r + 1, 1);
	r[0] = rec(&x.b, "note", x.mine);
	read_(&x.b, "get", r, 1);		/* private alone: nothing */
	assert_true(trail_noted(x.b.t) == before + 2);
	dev_commit(&x.b);
	c = audit_chain(&x.b, x.id);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.chunks, 1);
	/* A batch of no read writes no audit change set. */
	dev_commit(&x.b);
	assert_int_equal(audit_chain(&x.b, x.id).n, 1);
	r[0] = rec(&x.b, "case", x.kase);
	read_(&x.b, "log", r, 1);
	dev_commit(&x.b);
	assert_int_equal(audit_chain(&x.b, x.id).n, 2);
	/* Audit change sets are never pending: nothing merges them; they
	 * are counted apart from the records' change sets. */
	assert_int_equal(store_stats(x.b.st, &s), 0);
	assert_int_equal(s.pending, 0);
	assert_int_equal(s.audit, 2);

	/* Two circles in one batch: one change set each. */
	make_circle(&x.b, "other", other);
	put(&x.b, other, "case", "Bakker", orid);
	r[0] = rec(&x.b, "case", x.kase);
	r[1] = rec(&x.b, "case", orid);
	read_(&x.b, "find", r, 2);
	dev_commit(&x.b);
	assert_int_equal(audit_chain(&x.b, x.id).n, 3);
	assert_int_equal(audit_chain(&x.b, other).n, 1);

	/* The relay carries them, and counts none pending. */
	assert_int_equal(sync_audit(&x.b, &x.r, x.id), 3);
	c = audit_chain(&x.r, x.id);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.purged, 0);
	assert_int_equal(store_stats(x.r.st, &s), 0);
	assert_int_equal(s.pending, 3);	/* its data chain's, as before */
	assert_int_equal(s.audit, 3);
	world_close(&x);
}

/* store_chain_each's callback for test_admins_only: B's boxes, opened. */
struct pick {
	struct cs_plain *pl;
	size_t *n;
	const uint8_t *key;
	uint8_t *bufs[4];
};

static int
copy_plain(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct pick *pk = arg;
	struct cs_payload pl;
	struct cs_header h;
	uint8_t *plain;
	size_t len;

	assert_int_equal(changeset_header_decode(&h, hdr, hdr_len), 0);
	assert_int_equal(changeset_payload_decode(&pl, payload, payload_len),
	    0);
	for (uint32_t i = 0; i < pl.nchunks && *pk->n < 4; i++) {
		assert_int_equal(changeset_chunk_open(&plain, &len, &h,
		    &pl.chunks[i], pk->key), 0);
		pk->bufs[*pk->n] = plain;
		randombytes_buf(pk->pl[*pk->n].rtag, CS_RTAGLEN);
		pk->pl[*pk->n].data = plain;
		pk->pl[*pk->n].len = len;
		(*pk->n)++;
	}
	changeset_payload_free(&pl);
	return 0;
}

/*
 * A reads what B read; B, a member, cannot; nor can the relay.  The
 * filters: a record, a device, a time.  A block B's box copied into
 * another author's change set is not counted.
 */
static void
test_admins_only(void **state)
{
	struct world x;
	struct dev c;
	const struct store_record *r[2];
	struct trail_query q;
	struct trail_list l;
	char *cause = NULL;
	uint64_t t0;

	(void)state;
	world_open(&x);
	r[0] = rec(&x.b, "case", x.kase);
	r[1] = rec(&x.b, "note", x.n1);
	read_(&x.b, "get", r, 2);
	dev_commit(&x.b);
	t0 = HLC_MAKE(HLC_MS(writer_hlc(x.b.w)) + 2, 0);
	while (HLC_MS(writer_hlc(x.b.w)) < HLC_MS(t0))
		;	/* the clock moves on: the next read is after t0 */
	r[0] = rec(&x.b, "note", x.n2);
	read_(&x.b, "conflicts", r, 1);
	dev_commit(&x.b);
	assert_int_equal(sync_audit(&x.b, &x.a, x.id), 2);
	assert_int_equal(sync_audit(&x.b, &x.r, x.id), 2);

	memset(&q, 0, sizeof(q));
	query(&x.a, &q, NULL, &l);
	assert_int_equal(reads_in(&l, "get", dev_key(&x.b)), 1);
	assert_int_equal(reads_in(&l, "conflicts", dev_key(&x.b)), 1);
	/* The writes too, in one timeline: three creates by A. */
	assert_int_equal(l.n, 5);
	for (size_t i = 1; i < l.n; i++)
		assert_true(l.e[i - 1].hlc <= l.e[i].hlc);
	assert_int_equal(l.e[0].action, TRAIL_WRITE);
	assert_string_equal(l.e[0].what, "create");
	assert_memory_equal(l.e[0].device, dev_key(&x.a), 32);
	assert_int_equal(l.e[3].nrecs, 2);	/* the get of two */
	trail_list_free(&l);

	/* One record: its create and the read that named it. */
	q.has_record = 1;
	strcpy(q.collection, "note");
	memcpy(q.rid, x.n1, RID_LEN);
	query(&x.a, &q, rec(&x.a, "note", x.n1), &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.e[0].action, TRAIL_WRITE);
	assert_int_equal(l.e[1].action, TRAIL_READ);
	assert_string_equal(l.e[1].what, "get");
	assert_int_equal(l.e[1].nrecs, 1);
	assert_memory_equal(l.e[1].recs[0].rid, x.n1, RID_LEN);
	trail_list_free(&l);
	/* A device: B's reads only; a time: what came after. */
	memset(&q, 0, sizeof(q));
	q.has_device = 1;
	memcpy(q.device, dev_key(&x.b), 32);
	query(&x.a, &q, NULL, &l);
	assert_int_equal(l.n, 2);
	trail_list_free(&l);
	q.since = t0;
	query(&x.a, &q, NULL, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.e[0].what, "conflicts");
	trail_list_free(&l);

	/* B, a member, and R, a relay: refused, whatever they ask. */
	memset(&q, 0, sizeof(q));
	assert_int_equal(trail_query(x.b.t, &q, NULL, &l, &cause),
	    SAMEN_EINVAL);
	assert_non_null(strstr(cause, "only"));
	free(cause);
	cause = NULL;
	q.has_record = 1;
	strcpy(q.collection, "case");
	memcpy(q.rid, x.kase, RID_LEN);
	assert_int_equal(trail_query(x.b.t, &q, rec(&x.b, "case", x.kase),
	    &l, &cause), SAMEN_EINVAL);
	free(cause);
	cause = NULL;
	assert_int_equal(trail_query(x.r.t, &q, NULL, &l, &cause),
	    SAMEN_EINVAL);
	free(cause);

	/*
	 * C, a member, writes B's boxes as its own: A does not count them
	 * (the block names B, not the change set's author).
	 */
	dev_open(&c);
	add(&x.a, "team", &c, ROSTER_MEMBER);
	dev_sync_circle(&x.a, &c, x.id);
	{
		uint8_t chain[CS_CIRCLELEN], key[CS_KEYLEN];
		struct cs_plain pl[4];
		size_t n = 0;
		struct pick pk = { pl, &n, key, { NULL } };

		sync_audit_circle(chain, x.id);
		sync_audit_key(key, x.id);
		(void)sync_audit(&x.b, &c, x.id);
		/* Every box of B's (the outer layer anyone opens), as C's. */
		assert_int_equal(store_chain_each(c.st, chain, copy_plain, &pk),
		    0);
		assert_int_equal(n, 2);
		assert_int_equal(writer_sealed(c.w, chain, key, pl, n, &cause),
		    0);
		dev_commit(&c);
		for (size_t i = 0; i < n; i++)
			free(pk.bufs[i]);
	}
	assert_int_equal(sync_audit(&c, &x.a, x.id), 1);
	memset(&q, 0, sizeof(q));
	query(&x.a, &q, NULL, &l);
	assert_int_equal(reads_in(&l, "get", dev_key(&c)), 0);
	assert_int_equal(reads_in(&l, "get", dev_key(&x.b)), 1);
	trail_list_free(&l);
	dev_close(&c);
	world_close(&x);
}

/*
 * Retention: the events older than the cut go (their change sets keep
 * header, chain and hashes), newer ones stay, on the device that wrote
 * them and the relay that carries them; one that arrives later, dated
 * before the cut, is stored erased.
 */
static void
test_expire(void **state)
{
	struct world x;
	struct dev late;
	const struct store_record *r[1];
	struct trail_query q;
	struct trail_list l;
	struct store_erased out;
	struct count c;
	uint64_t cut_ms;

	(void)state;
	world_open(&x);
	r[0] = rec(&x.b, "case", x.kase);
	read_(&x.b, "get", r, 1);
	dev_commit(&x.b);
	c = audit_chain(&x.b, x.id);
	cut_ms = HLC_MS(c.first_hlc) + 1;
	while (HLC_MS(writer_hlc(x.b.w)) < cut_ms + 1)
		;
	read_(&x.b, "export", r, 1);
	dev_commit(&x.b);
	assert_int_equal(sync_audit(&x.b, &x.r, x.id), 2);

	/* As at cut + five years: the get goes, the export stays. */
	assert_false(store_wal_truncate_owed(x.b.st));
	trail_set_retention(x.b.t, 1826);
	assert_int_equal(trail_expire(x.b.t, cut_ms + 1826ULL * 86400000),
	    0);
	assert_true(store_wal_truncate_owed(x.b.st));
	c = audit_chain(&x.b, x.id);
	assert_int_equal(c.n, 2);		/* the headers stay */
	assert_int_equal(c.purged, 1);
	/* Again: nothing more to do, nothing erased. */
	assert_int_equal(store_wal_truncate(x.b.st), 0);
	assert_int_equal(trail_expire(x.b.t, cut_ms + 1826ULL * 86400000),
	    0);
	assert_false(store_wal_truncate_owed(x.b.st));
	/* The relay, without a key, expires what it carries the same way. */
	assert_int_equal(store_erase_expired(x.r.st,
	    HLC_MAKE(cut_ms, 0), &out), 0);
	assert_int_equal(out.changesets, 1);
	store_erased_free(&out);
	assert_int_equal(audit_chain(&x.r, x.id).purged, 1);
	/* The admin gets the expired one erased, and reads the other. */
	assert_int_equal(sync_audit(&x.r, &x.a, x.id), 2);
	memset(&q, 0, sizeof(q));
	query(&x.a, &q, NULL, &l);
	assert_int_equal(reads_in(&l, "get", dev_key(&x.b)), 0);
	assert_int_equal(reads_in(&l, "export", dev_key(&x.b)), 1);
	trail_list_free(&l);

	/* A device that expired first and hears of the get later. */
	dev_open(&late);
	add(&x.a, "team", &late, ROSTER_MEMBER);
	dev_sync_circle(&x.a, &late, x.id);
	assert_int_equal(store_erase_expired(late.st, HLC_MAKE(cut_ms, 0),
	    &out), 0);
	assert_int_equal(out.changesets, 0);
	store_erased_free(&out);
	/* A's copy of the get is erased already; B's is not: from B. */
	{
		struct dev *b = &x.b;
		uint8_t chain[CS_CIRCLELEN];
		struct dev fresh;

		/* B's own copy was erased too: write one as it was, from a
		 * device that never expired (fresh), then give it to late. */
		dev_open(&fresh);
		add(&x.a, "team", &fresh, ROSTER_MEMBER);
		dev_sync_circle(&x.a, &fresh, x.id);
		(void)b;
		r[0] = rec(&fresh, "case", x.kase);
		read_(&fresh, "get", r, 1);
		dev_commit(&fresh);
		sync_audit_circle(chain, x.id);
		c = audit_chain(&fresh, x.id);
		assert_int_equal(c.purged, 0);
		/* Its read is after the cut: a later cut, as late had it. */
		assert_int_equal(store_erase_expired(late.st,
		    c.first_hlc + 1, &out), 0);
		store_erased_free(&out);
		assert_int_equal(dev_copy_chain(&fresh, &late, chain), 1);
		c = audit_chain(&late, x.id);
		assert_int_equal(c.n, 1);
		assert_int_equal(c.purged, 1);
		dev_close(&fresh);
	}
	dev_close(&late);
	world_close(&x);
}

/*
 * A purge of the case takes the case and its chunks; the reads that name
 * it stay, and A still reads them (the record is no longer held).
 */
static void
test_purge_keeps_reads(void **state)
{
	struct world x;
	const struct store_record *r[1];
	struct trail_query q;
	struct trail_list l;
	struct store_erased out;
	uint8_t (*tags)[CS_RTAGLEN], op[CS_IDLEN];
	size_t ntags;

	(void)state;
	world_open(&x);
	r[0] = rec(&x.b, "case", x.kase);
	read_(&x.b, "get", r, 1);
	dev_commit(&x.b);
	assert_int_equal(sync_audit(&x.b, &x.a, x.id), 1);
	assert_int_equal(store_erase_rtags(x.a.st, x.id, "case", x.kase,
	    &tags, &ntags), 0);
	memset(op, 0x33, sizeof(op));
	assert_int_equal(store_erase_tags(x.a.st, x.id, op,
	    (const uint8_t (*)[CS_RTAGLEN])tags, ntags, &out), 0);
	assert_int_equal(out.nrkeys, 1);
	loader_erased(x.a.ld, out.rkeys, out.nrkeys);
	store_erased_free(&out);
	free(tags);
	assert_null(index_get(x.a.ix, "case", x.kase));
	assert_int_equal(audit_chain(&x.a, x.id).purged, 0);
	memset(&q, 0, sizeof(q));
	q.has_record = 1;
	strcpy(q.collection, "case");
	memcpy(q.rid, x.kase, RID_LEN);
	query(&x.a, &q, NULL, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.e[0].action, TRAIL_READ);
	assert_string_equal(l.e[0].what, "get");
	assert_memory_equal(l.e[0].device, dev_key(&x.b), 32);
	trail_list_free(&l);
	world_close(&x);
}

/*
 * A search is an event of every circle B reads, with what it found there
 * or nothing: a find that found nothing is still noted (its text never);
 * a get that found nothing is not a read.  The relay searches nothing.
 */
static void
test_search(void **state)
{
	struct world x;
	const struct store_record *r[1];
	struct trail_query q;
	struct trail_list l;
	uint8_t other[CS_CIRCLELEN];

	(void)state;
	world_open(&x);
	read_(&x.b, "find", NULL, 0);
	read_(&x.b, "get", NULL, 0);
	read_(&x.r, "find", NULL, 0);
	dev_commit(&x.b);
	dev_commit(&x.r);
	assert_int_equal(audit_chain(&x.b, x.id).n, 1);
	assert_int_equal(audit_chain(&x.r, x.id).n, 0);
	/* Found in one circle of two: an event in each. */
	make_circle(&x.b, "other", other);
	r[0] = rec(&x.b, "case", x.kase);
	read_(&x.b, "find", r, 1);
	dev_commit(&x.b);
	assert_int_equal(audit_chain(&x.b, x.id).n, 2);
	assert_int_equal(audit_chain(&x.b, other).n, 1);
	assert_int_equal(sync_audit(&x.b, &x.a, x.id), 2);
	memset(&q, 0, sizeof(q));
	query(&x.a, &q, NULL, &l);
	assert_int_equal(reads_in(&l, "find", dev_key(&x.b)), 2);
	assert_int_equal(reads_in(&l, "get", dev_key(&x.b)), 0);
	for (size_t i = 0, k = 0; i < l.n; i++)
		if (l.e[i].action == TRAIL_READ)
			assert_int_equal(l.e[i].nrecs, k++);	/* 0, then 1 */
	trail_list_free(&l);
	/* Asked about the case: the search that found it, alone. */
	q.has_record = 1;
	strcpy(q.collection, "case");
	memcpy(q.rid, x.kase, RID_LEN);
	query(&x.a, &q, rec(&x.a, "case", x.kase), &l);
	assert_int_equal(reads_in(&l, "find", dev_key(&x.b)), 1);
	trail_list_free(&l);
	world_close(&x);
}

/* The subject export's trail: writes and reads in one timeline. */
static void
test_events(void **state)
{
	struct world x;
	const struct store_record *r[1];
	struct trail_event *ev;
	char *cause = NULL;
	size_t n;

	(void)state;
	world_open(&x);
	r[0] = rec(&x.b, "case", x.kase);
	read_(&x.b, "get", r, 1);
	dev_commit(&x.b);
	read_(&x.b, "export", r, 1);
	dev_commit(&x.b);
	assert_int_equal(sync_audit(&x.b, &x.a, x.id), 2);
	assert_int_equal(trail_events(&x.a.p, rec(&x.a, "case", x.kase), &ev,
	    &n, &cause), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ev[0].action, TRAIL_WRITE);
	assert_string_equal(ev[0].what, "create");
	assert_int_equal(ev[1].action, TRAIL_READ);
	assert_string_equal(ev[1].what, "get");
	assert_memory_equal(ev[1].device, dev_key(&x.b), 32);
	assert_string_equal(ev[2].what, "export");
	free(ev);
	/* On B, a member: its writes only. */
	assert_int_equal(trail_events(&x.b.p, rec(&x.b, "case", x.kase), &ev,
	    &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].action, TRAIL_WRITE);
	free(ev);
	world_close(&x);
}

/* Rows in d's audit journal. */
static size_t
journal_rows(struct dev *d)
{
	struct store_journal_row *rows;
	size_t n;

	assert_int_equal(store_journal_all(d->st, &rows, &n), 0);
	store_journal_free(rows, n);
	return n;
}

/* A batch's end as ctl.c's flush does it, shipping the journal or not. */
static void
batch_end(struct dev *d, int ship)
{
	uint64_t ticket = 0;
	char *cause = NULL;

	assert_int_equal(trail_flush(d->t, ship, &cause), 0);
	assert_null(cause);
	assert_int_equal(writer_commit(d->w, &ticket), 0);
}

/*
 * The journal: each batch's events of a circle are one row of it,
 * sealed, committed with the batch; no change set until it is shipped,
 * then one change set of the circle's audit chain holds them all (a box
 * a chunk), and the journal is empty.  A trail that starts over (samend
 * after kill -9 or a power cut: the rows were committed, the change set
 * never built) ships what it finds, and the admin reads every event.
 */
static void
test_journal(void **state)
{
	struct world x;
	const struct store_record *r[1];
	struct trail_env te;
	struct trail_query q;
	struct trail_list l;
	struct count c;

	(void)state;
	world_open(&x);
	r[0] = rec(&x.b, "case", x.kase);
	read_(&x.b, "get", r, 1);
	batch_end(&x.b, 0);
	r[0] = rec(&x.b, "note", x.n1);
	read_(&x.b, "ls", r, 1);
	batch_end(&x.b, 0);
	assert_int_equal(journal_rows(&x.b), 2);
	assert_int_equal(audit_chain(&x.b, x.id).n, 0);
	assert_true(trail_pending(x.b.t));
	/* The box is sealed at rest: no record id in the clear. */
	{
		struct store_journal_row *rows;
		size_t n;

		assert_int_equal(store_journal_all(x.b.st, &rows, &n), 0);
		assert_null(memmem(rows[0].box, rows[0].len, x.kase, RID_LEN));
		assert_null(memmem(rows[1].box, rows[1].len, x.n1, RID_LEN));
		store_journal_free(rows, n);
	}

	/* Shipped: one change set, two boxes; the journal empty. */
	batch_end(&x.b, 1);
	c = audit_chain(&x.b, x.id);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.chunks, 2);
	assert_int_equal(journal_rows(&x.b), 0);
	assert_false(trail_pending(x.b.t));

	/* A read journaled, then samend starts over before a ship. */
	r[0] = rec(&x.b, "note", x.n2);
	read_(&x.b, "log", r, 1);
	batch_end(&x.b, 0);
	assert_int_equal(journal_rows(&x.b), 1);
	trail_stop(x.b.t);
	assert_int_equal(uv_run(&x.b.loop, UV_RUN_DEFAULT), 0);
	trail_close(x.b.t);
	memset(&te, 0, sizeof(te));
	te.loop = &x.b.loop;
	te.store = x.b.st;
	te.vault = x.b.vault;
	te.circle = x.b.cs;
	te.writer = x.b.w;
	x.b.t = x.b.p.trail = trail_open(&te);
	/* What the journal holds is not known yet: a ship looks. */
	assert_true(trail_pending(x.b.t));
	batch_end(&x.b, 0);	/* not due: nothing read, nothing old */
	assert_int_equal(journal_rows(&x.b), 1);
	batch_end(&x.b, 1);
	assert_int_equal(journal_rows(&x.b), 0);
	assert_int_equal(audit_chain(&x.b, x.id).n, 2);

	/* The admin reads all three. */
	assert_int_equal(sync_audit(&x.b, &x.a, x.id), 2);
	memset(&q, 0, sizeof(q));
	query(&x.a, &q, NULL, &l);
	assert_int_equal(reads_in(&l, "get", dev_key(&x.b)), 1);
	assert_int_equal(reads_in(&l, "ls", dev_key(&x.b)), 1);
	assert_int_equal(reads_in(&l, "log", dev_key(&x.b)), 1);
	trail_list_free(&l);
	world_close(&x);
}

/*
 * A departed circle's journal rows go with its chains: nothing of them
 * is shipped after.
 */
static void
test_journal_erased(void **state)
{
	struct world x;
	const struct store_record *r[1];
	struct store_erased out;

	(void)state;
	world_open(&x);
	r[0] = rec(&x.b, "case", x.kase);
	read_(&x.b, "get", r, 1);
	batch_end(&x.b, 0);
	assert_int_equal(journal_rows(&x.b), 1);
	assert_int_equal(store_erase_circle(x.b.st, x.id, 1, 0, &out), 0);
	store_erased_free(&out);
	assert_int_equal(journal_rows(&x.b), 0);
	world_close(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_admins_only),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_purge_keeps_reads),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_journal_erased),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
