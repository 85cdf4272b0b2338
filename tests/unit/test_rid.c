/* test_rid: record ids: layout, ULID text, ordering, lenient parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "rid.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static uint64_t
rnd(uint64_t *s)
{
	/* splitmix64: the seed alone reproduces a run. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rnd_bytes(uint64_t *s, uint8_t *p, size_t n)
{
	while (n-- > 0)
		*p++ = (uint8_t)rnd(s);
}

static int
sign(int v)
{
	return (v > 0) - (v < 0);
}

static void
test_make_layout(void **state)
{
	static const uint8_t r10[10] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3,
	    4, 5 };
	static const uint8_t want[RID_LEN] = { 0x01, 0x23, 0x45, 0x67, 0x89,
	    0xab, 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5 };
	uint8_t rid[RID_LEN];

	(void)state;
	memset(rid, 0x55, sizeof(rid));
	rid_make(rid, 0x0123456789abULL, r10);
	assert_memory_equal(rid, want, RID_LEN);

	rid_make(rid, 0, r10);
	assert_memory_equal(rid, "\0\0\0\0\0\0", 6);
	assert_memory_equal(rid + 6, r10, 10);

	rid_make(rid, 0xffffffffffffULL, r10);
	assert_memory_equal(rid, "\xff\xff\xff\xff\xff\xff", 6);
	assert_memory_equal(rid + 6, r10, 10);
}

static void
check_vector(const uint8_t rid[RID_LEN], const char *text)
{
	char out[RID_TEXTLEN + 2];
	uint8_t back[RID_LEN];

	memset(out, 'x', sizeof(out));
	rid_encode(out, rid);
	assert_string_equal(out, text);
	assert_int_equal(out[RID_TEXTLEN + 1], 'x');
	memset(back, 0x55, sizeof(back));
	assert_int_equal(rid_decode(back, text, strlen(text)), 0);
	assert_memory_equal(back, rid, RID_LEN);
}

static void
test_vectors(void **state)
{
	static const uint8_t r10[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	static const uint8_t r10b[10] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3,
	    4, 5 };
	uint8_t rid[RID_LEN];

	(void)state;
	/* Expected texts from a separate Python encoder: the 128-bit
	 * big-endian integer in 26 groups of five bits, most significant
	 * first (the first group holds only 3 bits). */
	rid_make(rid, 1469922850259ULL, r10);
	check_vector(rid, "01ARZ3NDEK041061050R3GG28A");
	rid_make(rid, 0x0123456789abULL, r10b);
	check_vector(rid, "014D2PF2DBVTPVXVR004106105");
	memset(rid, 0, sizeof(rid));
	check_vector(rid, "00000000000000000000000000");
	memset(rid, 0xff, sizeof(rid));
	check_vector(rid, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
}

static void
test_roundtrip(void **state)
{
	uint8_t rid[RID_LEN], back[RID_LEN];
	char out[RID_TEXTLEN + 1];
	uint64_t s = 0x7e57;
	size_t i;
	int iter;

	(void)state;
	for (iter = 0; iter < 10000; iter++) {
		rnd_bytes(&s, rid, sizeof(rid));
		rid_encode(out, rid);
		assert_int_equal(strlen(out), RID_TEXTLEN);
		assert_true(out[0] >= '0' && out[0] <= '7');
		for (i = 0; i < RID_TEXTLEN; i++)
			assert_non_null(strchr(crockford, out[i]));
		memset(back, 0, sizeof(back));
		assert_int_equal(rid_decode(back, out, RID_TEXTLEN), 0);
		assert_memory_equal(back, rid, RID_LEN);
	}
}

/* Text order is byte order: sorting ids as strings sorts them by time. */
static void
test_order(void **state)
{
	uint8_t a[RID_LEN], b[RID_LEN], r10[10];
	char ta[RID_TEXTLEN + 1], tb[RID_TEXTLEN + 1];
	uint64_t s = 0x0dde, ms = 1000;
	int iter;

	(void)state;
	rnd_bytes(&s, r10, sizeof(r10));
	rid_make(a, ms, r10);
	rid_encode(ta, a);
	for (iter = 0; iter < 5000; iter++) {
		ms += 1 + rnd(&s) % 100000;
		rnd_bytes(&s, r10, sizeof(r10));
		rid_make(b, ms, r10);
		rid_encode(tb, b);
		assert_true(strcmp(ta, tb) < 0);
		memcpy(ta, tb, sizeof(ta));
	}

	/* And for arbitrary pairs, including equal time and near misses. */
	for (iter = 0; iter < 20000; iter++) {
		rnd_bytes(&s, a, sizeof(a));
		memcpy(b, a, sizeof(b));
		if (iter & 1)
			b[rnd(&s) % RID_LEN] ^= (uint8_t)(1u << rnd(&s) % 8);
		else
			rnd_bytes(&s, b + 6, 10);
		rid_encode(ta, a);
		rid_encode(tb, b);
		assert_int_equal(sign(strcmp(ta, tb)),
		    sign(memcmp(a, b, RID_LEN)));
	}
}

static void
test_lenient(void **state)
{
	static const char text[] = "01ARZ3NDEK041061050R3GG28A";
	uint8_t want[RID_LEN], back[RID_LEN];
	char t[RID_TEXTLEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(rid_decode(want, text, RID_TEXTLEN), 0);

	/* Lower case. */
	for (i = 0; i < RID_TEXTLEN; i++)
		t[i] = (char)(text[i] >= 'A' && text[i] <= 'Z' ?
		    text[i] - 'A' + 'a' : text[i]);
	t[RID_TEXTLEN] = '\0';
	memset(back, 0, sizeof(back));
	assert_int_equal(rid_decode(back, t, RID_TEXTLEN), 0);
	assert_memory_equal(back, want, RID_LEN);

	/* I and L (either case) are 1, O is 0. */
	memcpy(t, text, sizeof(t));
	for (i = 0; i < RID_TEXTLEN; i++) {
		if (t[i] == '1')
			t[i] = "ILil"[i % 4];
		else if (t[i] == '0')
			t[i] = "Oo"[i % 2];
	}
	assert_true(strcmp(t, text) != 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(rid_decode(back, t, RID_TEXTLEN), 0);
	assert_memory_equal(back, want, RID_LEN);

	/* Each alias at the first position, where 1 and 0 are allowed. */
	memcpy(t, text, sizeof(t));
	t[0] = 'o';
	assert_int_equal(rid_decode(back, t, RID_TEXTLEN), 0);
	assert_memory_equal(back, want, RID_LEN);
	t[0] = 'L';
	assert_int_equal(rid_decode(back, t, RID_TEXTLEN), 0);
	assert_int_equal(back[0], 0x20 | want[0]);
}

static void
test_bad(void **state)
{
	static const char text[] = "01ARZ3NDEK041061050R3GG28A";
	static const char bad[] = "Uu!@#-_ .=*\t\x80\xff";
	uint8_t back[RID_LEN];
	char t[RID_TEXTLEN + 2];
	size_t i, j;

	(void)state;
	for (i = 0; i < RID_TEXTLEN; i++) {
		for (j = 0; j < sizeof(bad) - 1; j++) {
			memcpy(t, text, RID_TEXTLEN + 1);
			t[i] = bad[j];
			if (rid_decode(back, t, RID_TEXTLEN) != SAMEN_EINVAL)
				fail_msg("0x%02x at %zu accepted",
				    (unsigned char)bad[j], i);
		}
		memcpy(t, text, RID_TEXTLEN + 1);
		t[i] = '\0';
		assert_int_equal(rid_decode(back, t, RID_TEXTLEN),
		    SAMEN_EINVAL);
	}

	/* Wrong length. */
	for (i = 0; i < RID_TEXTLEN; i++)
		assert_int_equal(rid_decode(back, text, i), SAMEN_EINVAL);
	memcpy(t, text, RID_TEXTLEN);
	t[RID_TEXTLEN] = '0';
	t[RID_TEXTLEN + 1] = '\0';
	assert_int_equal(rid_decode(back, t, RID_TEXTLEN + 1), SAMEN_EINVAL);

	/* The first character carries 3 bits: past 7 overflows 128 bits. */
	memcpy(t, text, RID_TEXTLEN + 1);
	t[0] = '7';
	assert_int_equal(rid_decode(back, t, RID_TEXTLEN), 0);
	assert_int_equal(back[0] >> 5, 7);
	for (j = 8; j < 32; j++) {
		t[0] = crockford[j];
		assert_int_equal(rid_decode(back, t, RID_TEXTLEN),
		    SAMEN_EINVAL);
		t[0] = (char)(crockford[j] >= 'A' ? crockford[j] - 'A' + 'a' :
		    crockford[j]);
		assert_int_equal(rid_decode(back, t, RID_TEXTLEN),
		    SAMEN_EINVAL);
	}
	assert_int_equal(rid_decode(back, "80000000000000000000000000",
	    RID_TEXTLEN), SAMEN_EINVAL);
	assert_int_equal(rid_decode(back, "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
	    RID_TEXTLEN), SAMEN_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_layout),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
