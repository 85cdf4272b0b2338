/* test_keyring: keys sealed to members and admins, never to a relay; words sealed under a circle key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "error.h"
#include "keyring.h"
#include "roster.h"

struct device {
	uint8_t pk[32];
	uint8_t sk[64];
};

static void
device_new(struct device *d)
{
	crypto_sign_keypair(d->pk, d->sk);
}

static int
zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	while (n-- > 0)
		acc |= *b++;
	return acc == 0;
}

/* A member and an admin get keys; each opens only its own. */
static void
test_seal_and_open(void **state)
{
	struct device m, a;
	struct roster_seal s, t;
	uint8_t key[32], got[32];

	(void)state;
	device_new(&m);
	device_new(&a);
	randombytes_buf(key, sizeof(key));
	assert_int_equal(keyring_seal(&s, 0x80000001, key, m.pk,
	    ROSTER_MEMBER), 0);
	assert_int_equal(s.epoch, 0x80000001);
	assert_memory_equal(s.device, m.pk, 32);
	assert_int_equal(keyring_open(got, &s, m.pk, m.sk), 0);
	assert_memory_equal(got, key, 32);
	/* Someone else's seal. */
	assert_int_equal(keyring_open(got, &s, a.pk, a.sk), SAMEN_EINVAL);
	assert_true(zero(got, sizeof(got)));
	/* Addressed to a, sealed to m: does not open. */
	t = s;
	memcpy(t.device, a.pk, 32);
	assert_int_equal(keyring_open(got, &t, a.pk, a.sk), SAMEN_EDECRYPT);
	assert_true(zero(got, sizeof(got)));
	t = s;
	t.sealed[7] ^= 1;
	assert_int_equal(keyring_open(got, &t, m.pk, m.sk), SAMEN_EDECRYPT);

	/* The audit secret is an admin's. */
	assert_int_equal(keyring_seal(&s, ROSTER_AUDIT_EPOCH, key, a.pk,
	    ROSTER_ADMIN), 0);
	assert_int_equal(keyring_open(got, &s, a.pk, a.sk), 0);
	assert_memory_equal(got, key, 32);
	assert_int_equal(keyring_seal(&s, ROSTER_FIRST_EPOCH, key, a.pk,
	    ROSTER_ADMIN), 0);
	sodium_memzero(got, sizeof(got));
}

/*
 * The key code refuses to give a relay any key (DESIGN: "sealing a key
 * to a relay is an error in the key code"), a member the audit secret,
 * and a device without a role, or without an X25519 form, anything.
 */
static void
test_seal_refused(void **state)
{
	struct device r;
	struct roster_seal s;
	uint8_t key[32], bad[32];

	(void)state;
	device_new(&r);
	randombytes_buf(key, sizeof(key));
	memset(&s, 0x5a, sizeof(s));
	assert_int_equal(keyring_seal(&s, ROSTER_FIRST_EPOCH, key, r.pk,
	    ROSTER_RELAY), SAMEN_EINVAL);
	assert_true(zero(&s, sizeof(s)));
	assert_int_equal(keyring_seal(&s, 0x80000002, key, r.pk,
	    ROSTER_RELAY), SAMEN_EINVAL);
	assert_int_equal(keyring_seal(&s, ROSTER_AUDIT_EPOCH, key, r.pk,
	    ROSTER_RELAY), SAMEN_EINVAL);
	assert_int_equal(keyring_seal(&s, ROSTER_FIRST_EPOCH, key, r.pk,
	    ROSTER_NOROLE), SAMEN_EINVAL);
	assert_int_equal(keyring_seal(&s, ROSTER_AUDIT_EPOCH, key, r.pk,
	    ROSTER_MEMBER), SAMEN_EINVAL);
	assert_true(zero(&s, sizeof(s)));
	/* A point of small order has no X25519 form libsodium accepts. */
	memset(bad, 0, sizeof(bad));
	assert_int_equal(keyring_seal(&s, ROSTER_FIRST_EPOCH, key, bad,
	    ROSTER_MEMBER), SAMEN_EINVAL);
}

/* A name or reason opens with the key, the circle and the purpose. */
static void
test_blob(void **state)
{
	uint8_t key[32], other[32], circle[16], *blob;
	size_t len, n;
	char *text;

	(void)state;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
	randombytes_buf(circle, sizeof(circle));
	keyring_blob_seal(&blob, &len, key, circle, "name", "familie-de-vries",
	    16);
	assert_int_equal(len, 16 + KEYRING_BLOB_OVERHEAD);
	for (size_t i = 0; i + 7 <= len; i++)
		assert_true(memcmp(blob + i, "familie", 7) != 0);
	assert_int_equal(keyring_blob_open(&text, &n, blob, len, key, circle,
	    "name"), 0);
	assert_int_equal(n, 16);
	assert_string_equal(text, "familie-de-vries");
	free(text);
	assert_int_equal(keyring_blob_open(&text, &n, blob, len, other,
	    circle, "name"), SAMEN_EDECRYPT);
	assert_null(text);
	assert_int_equal(keyring_blob_open(&text, &n, blob, len, key, circle,
	    "reason"), SAMEN_EDECRYPT);
	circle[0] ^= 1;
	assert_int_equal(keyring_blob_open(&text, &n, blob, len, key, circle,
	    "name"), SAMEN_EDECRYPT);
	circle[0] ^= 1;
	assert_int_equal(keyring_blob_open(&text, &n, blob, len - 1, key,
	    circle, "name"), SAMEN_EDECRYPT);
	assert_int_equal(keyring_blob_open(&text, &n, blob, 3, key, circle,
	    "name"), SAMEN_EDECRYPT);
	free(blob);
	/* The empty text too. */
	keyring_blob_seal(&blob, &len, key, circle, "reason", "", 0);
	assert_int_equal(keyring_blob_open(&text, &n, blob, len, key, circle,
	    "reason"), 0);
	assert_int_equal(n, 0);
	assert_string_equal(text, "");
	free(text);
	free(blob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_and_open),
		cmocka_unit_test(test_seal_refused),
		cmocka_unit_test(test_blob),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
