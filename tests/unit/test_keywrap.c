/* test_keywrap: the device key file: round trips, tampering, downgrades. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "error.h"
#include "keywrap.h"
#include "wire.h"

/*
 * argon2id at the MODERATE limits takes the better part of a second, so the
 * whole file runs it at most five times: one seal and four opens of the
 * passphrase file.  Everything else uses the kdf-none file, whose open is
 * only a secretbox.
 */
static struct keywrap_secrets secrets;
static uint8_t salt[16], nonce[24];
static const char pass[] = "correct horse battery staple";
static uint8_t *pfile, *nfile;		/* passphrase file, kdf-none file */
static size_t pfile_len, nfile_len;

/* The fields of a key file, as the header lays them out. */
enum { F_MAGIC, F_VERSION, F_PK, F_KDF, F_OPS, F_MEM, F_SALT, F_NONCE,
    F_CT, F_END };

struct kfile {
	const char *magic;
	size_t magic_len;
	uint64_t version;
	uint8_t pk[32];
	uint64_t kdf;
	uint64_t ops;
	uint64_t mem;
	uint8_t salt[16];
	uint8_t nonce[24];
	const uint8_t *ct;
	size_t ct_len;
	size_t off[F_END + 1];	/* where each field starts; off[F_END]: end */
};

/* Reads a file by the format in keywrap.h, with our own wire reader. */
static void
parse(struct kfile *k, const uint8_t *p, size_t n)
{
	struct wire_reader r;

	memset(k, 0, sizeof(*k));
	wire_reader_init(&r, p, n);
	assert_int_equal(wire_get_array_n(&r, 9), 0);
#define AT(f) k->off[f] = (size_t)(r.p - p)
	AT(F_MAGIC);
	assert_int_equal(wire_get_str(&r, &k->magic, &k->magic_len, 64), 0);
	AT(F_VERSION);
	assert_int_equal(wire_get_u64(&r, &k->version), 0);
	AT(F_PK);
	assert_int_equal(wire_get_bin_fixed(&r, k->pk, 32), 0);
	AT(F_KDF);
	assert_int_equal(wire_get_u64(&r, &k->kdf), 0);
	AT(F_OPS);
	assert_int_equal(wire_get_u64(&r, &k->ops), 0);
	AT(F_MEM);
	assert_int_equal(wire_get_u64(&r, &k->mem), 0);
	AT(F_SALT);
	assert_int_equal(wire_get_bin_fixed(&r, k->salt, 16), 0);
	AT(F_NONCE);
	assert_int_equal(wire_get_bin_fixed(&r, k->nonce, 24), 0);
	AT(F_CT);
	assert_int_equal(wire_get_bin(&r, &k->ct, &k->ct_len, 4096), 0);
	AT(F_END);
#undef AT
	assert_int_equal(wire_end(&r), 0);
}

/* Writes a file from fields, canonically: the same bytes a sealer would. */
static uint8_t *
build(const struct kfile *k, size_t *n)
{
	struct wbuf w;

	wire_init(&w);
	wire_put_array(&w, 9);
	wire_put_str(&w, k->magic, k->magic_len);
	wire_put_u64(&w, k->version);
	wire_put_bin(&w, k->pk, 32);
	wire_put_u64(&w, k->kdf);
	wire_put_u64(&w, k->ops);
	wire_put_u64(&w, k->mem);
	wire_put_bin(&w, k->salt, 16);
	wire_put_bin(&w, k->nonce, 24);
	wire_put_bin(&w, k->ct, k->ct_len);
	return wire_take(&w, n);
}

static int
setup(void **state)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];

	(void)state;
	if (sodium_init() < 0)
		return -1;
	if (crypto_sign_keypair(pk, secrets.sign_sk) != 0)
		return -1;
	randombytes_buf(secrets.storage_key, sizeof(secrets.storage_key));
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	/* argon2id call 1 of 5. */
	if (keywrap_seal(&pfile, &pfile_len, &secrets, pass, strlen(pass),
	    salt, nonce) != 0)
		return -1;
	if (keywrap_seal(&nfile, &nfile_len, &secrets, NULL, 0, salt,
	    nonce) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(pfile);
	free(nfile);
	sodium_memzero(&secrets, sizeof(secrets));
	return 0;
}

static void
assert_secrets_equal(const struct keywrap_secrets *a,
    const struct keywrap_secrets *b)
{
	assert_memory_equal(a->sign_sk, b->sign_sk, sizeof(a->sign_sk));
	assert_memory_equal(a->storage_key, b->storage_key,
	    sizeof(a->storage_key));
}

static int
contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	size_t i;

	for (i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return 1;
	return 0;
}

static void
test_format_none(void **state)
{
	struct kfile k;
	uint8_t *again;
	size_t n;

	(void)state;
	parse(&k, nfile, nfile_len);
	assert_int_equal(k.magic_len, 10);
	assert_memory_equal(k.magic, "samen-keys", 10);
	assert_true(k.version == KEYWRAP_VERSION);
	assert_memory_equal(k.pk, secrets.sign_sk + 32, 32);
	assert_true(k.kdf == KEYWRAP_KDF_NONE);
	/* Without a passphrase the file says so: no argon2id limits. */
	assert_true(k.ops == 0);
	assert_true(k.mem == 0);
	assert_memory_equal(k.nonce, nonce, sizeof(nonce));
	/* secretbox of sign_sk || storage_key: 96 bytes and a MAC.  The box
	 * key binds the public key in, so it is not simply the zero key,
	 * but the secrets must not show in clear. */
	assert_int_equal(k.ct_len, 96 + crypto_secretbox_MACBYTES);
	assert_false(contains(nfile, nfile_len, secrets.storage_key, 8));
	assert_false(contains(nfile, nfile_len, secrets.sign_sk, 8));

	/* The file is canonical: written again from its fields, the same. */
	again = build(&k, &n);
	assert_int_equal(n, nfile_len);
	assert_memory_equal(again, nfile, n);
	free(again);
}

static void
test_format_argon2(void **state)
{
	struct kfile k;
	uint8_t *again;
	size_t n;

	(void)state;
	parse(&k, pfile, pfile_len);
	assert_int_equal(k.magic_len, 10);
	assert_memory_equal(k.magic, "samen-keys", 10);
	assert_true(k.version == KEYWRAP_VERSION);
	assert_memory_equal(k.pk, secrets.sign_sk + 32, 32);
	assert_true(k.kdf == KEYWRAP_KDF_ARGON2ID);
	assert_true(k.ops >= KEYWRAP_OPSLIMIT_MIN);
	assert_true(k.mem >= KEYWRAP_MEMLIMIT_MIN);
	assert_memory_equal(k.salt, salt, sizeof(salt));
	assert_memory_equal(k.nonce, nonce, sizeof(nonce));
	assert_int_equal(k.ct_len, 96 + crypto_secretbox_MACBYTES);
	/* Nothing of the secrets is visible in the file. */
	assert_false(contains(pfile, pfile_len, secrets.storage_key, 8));
	assert_false(contains(pfile, pfile_len, secrets.sign_sk, 8));

	again = build(&k, &n);
	assert_int_equal(n, pfile_len);
	assert_memory_equal(again, pfile, n);
	free(again);
}

static void
test_info(void **state)
{
	struct keywrap_info info;
	struct kfile k;

	(void)state;
	memset(&info, 0xee, sizeof(info));
	assert_int_equal(keywrap_info(&info, pfile, pfile_len), 0);
	assert_memory_equal(info.public_key, secrets.sign_sk + 32, 32);
	assert_int_equal(info.kdf, KEYWRAP_KDF_ARGON2ID);
	parse(&k, pfile, pfile_len);
	assert_true(info.opslimit == k.ops);
	assert_true(info.memlimit == k.mem);
	assert_true(info.opslimit >= KEYWRAP_OPSLIMIT_MIN);
	assert_true(info.memlimit >= KEYWRAP_MEMLIMIT_MIN);

	memset(&info, 0xee, sizeof(info));
	assert_int_equal(keywrap_info(&info, nfile, nfile_len), 0);
	assert_memory_equal(info.public_key, secrets.sign_sk + 32, 32);
	assert_int_equal(info.kdf, KEYWRAP_KDF_NONE);
	assert_true(info.opslimit == 0);
	assert_true(info.memlimit == 0);
}

static void
test_none_roundtrip(void **state)
{
	struct keywrap_secrets out;

	(void)state;
	memset(&out, 0, sizeof(out));
	assert_int_equal(keywrap_open(&out, nfile, nfile_len, NULL, 0), 0);
	assert_secrets_equal(&out, &secrets);
	sodium_memzero(&out, sizeof(out));
}

/* argon2id calls 2 to 5. */
static void
test_passphrase(void **state)
{
	struct keywrap_secrets out;
	struct kfile k;
	uint8_t *f;
	size_t n;
	int rc;

	(void)state;
	memset(&out, 0, sizeof(out));
	assert_int_equal(keywrap_open(&out, pfile, pfile_len, pass,
	    strlen(pass)), 0);
	assert_secrets_equal(&out, &secrets);
	sodium_memzero(&out, sizeof(out));

	/* One character short of the passphrase. */
	assert_int_equal(keywrap_open(&out, pfile, pfile_len, pass,
	    strlen(pass) - 1), SAMEN_EPASSPHRASE);

	/* A flipped bit in the salt, the public key (the ciphertext is
	 * covered, byte by byte, with the kdf-none file). */
	parse(&k, pfile, pfile_len);
	f = malloc(pfile_len);
	assert_non_null(f);
	n = pfile_len;

	memcpy(f, pfile, n);
	f[k.off[F_SALT] + 2 + 7] ^= 0x01;
	rc = keywrap_open(&out, f, n, pass, strlen(pass));
	assert_true(rc < 0);

	/* The public key is bound in: another key, another box key. */
	memcpy(f, pfile, n);
	f[k.off[F_PK] + 2 + 31] ^= 0x80;
	rc = keywrap_open(&out, f, n, pass, strlen(pass));
	assert_true(rc < 0);
	free(f);
	sodium_memzero(&out, sizeof(out));
}

/* Opens a hand-built variant of a file; returns open's and info's codes. */
static void
variant(const uint8_t *file, size_t len, void (*edit)(struct kfile *),
    int *open_rc, int *info_rc, int with_pass)
{
	struct keywrap_secrets out;
	struct keywrap_info info;
	struct kfile k;
	uint8_t *f;
	size_t n;

	parse(&k, file, len);
	edit(&k);
	f = build(&k, &n);
	*info_rc = keywrap_info(&info, f, n);
	*open_rc = keywrap_open(&out, f, n, with_pass ? pass : NULL,
	    with_pass ? strlen(pass) : 0);
	sodium_memzero(&out, sizeof(out));
	free(f);
}

static void edit_ops_low(struct kfile *k) { k->ops = KEYWRAP_OPSLIMIT_MIN - 1; }
static void edit_ops_zero(struct kfile *k) { k->ops = 0; }
static void edit_mem_low(struct kfile *k) { k->mem = KEYWRAP_MEMLIMIT_MIN - 1; }
static void edit_mem_small(struct kfile *k) { k->mem = 8192; }
static void edit_version2(struct kfile *k) { k->version = 2; }
static void edit_version0(struct kfile *k) { k->version = 0; }
static void edit_version_big(struct kfile *k) { k->version = 1u << 20; }
static void edit_magic(struct kfile *k) { k->magic = "samen-keyz"; }
static void edit_magic_empty(struct kfile *k) { k->magic_len = 0; }
static void edit_kdf_unknown(struct kfile *k) { k->kdf = 2; }
static void edit_ct_short(struct kfile *k) { k->ct_len -= 1; }
static void edit_ct_empty(struct kfile *k) { k->ct_len = 0; }
static void edit_ops_one(struct kfile *k) { k->ops = 1; }
static void edit_mem_one(struct kfile *k) { k->mem = 1; }
static void edit_salt(struct kfile *k) { k->salt[15] ^= 1; }

static void
edit_none_to_weak_argon(struct kfile *k)
{
	k->kdf = KEYWRAP_KDF_ARGON2ID;
	k->ops = 1;
	k->mem = 8192;
}

static void
test_weak_kdf(void **state)
{
	int orc, irc;

	(void)state;
	/* Below the floor: refused before any argon2id runs. */
	variant(pfile, pfile_len, edit_ops_low, &orc, &irc, 1);
	assert_int_equal(irc, SAMEN_EWEAKKDF);
	assert_int_equal(orc, SAMEN_EWEAKKDF);
	variant(pfile, pfile_len, edit_ops_zero, &orc, &irc, 1);
	assert_int_equal(irc, SAMEN_EWEAKKDF);
	assert_int_equal(orc, SAMEN_EWEAKKDF);
	variant(pfile, pfile_len, edit_mem_low, &orc, &irc, 1);
	assert_int_equal(irc, SAMEN_EWEAKKDF);
	assert_int_equal(orc, SAMEN_EWEAKKDF);
	variant(pfile, pfile_len, edit_mem_small, &orc, &irc, 1);
	assert_int_equal(irc, SAMEN_EWEAKKDF);
	assert_int_equal(orc, SAMEN_EWEAKKDF);
	/* A no-passphrase file turned into a cheap argon2id one. */
	variant(nfile, nfile_len, edit_none_to_weak_argon, &orc, &irc, 1);
	assert_int_equal(irc, SAMEN_EWEAKKDF);
	assert_int_equal(orc, SAMEN_EWEAKKDF);
}

static void
test_version(void **state)
{
	void (*edits[])(struct kfile *) = { edit_version2, edit_version0,
	    edit_version_big };
	size_t i;
	int orc, irc;

	(void)state;
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		variant(nfile, nfile_len, edits[i], &orc, &irc, 0);
		assert_int_equal(irc, SAMEN_EVERSION);
		assert_true(orc == SAMEN_EVERSION || orc == SAMEN_EKEYFILE);
		variant(pfile, pfile_len, edits[i], &orc, &irc, 1);
		assert_int_equal(irc, SAMEN_EVERSION);
		assert_true(orc == SAMEN_EVERSION || orc == SAMEN_EKEYFILE);
	}
}

static void
test_damaged(void **state)
{
	void (*edits[])(struct kfile *) = { edit_magic, edit_magic_empty,
	    edit_kdf_unknown, edit_ct_short, edit_ct_empty, edit_ops_one,
	    edit_mem_one, edit_salt };
	size_t i;
	int orc, irc;

	(void)state;
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		variant(nfile, nfile_len, edits[i], &orc, &irc, 0);
		if (orc >= 0)
			fail_msg("edit %zu opened", i);
		if (i < 3)
			assert_true(irc < 0);	/* public part is wrong */
	}
}

static void
test_truncated(void **state)
{
	struct keywrap_secrets out;
	struct keywrap_info info;
	uint8_t *f;
	size_t k;

	(void)state;
	for (k = 0; k < nfile_len; k++) {
		f = malloc(k ? k : 1);
		assert_non_null(f);
		memcpy(f, nfile, k);
		if (keywrap_info(&info, f, k) != SAMEN_EKEYFILE)
			fail_msg("info on %zu of %zu bytes", k, nfile_len);
		if (keywrap_open(&out, f, k, NULL, 0) != SAMEN_EKEYFILE)
			fail_msg("open on %zu of %zu bytes", k, nfile_len);
		free(f);
	}
	/* Same for the passphrase file: no argon2id runs on a broken file. */
	for (k = 0; k < pfile_len; k += 7) {
		f = malloc(k ? k : 1);
		assert_non_null(f);
		memcpy(f, pfile, k);
		assert_int_equal(keywrap_info(&info, f, k), SAMEN_EKEYFILE);
		assert_int_equal(keywrap_open(&out, f, k, pass, strlen(pass)),
		    SAMEN_EKEYFILE);
		free(f);
	}
	/* A byte too many. */
	f = malloc(nfile_len + 1);
	assert_non_null(f);
	memcpy(f, nfile, nfile_len);
	f[nfile_len] = 0;
	assert_int_equal(keywrap_info(&info, f, nfile_len + 1),
	    SAMEN_EKEYFILE);
	assert_int_equal(keywrap_open(&out, f, nfile_len + 1, NULL, 0),
	    SAMEN_EKEYFILE);
	free(f);
	sodium_memzero(&out, sizeof(out));
}

/*
 * Every byte of the kdf-none file, flipped three ways: open fails (every
 * public field is bound into the box key, the rest is the box itself), and
 * never hands out other secrets.
 */
static void
test_tamper_none(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	struct keywrap_secrets out;
	uint8_t *f;
	size_t i, m;
	int rc;

	(void)state;
	f = malloc(nfile_len);
	assert_non_null(f);
	for (i = 0; i < nfile_len; i++) {
		for (m = 0; m < sizeof(masks); m++) {
			memcpy(f, nfile, nfile_len);
			f[i] ^= masks[m];
			memset(&out, 0, sizeof(out));
			rc = keywrap_open(&out, f, nfile_len, NULL, 0);
			if (rc == 0) {
				/* Never other secrets. */
				assert_secrets_equal(&out, &secrets);
				fail_msg("byte %zu ^ 0x%02x opened", i,
				    masks[m]);
			}
			assert_true(rc < 0);
		}
	}
	free(f);
	sodium_memzero(&out, sizeof(out));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_none),
		cmocka_unit_test(test_format_argon2),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_none_roundtrip),
		cmocka_unit_test(test_passphrase),
		cmocka_unit_test(test_weak_kdf),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_tamper_none),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
