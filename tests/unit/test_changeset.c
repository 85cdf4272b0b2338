/* test_changeset: signed headers, hashed payloads, sealed and purged chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "changeset.h"
#include "error.h"
#include "ops.h"
#include "wire.h"

#define NCHUNKS 3

/* One change set, built once per test by changeset_build(). */
struct fix {
	uint8_t pk[32], sk[64], key[CS_KEYLEN];
	uint8_t rids[NCHUNKS][16];
	uint8_t data[NCHUNKS][1000];
	size_t data_len[NCHUNKS];
	struct cs_plain plain[NCHUNKS];
	uint8_t nonces[NCHUNKS * CS_NONCELEN];
	struct cs_header h;
	uint8_t id[CS_IDLEN];
	uint8_t *hdr, *pl;
	size_t hdr_len, pl_len;
};

/* f->hdr and f->pl: f's change set, built (again) from its fields. */
static void
fix_build(struct fix *f)
{
	struct wbuf hw, pw;

	free(f->hdr);
	free(f->pl);
	wire_init(&hw);
	wire_init(&pw);
	changeset_build(&hw, &pw, f->id, &f->h, f->sk, f->key, f->plain,
	    NCHUNKS, f->nonces);
	f->hdr = wire_take(&hw, &f->hdr_len);
	f->pl = wire_take(&pw, &f->pl_len);
	wire_free(&hw);
	wire_free(&pw);
}

static struct fix *
make(uint64_t seq)
{
	static const size_t lens[NCHUNKS] = { 5, 200, 1000 };
	struct fix *f;
	size_t i, j;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(crypto_sign_keypair(f->pk, f->sk), 0);
	randombytes_buf(f->key, sizeof(f->key));
	randombytes_buf(f->nonces, sizeof(f->nonces));
	for (i = 0; i < NCHUNKS; i++) {
		randombytes_buf(f->rids[i], 16);
		f->data_len[i] = lens[i];
		for (j = 0; j < lens[i]; j++)
			f->data[i][j] = (uint8_t)(i * 101 + j * 7);
		changeset_rtag(f->plain[i].rtag, f->key, "case", 4,
		    f->rids[i]);
		f->plain[i].data = f->data[i];
		f->plain[i].len = f->data_len[i];
	}
	memcpy(f->h.author, f->pk, 32);
	randombytes_buf(f->h.circle, sizeof(f->h.circle));
	f->h.epoch = 3;
	f->h.seq = seq;
	if (seq != 1)
		randombytes_buf(f->h.prev, sizeof(f->h.prev));
	f->h.hlc = 0x0191234567890003ULL;
	/* Fields build fills: make them wrong first. */
	f->h.version = 77;
	f->h.payload_len = 12345;
	memset(f->h.payload_hash, 0xee, CS_HASHLEN);
	memset(f->h.sig, 0xee, CS_SIGLEN);
	fix_build(f);
	return f;
}

static void
unmake(struct fix *f)
{
	free(f->hdr);
	free(f->pl);
	sodium_memzero(f, sizeof(*f));
	free(f);
}

static void
assert_header_equal(const struct cs_header *a, const struct cs_header *b)
{
	assert_int_equal(a->version, b->version);
	assert_memory_equal(a->author, b->author, 32);
	assert_memory_equal(a->circle, b->circle, CS_CIRCLELEN);
	assert_int_equal(a->epoch, b->epoch);
	assert_true(a->seq == b->seq);
	assert_memory_equal(a->prev, b->prev, CS_IDLEN);
	assert_true(a->hlc == b->hlc);
	assert_true(a->payload_len == b->payload_len);
	assert_memory_equal(a->payload_hash, b->payload_hash, CS_HASHLEN);
	assert_memory_equal(a->sig, b->sig, CS_SIGLEN);
}

/*
 * A header written by hand from the layout in changeset.h, with room to
 * break it: wide integer fields, odd binary lengths, a 9- or 11-array, seq
 * in a long form.
 */
struct hh {
	uint32_t nfields;		/* 10 normally; 9 is the signed part */
	uint64_t version, epoch, seq, hlc, payload_len;
	uint8_t author[33], circle[17], prev[33], hash[33], sig[65];
	size_t author_len, circle_len, prev_len, hash_len, sig_len;
	int seq_u64_form;		/* seq as 0xcf + 8 bytes */
	int version_u8_form;		/* version as 0xcc + 1 byte */
};

static void
hh_from(struct hh *x, const struct cs_header *h)
{
	memset(x, 0, sizeof(*x));
	x->nfields = 10;
	x->version = h->version;
	x->epoch = h->epoch;
	x->seq = h->seq;
	x->hlc = h->hlc;
	x->payload_len = h->payload_len;
	memcpy(x->author, h->author, 32);
	x->author_len = 32;
	memcpy(x->circle, h->circle, CS_CIRCLELEN);
	x->circle_len = CS_CIRCLELEN;
	memcpy(x->prev, h->prev, CS_IDLEN);
	x->prev_len = CS_IDLEN;
	memcpy(x->hash, h->payload_hash, CS_HASHLEN);
	x->hash_len = CS_HASHLEN;
	memcpy(x->sig, h->sig, CS_SIGLEN);
	x->sig_len = CS_SIGLEN;
}

static uint8_t *
hh_encode(const struct hh *x, size_t *n)
{
	struct wbuf w;
	uint8_t b[9];
	int i;

	wire_init(&w);
	wire_put_array(&w, x->nfields);
	if (x->version_u8_form) {
		b[0] = 0xcc;
		b[1] = (uint8_t)x->version;
		wire_put_raw(&w, b, 2);
	} else
		wire_put_u64(&w, x->version);
	wire_put_bin(&w, x->author, x->author_len);
	wire_put_bin(&w, x->circle, x->circle_len);
	wire_put_u64(&w, x->epoch);
	if (x->seq_u64_form) {
		b[0] = 0xcf;
		for (i = 0; i < 8; i++)
			b[1 + i] = (uint8_t)(x->seq >> (56 - 8 * i));
		wire_put_raw(&w, b, 9);
	} else
		wire_put_u64(&w, x->seq);
	wire_put_bin(&w, x->prev, x->prev_len);
	wire_put_u64(&w, x->hlc);
	wire_put_u64(&w, x->payload_len);
	wire_put_bin(&w, x->hash, x->hash_len);
	if (x->nfields >= 10)
		wire_put_bin(&w, x->sig, x->sig_len);
	if (x->nfields >= 11)
		wire_put_nil(&w);
	return wire_take(&w, n);
}

static int
hh_decode(const struct hh *x)
{
	struct cs_header h;
	uint8_t *p;
	size_t n;
	int rc;

	p = hh_encode(x, &n);
	rc = changeset_header_decode(&h, p, n);
	free(p);
	return rc;
}

/* The byte span of each chunk of a payload, found with our own reader. */
static uint32_t
chunk_spans(const uint8_t *p, size_t n, const uint8_t **start, size_t *len,
    uint32_t max)
{
	struct wire_reader r;
	uint32_t k, i;

	wire_reader_init(&r, p, n);
	assert_int_equal(wire_get_array(&r, &k, max), 0);
	for (i = 0; i < k; i++) {
		start[i] = r.p;
		assert_int_equal(wire_skip(&r, 2), 0);
		len[i] = (size_t)(r.p - start[i]);
	}
	assert_int_equal(wire_end(&r), 0);
	return k;
}

static void
ad_for(uint8_t *ad, size_t *adlen, const struct cs_header *h,
    const uint8_t rtag[CS_RTAGLEN])
{
	size_t i = 0;
	int k;

	memcpy(ad, "samen-chunk-1", 13);
	i = 13;
	memcpy(ad + i, h->circle, CS_CIRCLELEN);
	i += CS_CIRCLELEN;
	memcpy(ad + i, h->author, 32);
	i += 32;
	for (k = 0; k < 8; k++)
		ad[i++] = (uint8_t)(h->seq >> (8 * k));
	memcpy(ad + i, rtag, CS_RTAGLEN);
	i += CS_RTAGLEN;
	*adlen = i;
}

/* What build wrote, checked against the format with libsodium directly. */
static void
test_build_format(void **state)
{
	uint8_t id[CS_IDLEN], hashes[NCHUNKS * CS_HASHLEN], ph[CS_HASHLEN];
	uint8_t ad[128], out[1000];
	unsigned long long outlen;
	const uint8_t *start[NCHUNKS + 1];
	size_t len[NCHUNKS + 1], adlen, n;
	struct hh x;
	struct fix *f;
	uint8_t *p;
	uint32_t i, k;

	(void)state;
	f = make(5);
	assert_int_equal(f->h.version, CS_VERSION);
	assert_true(f->h.payload_len == f->pl_len);
	assert_true(f->hdr_len <= CS_MAX_HEADER);

	/* id = BLAKE2b-256 of the header bytes. */
	crypto_generichash(id, sizeof(id), f->hdr, f->hdr_len, NULL, 0);
	assert_memory_equal(f->id, id, CS_IDLEN);
	memset(id, 0, sizeof(id));
	changeset_id(id, f->hdr, f->hdr_len);
	assert_memory_equal(f->id, id, CS_IDLEN);

	/* The header is the 10-array of the fields, in order. */
	hh_from(&x, &f->h);
	p = hh_encode(&x, &n);
	assert_int_equal(n, f->hdr_len);
	assert_memory_equal(p, f->hdr, n);
	free(p);

	/* The signature is ed25519 over the 9-array. */
	x.nfields = 9;
	p = hh_encode(&x, &n);
	assert_int_equal(crypto_sign_verify_detached(f->h.sig, p, n, f->pk),
	    0);
	free(p);

	/* payload_hash = H(H(chunk 0) || H(chunk 1) || ...). */
	k = chunk_spans(f->pl, f->pl_len, start, len, NCHUNKS + 1);
	assert_int_equal(k, NCHUNKS);
	for (i = 0; i < k; i++)
		crypto_generichash(hashes + i * CS_HASHLEN, CS_HASHLEN,
		    start[i], len[i], NULL, 0);
	crypto_generichash(ph, sizeof(ph), hashes, sizeof(hashes), NULL, 0);
	assert_memory_equal(f->h.payload_hash, ph, CS_HASHLEN);

	/* Each chunk: [rtag, nonce, XChaCha20-Poly1305 with the AD]. */
	for (i = 0; i < k; i++) {
		struct wire_reader r;
		uint8_t rtag[CS_RTAGLEN], nonce[CS_NONCELEN];
		const uint8_t *ct;
		size_t ctlen;

		wire_reader_init(&r, start[i], len[i]);
		assert_int_equal(wire_get_array_n(&r, 3), 0);
		assert_int_equal(wire_get_bin_fixed(&r, rtag, CS_RTAGLEN), 0);
		assert_int_equal(wire_get_bin_fixed(&r, nonce, CS_NONCELEN),
		    0);
		assert_int_equal(wire_get_bin(&r, &ct, &ctlen, 4096), 0);
		assert_int_equal(wire_end(&r), 0);
		assert_memory_equal(rtag, f->plain[i].rtag, CS_RTAGLEN);
		assert_memory_equal(nonce, f->nonces + i * CS_NONCELEN,
		    CS_NONCELEN);
		assert_int_equal(ctlen, f->data_len[i] + CS_ABYTES);
		ad_for(ad, &adlen, &f->h, rtag);
		assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
		    out, &outlen, NULL, ct, ctlen, ad, adlen, nonce, f->key),
		    0);
		assert_int_equal(outlen, f->data_len[i]);
		assert_memory_equal(out, f->data[i], f->data_len[i]);
	}
	unmake(f);
}

static void
test_header_roundtrip(void **state)
{
	struct cs_header h;
	struct wbuf w;
	struct fix *f;
	uint64_t seqs[] = { 1, 2, 5, 127, 128, 0x10000, 0x123456789aULL };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		f = make(seqs[i]);
		memset(&h, 0x5a, sizeof(h));
		assert_int_equal(changeset_header_decode(&h, f->hdr,
		    f->hdr_len), 0);
		assert_header_equal(&h, &f->h);
		assert_int_equal(changeset_verify(&h), 0);
		assert_int_equal(changeset_verify(&f->h), 0);
		wire_init(&w);
		changeset_header_encode(&w, &h);
		assert_int_equal(wire_len(&w), f->hdr_len);
		assert_memory_equal(wire_data(&w), f->hdr, f->hdr_len);
		/* encode appends. */
		changeset_header_encode(&w, &h);
		assert_int_equal(wire_len(&w), 2 * f->hdr_len);
		assert_memory_equal(wire_data(&w) + f->hdr_len, f->hdr,
		    f->hdr_len);
		wire_free(&w);
		unmake(f);
	}
}

static void
test_sign_verify(void **state)
{
	uint8_t pk2[32], sk2[64], sig[CS_SIGLEN];
	struct cs_header h;
	struct fix *f;

	(void)state;
	f = make(7);
	/* Deterministic: signing again gives the same signature. */
	h = f->h;
	memset(h.sig, 0, CS_SIGLEN);
	changeset_sign(&h, f->sk);
	assert_memory_equal(h.sig, f->h.sig, CS_SIGLEN);
	assert_int_equal(changeset_verify(&h), 0);

	/* Every signed field counts. */
#define CHANGED(stmt) do { h = f->h; stmt; \
	assert_int_equal(changeset_verify(&h), SAMEN_ESIG); } while (0)
	CHANGED(h.version = 2);
	CHANGED(h.author[31] ^= 1);
	CHANGED(h.circle[0] ^= 1);
	CHANGED(h.epoch++);
	CHANGED(h.seq++);
	CHANGED(h.prev[17] ^= 0x40);
	CHANGED(h.hlc++);
	CHANGED(h.payload_len--);
	CHANGED(h.payload_hash[31] ^= 0x80);
	CHANGED(h.sig[0] ^= 1);
	CHANGED(h.sig[63] ^= 0x10);
	CHANGED(memset(h.sig, 0, CS_SIGLEN));
#undef CHANGED

	/* Signed by someone else than the author it names. */
	assert_int_equal(crypto_sign_keypair(pk2, sk2), 0);
	h = f->h;
	changeset_sign(&h, sk2);
	memcpy(sig, h.sig, CS_SIGLEN);
	assert_int_equal(changeset_verify(&h), SAMEN_ESIG);
	/* ... and fine once the header names that author. */
	memcpy(h.author, pk2, 32);
	changeset_sign(&h, sk2);
	assert_int_equal(changeset_verify(&h), 0);
	unmake(f);
}

/* Any flipped byte of the header: the form is refused or the signature is. */
static void
test_header_flip(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x02, 0x10, 0x80, 0xff };
	uint8_t *p, id[CS_IDLEN];
	struct cs_header h;
	struct wbuf w;
	struct fix *f;
	size_t i, m;
	int rc, decoded = 0;

	(void)state;
	f = make(9);
	p = malloc(f->hdr_len);
	assert_non_null(p);
	wire_init(&w);
	for (i = 0; i < f->hdr_len; i++) {
		for (m = 0; m < sizeof(masks); m++) {
			memcpy(p, f->hdr, f->hdr_len);
			p[i] ^= masks[m];
			changeset_id(id, p, f->hdr_len);
			assert_memory_not_equal(id, f->id, CS_IDLEN);
			rc = changeset_header_decode(&h, p, f->hdr_len);
			if (rc != 0) {
				assert_true(rc < 0);
				continue;
			}
			decoded++;
			if (changeset_verify(&h) != SAMEN_ESIG)
				fail_msg("byte %zu ^ 0x%02x verifies", i,
				    masks[m]);
			/* What decodes is canonical: same bytes back. */
			wire_reset(&w);
			changeset_header_encode(&w, &h);
			assert_int_equal(wire_len(&w), f->hdr_len);
			assert_memory_equal(wire_data(&w), p, f->hdr_len);
		}
	}
	/* Most flips inside the values keep the form: they were tested. */
	assert_true(decoded > (int)f->hdr_len);
	wire_free(&w);
	free(p);
	unmake(f);
}

static void
test_header_rules(void **state)
{
	struct hh base, x;
	struct fix *f;
	int rc;

	(void)state;
	f = make(2);
	hh_from(&base, &f->h);
	assert_int_equal(hh_decode(&base), 0);

#define RULE(stmt, ok) do { x = base; stmt; rc = hh_decode(&x); \
	if (!(ok)) fail_msg("%s: rc %d", #stmt, rc); } while (0)
#define BAD_VALUE (rc == SAMEN_EINVAL || rc == SAMEN_ETOOBIG)
	/* The header names no code for a broken seq/prev pairing; ECHAIN
	 * ("seq/prev do not continue the chain") fits as well. */
#define BAD_CHAIN (BAD_VALUE || rc == SAMEN_ECHAIN)
	RULE(x.version = 2, rc == SAMEN_EVERSION);
	RULE(x.version = 0, rc == SAMEN_EVERSION);
	RULE(x.version = 255, rc == SAMEN_EVERSION);
	RULE(x.version = 256, rc < 0);
	RULE(x.seq = 0, BAD_VALUE);
	RULE(x.epoch = 0, BAD_VALUE);
	RULE(x.epoch = 0x100000000ULL, rc < 0);
	RULE(x.epoch = 0xffffffffULL, rc == 0);
	/* prev is all zero exactly when seq is 1. */
	RULE(x.seq = 1, BAD_CHAIN);
	RULE((x.seq = 1, memset(x.prev, 0, 32)), rc == 0);
	RULE(memset(x.prev, 0, 32), BAD_CHAIN);
	RULE((memset(x.prev, 0, 31), x.prev[31] = 1), rc == 0);
	RULE(x.payload_len = CS_MAX_PAYLOAD, rc == 0);
	RULE(x.payload_len = CS_MAX_PAYLOAD + 1ULL, BAD_VALUE);
	RULE(x.payload_len = UINT64_MAX, BAD_VALUE);
	RULE(x.seq = UINT64_MAX, rc == 0);
	/* Shape. */
	RULE(x.nfields = 9, rc < 0);
	RULE(x.nfields = 11, rc < 0);
	RULE(x.author_len = 31, rc < 0);
	RULE(x.author_len = 33, rc < 0);
	RULE(x.circle_len = 17, rc < 0);
	RULE(x.circle_len = 15, rc < 0);
	RULE(x.prev_len = 31, rc < 0);
	RULE(x.hash_len = 33, rc < 0);
	RULE(x.sig_len = 63, rc < 0);
	RULE(x.sig_len = 65, rc < 0);
	/* Canonical form. */
	RULE(x.seq_u64_form = 1, rc == SAMEN_ENONCANON);
	RULE(x.version_u8_form = 1, rc == SAMEN_ENONCANON);
	RULE((x.seq_u64_form = 1, x.seq = 0x100000000ULL), rc == 0);
#undef RULE
#undef BAD_VALUE
#undef BAD_CHAIN
	unmake(f);
}

static void
test_header_noncanonical_bin(void **state)
{
	struct cs_header h;
	struct wbuf w;
	struct fix *f;
	uint8_t *p;
	size_t n;

	(void)state;
	f = make(3);
	/* The author as a bin16: same bytes, longer form. The author bin
	 * starts right after the 1-byte array header and the version. */
	assert_int_equal(f->hdr[0], 0x9a);
	assert_int_equal(f->hdr[1], 0x01);
	assert_int_equal(f->hdr[2], 0xc4);
	assert_int_equal(f->hdr[3], 32);
	wire_init(&w);
	wire_put_raw(&w, f->hdr, 2);
	wire_put_raw(&w, "\xc5\x00\x20", 3);
	wire_put_raw(&w, f->hdr + 4, f->hdr_len - 4);
	p = wire_take(&w, &n);
	assert_int_equal(changeset_header_decode(&h, p, n), SAMEN_ENONCANON);
	free(p);
	/* The array as an array16. */
	wire_put_raw(&w, "\xdc\x00\x0a", 3);
	wire_put_raw(&w, f->hdr + 1, f->hdr_len - 1);
	p = wire_take(&w, &n);
	assert_int_equal(changeset_header_decode(&h, p, n), SAMEN_ENONCANON);
	free(p);
	wire_free(&w);
	unmake(f);
}

static void
test_header_trailing_truncated(void **state)
{
	struct cs_header h;
	struct fix *f;
	uint8_t *p;
	size_t k;

	(void)state;
	f = make(4);
	p = malloc(f->hdr_len + 1);
	assert_non_null(p);
	memcpy(p, f->hdr, f->hdr_len);
	p[f->hdr_len] = 0xc0;
	assert_int_equal(changeset_header_decode(&h, p, f->hdr_len + 1),
	    SAMEN_ETRAILING);
	p[f->hdr_len] = 0x00;
	assert_int_equal(changeset_header_decode(&h, p, f->hdr_len + 1),
	    SAMEN_ETRAILING);
	free(p);
	for (k = 0; k < f->hdr_len; k++) {
		p = malloc(k ? k : 1);
		assert_non_null(p);
		memcpy(p, f->hdr, k);
		if (changeset_header_decode(&h, p, k) != SAMEN_ETRUNC)
			fail_msg("prefix of %zu bytes", k);
		free(p);
	}
	unmake(f);
}

static void
test_payload_decode(void **state)
{
	const uint8_t *start[NCHUNKS], *q;
	size_t len[NCHUNKS];
	uint8_t hash[CS_HASHLEN];
	struct cs_payload pl;
	struct cs_header h;
	struct fix *f;
	uint32_t i;

	(void)state;
	f = make(5);
	chunk_spans(f->pl, f->pl_len, start, len, NCHUNKS);
	memset(&pl, 0x5a, sizeof(pl));
	assert_int_equal(changeset_payload_decode(&pl, f->pl, f->pl_len), 0);
	assert_int_equal(pl.nchunks, NCHUNKS);
	assert_non_null(pl.chunks);
	for (i = 0; i < NCHUNKS; i++) {
		const struct cs_chunk *c = &pl.chunks[i];

		assert_false(c->purged);
		assert_memory_equal(c->rtag, f->plain[i].rtag, CS_RTAGLEN);
		assert_memory_equal(c->nonce, f->nonces + i * CS_NONCELEN,
		    CS_NONCELEN);
		assert_int_equal(c->ct_len, f->data_len[i] + CS_ABYTES);
		/* Borrowed from the payload, at the end of its chunk. */
		q = start[i] + len[i] - c->ct_len;
		assert_ptr_equal(c->ct, q);
		crypto_generichash(hash, sizeof(hash), start[i], len[i], NULL,
		    0);
		assert_memory_equal(c->hash, hash, CS_HASHLEN);
	}
	assert_int_equal(changeset_payload_check(&f->h, &pl, f->pl_len), 0);

	/* The length counts while nothing is purged. */
	assert_int_equal(changeset_payload_check(&f->h, &pl, f->pl_len + 1),
	    SAMEN_EHASH);
	assert_int_equal(changeset_payload_check(&f->h, &pl, f->pl_len - 1),
	    SAMEN_EHASH);
	/* Another header's hash. */
	h = f->h;
	h.payload_hash[5] ^= 1;
	assert_int_equal(changeset_payload_check(&h, &pl, f->pl_len),
	    SAMEN_EHASH);
	/* Chunks in another order. */
	{
		struct cs_chunk t = pl.chunks[0];

		pl.chunks[0] = pl.chunks[1];
		pl.chunks[1] = t;
		assert_int_equal(changeset_payload_check(&f->h, &pl,
		    f->pl_len), SAMEN_EHASH);
	}
	changeset_payload_free(&pl);
	unmake(f);
}

static void
test_chunk_open(void **state)
{
	uint8_t *plain, key2[CS_KEYLEN];
	struct cs_payload pl;
	struct cs_header h;
	struct cs_chunk c;
	struct fix *f;
	size_t len;
	uint32_t i;

	(void)state;
	f = make(6);
	assert_int_equal(changeset_payload_decode(&pl, f->pl, f->pl_len), 0);
	for (i = 0; i < NCHUNKS; i++) {
		plain = NULL;
		len = 0;
		assert_int_equal(changeset_chunk_open(&plain, &len, &f->h,
		    &pl.chunks[i], f->key), 0);
		assert_int_equal(len, f->data_len[i]);
		assert_memory_equal(plain, f->data[i], len);
		free(plain);
	}

	/* Wrong circle key. */
	memcpy(key2, f->key, CS_KEYLEN);
	key2[0] ^= 1;
	assert_int_equal(changeset_chunk_open(&plain, &len, &f->h,
	    &pl.chunks[0], key2), SAMEN_EDECRYPT);
	randombytes_buf(key2, sizeof(key2));
	assert_int_equal(changeset_chunk_open(&plain, &len, &f->h,
	    &pl.chunks[1], key2), SAMEN_EDECRYPT);

	/* The chunk is bound to its author, circle, seq and rtag. */
#define OTHER(stmt) do { h = f->h; c = pl.chunks[2]; stmt; \
	assert_int_equal(changeset_chunk_open(&plain, &len, &h, &c, \
	    f->key), SAMEN_EDECRYPT); } while (0)
	OTHER(h.seq++);
	OTHER(h.author[0] ^= 1);
	OTHER(h.circle[15] ^= 1);
	OTHER(c.rtag[3] ^= 1);
	OTHER(c.nonce[23] ^= 1);
	OTHER(c.ct_len--);
#undef OTHER
	/* ... but not to the fields that AD leaves out. */
	h = f->h;
	h.hlc++;
	h.epoch++;
	assert_int_equal(changeset_chunk_open(&plain, &len, &h,
	    &pl.chunks[2], f->key), 0);
	free(plain);
	changeset_payload_free(&pl);
	unmake(f);
}

/*
 * Any flipped byte of the payload: the decoder refuses it, or the hash does;
 * a chunk that still opens is one that was not touched.
 */
static void
test_payload_flip(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	struct cs_payload pl;
	struct fix *f;
	uint8_t *p, *plain;
	size_t i, m, len;
	uint32_t k;
	int rc;

	(void)state;
	f = make(8);
	p = malloc(f->pl_len);
	assert_non_null(p);
	for (i = 0; i < f->pl_len; i++) {
		for (m = 0; m < sizeof(masks); m++) {
			memcpy(p, f->pl, f->pl_len);
			p[i] ^= masks[m];
			rc = changeset_payload_decode(&pl, p, f->pl_len);
			if (rc != 0) {
				assert_true(rc < 0);
				assert_null(pl.chunks);
				assert_int_equal(pl.nchunks, 0);
				continue;
			}
			if (changeset_payload_check(&f->h, &pl, f->pl_len) !=
			    SAMEN_EHASH)
				fail_msg("byte %zu ^ 0x%02x passes", i,
				    masks[m]);
			for (k = 0; k < pl.nchunks; k++) {
				rc = changeset_chunk_open(&plain, &len, &f->h,
				    &pl.chunks[k], f->key);
				if (rc != 0) {
					assert_true(rc == SAMEN_EDECRYPT ||
					    rc == SAMEN_EINVAL);
					continue;
				}
				assert_true(k < NCHUNKS);
				assert_int_equal(len, f->data_len[k]);
				assert_memory_equal(plain, f->data[k], len);
				free(plain);
			}
			changeset_payload_free(&pl);
		}
	}
	free(p);
	unmake(f);
}

static void
test_payload_trailing_truncated(void **state)
{
	struct cs_payload pl;
	struct fix *f;
	uint8_t *p;
	size_t k;
	int rc;

	(void)state;
	f = make(2);
	p = malloc(f->pl_len + 1);
	assert_non_null(p);
	memcpy(p, f->pl, f->pl_len);
	p[f->pl_len] = 0xc0;
	assert_int_equal(changeset_payload_decode(&pl, p, f->pl_len + 1),
	    SAMEN_ETRAILING);
	assert_null(pl.chunks);
	assert_int_equal(pl.nchunks, 0);
	free(p);
	for (k = 0; k < f->pl_len; k++) {
		p = malloc(k ? k : 1);
		assert_non_null(p);
		memcpy(p, f->pl, k);
		memset(&pl, 0x5a, sizeof(pl));
		rc = changeset_payload_decode(&pl, p, k);
		if (rc != SAMEN_ETRUNC)
			fail_msg("prefix of %zu bytes: rc %d", k, rc);
		assert_null(pl.chunks);
		assert_int_equal(pl.nchunks, 0);
		free(p);
	}
	unmake(f);
}

/* The payload with chunk i replaced by [hash], written by hand. */
static uint8_t *
purge(const struct fix *f, const int *which, const uint8_t *badhash,
    size_t *n)
{
	const uint8_t *start[NCHUNKS];
	size_t len[NCHUNKS];
	uint8_t hash[CS_HASHLEN];
	struct wbuf w;
	uint32_t i;

	chunk_spans(f->pl, f->pl_len, start, len, NCHUNKS);
	wire_init(&w);
	wire_put_array(&w, NCHUNKS);
	for (i = 0; i < NCHUNKS; i++) {
		if (!which[i]) {
			wire_put_raw(&w, start[i], len[i]);
			continue;
		}
		crypto_generichash(hash, sizeof(hash), start[i], len[i], NULL,
		    0);
		wire_put_array(&w, 1);
		wire_put_bin(&w, badhash ? badhash : hash, CS_HASHLEN);
	}
	return wire_take(&w, n);
}

static void
test_purged(void **state)
{
	static const int mid[NCHUNKS] = { 0, 1, 0 };
	static const int all[NCHUNKS] = { 1, 1, 1 };
	const uint8_t *start[NCHUNKS];
	uint8_t hash[CS_HASHLEN], bad[CS_HASHLEN], *p, *plain;
	size_t len[NCHUNKS], n, plen;
	struct cs_payload pl;
	struct fix *f;
	uint32_t i;

	(void)state;
	f = make(11);
	chunk_spans(f->pl, f->pl_len, start, len, NCHUNKS);

	p = purge(f, mid, NULL, &n);
	assert_true(n != f->pl_len);
	assert_int_equal(changeset_payload_decode(&pl, p, n), 0);
	assert_int_equal(pl.nchunks, NCHUNKS);
	assert_false(pl.chunks[0].purged);
	assert_true(pl.chunks[1].purged);
	assert_false(pl.chunks[2].purged);
	crypto_generichash(hash, sizeof(hash), start[1], len[1], NULL, 0);
	assert_memory_equal(pl.chunks[1].hash, hash, CS_HASHLEN);
	/* Header and hash chain still hold, though the length differs. */
	assert_int_equal(changeset_payload_check(&f->h, &pl, n), 0);
	/* The purged chunk has nothing to open; the others still do. */
	plain = NULL;
	assert_int_equal(changeset_chunk_open(&plain, &plen, &f->h,
	    &pl.chunks[1], f->key), SAMEN_EINVAL);
	for (i = 0; i < NCHUNKS; i += 2) {
		assert_int_equal(changeset_chunk_open(&plain, &plen, &f->h,
		    &pl.chunks[i], f->key), 0);
		assert_int_equal(plen, f->data_len[i]);
		assert_memory_equal(plain, f->data[i], plen);
		free(plain);
	}
	changeset_payload_free(&pl);
	assert_null(pl.chunks);
	free(p);

	/* Everything purged. */
	p = purge(f, all, NULL, &n);
	assert_int_equal(changeset_payload_decode(&pl, p, n), 0);
	assert_int_equal(changeset_payload_check(&f->h, &pl, n), 0);
	changeset_payload_free(&pl);
	free(p);

	/* A purged chunk that carries another hash. */
	memcpy(bad, hash, sizeof(bad));
	bad[0] ^= 1;
	p = purge(f, mid, bad, &n);
	assert_int_equal(changeset_payload_decode(&pl, p, n), 0);
	assert_int_equal(changeset_payload_check(&f->h, &pl, n),
	    SAMEN_EHASH);
	changeset_payload_free(&pl);
	free(p);
	unmake(f);
}

/*
 * changeset_payload_purge writes what purge() writes by hand: the chunks
 * it is told to in their purged form, the others byte for byte, so the
 * header still checks; a chunk purged already stays so and is not counted.
 */
static void
test_payload_purge(void **state)
{
	static const int mid[NCHUNKS] = { 0, 1, 0 };
	static const int all[NCHUNKS] = { 1, 1, 1 };
	static const uint8_t none[NCHUNKS] = { 0, 0, 0 };
	uint8_t mask[NCHUNKS], *p, *q;
	struct cs_payload pl, pl2;
	struct wbuf w;
	struct fix *f;
	size_t n, m;
	uint32_t i;

	(void)state;
	f = make(12);
	assert_int_equal(changeset_payload_decode(&pl, f->pl, f->pl_len), 0);
	for (i = 0; i < NCHUNKS; i++)
		mask[i] = (uint8_t)mid[i];
	wire_init(&w);
	assert_int_equal(changeset_payload_purge(&w, &pl, mask), 1);
	q = purge(f, mid, NULL, &n);
	assert_int_equal(wire_len(&w), n);
	assert_memory_equal(wire_data(&w), q, n);
	free(q);
	assert_int_equal(changeset_payload_decode(&pl2, wire_data(&w),
	    wire_len(&w)), 0);
	assert_int_equal(changeset_payload_check(&f->h, &pl2, wire_len(&w)),
	    0);
	assert_true(pl2.chunks[1].purged);

	/* Nothing more to purge: the same bytes again. */
	p = wire_take(&w, &m);
	wire_init(&w);
	assert_int_equal(changeset_payload_purge(&w, &pl2, none), 0);
	assert_int_equal(wire_len(&w), m);
	assert_memory_equal(wire_data(&w), p, m);
	wire_free(&w);
	/* The rest too: two more, and the hand-made bytes of all three. */
	memset(mask, 1, sizeof(mask));
	wire_init(&w);
	assert_int_equal(changeset_payload_purge(&w, &pl2, mask), 2);
	q = purge(f, all, NULL, &n);
	assert_int_equal(wire_len(&w), n);
	assert_memory_equal(wire_data(&w), q, n);
	free(q);
	wire_free(&w);
	changeset_payload_free(&pl2);
	free(p);

	/* Nothing purged: the payload as built. */
	wire_init(&w);
	assert_int_equal(changeset_payload_purge(&w, &pl, none), 0);
	assert_int_equal(wire_len(&w), f->pl_len);
	assert_memory_equal(wire_data(&w), f->pl, f->pl_len);
	wire_free(&w);
	changeset_payload_free(&pl);
	unmake(f);
}

/*
 * The fixture with chunks that are records' ops (ops_encode): chunk i sets
 * "name" to "v<i>" on rids[i]; chunk bad_rtag (none if >= NCHUNKS)
 * carries the rtag of the next chunk's record.
 */
static struct fix *
make_ops(int bad_rtag)
{
	struct fix *f = make(1);
	struct wbuf ow;
	char v[NCHUNKS][3];
	int i;

	for (i = 0; i < NCHUNKS; i++) {
		struct op o = { OP_SET, "name", 4, v[i], 2, 0, NULL, 0 };
		struct ops_chunk c;

		v[i][0] = 'v';
		v[i][1] = (char)('0' + i);
		v[i][2] = '\0';
		memset(&c, 0, sizeof(c));
		c.collection = "case";
		c.collection_len = 4;
		memcpy(c.rid, f->rids[i], 16);
		c.ops = &o;
		c.nops = 1;
		wire_init(&ow);
		ops_encode(&ow, &c);
		assert_true(wire_len(&ow) <= sizeof(f->data[i]));
		f->data_len[i] = wire_len(&ow);
		memcpy(f->data[i], wire_data(&ow), f->data_len[i]);
		wire_free(&ow);
		changeset_rtag(f->plain[i].rtag, f->key, "case", 4,
		    f->rids[i == bad_rtag ? (i + 1) % NCHUNKS : i]);
		f->plain[i].len = f->data_len[i];
	}
	fix_build(f);
	return f;
}

/*
 * changeset_open reads every chunk as a merge needs it (decrypted, decoded,
 * rtag checked), leaves a purged one empty, and takes nothing from a
 * change set with one chunk that does not read: sealed under another key,
 * not ops, or an rtag naming another record (the sanitizers check that
 * what it read before is freed).
 */
static void
test_open(void **state)
{
	static const int mid[NCHUNKS] = { 0, 1, 0 };
	struct cs_payload pl;
	struct cs_opened op;
	struct ops_chunk oc;
	struct fix *f;
	uint8_t key[CS_KEYLEN], *plain, *p;
	size_t plen, n;
	int i;

	(void)state;
	f = make_ops(NCHUNKS);
	assert_int_equal(changeset_payload_decode(&pl, f->pl, f->pl_len), 0);
	assert_int_equal(changeset_open(&op, &f->h, &pl, f->key), 0);
	assert_int_equal(op.n, NCHUNKS);
	for (i = 0; i < NCHUNKS; i++) {
		const struct ops_chunk *c = &op.chunks[i].oc;
		const char v[2] = { 'v', (char)('0' + i) };

		assert_non_null(op.chunks[i].plain);
		assert_int_equal(op.chunks[i].len, f->data_len[i]);
		assert_memory_equal(c->collection, "case", 4);
		assert_memory_equal(c->rid, f->rids[i], 16);
		assert_int_equal(c->nops, 1);
		assert_memory_equal(c->ops[0].value, v, 2);
	}
	changeset_opened_free(&op);
	assert_null(op.chunks);
	assert_int_equal(op.n, 0);
	changeset_opened_free(&op);	/* twice: nothing left */
	changeset_opened_free(NULL);

	/* Another key: not one chunk reads. */
	memcpy(key, f->key, sizeof(key));
	key[0] ^= 1;
	assert_int_equal(changeset_chunk_read(&plain, &plen, &oc, &f->h,
	    &pl.chunks[0], key), SAMEN_EDECRYPT);
	assert_null(plain);
	assert_int_equal(changeset_open(&op, &f->h, &pl, key),
	    SAMEN_EDECRYPT);
	assert_null(op.chunks);
	changeset_payload_free(&pl);

	/* A purged chunk is left empty; the others read. */
	p = purge(f, mid, NULL, &n);
	assert_int_equal(changeset_payload_decode(&pl, p, n), 0);
	assert_int_equal(changeset_open(&op, &f->h, &pl, f->key), 0);
	assert_int_equal(op.n, NCHUNKS);
	assert_non_null(op.chunks[0].plain);
	assert_null(op.chunks[1].plain);
	assert_non_null(op.chunks[2].plain);
	changeset_opened_free(&op);
	changeset_payload_free(&pl);
	free(p);
	unmake(f);

	/* The last chunk's rtag names another record. */
	f = make_ops(NCHUNKS - 1);
	assert_int_equal(changeset_payload_decode(&pl, f->pl, f->pl_len), 0);
	assert_int_equal(changeset_chunk_read(&plain, &plen, &oc, &f->h,
	    &pl.chunks[0], f->key), 0);
	ops_chunk_free(&oc);
	sodium_memzero(plain, plen);
	free(plain);
	assert_int_equal(changeset_chunk_read(&plain, &plen, &oc, &f->h,
	    &pl.chunks[NCHUNKS - 1], f->key), SAMEN_EHASH);
	assert_null(plain);
	assert_int_equal(changeset_open(&op, &f->h, &pl, f->key), SAMEN_EHASH);
	assert_null(op.chunks);
	assert_int_equal(op.n, 0);
	changeset_payload_free(&pl);
	unmake(f);

	/* Chunks that are not ops. */
	f = make(1);
	assert_int_equal(changeset_payload_decode(&pl, f->pl, f->pl_len), 0);
	i = changeset_open(&op, &f->h, &pl, f->key);
	assert_true(i < 0 && i != SAMEN_EDECRYPT && i != SAMEN_EHASH);
	assert_null(op.chunks);
	changeset_payload_free(&pl);
	unmake(f);
}

/* Payloads written by hand around a chunk of the given shape. */
static int
decode_one_chunk(void (*put)(struct wbuf *))
{
	struct cs_payload pl;
	struct wbuf w;
	uint8_t *p;
	size_t n;
	int rc;

	wire_init(&w);
	wire_put_array(&w, 1);
	put(&w);
	p = wire_take(&w, &n);
	rc = changeset_payload_decode(&pl, p, n);
	if (rc == 0)
		changeset_payload_free(&pl);
	else {
		assert_null(pl.chunks);
		assert_int_equal(pl.nchunks, 0);
	}
	free(p);
	return rc;
}

static const uint8_t zeros[64];

static void
put_ok(struct wbuf *w)
{
	wire_put_array(w, 3);
	wire_put_bin(w, zeros, CS_RTAGLEN);
	wire_put_bin(w, zeros, CS_NONCELEN);
	wire_put_bin(w, zeros, 20);
}

static void
put_rtag15(struct wbuf *w)
{
	wire_put_array(w, 3);
	wire_put_bin(w, zeros, 15);
	wire_put_bin(w, zeros, CS_NONCELEN);
	wire_put_bin(w, zeros, 20);
}

static void
put_nonce23(struct wbuf *w)
{
	wire_put_array(w, 3);
	wire_put_bin(w, zeros, CS_RTAGLEN);
	wire_put_bin(w, zeros, 23);
	wire_put_bin(w, zeros, 20);
}

static void
put_two(struct wbuf *w)
{
	wire_put_array(w, 2);
	wire_put_bin(w, zeros, CS_RTAGLEN);
	wire_put_bin(w, zeros, CS_NONCELEN);
}

static void
put_four(struct wbuf *w)
{
	wire_put_array(w, 4);
	wire_put_bin(w, zeros, CS_RTAGLEN);
	wire_put_bin(w, zeros, CS_NONCELEN);
	wire_put_bin(w, zeros, 20);
	wire_put_nil(w);
}

static void
put_purged_short(struct wbuf *w)
{
	wire_put_array(w, 1);
	wire_put_bin(w, zeros, 31);
}

static void
put_not_array(struct wbuf *w)
{
	wire_put_bin(w, zeros, 32);
}

static void
put_ct_str(struct wbuf *w)
{
	wire_put_array(w, 3);
	wire_put_bin(w, zeros, CS_RTAGLEN);
	wire_put_bin(w, zeros, CS_NONCELEN);
	wire_put_str(w, "abcdefghijklmnopqrst", 20);
}

static void
put_ct_huge(struct wbuf *w)
{
	uint8_t *big;

	big = calloc(1, CS_MAX_CHUNK + 1);
	assert_non_null(big);
	wire_put_array(w, 3);
	wire_put_bin(w, zeros, CS_RTAGLEN);
	wire_put_bin(w, zeros, CS_NONCELEN);
	wire_put_bin(w, big, CS_MAX_CHUNK + 1);
	free(big);
}

static void
test_payload_shapes(void **state)
{
	(void)state;
	assert_int_equal(decode_one_chunk(put_ok), 0);
	assert_true(decode_one_chunk(put_rtag15) < 0);
	assert_true(decode_one_chunk(put_nonce23) < 0);
	assert_true(decode_one_chunk(put_two) < 0);
	assert_true(decode_one_chunk(put_four) < 0);
	assert_true(decode_one_chunk(put_purged_short) < 0);
	assert_true(decode_one_chunk(put_not_array) < 0);
	assert_int_equal(decode_one_chunk(put_ct_str), SAMEN_ETYPE);
	assert_int_equal(decode_one_chunk(put_ct_huge), SAMEN_ETOOBIG);
}

static void
test_payload_limits(void **state)
{
	struct cs_payload pl;
	struct wbuf w;
	uint8_t *p, *big;
	size_t n;
	uint32_t i;
	int rc;

	(void)state;
	/* CS_MAX_CHUNKS purged chunks are fine; one more is not. */
	wire_init(&w);
	wire_put_array(&w, CS_MAX_CHUNKS);
	for (i = 0; i < CS_MAX_CHUNKS; i++) {
		wire_put_array(&w, 1);
		wire_put_bin(&w, zeros, CS_HASHLEN);
	}
	p = wire_take(&w, &n);
	assert_true(n <= CS_MAX_PAYLOAD);
	assert_int_equal(changeset_payload_decode(&pl, p, n), 0);
	assert_int_equal(pl.nchunks, CS_MAX_CHUNKS);
	changeset_payload_free(&pl);
	free(p);

	wire_put_array(&w, CS_MAX_CHUNKS + 1);
	for (i = 0; i < CS_MAX_CHUNKS + 1; i++) {
		wire_put_array(&w, 1);
		wire_put_bin(&w, zeros, CS_HASHLEN);
	}
	p = wire_take(&w, &n);
	assert_int_equal(changeset_payload_decode(&pl, p, n), SAMEN_ETOOBIG);
	assert_null(pl.chunks);
	free(p);

	/* A count far past the bytes there: refused before allocating. */
	assert_true(changeset_payload_decode(&pl,
	    (const uint8_t *)"\xdd\x00\x00\xff\xff\x91\xc4", 7) < 0);
	assert_null(pl.chunks);

	/* More than CS_MAX_PAYLOAD bytes in all, each chunk under its cap. */
	big = calloc(1, 3u << 20);
	assert_non_null(big);
	wire_put_array(&w, 3);
	for (i = 0; i < 3; i++) {
		wire_put_array(&w, 3);
		wire_put_bin(&w, zeros, CS_RTAGLEN);
		wire_put_bin(&w, zeros, CS_NONCELEN);
		wire_put_bin(&w, big, 3u << 20);
	}
	free(big);
	p = wire_take(&w, &n);
	assert_true(n > CS_MAX_PAYLOAD);
	rc = changeset_payload_decode(&pl, p, n);
	assert_true(rc < 0);
	assert_null(pl.chunks);
	free(p);
	wire_free(&w);
}

static void
test_rtag(void **state)
{
	uint8_t key[CS_KEYLEN], key2[CS_KEYLEN], rid[16], rid2[16];
	uint8_t a[CS_RTAGLEN], b[CS_RTAGLEN], msg[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i + 1);
	for (i = 0; i < sizeof(rid); i++)
		rid[i] = (uint8_t)(0xf0 - i);

	/* BLAKE2b-128 keyed with the circle key over "case\0" || rid. */
	changeset_rtag(a, key, "case", 4, rid);
	memcpy(msg, "case", 5);
	memcpy(msg + 5, rid, 16);
	crypto_generichash(b, sizeof(b), msg, 21, key, sizeof(key));
	assert_memory_equal(a, b, CS_RTAGLEN);

	/* Deterministic. */
	changeset_rtag(b, key, "case", 4, rid);
	assert_memory_equal(a, b, CS_RTAGLEN);

	/* The length counts, not a NUL in the name. */
	changeset_rtag(b, key, "cases", 4, rid);
	assert_memory_equal(a, b, CS_RTAGLEN);

	/* Differs by collection, by rid, by key. */
	changeset_rtag(b, key, "cases", 5, rid);
	assert_memory_not_equal(a, b, CS_RTAGLEN);
	changeset_rtag(b, key, "note", 4, rid);
	assert_memory_not_equal(a, b, CS_RTAGLEN);
	memcpy(rid2, rid, 16);
	rid2[15] ^= 1;
	changeset_rtag(b, key, "case", 4, rid2);
	assert_memory_not_equal(a, b, CS_RTAGLEN);
	memcpy(key2, key, sizeof(key2));
	key2[31] ^= 0x80;
	changeset_rtag(b, key2, "case", 4, rid);
	assert_memory_not_equal(a, b, CS_RTAGLEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_format),
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_header_flip),
		cmocka_unit_test(test_header_rules),
		cmocka_unit_test(test_header_noncanonical_bin),
		cmocka_unit_test(test_header_trailing_truncated),
		cmocka_unit_test(test_payload_decode),
		cmocka_unit_test(test_chunk_open),
		cmocka_unit_test(test_payload_flip),
		cmocka_unit_test(test_payload_trailing_truncated),
		cmocka_unit_test(test_purged),
		cmocka_unit_test(test_payload_purge),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_payload_shapes),
		cmocka_unit_test(test_payload_limits),
		cmocka_unit_test(test_rtag),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
