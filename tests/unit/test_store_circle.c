/* test_store_circle: circles and their keys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "changeset.h"
#include "error.h"
#include "hlc.h"
#include "merge.h"
#include "ops.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "wire.h"

#include "store_fixture.h"

static void
test_circles(void **state)
{
	struct store_circle c, p, other;
	uint8_t rid[RID_LEN];
	struct op ops[1];
	struct ops_chunk ch;
	struct built b;
	struct store_stats s;
	uint8_t zero[CS_IDLEN];

	(void)state;
	assert_int_equal(store_circle_get(w.st, w.circle.id, 1, &c), 0);
	assert_string_equal(c.name, "team");
	assert_memory_equal(c.key, w.circle.key, CS_KEYLEN);
	store_circle_clear(&c);
	assert_int_equal(store_circle_get(w.st, w.circle.id, 2, &c),
	    SAMEN_ENOTFOUND);
	assert_int_equal(store_circle_private(w.st, &c), SAMEN_ENOTFOUND);

	memset(&p, 0, sizeof(p));
	randombytes_buf(p.id, sizeof(p.id));
	randombytes_buf(p.key, sizeof(p.key));
	p.epoch = 1;
	p.name = "private";
	assert_int_equal(store_circle_put_private(w.st, &p), 0);
	assert_int_equal(store_circle_private(w.st, &c), 0);
	assert_memory_equal(c.id, p.id, CS_CIRCLELEN);
	assert_memory_equal(c.key, p.key, CS_KEYLEN);
	assert_string_equal(c.name, "private");
	store_circle_clear(&c);
	/* Putting it again as an ordinary circle keeps the flag. */
	assert_int_equal(store_circle_put(w.st, &p), 0);
	assert_int_equal(store_circle_private(w.st, &c), 0);
	assert_memory_equal(c.id, p.id, CS_CIRCLELEN);
	store_circle_clear(&c);

	/* A change set of a circle we have no key for waits for it. */
	memset(&other, 0, sizeof(other));
	randombytes_buf(other.id, sizeof(other.id));
	randombytes_buf(other.key, sizeof(other.key));
	other.epoch = 3;
	other.name = "elsewhere";
	memset(zero, 0, sizeof(zero));
	mkrid(rid, 1700000000009ull);
	ops[0] = op_set("name", "later", NULL, 0);
	ch = chunk("task", rid, ops, 1);
	build(&b, &w.a, &other, other.key, 1, zero, HLC_MAKE(9, 0), &ch, 1);
	assert_int_equal(insert(w.st, &b), 0);
	built_free(&b);
	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 1);
	assert_int_equal(s.records, 0);
	assert_int_equal(store_circle_put(w.st, &other), 0);
	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 0);
	assert_int_equal(s.records, 1);
	{
		int64_t rkey;

		assert_int_equal(store_record_find(w.st, other.id, "task", rid,
		    &rkey), 0);
	}
}

static struct store_circle
mkcircle(const char *name, uint32_t epoch, int kind)
{
	struct store_circle c;

	memset(&c, 0, sizeof(c));
	randombytes_buf(c.id, sizeof(c.id));
	randombytes_buf(c.key, sizeof(c.key));
	c.epoch = epoch;
	c.name = (char *)name;
	c.kind = kind;
	return c;
}

static void
circle_equal(const struct store_circle *got, const struct store_circle *want)
{
	uint8_t zero[CS_CIRCLELEN];

	memset(zero, 0, sizeof(zero));
	assert_memory_equal(got->id, want->id, CS_CIRCLELEN);
	assert_int_equal(got->epoch, want->epoch);
	assert_string_equal(got->name, want->name);
	assert_memory_equal(got->key, want->key, CS_KEYLEN);
	assert_int_equal(got->kind, want->kind);
	assert_memory_equal(got->base, want->kind == STORE_CIRCLE_MEMBERS ?
	    want->base : zero, CS_CIRCLELEN);
}

static void
list_check(struct store *st, const struct store_circle *const *want,
    size_t n)
{
	struct store_circle *l;
	size_t nl, i;

	assert_int_equal(store_circle_list(st, &l, &nl), 0);
	assert_int_equal(nl, n);
	for (i = 0; i < n; i++)
		circle_equal(&l[i], want[i]);
	store_circle_list_free(l, nl);
}

static void
test_circle_list(void **state)
{
	struct store_circle beta1, beta2, dup1, dup2, priv, mem, priv2, got;
	struct store_circle team = w.circle, *l;
	const struct store_circle *want[9];
	uint8_t rid[RID_LEN], zero[CS_IDLEN];
	struct op ops[2];
	struct ops_chunk ch;
	struct built b;
	struct store_stats s;
	int64_t rkey;
	size_t n;

	(void)state;
	memset(zero, 0, sizeof(zero));
	store_circle_list_free(NULL, 0);
	/* The circle setup() put (a memset'ed struct: shared). */
	want[0] = &team;
	list_check(w.st, want, 1);

	beta1 = mkcircle("beta-old", 1, STORE_CIRCLE_SHARED);
	beta2 = beta1;
	beta2.epoch = 2;
	beta2.name = "beta";
	randombytes_buf(beta2.key, sizeof(beta2.key));
	/* Same name, told apart by id. */
	dup1 = mkcircle("dup", 1, STORE_CIRCLE_SHARED);
	dup2 = mkcircle("dup", 1, STORE_CIRCLE_SHARED);
	if (memcmp(dup1.id, dup2.id, CS_CIRCLELEN) > 0) {
		struct store_circle t = dup1;

		dup1 = dup2;
		dup2 = t;
	}
	/* put_private marks it whatever kind the struct says. */
	priv = mkcircle("zzz-private", 1, STORE_CIRCLE_SHARED);
	/* A members chain, named before the circles: kind sorts first. */
	mem = mkcircle("aaa-members", 1, STORE_CIRCLE_MEMBERS);
	memcpy(mem.base, team.id, CS_CIRCLELEN);

	/* Its change set arrives before its key, and waits for it. */
	mkrid(rid, 1700000006000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("member", "a", NULL, 0);
	ch = chunk("member", rid, ops, 2);
	build(&b, &w.a, &mem, mem.key, 1, zero, HLC_MAKE(5, 0), &ch, 1);
	assert_int_equal(insert(w.st, &b), 0);
	built_free(&b);
	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 1);

	assert_int_equal(store_circle_put(w.st, &dup2), 0);
	assert_int_equal(store_circle_put(w.st, &beta2), 0);
	assert_int_equal(store_circle_put(w.st, &mem), 0);
	assert_int_equal(store_circle_put(w.st, &beta1), 0);
	assert_int_equal(store_circle_put_private(w.st, &priv), 0);
	assert_int_equal(store_circle_put(w.st, &dup1), 0);
	priv.kind = STORE_CIRCLE_PRIVATE;

	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 0);
	assert_int_equal(store_record_find(w.st, mem.id, "member", rid,
	    &rkey), 0);

	/* Every epoch is listed: readers keep every key. */
	want[0] = &beta2;
	want[1] = &beta1;
	want[2] = &dup1;
	want[3] = &dup2;
	want[4] = &team;
	want[5] = &priv;
	want[6] = &mem;
	list_check(w.st, want, 7);
	/* Each epoch keeps its own kind, name and key. */
	assert_int_equal(store_circle_get(w.st, beta1.id, 1, &got), 0);
	circle_equal(&got, &beta1);
	store_circle_clear(&got);
	assert_int_equal(store_circle_get(w.st, mem.id, 1, &got), 0);
	circle_equal(&got, &mem);
	store_circle_clear(&got);
	assert_int_equal(store_circle_private(w.st, &got), 0);
	circle_equal(&got, &priv);
	store_circle_clear(&got);

	/* Base is kept for members chains only. */
	memset(beta2.base, 0xaa, sizeof(beta2.base));
	assert_int_equal(store_circle_put(w.st, &beta2), 0);
	assert_int_equal(store_circle_get(w.st, beta2.id, 2, &got), 0);
	circle_equal(&got, &beta2);
	store_circle_clear(&got);
	/* A kind that does not exist. */
	got = mkcircle("bogus", 1, 3);
	assert_int_equal(store_circle_put(w.st, &got), SAMEN_EINVAL);
	got.kind = -1;
	assert_int_equal(store_circle_put(w.st, &got), SAMEN_EINVAL);

	/* A new private circle takes the mark: the old one is shared now. */
	priv2 = mkcircle("private", 1, STORE_CIRCLE_SHARED);
	assert_int_equal(store_circle_put_private(w.st, &priv2), 0);
	priv2.kind = STORE_CIRCLE_PRIVATE;
	priv.kind = STORE_CIRCLE_SHARED;
	want[0] = &beta2;
	want[1] = &beta1;
	want[2] = &dup1;
	want[3] = &dup2;
	want[4] = &team;
	want[5] = &priv;
	want[6] = &priv2;
	want[7] = &mem;
	list_check(w.st, want, 8);

	/* It survives a reopen; it needs the key. */
	store_close(w.st);
	open_store(&w.st, 0);
	l = (struct store_circle *)&n;
	assert_int_equal(store_circle_list(w.st, &l, &n), SAMEN_ELOCKED);
	assert_null(l);
	assert_int_equal(n, 0);
	store_set_key(w.st, w.skey);
	list_check(w.st, want, 8);
}

/*
 * store_chain_keys: a chain's key at every epoch held, for reading ahead;
 * never the audit secret (epoch 0), which no change set is read with;
 * nothing for a chain not held; nothing while locked.
 */
static void
test_chain_keys(void **state)
{
	struct store_circle c = w.circle, audit = w.circle;
	struct store_epoch_key *k;
	struct store *locked;
	uint8_t other[CS_CIRCLELEN], rid[RID_LEN], zero[CS_IDLEN];
	struct op ops[2];
	struct ops_chunk ch;
	struct built b;
	struct store_stats s;
	size_t n = 9;

	(void)state;
	k = sodium_malloc(4 * sizeof(*k));
	assert_non_null(k);
	assert_int_equal(store_chain_keys(w.st, w.circle.id, k, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(k[0].epoch, w.circle.epoch);
	assert_memory_equal(k[0].key, w.circle.key, CS_KEYLEN);
	c.epoch = 0x80000123;
	randombytes_buf(c.key, sizeof(c.key));
	assert_int_equal(store_circle_put(w.st, &c), 0);
	audit.epoch = 0;
	randombytes_buf(audit.key, sizeof(audit.key));
	assert_int_equal(store_circle_put(w.st, &audit), 0);
	assert_int_equal(store_chain_keys(w.st, w.circle.id, k, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(k[0].epoch, w.circle.epoch);
	assert_int_equal(k[1].epoch, c.epoch);
	assert_memory_equal(k[1].key, c.key, CS_KEYLEN);
	/* At most max. */
	assert_int_equal(store_chain_keys(w.st, w.circle.id, k, 1, &n), 0);
	assert_int_equal(n, 1);
	memcpy(other, w.circle.id, CS_CIRCLELEN);
	other[0] ^= 1;
	assert_int_equal(store_chain_keys(w.st, other, k, 4, &n), 0);
	assert_int_equal(n, 0);
	open_store(&locked, 0);
	assert_int_equal(store_chain_keys(locked, w.circle.id, k, 4, &n),
	    SAMEN_ELOCKED);
	store_close(locked);
	sodium_memzero(k, 4 * sizeof(*k));
	sodium_free(k);

	/* A change set claiming epoch 0 is never read with the audit key. */
	memset(zero, 0, sizeof(zero));
	mkrid(rid, 1700000006100ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "x", NULL, 0);
	ch = chunk("case", rid, ops, 2);
	audit.epoch = 0;
	build(&b, &w.b, &audit, audit.key, 1, zero, HLC_MAKE(7, 0), &ch, 1);
	assert_int_equal(insert_merged(w.st, &b), 0);
	built_free(&b);
	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 1);
	assert_int_equal(store_circle_put(w.st, &audit), 0);
	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_circles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_circle_list, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_chain_keys, setup,
		    teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
