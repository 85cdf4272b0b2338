/* vault: the device's key file, and its secrets once unlocked. */
#ifndef SAMEN_VAULT_H
#define SAMEN_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "keywrap.h"

/*
 * Reads DIR/keys at open (public key and KDF parameters; the file is kept in
 * memory).  Unlocking runs argon2id, which takes about a second by design: do
 * vault_try() on a worker thread (it only reads the immutable file image) and
 * vault_install() on the loop thread.  Secrets live in sodium_malloc()'d
 * memory (guard pages, mlock'd, never swapped) and are wiped at close.
 */
struct vault;

#define VAULT_FILE "keys"
/* Written when the device is revoked: it names the device, nothing else. */
#define VAULT_REVOKED_FILE "revoked"

/*
 * On error returns a negative code and *cause (free with free()).  A
 * revoked device (DIR/revoked) opens with its public key alone, locked
 * for good (vault_revoked).
 */
int vault_open(struct vault **v, const char *dir, char **cause);
void vault_close(struct vault *v);

const uint8_t *vault_public_key(const struct vault *v);
int vault_has_passphrase(const struct vault *v);
int vault_locked(const struct vault *v);

/*
 * Thread-safe.  Unwraps with passphrase (NULL for a key file without one)
 * into *s: 0, SAMEN_EPASSPHRASE or SAMEN_EKEYFILE.  The caller wipes *s.
 */
int vault_try(const struct vault *v, const char *passphrase, size_t len,
    struct keywrap_secrets *s) __attribute__((warn_unused_result));
/* Loop thread.  Copies *s into the vault and wipes *s. */
void vault_install(struct vault *v, struct keywrap_secrets *s);
/* Loop thread.  Wipes and frees the secrets: locked again, as at open. */
void vault_lock(struct vault *v);

/*
 * This device was revoked (docs/sync.md, "Departures"): wipes the secrets
 * and the key file's image, writes DIR/revoked (synced) and deletes
 * DIR/keys.  From then on the vault is locked for good and keeps the
 * public key only.  0 or -errno (the vault is revoked all the same).
 */
int vault_revoke(struct vault *v, const char *dir);
/* 1 if revoked (now, or at open), else 0. */
int vault_revoked(const struct vault *v);

/* Borrowed; NULL while locked. */
const uint8_t *vault_sign_sk(const struct vault *v);
const uint8_t *vault_storage_key(const struct vault *v);

#endif
