/* fuzz_keyring: the sealed words of membership ops (a circle's name, a removal's reason) and the key seals, opened from untrusted bytes. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "fixture.h"
#include "keyring.h"
#include "roster.h"
#include "util.h"

/*
 * Every op of a members chain comes from a peer; the daemon opens its name
 * and reason blobs and the seals addressed to it with daemon/keyring.c.
 * Input: a byte, then bytes.
 *   even: a blob, opened as a name and as a reason under fixture_key and
 *     the circle FUZZ_CIRCLE (mkseeds seals one of each);
 *   odd: a seal (le32 epoch, device 32, sealed 80; missing bytes are 0),
 *     opened with the fixture author's keys, then sealed again, with a
 *     role the next byte chooses, to the device it names.
 * Asserts: a blob that opens holds its length less the overhead and a NUL
 * after, and sealed again opens to the same text; one that does not
 * leaves nothing; a seal to another device is refused before anything is
 * opened, one that does not open leaves the secret zero; sealing to a
 * relay or nobody, or the audit secret to a member, is always refused,
 * and a seal made is addressed to the device and epoch asked for.
 */
#define FUZZ_CIRCLE 0x42

static uint8_t circle[16];
static uint8_t pk[32];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_init();
	memset(circle, FUZZ_CIRCLE, sizeof(circle));
	crypto_sign_ed25519_sk_to_pk(pk, fixture_sk());
	return 0;
}

static void
blob(const uint8_t *p, size_t n, const char *what)
{
	uint8_t *again;
	size_t len, n2, alen;
	char *text, *t2;

	if (keyring_blob_open(&text, &len, p, n, fixture_key, circle,
	    what) != 0) {
		if (text != NULL || len != 0)
			abort();
		return;
	}
	if (n < KEYRING_BLOB_OVERHEAD || len != n - KEYRING_BLOB_OVERHEAD ||
	    text[len] != '\0')
		abort();
	keyring_blob_seal(&again, &alen, fixture_key, circle, what, text, len);
	if (alen != n || keyring_blob_open(&t2, &n2, again, alen, fixture_key,
	    circle, what) != 0 || n2 != len || memcmp(t2, text, len) != 0)
		abort();
	free(t2);
	free(again);
	free(text);
}

static void
seal(const uint8_t *p, size_t n)
{
	struct roster_seal s, out;
	uint8_t raw[4 + 32 + ROSTER_SEALLEN], secret[32];
	enum roster_role role;
	int rc, zero = 1;

	memset(raw, 0, sizeof(raw));
	memcpy(raw, p, n < sizeof(raw) ? n : sizeof(raw));
	role = (enum roster_role)(n > sizeof(raw) ? p[sizeof(raw)] % 5 : 2);
	s.epoch = get_le32(raw);
	memcpy(s.device, raw + 4, 32);
	memcpy(s.sealed, raw + 36, ROSTER_SEALLEN);
	rc = keyring_open(secret, &s, pk, fixture_sk());
	for (size_t i = 0; i < sizeof(secret); i++)
		zero &= secret[i] == 0;
	if (memcmp(s.device, pk, 32) != 0 ? rc != SAMEN_EINVAL || !zero :
	    rc != 0 && (rc != SAMEN_EDECRYPT || !zero))
		abort();
	rc = keyring_seal(&out, s.epoch, secret, s.device, role);
	if (role != ROSTER_MEMBER && role != ROSTER_ADMIN && rc != SAMEN_EINVAL)
		abort();
	if (s.epoch == ROSTER_AUDIT_EPOCH && role != ROSTER_ADMIN &&
	    rc != SAMEN_EINVAL)
		abort();
	if (rc == 0 && (out.epoch != s.epoch ||
	    memcmp(out.device, s.device, 32) != 0))
		abort();
	sodium_memzero(secret, sizeof(secret));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0) {
		blob(data + 1, size - 1, "name");
		blob(data + 1, size - 1, "reason");
	} else
		seal(data + 1, size - 1);
	return 0;
}
