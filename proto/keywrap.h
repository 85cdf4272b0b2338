/* keywrap: the device key file: secrets wrapped under a passphrase with argon2id. */
#ifndef SAMEN_KEYWRAP_H
#define SAMEN_KEYWRAP_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

/*
 * What the key file protects: the device's ed25519 secret key (which holds
 * the public key in its last 32 bytes) and the storage key that encrypts
 * replica values and circle keys at rest.
 */
struct keywrap_secrets {
	uint8_t sign_sk[crypto_sign_SECRETKEYBYTES];
	uint8_t storage_key[32];
};

/*
 * File format (msgpack array, canonical):
 *   ["samen-keys", version=1, public key bin32, kdf, opslimit, memlimit,
 *    salt bin16, nonce bin24, ciphertext bin]
 * kdf is 1 for argon2id13 or 0 for "no passphrase" (then opslimit and
 * memlimit are 0 and the file says so; samen status warns).  The ciphertext
 * is crypto_secretbox_easy (XSalsa20-Poly1305) of sign_sk || storage_key
 * under box key = BLAKE2b-256 keyed with argon2id(passphrase, salt) (all
 * zero without a passphrase) over a context holding the magic, the version,
 * the public key, kdf, opslimit, memlimit and salt: editing any public field
 * makes the box fail to open.  On open the secret key must also match the
 * public key the file shows.
 */
#define KEYWRAP_VERSION 1
#define KEYWRAP_KDF_NONE 0
#define KEYWRAP_KDF_ARGON2ID 1
/* The floor: anything weaker is refused on open (a downgrade). */
#define KEYWRAP_OPSLIMIT_MIN crypto_pwhash_OPSLIMIT_MODERATE
#define KEYWRAP_MEMLIMIT_MIN crypto_pwhash_MEMLIMIT_MODERATE

/* Public facts readable without the passphrase. */
struct keywrap_info {
	uint8_t public_key[32];
	int kdf;			/* KEYWRAP_KDF_* */
	uint64_t opslimit;
	uint64_t memlimit;
};

/*
 * Wraps secrets into a new file image.  passphrase may be NULL (kdf none).
 * salt (16) and nonce (24) are random bytes from the caller.  Returns 0 and
 * *out (free with free()) or a negative code.
 */
int keywrap_seal(uint8_t **out, size_t *outlen,
    const struct keywrap_secrets *s, const char *passphrase, size_t passlen,
    const uint8_t salt[16], const uint8_t nonce[24]);
/* Reads the public part; SAMEN_EKEYFILE, SAMEN_EVERSION or SAMEN_EWEAKKDF. */
int keywrap_info(struct keywrap_info *info, const uint8_t *file, size_t len);
/*
 * Unwraps.  Returns 0, SAMEN_EPASSPHRASE, SAMEN_EKEYFILE, SAMEN_EWEAKKDF.
 * Slow by design (argon2id): run it off the event loop.  The caller wipes
 * *s with sodium_memzero when done.
 */
int keywrap_open(struct keywrap_secrets *s, const uint8_t *file, size_t len,
    const char *passphrase, size_t passlen) __attribute__((warn_unused_result));

#endif
