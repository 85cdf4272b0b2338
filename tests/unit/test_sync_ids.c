/*
 * test_sync_ids: the ids and keys proto/sync.h derives for a circle's
 * chains (its id, its members chain and key, its audit chain and key),
 * each against BLAKE2b over its documented domain string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sync.h"

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static void
test_members(void **state)
{
	uint8_t circle[CS_CIRCLELEN], buf[19 + CS_CIRCLELEN];
	uint8_t want[CS_KEYLEN], got[CS_KEYLEN], other[CS_KEYLEN];

	(void)state;
	fill(circle, sizeof(circle), 0x42);
	memcpy(buf, "samen-members-1", 15);
	memcpy(buf + 15, circle, CS_CIRCLELEN);
	crypto_generichash(want, CS_CIRCLELEN, buf, 15 + CS_CIRCLELEN,
	    NULL, 0);
	sync_members_circle(got, circle);
	assert_memory_equal(got, want, CS_CIRCLELEN);
	assert_memory_not_equal(got, circle, CS_CIRCLELEN);
	circle[CS_CIRCLELEN - 1] ^= 1;
	sync_members_circle(other, circle);
	assert_memory_not_equal(other, got, CS_CIRCLELEN);
	circle[CS_CIRCLELEN - 1] ^= 1;

	/*
	 * The key: sync.h leaves its bytes open; sync.c uses BLAKE2b-256
	 * over "samen-members-key-1" || circle.  It must differ from the
	 * members chain's id, which travels in clear.
	 */
	memcpy(buf, "samen-members-key-1", 19);
	memcpy(buf + 19, circle, CS_CIRCLELEN);
	crypto_generichash(want, CS_KEYLEN, buf, sizeof(buf), NULL, 0);
	sync_members_key(got, circle);
	assert_memory_equal(got, want, CS_KEYLEN);
	sync_members_circle(other, circle);
	assert_memory_not_equal(got, other, CS_CIRCLELEN);
	circle[0] ^= 1;
	sync_members_key(other, circle);
	assert_memory_not_equal(other, got, CS_KEYLEN);
}

static void
test_audit_chain(void **state)
{
	uint8_t circle[CS_CIRCLELEN], buf[17 + CS_CIRCLELEN];
	uint8_t want[CS_KEYLEN], got[CS_KEYLEN], other[CS_KEYLEN];

	(void)state;
	fill(circle, sizeof(circle), 0x42);
	memcpy(buf, "samen-audit-1", 13);
	memcpy(buf + 13, circle, CS_CIRCLELEN);
	crypto_generichash(want, CS_CIRCLELEN, buf, 13 + CS_CIRCLELEN,
	    NULL, 0);
	sync_audit_circle(got, circle);
	assert_memory_equal(got, want, CS_CIRCLELEN);
	/* Neither the circle's data chain nor its members chain. */
	assert_memory_not_equal(got, circle, CS_CIRCLELEN);
	sync_members_circle(other, circle);
	assert_memory_not_equal(got, other, CS_CIRCLELEN);
	circle[CS_CIRCLELEN - 1] ^= 1;
	sync_audit_circle(other, circle);
	assert_memory_not_equal(other, got, CS_CIRCLELEN);
	circle[CS_CIRCLELEN - 1] ^= 1;

	/* Its chunks' key, which anyone who knows the circle computes. */
	memcpy(buf, "samen-audit-key-1", 17);
	memcpy(buf + 17, circle, CS_CIRCLELEN);
	crypto_generichash(want, CS_KEYLEN, buf, sizeof(buf), NULL, 0);
	sync_audit_key(got, circle);
	assert_memory_equal(got, want, CS_KEYLEN);
	sync_members_key(other, circle);
	assert_memory_not_equal(got, other, CS_KEYLEN);
}

static void
test_circle_id(void **state)
{
	uint8_t creator[32], salt[16], buf[14 + 32 + 16];
	uint8_t want[CS_CIRCLELEN], got[CS_CIRCLELEN], other[CS_CIRCLELEN];

	(void)state;
	fill(creator, sizeof(creator), 0x11);
	fill(salt, sizeof(salt), 0x99);
	memcpy(buf, "samen-circle-1", 14);
	memcpy(buf + 14, creator, 32);
	memcpy(buf + 46, salt, 16);
	crypto_generichash(want, CS_CIRCLELEN, buf, sizeof(buf), NULL, 0);
	sync_circle_id(got, creator, salt);
	assert_memory_equal(got, want, CS_CIRCLELEN);
	salt[15] ^= 1;
	sync_circle_id(other, creator, salt);
	assert_memory_not_equal(other, got, CS_CIRCLELEN);
	salt[15] ^= 1;
	creator[0] ^= 1;
	sync_circle_id(other, creator, salt);
	assert_memory_not_equal(other, got, CS_CIRCLELEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_audit_chain),
		cmocka_unit_test(test_circle_id),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
