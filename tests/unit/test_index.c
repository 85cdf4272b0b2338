/* test_index: the in-memory record index: order, replacement, lookup, search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../daemon/index.c"

/* A record with one register field and one set field. */
static struct store_record *
mkrec(int64_t rkey, uint8_t ridbyte, const char *collection,
    const char *value, const char *element)
{
	struct store_record *r = xcalloc(1, sizeof(*r));

	r->rkey = rkey;
	memset(r->rid, ridbyte, RID_LEN);
	r->collection = xstrdup(collection);
	r->nfields = 2;
	r->fields = xcalloc(2, sizeof(*r->fields));
	r->fields[0].name = xstrdup("name");
	r->fields[0].nvals = r->fields[0].ndistinct = 1;
	r->fields[0].vals = xcalloc(1, sizeof(struct store_value));
	r->fields[0].vals[0].value = xstrdup(value);
	r->fields[0].vals[0].value_len = strlen(value);
	r->fields[1].name = xstrdup("tags");
	r->fields[1].is_set = 1;
	r->fields[1].nvals = r->fields[1].ndistinct = 1;
	r->fields[1].vals = xcalloc(1, sizeof(struct store_value));
	r->fields[1].vals[0].value = xstrdup(element);
	r->fields[1].vals[0].value_len = strlen(element);
	return r;
}

static void
test_order_and_replace(void **state)
{
	struct index *ix = index_open();

	(void)state;
	index_put(ix, mkrec(3, 0x30, "case", "c", "x"));
	index_put(ix, mkrec(1, 0x10, "case", "a", "x"));
	index_put(ix, mkrec(2, 0x20, "note", "b", "x"));
	assert_int_equal(index_count(ix), 3);
	assert_int_equal(index_at(ix, 0)->rkey, 1);
	assert_int_equal(index_at(ix, 1)->rkey, 2);
	assert_int_equal(index_at(ix, 2)->rkey, 3);
	assert_null(index_at(ix, 3));
	/* Same rkey: replaced, not added. */
	index_put(ix, mkrec(2, 0x20, "note", "B2", "x"));
	assert_int_equal(index_count(ix), 3);
	assert_string_equal(index_at(ix, 1)->fields[0].vals[0].value, "B2");
	index_close(ix);
}

/*
 * index_remove drops the records of the rkeys an erase took, wherever
 * they sit in (rid, rkey) order, keeps the rest in order, and passes over
 * rkeys it does not hold.
 */
static void
test_remove(void **state)
{
	static const int64_t gone[] = { 2, 5, 6, 40 };
	struct index *ix = index_open();

	(void)state;
	index_remove(ix, gone, 4);	/* empty: nothing to do */
	for (int64_t k = 1; k <= 7; k++)
		index_put(ix, mkrec(k, (uint8_t)(0x70 - 0x10 * (k % 3)),
		    "case", "v", "x"));
	index_remove(ix, gone, 0);
	assert_int_equal(index_count(ix), 7);
	index_remove(ix, gone, 4);
	assert_int_equal(index_count(ix), 4);
	for (size_t i = 0; i < index_count(ix); i++) {
		int64_t k = index_at(ix, i)->rkey;

		assert_true(k == 1 || k == 3 || k == 4 || k == 7);
		if (i > 0)
			assert_true(memcmp(index_at(ix, i - 1)->rid,
			    index_at(ix, i)->rid, RID_LEN) < 0 ||
			    (memcmp(index_at(ix, i - 1)->rid,
			    index_at(ix, i)->rid, RID_LEN) == 0 &&
			    index_at(ix, i - 1)->rkey < k));
	}
	index_close(ix);
}

/* Where an export's next page starts: after (rid, rkey), gone or not. */
static void
test_after(void **state)
{
	struct index *ix = index_open();
	uint8_t rid[RID_LEN];

	(void)state;
	index_put(ix, mkrec(1, 0x10, "case", "a", "x"));
	index_put(ix, mkrec(5, 0x20, "case", "b", "x"));
	index_put(ix, mkrec(7, 0x20, "note", "c", "x"));
	index_put(ix, mkrec(2, 0x30, "case", "d", "x"));
	memset(rid, 0x10, RID_LEN);
	assert_int_equal(index_after(ix, rid, 1), 1);
	/* One rid in two records: the rkey tells them apart. */
	memset(rid, 0x20, RID_LEN);
	assert_int_equal(index_after(ix, rid, 5), 2);
	assert_int_equal(index_after(ix, rid, 7), 3);
	/* A record gone since: the next one after where it stood. */
	assert_int_equal(index_after(ix, rid, 6), 2);
	memset(rid, 0x18, RID_LEN);
	assert_int_equal(index_after(ix, rid, 9), 1);
	memset(rid, 0x30, RID_LEN);
	assert_int_equal(index_after(ix, rid, 2), 4);
	memset(rid, 0x40, RID_LEN);
	assert_int_equal(index_after(ix, rid, 0), 4);
	index_close(ix);
}

static void
test_lookup(void **state)
{
	struct index *ix = index_open();
	uint8_t rid[RID_LEN];

	(void)state;
	index_put(ix, mkrec(7, 0x20, "note", "n", "x"));
	index_put(ix, mkrec(5, 0x20, "case", "c", "x"));
	index_put(ix, mkrec(9, 0x21, "case", "d", "x"));
	memset(rid, 0x20, RID_LEN);
	assert_int_equal(index_get(ix, "case", rid)->rkey, 5);
	assert_int_equal(index_get(ix, "note", rid)->rkey, 7);
	assert_null(index_get(ix, "task", rid));
	memset(rid, 0x22, RID_LEN);
	assert_null(index_get(ix, "case", rid));
	assert_non_null(index_field(index_at(ix, 0), "tags", 1));
	assert_null(index_field(index_at(ix, 0), "tags", 0));
	index_close(ix);
}

static void
test_match(void **state)
{
	struct store_record *r = mkrec(1, 1, "case", "Familie Jansen",
	    "Schuldhulp");
	const struct store_field *hits[4];

	(void)state;
	assert_int_equal(index_match(r, "jANSEN", 6, hits, 4), 1);
	assert_string_equal(hits[0]->name, "name");
	assert_int_equal(index_match(r, "schuld", 6, hits, 4), 1);
	assert_string_equal(hits[0]->name, "tags");
	/* "e" is only in the name; "l" is in both fields. */
	assert_int_equal(index_match(r, "e", 1, hits, 4), 1);
	assert_int_equal(index_match(r, "L", 1, hits, 4), 2);
	/* max bounds what is written, not what is counted. */
	assert_int_equal(index_match(r, "l", 1, hits, 1), 2);
	assert_int_equal(index_match(r, "pieters", 7, hits, 4), 0);
	/* A needle longer than every value. */
	assert_int_equal(index_match(r, "Familie Jansen en meer", 22, hits, 4),
	    0);
	store_record_free(r);
}

static void
test_many_inserts_stay_sorted(void **state)
{
	struct index *ix = index_open();

	(void)state;
	/* Descending input exercises the memmove path; 1000 > initial cap. */
	for (int i = 1000; i > 0; i--)
		index_put(ix, mkrec(i, (uint8_t)(i % 251), "case", "v", "x"));
	assert_int_equal(index_count(ix), 1000);
	for (size_t i = 1; i < index_count(ix); i++) {
		const struct store_record *a = index_at(ix, i - 1);
		const struct store_record *b = index_at(ix, i);
		int c = memcmp(a->rid, b->rid, RID_LEN);

		assert_true(c < 0 || (c == 0 && a->rkey < b->rkey));
	}
	index_close(ix);
}

/* Appending then sorting gives what putting one by one gives. */
static void
test_append_sort_matches_put(void **state)
{
	struct index *a = index_open(), *b = index_open();

	(void)state;
	for (int i = 1; i <= 1000; i++) {
		uint8_t rb = (uint8_t)((i * 37) % 251);

		index_put(a, mkrec(i, rb, "case", "v", "x"));
		index_append(b, mkrec(i, rb, "case", "v", "x"));
	}
	index_sort(b);
	assert_int_equal(index_count(b), 1000);
	for (size_t i = 0; i < index_count(a); i++) {
		assert_int_equal(index_at(a, i)->rkey, index_at(b, i)->rkey);
		assert_memory_equal(index_at(a, i)->rid, index_at(b, i)->rid,
		    RID_LEN);
	}
	/* A sorted index takes puts again: replace one, add one. */
	index_put(b, mkrec(500, (uint8_t)((500 * 37) % 251), "case", "new",
	    "x"));
	index_put(b, mkrec(2000, 0xff, "case", "last", "x"));
	assert_int_equal(index_count(b), 1001);
	assert_string_equal(index_at(b, 1000)->fields[0].vals[0].value,
	    "last");
	assert_int_equal(index_get(b, "case", index_at(b, 1000)->rid)->rkey,
	    2000);
	index_close(a);
	index_close(b);
}

/* Swapping hands one index's records to the other, both ways. */
static void
test_swap(void **state)
{
	struct index *live = index_open(), *built = index_open();

	(void)state;
	index_put(live, mkrec(1, 0x01, "case", "old", "x"));
	index_append(built, mkrec(2, 0x02, "case", "b", "x"));
	index_append(built, mkrec(3, 0x03, "case", "c", "x"));
	index_sort(built);
	index_swap(live, built);
	assert_int_equal(index_count(live), 2);
	assert_int_equal(index_at(live, 0)->rkey, 2);
	assert_int_equal(index_count(built), 1);
	assert_int_equal(index_at(built, 0)->rkey, 1);
	index_close(built);
	index_close(live);
}

/* The two indexes hold the same records, the same versions of them. */
static void
assert_same(const struct index *one, const struct index *many)
{
	assert_int_equal(index_count(many), index_count(one));
	for (size_t i = 0; i < index_count(one); i++) {
		const struct store_record *a = index_at(one, i);
		const struct store_record *b = index_at(many, i);

		assert_int_equal(a->rkey, b->rkey);
		assert_string_equal(a->fields[0].vals[0].value,
		    b->fields[0].vals[0].value);
	}
}

/*
 * index_put_many gives what index_put one record at a time gives: new
 * records anywhere in the order, records held replaced, the same record
 * twice in one batch (the later wins), batches of every size.
 */
static void
test_put_many_is_put_one_by_one(void **state)
{
	struct index *one = index_open(), *many = index_open();
	struct store_record *rs[300];
	char v[64];

	(void)state;
	srand(4);
	for (int round = 0; round < 40; round++) {
		size_t n = (size_t)(rand() % 300);

		for (size_t i = 0; i < n; i++) {
			int64_t rkey = 1 + rand() % 2000;
			uint8_t rid = (uint8_t)(rkey * 7 % 251);

			snprintf(v, sizeof(v), "%d/%zu", round, i);
			index_put(one, mkrec(rkey, rid, "case", v, "x"));
			rs[i] = mkrec(rkey, rid, "case", v, "x");
		}
		index_put_many(many, rs, n);
		assert_same(one, many);
	}
	assert_true(index_count(one) > 1000);
	index_close(one);
	index_close(many);
}

/*
 * The same for batches in order already, as a sync's mostly are (rids
 * grow with rkeys here): each past the records held, or reaching back
 * into them (replacing some, landing between others), with a record
 * twice in a row now and then.
 */
static void
test_put_many_sorted_batches(void **state)
{
	struct index *one = index_open(), *many = index_open();
	struct store_record *rs[80];
	char v[64];

	(void)state;
	srand(5);
	for (int round = 0; round < 40; round++) {
		int64_t rkey = 1 + round * 48 - (round % 3 ? rand() % 60 : 0);
		size_t n = (size_t)(rand() % 80);

		for (size_t i = 0; i < n; i++) {
			if (i == 0 || rand() % 8 != 0)
				rkey += 1 + (round % 4 == 1 ? rand() % 3 : 0);
			if (rkey < 1)
				rkey = 1;
			snprintf(v, sizeof(v), "%d/%zu", round, i);
			index_put(one, mkrec(rkey, (uint8_t)(rkey / 10), "case",
			    v, "x"));
			rs[i] = mkrec(rkey, (uint8_t)(rkey / 10), "case", v,
			    "x");
		}
		index_put_many(many, rs, n);
		assert_same(one, many);
	}
	assert_true(index_count(one) > 1000);
	index_close(one);
	index_close(many);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_replace),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_after),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_many_inserts_stay_sorted),
		cmocka_unit_test(test_append_sort_matches_put),
		cmocka_unit_test(test_swap),
		cmocka_unit_test(test_put_many_is_put_one_by_one),
		cmocka_unit_test(test_put_many_sorted_batches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
