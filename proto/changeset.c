/* changeset: codec, signature, payload hash and chunk encryption. */
#include <string.h>

#include <sodium.h>

#include "changeset.h"
#include "error.h"
#include "ops.h"
#include "util.h"

#define AD_PREFIX "samen-chunk-1"
#define AD_LEN (sizeof(AD_PREFIX) - 1 + CS_CIRCLELEN + 32 + 8 + CS_RTAGLEN)

/* The first 9 fields; the signature covers exactly these bytes. */
static void
put_signed_fields(struct wbuf *w, const struct cs_header *h, uint32_t n)
{
	wire_put_array(w, n);
	wire_put_u64(w, h->version);
	wire_put_bin(w, h->author, sizeof(h->author));
	wire_put_bin(w, h->circle, sizeof(h->circle));
	wire_put_u64(w, h->epoch);
	wire_put_u64(w, h->seq);
	wire_put_bin(w, h->prev, sizeof(h->prev));
	wire_put_u64(w, h->hlc);
	wire_put_u64(w, h->payload_len);
	wire_put_bin(w, h->payload_hash, sizeof(h->payload_hash));
}

void
changeset_header_encode(struct wbuf *w, const struct cs_header *h)
{
	put_signed_fields(w, h, 10);
	wire_put_bin(w, h->sig, sizeof(h->sig));
}

static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	while (n-- > 0)
		acc |= *p++;
	return acc == 0;
}

int
changeset_header_decode(struct cs_header *h, const uint8_t *p, size_t n)
{
	struct wire_reader r;
	int rc;

	memset(h, 0, sizeof(*h));
	if (n > CS_MAX_HEADER)
		return SAMEN_ETOOBIG;
	wire_reader_init(&r, p, n);
	if (wire_get_array_n(&r, 10) != 0)
		return r.err;
	if (wire_get_u8(&r, &h->version) != 0)
		return r.err;
	if (h->version != CS_VERSION)
		return SAMEN_EVERSION;
	wire_get_bin_fixed(&r, h->author, sizeof(h->author));
	wire_get_bin_fixed(&r, h->circle, sizeof(h->circle));
	wire_get_u32(&r, &h->epoch);
	wire_get_u64(&r, &h->seq);
	wire_get_bin_fixed(&r, h->prev, sizeof(h->prev));
	wire_get_u64(&r, &h->hlc);
	wire_get_u64(&r, &h->payload_len);
	wire_get_bin_fixed(&r, h->payload_hash, sizeof(h->payload_hash));
	wire_get_bin_fixed(&r, h->sig, sizeof(h->sig));
	if ((rc = wire_end(&r)) != 0)
		return rc;
	if (h->seq == 0 || h->epoch == 0)
		return SAMEN_EINVAL;
	if (all_zero(h->prev, sizeof(h->prev)) != (h->seq == 1))
		return SAMEN_ECHAIN;
	if (h->payload_len > CS_MAX_PAYLOAD)
		return SAMEN_ETOOBIG;
	return 0;
}

void
changeset_id(uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t n)
{
	crypto_generichash(id, CS_IDLEN, hdr, n, NULL, 0);
}

void
changeset_sign(struct cs_header *h, const uint8_t sk[64])
{
	struct wbuf w;

	wire_init(&w);
	put_signed_fields(&w, h, 9);
	crypto_sign_detached(h->sig, NULL, wire_data(&w), wire_len(&w), sk);
	wire_free(&w);
}

int
changeset_verify(const struct cs_header *h)
{
	struct wbuf w;
	int rc;

	wire_init(&w);
	put_signed_fields(&w, h, 9);
	rc = crypto_sign_verify_detached(h->sig, wire_data(&w), wire_len(&w),
	    h->author);
	wire_free(&w);
	return rc == 0 ? 0 : SAMEN_ESIG;
}

int
changeset_payload_decode(struct cs_payload *out, const uint8_t *p, size_t n)
{
	struct wire_reader r;
	struct cs_chunk *c;
	const uint8_t *start;
	uint32_t nchunks, i, len;

	memset(out, 0, sizeof(*out));
	if (n > CS_MAX_PAYLOAD)
		return SAMEN_ETOOBIG;
	wire_reader_init(&r, p, n);
	/* A chunk takes at least 35 bytes ([hash]): bounds the allocation. */
	if (wire_get_array(&r, &nchunks, CS_MAX_CHUNKS) != 0)
		return r.err;
	if ((size_t)nchunks > wire_remaining(&r) / 35)
		return SAMEN_ETRUNC;
	out->chunks = xcalloc(nchunks ? nchunks : 1, sizeof(*out->chunks));
	out->nchunks = nchunks;
	for (i = 0; i < nchunks && r.err == 0; i++) {
		c = &out->chunks[i];
		start = r.p;
		if (wire_get_array(&r, &len, 3) != 0)
			break;
		if (len == 1) {
			c->purged = 1;
			wire_get_bin_fixed(&r, c->hash, sizeof(c->hash));
			continue;
		}
		if (len != 3) {
			r.err = SAMEN_EPROTO;
			break;
		}
		wire_get_bin_fixed(&r, c->rtag, sizeof(c->rtag));
		wire_get_bin_fixed(&r, c->nonce, sizeof(c->nonce));
		if (wire_get_bin(&r, &c->ct, &c->ct_len, CS_MAX_CHUNK) != 0)
			break;
		if (c->ct_len < CS_ABYTES) {
			r.err = SAMEN_EPROTO;
			break;
		}
		crypto_generichash(c->hash, sizeof(c->hash), start,
		    (size_t)(r.p - start), NULL, 0);
	}
	if (r.err == 0)
		wire_end(&r);
	if (r.err != 0) {
		changeset_payload_free(out);
		return r.err;
	}
	return 0;
}

void
changeset_payload_free(struct cs_payload *pl)
{
	free(pl->chunks);
	pl->chunks = NULL;
	pl->nchunks = 0;
}

static void
payload_hash(uint8_t out[CS_HASHLEN], const struct cs_chunk *chunks,
    size_t n)
{
	crypto_generichash_state st;
	size_t i;

	crypto_generichash_init(&st, NULL, 0, CS_HASHLEN);
	for (i = 0; i < n; i++)
		crypto_generichash_update(&st, chunks[i].hash, CS_HASHLEN);
	crypto_generichash_final(&st, out, CS_HASHLEN);
}

int
changeset_payload_check(const struct cs_header *h,
    const struct cs_payload *pl, size_t n)
{
	uint8_t hash[CS_HASHLEN];
	uint32_t i;
	int purged = 0;

	payload_hash(hash, pl->chunks, pl->nchunks);
	if (sodium_memcmp(hash, h->payload_hash, CS_HASHLEN) != 0)
		return SAMEN_EHASH;
	for (i = 0; i < pl->nchunks; i++)
		purged |= pl->chunks[i].purged;
	if (!purged && n != h->payload_len)
		return SAMEN_EHASH;
	return 0;
}

uint32_t
changeset_payload_purge(struct wbuf *w, const struct cs_payload *pl,
    const uint8_t *purge)
{
	uint32_t i, n = 0;

	wire_put_array(w, pl->nchunks);
	for (i = 0; i < pl->nchunks; i++) {
		const struct cs_chunk *c = &pl->chunks[i];

		if (c->purged || purge[i]) {
			n += !c->purged;
			wire_put_array(w, 1);
			wire_put_bin(w, c->hash, CS_HASHLEN);
			continue;
		}
		wire_put_array(w, 3);
		wire_put_bin(w, c->rtag, CS_RTAGLEN);
		wire_put_bin(w, c->nonce, CS_NONCELEN);
		wire_put_bin(w, c->ct, c->ct_len);
	}
	return n;
}

void
changeset_rtag(uint8_t out[CS_RTAGLEN], const uint8_t key[CS_KEYLEN],
    const char *collection, size_t collection_len, const uint8_t rid[16])
{
	crypto_generichash_state st;
	static const uint8_t nul = 0;

	crypto_generichash_init(&st, key, CS_KEYLEN, CS_RTAGLEN);
	crypto_generichash_update(&st, (const uint8_t *)collection,
	    collection_len);
	crypto_generichash_update(&st, &nul, 1);
	crypto_generichash_update(&st, rid, 16);
	crypto_generichash_final(&st, out, CS_RTAGLEN);
}

static void
make_ad(uint8_t ad[AD_LEN], const struct cs_header *h,
    const uint8_t rtag[CS_RTAGLEN])
{
	uint8_t *p = ad;

	memcpy(p, AD_PREFIX, sizeof(AD_PREFIX) - 1);
	p += sizeof(AD_PREFIX) - 1;
	memcpy(p, h->circle, CS_CIRCLELEN);
	p += CS_CIRCLELEN;
	memcpy(p, h->author, 32);
	p += 32;
	put_le64(p, h->seq);
	p += 8;
	memcpy(p, rtag, CS_RTAGLEN);
}

void
changeset_build(struct wbuf *hdr_out, struct wbuf *payload_out,
    uint8_t id[CS_IDLEN], struct cs_header *h, const uint8_t sk[64],
    const uint8_t key[CS_KEYLEN], const struct cs_plain *chunks, size_t n,
    const uint8_t *nonces)
{
	struct cs_chunk *c = xcalloc(n ? n : 1, sizeof(*c));
	uint8_t ad[AD_LEN], *ct = NULL;
	size_t i, start = wire_len(payload_out), at, cap = 0;
	size_t hstart = wire_len(hdr_out);

	h->version = CS_VERSION;
	wire_put_array(payload_out, (uint32_t)n);
	for (i = 0; i < n; i++) {
		const uint8_t *nonce = nonces + i * CS_NONCELEN;

		if (chunks[i].len + CS_ABYTES > cap) {
			cap = chunks[i].len + CS_ABYTES;
			ct = xrealloc(ct, cap);
		}
		make_ad(ad, h, chunks[i].rtag);
		crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL,
		    chunks[i].data, chunks[i].len, ad, sizeof(ad), NULL, nonce,
		    key);
		at = wire_len(payload_out);
		wire_put_array(payload_out, 3);
		wire_put_bin(payload_out, chunks[i].rtag, CS_RTAGLEN);
		wire_put_bin(payload_out, nonce, CS_NONCELEN);
		wire_put_bin(payload_out, ct, chunks[i].len + CS_ABYTES);
		crypto_generichash(c[i].hash, CS_HASHLEN,
		    wire_data(payload_out) + at, wire_len(payload_out) - at,
		    NULL, 0);
	}
	free(ct);
	payload_hash(h->payload_hash, c, n);
	free(c);
	h->payload_len = wire_len(payload_out) - start;
	changeset_sign(h, sk);
	changeset_header_encode(hdr_out, h);
	changeset_id(id, wire_data(hdr_out) + hstart,
	    wire_len(hdr_out) - hstart);
}

int
changeset_chunk_open(uint8_t **plain, size_t *len, const struct cs_header *h,
    const struct cs_chunk *c, const uint8_t key[CS_KEYLEN])
{
	uint8_t ad[AD_LEN];
	unsigned long long plen;
	uint8_t *out;

	*plain = NULL;
	*len = 0;
	if (c->purged)
		return SAMEN_EINVAL;
	if (c->ct_len < CS_ABYTES)
		return SAMEN_EDECRYPT;
	make_ad(ad, h, c->rtag);
	out = xmalloc(c->ct_len - CS_ABYTES + 1);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, NULL,
	    c->ct, c->ct_len, ad, sizeof(ad), c->nonce, key) != 0) {
		free(out);
		return SAMEN_EDECRYPT;
	}
	*plain = out;
	*len = (size_t)plen;
	return 0;
}

int
changeset_chunk_read(uint8_t **plain, size_t *len, struct ops_chunk *oc,
    const struct cs_header *h, const struct cs_chunk *c,
    const uint8_t key[CS_KEYLEN])
{
	uint8_t rtag[CS_RTAGLEN];
	int rc;

	if ((rc = changeset_chunk_open(plain, len, h, c, key)) != 0)
		return rc;
	if ((rc = ops_decode(oc, *plain, *len)) == 0) {
		changeset_rtag(rtag, key, oc->collection, oc->collection_len,
		    oc->rid);
		if (sodium_memcmp(rtag, c->rtag, CS_RTAGLEN) == 0)
			return 0;
		ops_chunk_free(oc);
		rc = SAMEN_EHASH;
	}
	sodium_memzero(*plain, *len);
	free(*plain);
	*plain = NULL;
	*len = 0;
	return rc;
}

int
changeset_open(struct cs_opened *out, const struct cs_header *h,
    const struct cs_payload *pl, const uint8_t key[CS_KEYLEN])
{
	int rc;

	out->n = 0;
	out->has_vids = 0;
	out->vids = NULL;
	out->chunks = xcalloc(pl->nchunks ? pl->nchunks : 1,
	    sizeof(*out->chunks));
	for (uint32_t i = 0; i < pl->nchunks; i++) {
		struct cs_read_chunk *x = &out->chunks[i];

		if (pl->chunks[i].purged)
			continue;
		if ((rc = changeset_chunk_read(&x->plain, &x->len, &x->oc, h,
		    &pl->chunks[i], key)) != 0) {
			out->n = i;
			changeset_opened_free(out);
			return rc;
		}
	}
	out->n = pl->nchunks;
	return 0;
}

void
changeset_opened_free(struct cs_opened *o)
{
	if (o == NULL)
		return;
	for (uint32_t i = 0; i < o->n; i++) {
		struct cs_read_chunk *x = &o->chunks[i];

		if (x->plain == NULL)
			continue;
		ops_chunk_free(&x->oc);
		sodium_memzero(x->plain, x->len);
		free(x->plain);
	}
	free(o->chunks);
	free(o->vids);
	o->chunks = NULL;
	o->vids = NULL;
	o->n = 0;
	o->has_vids = 0;
}
