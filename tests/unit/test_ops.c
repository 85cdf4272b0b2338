/* test_ops: the chunk plaintext codec: round trips and every rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "error.h"
#include "ops.h"
#include "util.h"
#include "wire.h"

static const uint8_t rid[RID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static uint64_t
rnd(uint64_t *s)
{
	/* splitmix64: small, and the seed alone reproduces a run. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint8_t *
encode(const char *coll, struct op *ops, uint32_t nops, size_t *len)
{
	struct ops_chunk c;
	struct wbuf w;

	memset(&c, 0, sizeof(c));
	c.collection = coll;
	c.collection_len = strlen(coll);
	memcpy(c.rid, rid, RID_LEN);
	c.ops = ops;
	c.nops = nops;
	wire_init(&w);
	ops_encode(&w, &c);
	return wire_take(&w, len);
}

/* Decodes; on failure also checks that nothing was left to free. */
static int
decode_rc(const uint8_t *p, size_t n)
{
	struct ops_chunk c;
	int rc;

	rc = ops_decode(&c, p, n);
	if (rc == 0)
		ops_chunk_free(&c);
	else {
		assert_null(c.ops);
		assert_int_equal(c.nops, 0);
	}
	return rc;
}

static int
encode_rc(const char *coll, struct op *ops, uint32_t nops)
{
	uint8_t *p;
	size_t n;
	int rc;

	p = encode(coll, ops, nops, &n);
	rc = decode_rc(p, n);
	free(p);
	return rc;
}

static struct op
set_op(const char *field, const char *value)
{
	struct op o = { .type = OP_SET, .field = field,
	    .field_len = strlen(field), .value = value,
	    .value_len = strlen(value) };

	return o;
}

static struct op
add_op(enum op_type t, const char *field, const char *element)
{
	struct op o = set_op(field, element);

	o.type = t;
	return o;
}

static struct op
exist_op(int alive)
{
	struct op o = { .type = OP_EXIST, .alive = alive };

	return o;
}

static void
assert_chunk_equal(const struct ops_chunk *a, const struct ops_chunk *b)
{
	uint32_t i;

	assert_int_equal(a->collection_len, b->collection_len);
	assert_memory_equal(a->collection, b->collection, a->collection_len);
	assert_memory_equal(a->rid, b->rid, RID_LEN);
	assert_int_equal(a->nops, b->nops);
	for (i = 0; i < a->nops; i++) {
		const struct op *x = &a->ops[i], *y = &b->ops[i];

		assert_int_equal(x->type, y->type);
		assert_int_equal(x->field_len, y->field_len);
		if (x->field_len)
			assert_memory_equal(x->field, y->field, x->field_len);
		assert_int_equal(x->value_len, y->value_len);
		if (x->value_len)
			assert_memory_equal(x->value, y->value, x->value_len);
		assert_int_equal(!!x->alive, !!y->alive);
		assert_int_equal(x->nrefs, y->nrefs);
		if (x->nrefs)
			assert_memory_equal(x->refs, y->refs,
			    (size_t)x->nrefs * VID_LEN);
	}
}

static void
test_roundtrip(void **state)
{
	uint8_t refs[5 * VID_LEN], *p, *q;
	struct op ops[6];
	struct ops_chunk in, out;
	struct wbuf w;
	size_t n, m, i;

	(void)state;
	for (i = 0; i < sizeof(refs); i++)
		refs[i] = (uint8_t)(i * 7 + 1);
	ops[0] = set_op("name", "Jansen");
	ops[0].refs = refs;
	ops[0].nrefs = 2;
	ops[1] = exist_op(0);
	ops[1].refs = refs + 2 * VID_LEN;
	ops[1].nrefs = 1;
	ops[2] = add_op(OP_ADD, "tags", "wonen");
	ops[3] = add_op(OP_REM, "tags", "schulden");
	ops[3].refs = refs + 3 * VID_LEN;
	ops[3].nrefs = 2;
	ops[4] = set_op("9note", "");
	ops[5] = set_op("city", "Zaandam \xc3\xa9\xe2\x82\xac");
	memset(&in, 0, sizeof(in));
	in.collection = "case";
	in.collection_len = 4;
	memcpy(in.rid, rid, RID_LEN);
	in.ops = ops;
	in.nops = 6;
	wire_init(&w);
	ops_encode(&w, &in);
	p = wire_take(&w, &n);

	assert_int_equal(ops_decode(&out, p, n), 0);
	assert_chunk_equal(&in, &out);
	assert_null(out.ops[1].field);
	assert_null(out.ops[2].refs);
	ops_encode(&w, &out);
	q = wire_take(&w, &m);
	assert_int_equal(m, n);
	assert_memory_equal(q, p, n);

	/* The refs belong to the chunk, not to the input. */
	assert_true(out.ops[0].refs < p || out.ops[0].refs >= p + n);
	memset(p, 0, n);
	assert_memory_equal(out.ops[0].refs, refs, 2 * VID_LEN);
	assert_memory_equal(out.ops[3].refs, refs + 3 * VID_LEN, 2 * VID_LEN);
	ops_chunk_free(&out);
	assert_null(out.ops);
	free(p);
	free(q);
}

/* Random well-formed chunks: decode accepts them and re-encodes the same bytes. */
static void
test_random_reencode(void **state)
{
	static const char *fields[] = { "a", "B", "9", "x-y_z", "status" };
	uint64_t seed = 0x0b5e55ed, s = seed;
	uint8_t refs[64 * VID_LEN], *p, *q;
	char vals[16][8];
	struct op ops[16];
	struct ops_chunk c;
	struct wbuf w;
	size_t n, m, i;
	uint32_t k, nops;
	int have_exist, iter;

	(void)state;
	for (i = 0; i < sizeof(refs); i++)
		refs[i] = (uint8_t)rnd(&s);
	wire_init(&w);
	for (iter = 0; iter < 500; iter++) {
		nops = (uint32_t)(rnd(&s) % 16);
		have_exist = 0;
		for (k = 0; k < nops; k++) {
			snprintf(vals[k], sizeof(vals[k]), "v%u",
			    (unsigned)(rnd(&s) % 1000));
			switch (rnd(&s) % 4) {
			case 0:
				/* One SET per field: op k sets field k. */
				if (k < 5) {
					ops[k] = set_op(fields[k], vals[k]);
					break;
				}
				/* FALLTHROUGH */
			case 1:
				ops[k] = add_op(OP_ADD, fields[rnd(&s) % 5],
				    vals[k]);
				break;
			case 2:
				if (!have_exist) {
					have_exist = 1;
					ops[k] = exist_op((int)(rnd(&s) & 1));
					break;
				}
				/* FALLTHROUGH */
			default:
				ops[k] = add_op(OP_REM, fields[rnd(&s) % 5],
				    vals[k]);
				break;
			}
			if (ops[k].type != OP_ADD) {
				ops[k].nrefs = (uint32_t)(rnd(&s) % 5);
				ops[k].refs = refs + rnd(&s) % 60 * VID_LEN;
			}
		}
		p = encode("note", ops, nops, &n);
		if (ops_decode(&c, p, n) != 0)
			fail_msg("seed %#llx iter %d: decode failed",
			    (unsigned long long)seed, iter);
		ops_encode(&w, &c);
		q = wire_take(&w, &m);
		if (m != n || memcmp(p, q, n) != 0)
			fail_msg("seed %#llx iter %d: re-encoding differs",
			    (unsigned long long)seed, iter);
		ops_chunk_free(&c);
		free(p);
		free(q);
	}
}

static void
test_name_rules(void **state)
{
	char s[80];

	(void)state;
	assert_true(ops_collection_valid("case", 4));
	assert_true(ops_collection_valid("a0_-z", 5));
	assert_false(ops_collection_valid("", 0));
	assert_false(ops_collection_valid("Case", 4));
	assert_false(ops_collection_valid("0case", 5));
	assert_false(ops_collection_valid("_case", 5));
	assert_false(ops_collection_valid("ca se", 5));
	assert_false(ops_collection_valid("ca.se", 5));
	assert_false(ops_collection_valid("ca\xc3\xa9", 4));
	memset(s, 'a', sizeof(s));
	assert_true(ops_collection_valid(s, OPS_MAX_COLLECTION));
	assert_false(ops_collection_valid(s, OPS_MAX_COLLECTION + 1));

	assert_true(ops_field_valid("name", 4));
	assert_true(ops_field_valid("Name", 4));
	assert_true(ops_field_valid("9a_-Z", 5));
	assert_false(ops_field_valid("", 0));
	assert_false(ops_field_valid("_a", 2));
	assert_false(ops_field_valid("-a", 2));
	assert_false(ops_field_valid("a.b", 3));
	assert_false(ops_field_valid("a b", 3));
	assert_false(ops_field_valid("na\xc3\xafve", 6));
	assert_true(ops_field_valid(s, OPS_MAX_FIELD));
	assert_false(ops_field_valid(s, OPS_MAX_FIELD + 1));
}

static void
test_bad_names(void **state)
{
	struct op o = set_op("name", "x");
	char longname[80];

	(void)state;
	assert_int_equal(encode_rc("case", &o, 1), 0);
	assert_int_equal(encode_rc("Case", &o, 1), SAMEN_EVALUE);
	assert_int_equal(encode_rc("1case", &o, 1), SAMEN_EVALUE);
	assert_int_equal(encode_rc("", &o, 1), SAMEN_EVALUE);
	assert_int_equal(encode_rc("ca.se", &o, 1), SAMEN_EVALUE);
	memset(longname, 'c', sizeof(longname));
	longname[OPS_MAX_COLLECTION] = '\0';
	assert_int_equal(encode_rc(longname, &o, 1), 0);
	longname[OPS_MAX_COLLECTION] = 'c';
	longname[OPS_MAX_COLLECTION + 1] = '\0';
	assert_int_equal(encode_rc(longname, &o, 1), SAMEN_ETOOBIG);

	o = set_op("", "x");
	assert_int_equal(encode_rc("case", &o, 1), SAMEN_EVALUE);
	o = add_op(OP_ADD, "_tags", "x");
	assert_int_equal(encode_rc("case", &o, 1), SAMEN_EVALUE);
	o = add_op(OP_REM, "t.ags", "x");
	assert_int_equal(encode_rc("case", &o, 1), SAMEN_EVALUE);
	memset(longname, 'f', sizeof(longname));
	longname[OPS_MAX_FIELD] = '\0';
	o = set_op(longname, "x");
	assert_int_equal(encode_rc("case", &o, 1), 0);
	longname[OPS_MAX_FIELD] = 'f';
	longname[OPS_MAX_FIELD + 1] = '\0';
	o = set_op(longname, "x");
	assert_int_equal(encode_rc("case", &o, 1), SAMEN_ETOOBIG);
}

static void
test_limits(void **state)
{
	struct op *ops;
	char *big;
	uint8_t *refs;
	uint32_t i;

	(void)state;
	big = xmalloc(OPS_MAX_VALUE + 2);
	memset(big, 'v', OPS_MAX_VALUE + 1);
	big[OPS_MAX_VALUE + 1] = '\0';
	ops = xcalloc(OPS_MAX_OPS + 1, sizeof(*ops));

	ops[0] = set_op("f", big);
	ops[0].value_len = OPS_MAX_VALUE;
	assert_int_equal(encode_rc("case", ops, 1), 0);
	ops[0].value_len = OPS_MAX_VALUE + 1;
	assert_int_equal(encode_rc("case", ops, 1), SAMEN_ETOOBIG);

	ops[0] = add_op(OP_ADD, "f", big);
	ops[0].value_len = OPS_MAX_ELEMENT;
	assert_int_equal(encode_rc("case", ops, 1), 0);
	ops[0].value_len = OPS_MAX_ELEMENT + 1;
	assert_int_equal(encode_rc("case", ops, 1), SAMEN_ETOOBIG);
	ops[0].type = OP_REM;
	assert_int_equal(encode_rc("case", ops, 1), SAMEN_ETOOBIG);
	ops[0].value_len = OPS_MAX_ELEMENT;
	assert_int_equal(encode_rc("case", ops, 1), 0);

	refs = xcalloc(OPS_MAX_REFS + 1, VID_LEN);
	ops[0] = set_op("f", "x");
	ops[0].refs = refs;
	ops[0].nrefs = OPS_MAX_REFS;
	assert_int_equal(encode_rc("case", ops, 1), 0);
	ops[0].nrefs = OPS_MAX_REFS + 1;
	assert_int_equal(encode_rc("case", ops, 1), SAMEN_ETOOBIG);
	ops[0] = exist_op(1);
	ops[0].refs = refs;
	ops[0].nrefs = OPS_MAX_REFS + 1;
	assert_int_equal(encode_rc("case", ops, 1), SAMEN_ETOOBIG);

	for (i = 0; i < OPS_MAX_OPS + 1; i++)
		ops[i] = add_op(OP_ADD, "tags", "x");
	assert_int_equal(encode_rc("case", ops, OPS_MAX_OPS), 0);
	assert_int_equal(encode_rc("case", ops, OPS_MAX_OPS + 1),
	    SAMEN_ETOOBIG);
	assert_int_equal(encode_rc("case", ops, 0), 0);
	free(refs);
	free(ops);
	free(big);
}

static void
test_duplicates(void **state)
{
	struct op ops[5];

	(void)state;
	ops[0] = set_op("name", "a");
	ops[1] = add_op(OP_ADD, "tags", "x");
	ops[2] = set_op("phone", "b");
	ops[3] = set_op("name", "c");
	assert_int_equal(encode_rc("case", ops, 3), 0);
	/* Two SETs of one field, even with others between them. */
	assert_int_equal(encode_rc("case", ops, 4), SAMEN_EVALUE);
	ops[3] = set_op("Name", "c");
	assert_int_equal(encode_rc("case", ops, 4), 0);
	/* A SET and an ADD may share a name; ADDs may repeat. */
	ops[3] = add_op(OP_ADD, "name", "c");
	ops[4] = add_op(OP_ADD, "tags", "x");
	assert_int_equal(encode_rc("case", ops, 5), 0);

	ops[0] = exist_op(1);
	ops[1] = set_op("name", "a");
	ops[2] = exist_op(1);
	assert_int_equal(encode_rc("case", ops, 2), 0);
	assert_int_equal(encode_rc("case", ops, 3), SAMEN_EVALUE);
	ops[2] = exist_op(0);
	assert_int_equal(encode_rc("case", ops, 3), SAMEN_EVALUE);
}

/* Writes the start of a chunk; the caller writes nops ops by hand. */
static void
put_head(struct wbuf *w, uint32_t nops)
{
	wire_put_array(w, 3);
	wire_put_cstr(w, "case");
	wire_put_bin(w, rid, RID_LEN);
	wire_put_array(w, nops);
}

static int
wbuf_rc(struct wbuf *w)
{
	int rc;

	rc = decode_rc(wire_data(w), wire_len(w));
	wire_reset(w);
	return rc;
}

static void
test_arity(void **state)
{
	struct wbuf w;

	(void)state;
	wire_init(&w);
	/* SET without pred, and with one element too many. */
	put_head(&w, 1);
	wire_put_array(&w, 3);
	wire_put_u64(&w, OP_SET);
	wire_put_cstr(&w, "f");
	wire_put_cstr(&w, "v");
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_head(&w, 1);
	wire_put_array(&w, 5);
	wire_put_u64(&w, OP_SET);
	wire_put_cstr(&w, "f");
	wire_put_cstr(&w, "v");
	wire_put_array(&w, 0);
	wire_put_nil(&w);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* EXIST with a field. */
	put_head(&w, 1);
	wire_put_array(&w, 4);
	wire_put_u64(&w, OP_EXIST);
	wire_put_cstr(&w, "f");
	wire_put_bool(&w, 1);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* ADD with tags. */
	put_head(&w, 1);
	wire_put_array(&w, 4);
	wire_put_u64(&w, OP_ADD);
	wire_put_cstr(&w, "f");
	wire_put_cstr(&w, "e");
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* REM without tags. */
	put_head(&w, 1);
	wire_put_array(&w, 3);
	wire_put_u64(&w, OP_REM);
	wire_put_cstr(&w, "f");
	wire_put_cstr(&w, "e");
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* An empty op, then a chunk of the wrong size. */
	put_head(&w, 1);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case");
	wire_put_bin(&w, rid, RID_LEN);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* The same ADD, well formed, passes. */
	put_head(&w, 1);
	wire_put_array(&w, 3);
	wire_put_u64(&w, OP_ADD);
	wire_put_cstr(&w, "f");
	wire_put_cstr(&w, "e");
	assert_int_equal(wbuf_rc(&w), 0);
	wire_free(&w);
}

static void
test_op_type(void **state)
{
	static const uint64_t bad[] = { 0, 5, 255, 1000, UINT64_MAX };
	struct wbuf w;
	size_t i;

	(void)state;
	wire_init(&w);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_head(&w, 1);
		wire_put_array(&w, 3);
		wire_put_u64(&w, bad[i]);
		wire_put_cstr(&w, "f");
		wire_put_cstr(&w, "e");
		assert_int_equal(wbuf_rc(&w), SAMEN_EVALUE);
	}
	put_head(&w, 1);
	wire_put_array(&w, 3);
	wire_put_i64(&w, -3);
	wire_put_cstr(&w, "f");
	wire_put_cstr(&w, "e");
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_head(&w, 1);
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "3");
	wire_put_cstr(&w, "f");
	wire_put_cstr(&w, "e");
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* A non-canonical type: 3 as uint8. */
	put_head(&w, 1);
	wire_put_raw(&w, "\x93\xcc\x03", 3);
	wire_put_cstr(&w, "f");
	wire_put_cstr(&w, "e");
	assert_int_equal(wbuf_rc(&w), SAMEN_ENONCANON);
	wire_free(&w);
}

static void
test_wrong_types(void **state)
{
	uint8_t vid[VID_LEN + 1] = { 0 };
	struct wbuf w;

	(void)state;
	wire_init(&w);
	/* rid one byte short and one too long. */
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "case");
	wire_put_bin(&w, rid, RID_LEN - 1);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "case");
	wire_put_bin(&w, vid, RID_LEN + 1);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);
	/* A ref that is not a vid. */
	put_head(&w, 1);
	wire_put_array(&w, 3);
	wire_put_u64(&w, OP_EXIST);
	wire_put_bool(&w, 1);
	wire_put_array(&w, 2);
	wire_put_bin(&w, vid, VID_LEN);
	wire_put_bin(&w, vid, VID_LEN - 1);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* alive as an integer. */
	put_head(&w, 1);
	wire_put_array(&w, 3);
	wire_put_u64(&w, OP_EXIST);
	wire_put_u64(&w, 1);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* A value as bin, and one that is not UTF-8. */
	put_head(&w, 1);
	wire_put_array(&w, 4);
	wire_put_u64(&w, OP_SET);
	wire_put_cstr(&w, "f");
	wire_put_bin(&w, "v", 1);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_head(&w, 1);
	wire_put_array(&w, 4);
	wire_put_u64(&w, OP_SET);
	wire_put_cstr(&w, "f");
	wire_put_str(&w, "\xff", 1);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_EUTF8);
	wire_free(&w);
}

static void
test_trailing_and_truncated(void **state)
{
	uint8_t refs[2 * VID_LEN] = { 1 }, *p;
	struct op ops[3];
	size_t n, i;

	(void)state;
	ops[0] = set_op("name", "Jansen");
	ops[0].refs = refs;
	ops[0].nrefs = 2;
	ops[1] = exist_op(1);
	ops[2] = add_op(OP_REM, "tags", "x");
	ops[2].refs = refs;
	ops[2].nrefs = 1;
	p = encode("case", ops, 3, &n);
	assert_int_equal(decode_rc(p, n), 0);
	p = xrealloc(p, n + 1);
	p[n] = 0xc0;
	assert_int_equal(decode_rc(p, n + 1), SAMEN_ETRAILING);
	/* Every proper prefix, on a copy of its own so ASan sees overreads. */
	for (i = 0; i < n; i++) {
		uint8_t *q = xmalloc(i);

		memcpy(q, p, i);
		if (decode_rc(q, i) != SAMEN_ETRUNC)
			fail_msg("prefix of %zu bytes not ETRUNC", i);
		free(q);
	}
	free(p);
}

static void
test_vid(void **state)
{
	uint8_t csid[32], msg[40], a[VID_LEN], b[VID_LEN], want[VID_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(csid); i++)
		csid[i] = (uint8_t)(0xa0 + i);
	memcpy(msg, csid, 32);
	memcpy(msg + 32, "\x02\x01\x00\x00\x07\x00\x00\x00", 8);
	crypto_generichash(want, VID_LEN, msg, sizeof(msg), NULL, 0);
	ops_vid(a, csid, 0x102, 7);
	assert_memory_equal(a, want, VID_LEN);
	ops_vid(b, csid, 7, 0x102);
	assert_memory_not_equal(a, b, VID_LEN);
	csid[31] ^= 1;
	ops_vid(b, csid, 0x102, 7);
	assert_memory_not_equal(a, b, VID_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_random_reencode),
		cmocka_unit_test(test_name_rules),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_arity),
		cmocka_unit_test(test_op_type),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_trailing_and_truncated),
		cmocka_unit_test(test_vid),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
