/* ops: the codec of a chunk's plaintext, its validation, and value ids. */
#include "ops.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "util.h"

/*
 * A ref is a bin of exactly VID_LEN bytes, and the reader accepts only the
 * canonical form, bin8: so the refs of one op lie in the input at this
 * stride, each after its two header bytes.
 */
#define REF_STRIDE (2 + VID_LEN)

static uint32_t
op_arity(uint64_t type)
{
	switch (type) {
	case OP_SET:
	case OP_REM:
		return 4;
	case OP_EXIST:
	case OP_ADD:
		return 3;
	default:
		return 0;
	}
}

static int
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
ops_collection_valid(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > OPS_MAX_COLLECTION || !is_lower(s[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	return 1;
}

int
ops_field_valid(const char *s, size_t n)
{
	size_t i;
	char c;

	if (n < 1 || n > OPS_MAX_FIELD)
		return 0;
	for (i = 0; i < n; i++) {
		c = s[i];
		if (is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c))
			continue;
		if (i == 0 || (c != '_' && c != '-'))
			return 0;
	}
	return 1;
}

static void
put_refs(struct wbuf *w, const struct op *o)
{
	uint32_t i;

	wire_put_array(w, o->nrefs);
	for (i = 0; i < o->nrefs; i++)
		wire_put_bin(w, o->refs + (size_t)i * VID_LEN, VID_LEN);
}

void
ops_encode(struct wbuf *w, const struct ops_chunk *c)
{
	const struct op *o;
	uint32_t i;

	wire_put_array(w, 3);
	wire_put_str(w, c->collection, c->collection_len);
	wire_put_bin(w, c->rid, RID_LEN);
	wire_put_array(w, c->nops);
	for (i = 0; i < c->nops; i++) {
		o = &c->ops[i];
		assert(op_arity(o->type) != 0);
		wire_put_array(w, op_arity(o->type));
		wire_put_u64(w, o->type);
		if (o->type == OP_EXIST) {
			wire_put_bool(w, o->alive);
			put_refs(w, o);
			continue;
		}
		wire_put_str(w, o->field, o->field_len);
		wire_put_str(w, o->value, o->value_len);
		if (o->type != OP_ADD)
			put_refs(w, o);
	}
}

/* Leaves o->refs pointing at the first ref in the input (see REF_STRIDE). */
static int
get_refs(struct wire_reader *r, struct op *o)
{
	const uint8_t *p;
	size_t len;
	uint32_t i;

	if (wire_get_array(r, &o->nrefs, OPS_MAX_REFS))
		return r->err;
	for (i = 0; i < o->nrefs; i++) {
		if (wire_get_bin(r, &p, &len, VID_LEN))
			return r->err;
		if (len != VID_LEN)
			return SAMEN_ETYPE;
		if (i == 0)
			o->refs = p;
	}
	return 0;
}

static int
get_op(struct wire_reader *r, struct op *o)
{
	uint64_t type;
	uint32_t n;

	memset(o, 0, sizeof(*o));
	/* The count is checked against the bytes left; nothing is allocated. */
	if (wire_get_array(r, &n, UINT32_MAX))
		return r->err;
	if (n == 0)
		return SAMEN_ETYPE;
	if (wire_get_u64(r, &type))
		return r->err;
	if (op_arity(type) == 0)
		return SAMEN_EVALUE;
	if (n != op_arity(type))
		return SAMEN_ETYPE;
	o->type = (enum op_type)type;
	if (o->type == OP_EXIST) {
		if (wire_get_bool(r, &o->alive))
			return r->err;
		return get_refs(r, o);
	}
	if (wire_get_str(r, &o->field, &o->field_len, OPS_MAX_FIELD))
		return r->err;
	if (!ops_field_valid(o->field, o->field_len))
		return SAMEN_EVALUE;
	if (wire_get_str(r, &o->value, &o->value_len,
	    o->type == OP_SET ? OPS_MAX_VALUE : OPS_MAX_ELEMENT))
		return r->err;
	return o->type == OP_ADD ? 0 : get_refs(r, o);
}

static int
cmp_field(const void *a, const void *b)
{
	const struct op *x = *(const struct op *const *)a;
	const struct op *y = *(const struct op *const *)b;

	if (x->field_len != y->field_len)
		return x->field_len < y->field_len ? -1 : 1;
	return memcmp(x->field, y->field, x->field_len);
}

/*
 * A change set cannot name its own values in a pred (its id depends on its
 * content), so two SETs of one field, or two EXISTs, in one chunk would be a
 * conflict of the writer with itself.  Sorting keeps this n log n: a chunk
 * may hold OPS_MAX_OPS ops.
 */
static int
check_unique(const struct op *ops, uint32_t nops)
{
	const struct op **set;
	uint32_t i, nset = 0, nexist = 0;
	int rc = 0;

	set = xcalloc(nops, sizeof(*set));
	for (i = 0; i < nops; i++) {
		if (ops[i].type == OP_SET)
			set[nset++] = &ops[i];
		else if (ops[i].type == OP_EXIST)
			nexist++;
	}
	if (nset > 1)
		qsort(set, nset, sizeof(*set), cmp_field);
	for (i = 1; i < nset; i++)
		if (cmp_field(&set[i - 1], &set[i]) == 0)
			rc = SAMEN_EVALUE;
	free(set);
	return nexist > 1 ? SAMEN_EVALUE : rc;
}

/*
 * Copies the refs out of the input into the tail of the ops allocation: in
 * the input each sits behind its own bin header, so they are not contiguous
 * there, and one allocation keeps ops_chunk_free() simple.
 */
static struct op *
gather_refs(struct op *ops, uint32_t nops, size_t nrefs)
{
	size_t head = (size_t)nops * sizeof(*ops);
	uint8_t *dst;
	const uint8_t *src;
	uint32_t i, j;

	ops = xrealloc(ops, head + nrefs * VID_LEN);
	dst = (uint8_t *)ops + head;
	for (i = 0; i < nops; i++) {
		src = ops[i].refs;
		for (j = 0; j < ops[i].nrefs; j++)
			memcpy(dst + (size_t)j * VID_LEN,
			    src + (size_t)j * REF_STRIDE, VID_LEN);
		ops[i].refs = ops[i].nrefs ? dst : NULL;
		dst += (size_t)ops[i].nrefs * VID_LEN;
	}
	return ops;
}

int
ops_decode(struct ops_chunk *c, const uint8_t *p, size_t n)
{
	struct wire_reader r;
	struct op *ops = NULL;
	size_t nrefs = 0;
	uint32_t i;
	int rc;

	memset(c, 0, sizeof(*c));
	wire_reader_init(&r, p, n);
	if (wire_get_array_n(&r, 3) || wire_get_str(&r, &c->collection,
	    &c->collection_len, OPS_MAX_COLLECTION)) {
		rc = r.err;
		goto fail;
	}
	if (!ops_collection_valid(c->collection, c->collection_len)) {
		rc = SAMEN_EVALUE;
		goto fail;
	}
	if (wire_get_bin_fixed(&r, c->rid, RID_LEN) ||
	    wire_get_array(&r, &c->nops, OPS_MAX_OPS)) {
		rc = r.err;
		goto fail;
	}
	ops = xcalloc(c->nops, sizeof(*ops));
	for (i = 0; i < c->nops; i++) {
		if ((rc = get_op(&r, &ops[i])) != 0)
			goto fail;
		nrefs += ops[i].nrefs;
	}
	if ((rc = wire_end(&r)) != 0 || (rc = check_unique(ops, c->nops)) != 0)
		goto fail;
	c->ops = gather_refs(ops, c->nops, nrefs);
	return 0;
fail:
	free(ops);
	memset(c, 0, sizeof(*c));
	return rc;
}

void
ops_chunk_free(struct ops_chunk *c)
{
	free(c->ops);
	c->ops = NULL;
	c->nops = 0;
}

void
ops_vid(uint8_t vid[VID_LEN], const uint8_t csid[32], uint32_t chunk,
    uint32_t op)
{
	uint8_t msg[32 + 4 + 4];

	memcpy(msg, csid, 32);
	put_le32(msg + 32, chunk);
	put_le32(msg + 36, op);
	crypto_generichash(vid, VID_LEN, msg, sizeof(msg), NULL, 0);
}
