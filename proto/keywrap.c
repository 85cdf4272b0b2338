/*
 * keywrap: the device key file.  The box key is BLAKE2b-256 keyed with the
 * argon2id output (all zero without a passphrase) over a context that holds
 * the format, the public key and the KDF parameters: change any of them in
 * the file and the box no longer opens.
 */
#include <errno.h>
#include <string.h>

#include "error.h"
#include "keywrap.h"
#include "util.h"
#include "wire.h"

#define MAGIC "samen-keys"
#define SECRETLEN (crypto_sign_SECRETKEYBYTES + 32)
/* Ceilings: a tampered file must not make us allocate 1 TiB for argon2. */
#define OPSLIMIT_MAX 64
#define MEMLIMIT_MAX (4ull << 30)

struct keyfile {
	struct keywrap_info info;
	uint8_t salt[16];
	uint8_t nonce[24];
	const uint8_t *ct;
	size_t ct_len;
};

static int
parse(struct keyfile *kf, const uint8_t *file, size_t len)
{
	struct wire_reader r;
	const char *magic;
	size_t mlen;
	uint32_t version;
	uint8_t kdf;

	memset(kf, 0, sizeof(*kf));
	wire_reader_init(&r, file, len);
	if (wire_get_array_n(&r, 9) != 0 ||
	    wire_get_str(&r, &magic, &mlen, 32) != 0 ||
	    mlen != strlen(MAGIC) || memcmp(magic, MAGIC, mlen) != 0)
		return SAMEN_EKEYFILE;
	if (wire_get_u32(&r, &version) != 0)
		return SAMEN_EKEYFILE;
	if (version != KEYWRAP_VERSION)
		return SAMEN_EVERSION;
	wire_get_bin_fixed(&r, kf->info.public_key, 32);
	wire_get_u8(&r, &kdf);
	wire_get_u64(&r, &kf->info.opslimit);
	wire_get_u64(&r, &kf->info.memlimit);
	wire_get_bin_fixed(&r, kf->salt, sizeof(kf->salt));
	wire_get_bin_fixed(&r, kf->nonce, sizeof(kf->nonce));
	wire_get_bin(&r, &kf->ct, &kf->ct_len, SECRETLEN + crypto_secretbox_MACBYTES);
	if (wire_end(&r) != 0 ||
	    kf->ct_len != SECRETLEN + crypto_secretbox_MACBYTES)
		return SAMEN_EKEYFILE;
	kf->info.kdf = kdf;
	switch (kdf) {
	case KEYWRAP_KDF_NONE:
		if (kf->info.opslimit != 0 || kf->info.memlimit != 0)
			return SAMEN_EKEYFILE;
		break;
	case KEYWRAP_KDF_ARGON2ID:
		if (kf->info.opslimit < KEYWRAP_OPSLIMIT_MIN ||
		    kf->info.memlimit < KEYWRAP_MEMLIMIT_MIN)
			return SAMEN_EWEAKKDF;
		if (kf->info.opslimit > OPSLIMIT_MAX ||
		    kf->info.memlimit > MEMLIMIT_MAX)
			return SAMEN_EKEYFILE;
		break;
	default:
		return SAMEN_EKEYFILE;
	}
	return 0;
}

/* Derives the secretbox key; returns 0 or -ENOMEM (argon2 could not run). */
static int
box_key(uint8_t key[crypto_secretbox_KEYBYTES], const struct keyfile *kf,
    const char *pass, size_t passlen)
{
	uint8_t stretched[32], ctx[64];
	crypto_generichash_state st;

	memset(stretched, 0, sizeof(stretched));
	if (kf->info.kdf == KEYWRAP_KDF_ARGON2ID &&
	    crypto_pwhash(stretched, sizeof(stretched), pass, passlen,
	    kf->salt, kf->info.opslimit, (size_t)kf->info.memlimit,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	memset(ctx, 0, sizeof(ctx));
	memcpy(ctx, MAGIC, strlen(MAGIC));
	ctx[15] = KEYWRAP_VERSION;
	memcpy(ctx + 16, kf->info.public_key, 32);
	ctx[48] = (uint8_t)kf->info.kdf;
	put_le64(ctx + 49, kf->info.opslimit);
	crypto_generichash_init(&st, stretched, sizeof(stretched),
	    crypto_secretbox_KEYBYTES);
	crypto_generichash_update(&st, ctx, sizeof(ctx));
	put_le64(ctx, kf->info.memlimit);
	crypto_generichash_update(&st, ctx, 8);
	crypto_generichash_update(&st, kf->salt, sizeof(kf->salt));
	crypto_generichash_final(&st, key, crypto_secretbox_KEYBYTES);
	sodium_memzero(stretched, sizeof(stretched));
	sodium_memzero(&st, sizeof(st));
	return 0;
}

int
keywrap_seal(uint8_t **out, size_t *outlen, const struct keywrap_secrets *s,
    const char *passphrase, size_t passlen, const uint8_t salt[16],
    const uint8_t nonce[24])
{
	struct keyfile kf;
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint8_t plain[SECRETLEN], ct[SECRETLEN + crypto_secretbox_MACBYTES];
	struct wbuf w;
	int rc;

	memset(&kf, 0, sizeof(kf));
	memcpy(kf.info.public_key, s->sign_sk + 32, 32);
	if (passphrase != NULL) {
		kf.info.kdf = KEYWRAP_KDF_ARGON2ID;
		kf.info.opslimit = KEYWRAP_OPSLIMIT_MIN;
		kf.info.memlimit = KEYWRAP_MEMLIMIT_MIN;
	}
	memcpy(kf.salt, salt, 16);
	memcpy(kf.nonce, nonce, 24);
	if ((rc = box_key(key, &kf, passphrase, passlen)) != 0)
		return rc;
	memcpy(plain, s->sign_sk, crypto_sign_SECRETKEYBYTES);
	memcpy(plain + crypto_sign_SECRETKEYBYTES, s->storage_key, 32);
	crypto_secretbox_easy(ct, plain, sizeof(plain), kf.nonce, key);
	sodium_memzero(plain, sizeof(plain));
	sodium_memzero(key, sizeof(key));

	wire_init(&w);
	wire_put_array(&w, 9);
	wire_put_cstr(&w, MAGIC);
	wire_put_u64(&w, KEYWRAP_VERSION);
	wire_put_bin(&w, kf.info.public_key, 32);
	wire_put_u64(&w, (uint64_t)kf.info.kdf);
	wire_put_u64(&w, kf.info.opslimit);
	wire_put_u64(&w, kf.info.memlimit);
	wire_put_bin(&w, kf.salt, 16);
	wire_put_bin(&w, kf.nonce, 24);
	wire_put_bin(&w, ct, sizeof(ct));
	*out = wire_take(&w, outlen);
	wire_free(&w);
	return 0;
}

int
keywrap_info(struct keywrap_info *info, const uint8_t *file, size_t len)
{
	struct keyfile kf;
	int rc;

	if ((rc = parse(&kf, file, len)) != 0)
		return rc;
	*info = kf.info;
	return 0;
}

int
keywrap_open(struct keywrap_secrets *s, const uint8_t *file, size_t len,
    const char *passphrase, size_t passlen)
{
	struct keyfile kf;
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint8_t plain[SECRETLEN];
	int rc;

	if ((rc = parse(&kf, file, len)) != 0)
		return rc;
	if (kf.info.kdf == KEYWRAP_KDF_ARGON2ID && passphrase == NULL)
		return SAMEN_EPASSPHRASE;
	if ((rc = box_key(key, &kf, passphrase, passlen)) != 0)
		return rc;
	rc = crypto_secretbox_open_easy(plain, kf.ct, kf.ct_len, kf.nonce, key);
	sodium_memzero(key, sizeof(key));
	if (rc != 0) {
		sodium_memzero(plain, sizeof(plain));
		/* Without a passphrase only damage can stop the box opening. */
		return kf.info.kdf == KEYWRAP_KDF_NONE ? SAMEN_EKEYFILE :
		    SAMEN_EPASSPHRASE;
	}
	/* The secret key must belong to the public key the file shows. */
	if (sodium_memcmp(plain + 32, kf.info.public_key, 32) != 0) {
		sodium_memzero(plain, sizeof(plain));
		return SAMEN_EKEYFILE;
	}
	memcpy(s->sign_sk, plain, crypto_sign_SECRETKEYBYTES);
	memcpy(s->storage_key, plain + crypto_sign_SECRETKEYBYTES, 32);
	sodium_memzero(plain, sizeof(plain));
	return 0;
}
