/* keyring: a circle's keys sealed to devices and opened from seals, and the words of its ops sealed under its keys. */
#include "keyring.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "util.h"

#define BLOB_PREFIX "samen-blob-1"

_Static_assert(ROSTER_SEALLEN == crypto_box_SEALBYTES + 32,
    "a seal holds one 32-byte secret");
_Static_assert(KEYRING_BLOB_OVERHEAD ==
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
    crypto_aead_xchacha20poly1305_ietf_ABYTES, "nonce and tag");

int
keyring_seal(struct roster_seal *out, uint32_t epoch,
    const uint8_t secret[32], const uint8_t device[32],
    enum roster_role role)
{
	uint8_t cpk[32];

	memset(out, 0, sizeof(*out));
	/* A relay verifies and carries; it never reads. */
	if (role != ROSTER_MEMBER && role != ROSTER_ADMIN)
		return SAMEN_EINVAL;
	/* The audit events are the admins' to read. */
	if (epoch == ROSTER_AUDIT_EPOCH && role != ROSTER_ADMIN)
		return SAMEN_EINVAL;
	if (crypto_sign_ed25519_pk_to_curve25519(cpk, device) != 0)
		return SAMEN_EINVAL;
	out->epoch = epoch;
	memcpy(out->device, device, 32);
	crypto_box_seal(out->sealed, secret, 32, cpk);
	return 0;
}

int
keyring_open(uint8_t secret[32], const struct roster_seal *s,
    const uint8_t pk[32], const uint8_t sk[64])
{
	uint8_t cpk[32], csk[32];
	int rc = 0;

	memset(secret, 0, 32);
	if (memcmp(s->device, pk, 32) != 0)
		return SAMEN_EINVAL;
	if (crypto_sign_ed25519_pk_to_curve25519(cpk, pk) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(csk, sk) != 0 ||
	    crypto_box_seal_open(secret, s->sealed, ROSTER_SEALLEN, cpk,
	    csk) != 0) {
		sodium_memzero(secret, 32);
		rc = SAMEN_EDECRYPT;
	}
	sodium_memzero(csk, sizeof(csk));
	return rc;
}

/* The blob key of (key, what) and the associated data (circle, what). */
static void
blob_key(uint8_t out[32], const uint8_t key[32], const char *what)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)BLOB_PREFIX,
	    sizeof(BLOB_PREFIX));
	crypto_generichash_update(&st, (const uint8_t *)what,
	    strlen(what) + 1);
	crypto_generichash_final(&st, out, 32);
}

static uint8_t *
blob_ad(const uint8_t circle[16], const char *what, size_t *len)
{
	size_t n = strlen(what);
	uint8_t *ad = xmalloc(16 + n);

	memcpy(ad, circle, 16);
	memcpy(ad + 16, what, n);
	*len = 16 + n;
	return ad;
}

void
keyring_blob_seal(uint8_t **blob, size_t *len, const uint8_t key[32],
    const uint8_t circle[16], const char *what, const char *text, size_t n)
{
	uint8_t bk[32], *ad, *b;
	size_t adlen;

	blob_key(bk, key, what);
	ad = blob_ad(circle, what, &adlen);
	b = xmalloc(n + KEYRING_BLOB_OVERHEAD);
	randombytes_buf(b, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(b +
	    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL,
	    (const uint8_t *)text, n, ad, adlen, NULL, b, bk);
	sodium_memzero(bk, sizeof(bk));
	free(ad);
	*blob = b;
	*len = n + KEYRING_BLOB_OVERHEAD;
}

int
keyring_blob_open(char **text, size_t *n, const uint8_t *blob, size_t len,
    const uint8_t key[32], const uint8_t circle[16], const char *what)
{
	uint8_t bk[32], *ad;
	size_t adlen;
	char *t;
	int rc = 0;

	*text = NULL;
	*n = 0;
	if (len < KEYRING_BLOB_OVERHEAD)
		return SAMEN_EDECRYPT;
	blob_key(bk, key, what);
	ad = blob_ad(circle, what, &adlen);
	t = xmalloc(len - KEYRING_BLOB_OVERHEAD + 1);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)t, NULL,
	    NULL, blob + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ad, adlen,
	    blob, bk) != 0) {
		free(t);
		rc = SAMEN_EDECRYPT;
	} else {
		t[len - KEYRING_BLOB_OVERHEAD] = '\0';
		*text = t;
		*n = len - KEYRING_BLOB_OVERHEAD;
	}
	sodium_memzero(bk, sizeof(bk));
	free(ad);
	return rc;
}
