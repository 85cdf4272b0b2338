/* test_circle_purge: a purge op's sealed parts: the record ids' codec and the epoch-prefixed blobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "../../daemon/circle_purge.c"

static void
rec(struct circle_rec *r, const char *coll, uint8_t fill)
{
	snprintf(r->collection, sizeof(r->collection), "%s", coll);
	memset(r->rid, fill, RID_LEN);
}

/* Records of several collections, in any order: one group each. */
static void
test_rids_roundtrip(void **state)
{
	struct circle_rec in[5], *out;
	uint8_t *p;
	size_t len, n;

	(void)state;
	rec(&in[0], "note", 3);
	rec(&in[1], "case", 1);
	rec(&in[2], "note", 2);
	rec(&in[3], "task", 9);
	rec(&in[4], "note", 4);
	p = rids_encode(in, 5, &len);
	/* Three groups: 1 + name + 2 each, and 16 bytes an id. */
	assert_int_equal(len, (1 + 4 + 2) * 3 + 5 * RID_LEN);
	assert_int_equal(rids_decode(p, len, &out, &n), 0);
	assert_int_equal(n, 5);
	/* Sorted by collection, then id. */
	assert_string_equal(out[0].collection, "case");
	assert_string_equal(out[1].collection, "note");
	assert_int_equal(out[1].rid[0], 2);
	assert_int_equal(out[3].rid[0], 4);
	assert_string_equal(out[4].collection, "task");
	free(out);
	free(p);
	/* Nothing: no groups. */
	p = rids_encode(in, 0, &len);
	assert_int_equal(len, 0);
	assert_int_equal(rids_decode(p, len, &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	free(p);
}

/* What another device sealed is not trusted: every malformed form. */
static void
test_rids_malformed(void **state)
{
	uint8_t good[1 + 4 + 2 + RID_LEN] = { 4, 'n', 'o', 't', 'e', 1, 0 };
	uint8_t b[sizeof(good) + 1];
	struct circle_rec *out;
	size_t n;

	(void)state;
	assert_int_equal(rids_decode(good, sizeof(good), &out, &n), 0);
	assert_int_equal(n, 1);
	free(out);
	/* Cut anywhere. */
	for (size_t k = 1; k < sizeof(good); k++)
		assert_int_equal(rids_decode(good, k, &out, &n), SAMEN_EVALUE);
	/* Trailing byte, a zero count, a count past the end. */
	memcpy(b, good, sizeof(good));
	b[sizeof(good)] = 4;
	assert_int_equal(rids_decode(b, sizeof(b), &out, &n), SAMEN_EVALUE);
	memcpy(b, good, sizeof(good));
	b[5] = 0;
	assert_int_equal(rids_decode(b, sizeof(good), &out, &n),
	    SAMEN_EVALUE);
	b[5] = 2;
	assert_int_equal(rids_decode(b, sizeof(good), &out, &n),
	    SAMEN_EVALUE);
	b[5] = 0xff;
	b[6] = 0xff;
	assert_int_equal(rids_decode(b, sizeof(good), &out, &n),
	    SAMEN_EVALUE);
	/* A name that is no collection's, an empty or too long one. */
	memcpy(b, good, sizeof(good));
	b[1] = 'N';
	assert_int_equal(rids_decode(b, sizeof(good), &out, &n),
	    SAMEN_EVALUE);
	b[0] = 0;
	assert_int_equal(rids_decode(b, sizeof(good), &out, &n),
	    SAMEN_EVALUE);
	b[0] = OPS_MAX_COLLECTION + 1;
	assert_int_equal(rids_decode(b, sizeof(good), &out, &n),
	    SAMEN_EVALUE);
}

/* A blob names its epoch: only that epoch's key opens it. */
static void
test_blobs(void **state)
{
	struct circle cs;
	struct store_circle rows[2];
	uint8_t *blob, id[CS_CIRCLELEN];
	size_t len, n;
	char *text;

	(void)state;
	memset(&cs, 0, sizeof(cs));
	memset(rows, 0, sizeof(rows));
	randombytes_buf(id, sizeof(id));
	for (int i = 0; i < 2; i++) {
		memcpy(rows[i].id, id, CS_CIRCLELEN);
		randombytes_buf(rows[i].key, CS_KEYLEN);
		rows[i].kind = STORE_CIRCLE_SHARED;
	}
	rows[0].epoch = ROSTER_FIRST_EPOCH;
	rows[1].epoch = 0x80000007;
	cs.circles = rows;
	cs.ncircles = 2;
	assert_int_equal(circle_nkeys(&cs, id), 2);
	blob_seal(&blob, &len, &rows[1], "reason", "AVG request", 11);
	assert_int_equal(len, 4 + KEYRING_BLOB_OVERHEAD + 11);
	assert_int_equal(get_le32(blob), 0x80000007);
	assert_int_equal(blob_open(&cs, id, blob, len, "reason", &text, &n),
	    0);
	assert_int_equal(n, 11);
	assert_string_equal(text, "AVG request");
	free(text);
	/* Sealed for another purpose, cut, or of an epoch not held. */
	assert_int_equal(blob_open(&cs, id, blob, len, "rids", &text, &n),
	    SAMEN_EDECRYPT);
	assert_int_equal(blob_open(&cs, id, blob, 4 + KEYRING_BLOB_OVERHEAD -
	    1, "reason", &text, &n), SAMEN_EVALUE);
	assert_int_equal(blob_open(&cs, id, NULL, 0, "reason", &text, &n),
	    SAMEN_EVALUE);
	cs.ncircles = 1;
	assert_int_equal(blob_open(&cs, id, blob, len, "reason", &text, &n),
	    SAMEN_ENOTFOUND);
	/* The audit secret's epoch is no key of the records. */
	put_le32(blob, ROSTER_AUDIT_EPOCH);
	cs.ncircles = 2;
	assert_int_equal(blob_open(&cs, id, blob, len, "reason", &text, &n),
	    SAMEN_ENOTFOUND);
	free(blob);
	sodium_memzero(rows, sizeof(rows));
}

/* A record's tags: one per key of its circle held, none of another's. */
static void
test_tags(void **state)
{
	struct circle cs;
	struct store_circle rows[3];
	struct tags ts = { NULL, 0, 0 };
	uint8_t id[CS_CIRCLELEN], rid[RID_LEN], want[CS_RTAGLEN];

	(void)state;
	memset(&cs, 0, sizeof(cs));
	memset(rows, 0, sizeof(rows));
	randombytes_buf(id, sizeof(id));
	randombytes_buf(rid, sizeof(rid));
	for (int i = 0; i < 3; i++) {
		memcpy(rows[i].id, id, CS_CIRCLELEN);
		randombytes_buf(rows[i].key, CS_KEYLEN);
		rows[i].epoch = (uint32_t)i;	/* 0: the audit secret */
	}
	rows[2].kind = STORE_CIRCLE_MEMBERS;
	cs.circles = rows;
	cs.ncircles = 3;
	tags_of(&cs, id, "case", rid, &ts);
	assert_int_equal(ts.n, 1);
	changeset_rtag(want, rows[1].key, "case", 4, rid);
	assert_memory_equal(ts.t[0], want, CS_RTAGLEN);
	free(ts.t);
	/* The hlc a retention keeps from: days before now, in hlc form. */
	assert_int_equal(cutoff(10 * DAY_MS, 0), 0);
	assert_int_equal(cutoff(10 * DAY_MS, 10), 0);
	assert_int_equal(cutoff(10 * DAY_MS + 5, 10), HLC_MAKE(5, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rids_roundtrip),
		cmocka_unit_test(test_rids_malformed),
		cmocka_unit_test(test_blobs),
		cmocka_unit_test(test_tags),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
