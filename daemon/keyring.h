/* keyring: a circle's keys sealed to devices and opened from seals, and the words of its ops sealed under its keys. */
#ifndef SAMEN_KEYRING_H
#define SAMEN_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "roster.h"

/*
 * The key code of the trust lifecycle (docs/sync.md, "Keys and epochs"),
 * apart from the rosters and the store so that its rules stand alone:
 * nothing here reads a store or a clock; randomness is libsodium's.
 *
 * A seal is crypto_box_seal of a 32-byte secret to a device's X25519 key
 * (derived from its ed25519 id): an epoch's circle key, or (epoch 0,
 * ROSTER_AUDIT_EPOCH) the secret of the circle's audit key pair.  Who
 * may be given what is decided here, once: a relay carries a circle's
 * change sets and never holds one of its keys, and the audit secret is
 * for admins only.
 */

/*
 * Seals secret, of epoch, to device, whose role in the circle (as it is,
 * or is about to be) is role.  Fills out.  SAMEN_EINVAL, and out zeroed,
 * if role is ROSTER_RELAY or ROSTER_NOROLE (a relay holds no key), if
 * epoch is the audit secret's and role is not ROSTER_ADMIN, or if device
 * has no X25519 form.  Borrows everything.
 */
int keyring_seal(struct roster_seal *out, uint32_t epoch,
    const uint8_t secret[32], const uint8_t device[32],
    enum roster_role role);

/*
 * Opens s, sealed to the device whose ed25519 keys are (pk, sk), into
 * secret.  SAMEN_EINVAL if s is sealed to another device, SAMEN_EDECRYPT
 * if it does not open (secret is then zeroed).
 */
int keyring_open(uint8_t secret[32], const struct roster_seal *s,
    const uint8_t pk[32], const uint8_t sk[64]);

/*
 * A person's words in an op (a circle's name, a removal's reason) are
 * sealed under a key derived from a circle key and the word's purpose
 * (what: "name", "reason"), bound to the circle: nonce || ciphertext
 * (XChaCha20-Poly1305), KEYRING_BLOB_OVERHEAD bytes more than the text.
 * A relay, or a device without that key, sees only the blob's length.
 *
 * keyring_blob_seal returns a new blob in *blob (free()), of *len bytes.
 * keyring_blob_open returns a new NUL-terminated copy of the text in
 * *text (free()) and its length in *n, or SAMEN_EDECRYPT.
 */
#define KEYRING_BLOB_OVERHEAD 40	/* 24-byte nonce, 16-byte tag */
void keyring_blob_seal(uint8_t **blob, size_t *len, const uint8_t key[32],
    const uint8_t circle[16], const char *what, const char *text,
    size_t n);
int keyring_blob_open(char **text, size_t *n, const uint8_t *blob,
    size_t len, const uint8_t key[32], const uint8_t circle[16],
    const char *what);

#endif
