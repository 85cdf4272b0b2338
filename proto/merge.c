/* merge: the CRDT rules: what a chunk adds and kills, display order, digest. */
#include "merge.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util.h"

int
merge_chunk(const struct replica_ops *ops, void *ctx,
    const struct cs_header *h, const uint8_t csid[CS_IDLEN],
    uint32_t chunk_index, const struct ops_chunk *c)
{
	return merge_chunk_vids(ops, ctx, h, csid, chunk_index, c, NULL);
}

int
merge_chunk_vids(const struct replica_ops *ops, void *ctx,
    const struct cs_header *h, const uint8_t csid[CS_IDLEN],
    uint32_t chunk_index, const struct ops_chunk *c,
    const struct merge_vid *vids)
{
	struct merge_rec rec = {
		h->circle, c->collection, c->collection_len, c->rid
	};
	struct merge_value v;
	const struct op *o;
	uint8_t vid[VID_LEN];
	enum op_type kind;
	uint32_t i, j;
	int rc;

	for (i = 0; i < c->nops; i++) {
		o = &c->ops[i];
		memset(&v, 0, sizeof(v));
		if (vids != NULL) {
			v.vid = vids[i].vid;
			v.vid_hash = vids[i].hash;
		} else {
			ops_vid(vid, csid, chunk_index, i);
			v.vid = vid;
		}
		v.rec = &rec;
		v.kind = o->type;
		v.field = o->type == OP_EXIST ? "" : o->field;
		v.field_len = o->type == OP_EXIST ? 0 : o->field_len;
		v.value = o->value;
		v.value_len = o->value_len;
		v.alive = o->alive;
		v.hlc = h->hlc;
		v.author = h->author;
		v.seq = h->seq;
		v.nrefs = o->nrefs;
		if ((rc = ops->add(ctx, &v)) != 0)
			return rc;
		/*
		 * A pred replaces values of the op's own register; a REM's
		 * tags name the ADDs of its element it observed.
		 */
		kind = o->type == OP_REM ? OP_ADD : o->type;
		for (j = 0; j < o->nrefs; j++)
			if ((rc = ops->kill(ctx, &rec, kind, v.field,
			    v.field_len, o->refs + (size_t)j * VID_LEN)) != 0)
				return rc;
	}
	return 0;
}

void
merge_opened_vids(struct cs_opened *o, const uint8_t csid[CS_IDLEN])
{
	struct merge_vid *v;
	size_t n = 0;

	/* One allocation for the change set, not one per chunk: the loop
	 * frees it, and a bulk change set has 500 chunks. */
	for (uint32_t i = 0; i < o->n; i++)
		if (o->chunks[i].plain != NULL)
			n += o->chunks[i].oc.nops;
	free(o->vids);
	o->vids = v = xreallocarray(NULL, n ? n : 1, sizeof(*v));
	for (uint32_t i = 0; i < o->n; i++) {
		struct cs_read_chunk *x = &o->chunks[i];

		x->vids = NULL;
		if (x->plain == NULL || x->oc.nops == 0)
			continue;
		x->vids = v;
		for (uint32_t j = 0; j < x->oc.nops; j++, v++) {
			ops_vid(v->vid, csid, i, j);
			merge_vid_hash(v->hash, v->vid);
		}
	}
	memcpy(o->csid, csid, CS_IDLEN);
	o->has_vids = 1;
}

/* By content: alive, then the value's bytes (EXIST values have none). */
static int
cmp_content(const void *pa, const void *pb)
{
	const struct merge_survivor *a = pa, *b = pb;
	size_t n = a->value_len < b->value_len ? a->value_len : b->value_len;
	int d;

	if (a->alive != b->alive)
		return a->alive < b->alive ? -1 : 1;
	/* memcmp must not see the NULL value of an EXIST, even for 0 bytes. */
	if (n > 0 && (d = memcmp(a->value, b->value, n)) != 0)
		return d;
	if (a->value_len != b->value_len)
		return a->value_len < b->value_len ? -1 : 1;
	return 0;
}

/* Highest (hlc, author, vid) first; vids are unique, so the order is total. */
static int
cmp_display(const void *pa, const void *pb)
{
	const struct merge_survivor *a = pa, *b = pb;
	int d;

	if (a->hlc != b->hlc)
		return a->hlc > b->hlc ? -1 : 1;
	if ((d = memcmp(b->author, a->author, 32)) != 0)
		return d;
	return memcmp(b->vid, a->vid, VID_LEN);
}

int
merge_cmp(const struct merge_survivor *a, const struct merge_survivor *b)
{
	return cmp_display(a, b);
}

size_t
merge_order(struct merge_survivor *s, size_t n)
{
	size_t i, distinct = 1;

	if (n < 2)
		return n;
	/*
	 * Counting distinct values on a copy sorted by content costs n log n;
	 * pairwise it would be quadratic in the survivors, which a writer
	 * who never names preds controls.
	 */
	qsort(s, n, sizeof(*s), cmp_content);
	for (i = 1; i < n; i++)
		if (cmp_content(&s[i - 1], &s[i]) != 0)
			distinct++;
	qsort(s, n, sizeof(*s), cmp_display);
	return distinct;
}

void
merge_digest_init(struct merge_digest *d)
{
	memset(d->sum, 0, sizeof(d->sum));
}

void
merge_vid_hash(uint8_t out[MERGE_VID_HASHLEN], const uint8_t vid[VID_LEN])
{
	crypto_generichash(out, MERGE_VID_HASHLEN, vid, VID_LEN, NULL, 0);
}

void
merge_digest_add_hash(struct merge_digest *d,
    const uint8_t h[MERGE_VID_HASHLEN])
{
	unsigned carry = 0;
	size_t i;

	for (i = 0; i < sizeof(d->sum); i++) {
		carry += (unsigned)d->sum[i] + h[i];
		d->sum[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

void
merge_digest_sub_hash(struct merge_digest *d,
    const uint8_t h[MERGE_VID_HASHLEN])
{
	int x, borrow = 0;
	size_t i;

	for (i = 0; i < sizeof(d->sum); i++) {
		x = d->sum[i] - h[i] - borrow;
		borrow = x < 0;
		d->sum[i] = (uint8_t)x;
	}
}

void
merge_digest_add(struct merge_digest *d, const uint8_t vid[VID_LEN])
{
	uint8_t h[MERGE_VID_HASHLEN];

	merge_vid_hash(h, vid);
	merge_digest_add_hash(d, h);
}

void
merge_digest_sub(struct merge_digest *d, const uint8_t vid[VID_LEN])
{
	uint8_t h[MERGE_VID_HASHLEN];

	merge_vid_hash(h, vid);
	merge_digest_sub_hash(d, h);
}

void
merge_digest_final(uint8_t out[32], const struct merge_digest *d)
{
	crypto_generichash(out, 32, d->sum, sizeof(d->sum), NULL, 0);
}
