/* test_devid: the checksummed text form of a device id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "devid.h"
#include "error.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/*
 * The text form written out the slow way, to compare against: RFC 4648
 * base32 (lower case, no padding) of key || BLAKE2b-256(key)[0..3).
 */
static void
reference(char out[DEVID_TEXTLEN + 1], const uint8_t key[DEVID_KEYLEN])
{
	uint8_t buf[DEVID_KEYLEN + 3], h[32];
	size_t bit, i;
	unsigned v;

	crypto_generichash(h, sizeof(h), key, DEVID_KEYLEN, NULL, 0);
	memcpy(buf, key, DEVID_KEYLEN);
	memcpy(buf + DEVID_KEYLEN, h, 3);
	/* 35 bytes = 280 bits = exactly 56 groups of five. */
	for (i = 0; i < DEVID_TEXTLEN; i++) {
		v = 0;
		for (bit = i * 5; bit < i * 5 + 5; bit++)
			v = (v << 1) | ((buf[bit / 8] >> (7 - bit % 8)) & 1);
		out[i] = b32[v];
	}
	out[DEVID_TEXTLEN] = '\0';
}

static void
test_known_vectors(void **state)
{
	/* Computed with Python's hashlib.blake2b(digest_size=32) and
	 * base64.b32encode, lower-cased and stripped of padding. */
	static const char zero[] =
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaait2yn";
	static const char count[] =
	    "aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyp4wl2r";
	uint8_t key[DEVID_KEYLEN], back[DEVID_KEYLEN];
	char out[DEVID_TEXTLEN + 1], ref[DEVID_TEXTLEN + 1];
	int i;

	(void)state;
	memset(key, 0, sizeof(key));
	memset(out, 'X', sizeof(out));
	devid_encode(out, key);
	assert_string_equal(out, zero);
	reference(ref, key);
	assert_string_equal(ref, zero);
	memset(back, 0xee, sizeof(back));
	assert_int_equal(devid_decode(back, zero, strlen(zero)), 0);
	assert_memory_equal(back, key, sizeof(key));

	for (i = 0; i < DEVID_KEYLEN; i++)
		key[i] = (uint8_t)i;
	devid_encode(out, key);
	assert_string_equal(out, count);
	assert_int_equal(devid_decode(back, count, strlen(count)), 0);
	assert_memory_equal(back, key, sizeof(key));
}

static void
test_roundtrip_random(void **state)
{
	uint8_t key[DEVID_KEYLEN], back[DEVID_KEYLEN];
	char out[DEVID_TEXTLEN + 2], ref[DEVID_TEXTLEN + 1];
	size_t i;
	int iter;

	(void)state;
	for (iter = 0; iter < 500; iter++) {
		randombytes_buf(key, sizeof(key));
		memset(out, 'X', sizeof(out));
		devid_encode(out, key);
		/* 56 characters and a NUL, nothing written past it. */
		assert_int_equal(strlen(out), DEVID_TEXTLEN);
		assert_int_equal(out[DEVID_TEXTLEN + 1], 'X');
		for (i = 0; i < DEVID_TEXTLEN; i++)
			assert_non_null(strchr(b32, out[i]));
		reference(ref, key);
		assert_string_equal(out, ref);
		memset(back, 0, sizeof(back));
		assert_int_equal(devid_decode(back, out, DEVID_TEXTLEN), 0);
		assert_memory_equal(back, key, sizeof(key));
	}
}

static void
test_upper_case(void **state)
{
	uint8_t key[DEVID_KEYLEN], back[DEVID_KEYLEN];
	char out[DEVID_TEXTLEN + 1];
	size_t i;

	(void)state;
	randombytes_buf(key, sizeof(key));
	devid_encode(out, key);
	for (i = 0; i < DEVID_TEXTLEN; i++)
		if (out[i] >= 'a' && out[i] <= 'z')
			out[i] = (char)(out[i] - 'a' + 'A');
	memset(back, 0, sizeof(back));
	assert_int_equal(devid_decode(back, out, DEVID_TEXTLEN), 0);
	assert_memory_equal(back, key, sizeof(key));

	/* Mixed case too. */
	for (i = 0; i < DEVID_TEXTLEN; i += 2)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	memset(back, 0, sizeof(back));
	assert_int_equal(devid_decode(back, out, DEVID_TEXTLEN), 0);
	assert_memory_equal(back, key, sizeof(key));
}

/* Every single-character typo, at every position, fails the checksum. */
static void
check_typos(const uint8_t key[DEVID_KEYLEN])
{
	uint8_t back[DEVID_KEYLEN];
	char out[DEVID_TEXTLEN + 1], t[DEVID_TEXTLEN + 1];
	size_t i, j;
	int rc;

	devid_encode(out, key);
	for (i = 0; i < DEVID_TEXTLEN; i++) {
		for (j = 0; j < 32; j++) {
			if (b32[j] == out[i])
				continue;
			memcpy(t, out, sizeof(t));
			t[i] = b32[j];
			rc = devid_decode(back, t, DEVID_TEXTLEN);
			if (rc != SAMEN_EHASH)
				fail_msg("typo at %zu (%c->%c): rc %d", i,
				    out[i], b32[j], rc);
		}
	}
}

static void
test_typo(void **state)
{
	uint8_t key[DEVID_KEYLEN];
	size_t i;

	(void)state;
	memset(key, 0, sizeof(key));
	check_typos(key);
	for (i = 0; i < DEVID_KEYLEN; i++)
		key[i] = (uint8_t)(0xa5 ^ (i * 13));
	check_typos(key);
}

/* Two swapped neighbours are caught as well (unless they are equal). */
static void
test_transposition(void **state)
{
	uint8_t key[DEVID_KEYLEN], back[DEVID_KEYLEN];
	char out[DEVID_TEXTLEN + 1], t[DEVID_TEXTLEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < DEVID_KEYLEN; i++)
		key[i] = (uint8_t)(i * 37 + 11);
	devid_encode(out, key);
	for (i = 0; i + 1 < DEVID_TEXTLEN; i++) {
		if (out[i] == out[i + 1])
			continue;
		memcpy(t, out, sizeof(t));
		t[i] = out[i + 1];
		t[i + 1] = out[i];
		assert_int_equal(devid_decode(back, t, DEVID_TEXTLEN),
		    SAMEN_EHASH);
	}
}

static void
test_bad_chars(void **state)
{
	static const char bad[] = "0189=!-_ .\t\n\x80\xff{`@[";
	uint8_t key[DEVID_KEYLEN], back[DEVID_KEYLEN];
	char out[DEVID_TEXTLEN + 1], t[DEVID_TEXTLEN + 1];
	size_t i, j;

	(void)state;
	randombytes_buf(key, sizeof(key));
	devid_encode(out, key);
	for (i = 0; i < DEVID_TEXTLEN; i++) {
		for (j = 0; j < sizeof(bad) - 1; j++) {
			memcpy(t, out, sizeof(t));
			t[i] = bad[j];
			if (devid_decode(back, t, DEVID_TEXTLEN) !=
			    SAMEN_EINVAL)
				fail_msg("0x%02x at %zu accepted",
				    (unsigned char)bad[j], i);
		}
		/* A NUL inside the given length is no character either. */
		memcpy(t, out, sizeof(t));
		t[i] = '\0';
		assert_int_equal(devid_decode(back, t, DEVID_TEXTLEN),
		    SAMEN_EINVAL);
	}
}

static void
test_bad_length(void **state)
{
	uint8_t key[DEVID_KEYLEN], back[DEVID_KEYLEN];
	char out[DEVID_TEXTLEN + 1], t[DEVID_TEXTLEN + 3];
	size_t n;

	(void)state;
	randombytes_buf(key, sizeof(key));
	devid_encode(out, key);
	for (n = 0; n < DEVID_TEXTLEN; n++)
		assert_int_equal(devid_decode(back, out, n), SAMEN_EINVAL);

	/* One character too many, whatever it is. */
	memcpy(t, out, DEVID_TEXTLEN);
	t[DEVID_TEXTLEN] = 'a';
	t[DEVID_TEXTLEN + 1] = '\0';
	assert_int_equal(devid_decode(back, t, DEVID_TEXTLEN + 1),
	    SAMEN_EINVAL);
	/* Surrounding whitespace is not accepted. */
	t[DEVID_TEXTLEN] = '\n';
	assert_int_equal(devid_decode(back, t, DEVID_TEXTLEN + 1),
	    SAMEN_EINVAL);
	t[0] = ' ';
	memcpy(t + 1, out, DEVID_TEXTLEN);
	assert_int_equal(devid_decode(back, t, DEVID_TEXTLEN + 1),
	    SAMEN_EINVAL);
	/* The short form is not an id. */
	assert_int_equal(devid_decode(back, out, DEVID_SHORTLEN),
	    SAMEN_EINVAL);
	/* Still the whole id at the right length. */
	assert_int_equal(devid_decode(back, out, DEVID_TEXTLEN), 0);
	assert_memory_equal(back, key, sizeof(key));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_upper_case),
		cmocka_unit_test(test_typo),
		cmocka_unit_test(test_transposition),
		cmocka_unit_test(test_bad_chars),
		cmocka_unit_test(test_bad_length),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
