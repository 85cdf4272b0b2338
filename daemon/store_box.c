/* store_box: sealing at rest: the storage key, the boxes it seals, the tags SQLite indexes instead of names. */
#include "store_int.h"

#include <assert.h>
#include <stdlib.h>

#include "util.h"

void
store_set_key(struct store *st, const uint8_t key[32])
{
	memcpy(st->keys->storage, key, 32);
	/* Tags of the old key must not answer for the new one. */
	sodium_memzero(st->keys->memo, sizeof(st->keys->memo));
	sodium_memzero(st->keys->names, sizeof(st->keys->names));
	crypto_kdf_derive_from_key(st->keys->index, sizeof(st->keys->index),
	    1, "samenidx", st->keys->storage);
	store_box_tag(st, st->exist_ftag, OP_EXIST, "", 0);
	randombytes_buf(st->nonce_base, sizeof(st->nonce_base));
	st->nonce_ctr = 0;
	crypto_core_hchacha20(st->keys->seal_key, st->nonce_base,
	    st->keys->storage, NULL);
	sodium_memzero(st->keys->open_key, sizeof(st->keys->open_key));
	st->keys->open_valid = 0;
	st->has_key = 1;
	store_drop_caches(st);
}

void
store_forget_key(struct store *st)
{
	assert(!st->in_txn);
	st->has_key = 0;
	store_drop_caches(st);
	sodium_memzero(st->keys, sizeof(*st->keys));
	sodium_memzero(st->nonce_base, sizeof(st->nonce_base));
	st->nonce_ctr = 0;
	sodium_memzero(st->exist_ftag, sizeof(st->exist_ftag));
	if (st->buf != NULL)
		sodium_memzero(st->buf, st->bufcap);
	/* The merge's record and the packs read last: names and values. */
	sodium_memzero(st->rec.coll, sizeof(st->rec.coll));
	st->rec.coll_len = 0;
	store_vp_free(&st->rec.vp);
	store_vp_free(&st->rdvp);
	store_fresh_free(st);
	sodium_memzero(st->colls.tag, sizeof(st->colls.tag));
}

uint8_t *
store_box_scratch(struct store *st, size_t n)
{
	if (n > st->bufcap) {
		if (st->buf != NULL)
			sodium_memzero(st->buf, st->bufcap);
		free(st->buf);
		st->bufcap = n < 256 ? 256 : n;
		st->buf = xmalloc(st->bufcap);
	}
	return st->buf;
}

_Static_assert(BOX_NONCE == crypto_core_hchacha20_INPUTBYTES +
    crypto_aead_chacha20poly1305_ietf_NPUBBYTES - 4 &&
    BOX_NONCE - 8 == crypto_core_hchacha20_INPUTBYTES,
    "a box nonce is a subkey's 16 bytes and the counter's 8");

/* The IETF nonce that goes with a subkey: 4 zero bytes, then the box
 * nonce's last 8 (struct store_keys). */
static void
box_npub(uint8_t npub[crypto_aead_chacha20poly1305_ietf_NPUBBYTES],
    const uint8_t *nonce)
{
	memset(npub, 0, 4);
	memcpy(npub + 4, nonce + crypto_core_hchacha20_INPUTBYTES,
	    crypto_aead_chacha20poly1305_ietf_NPUBBYTES - 4);
}

/* out gets nonce || ciphertext: n + BOX_OVERHEAD bytes. */
void
store_box_seal(struct store *st, uint8_t *out, const uint8_t *pt, size_t n,
    const uint8_t *ad, size_t adlen)
{
	uint8_t npub[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	memcpy(out, st->nonce_base, sizeof(st->nonce_base));
	put_le64(out + sizeof(st->nonce_base), st->nonce_ctr++);
	box_npub(npub, out);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + BOX_NONCE, NULL, pt,
	    n, ad, adlen, NULL, npub, st->keys->seal_key);
}

/* pt gets n - BOX_OVERHEAD bytes; SAMEN_EDECRYPT if forged or damaged.
 * Keeps the subkey of box's nonce prefix (struct store_keys). */
int
store_box_open(struct store *st, uint8_t *pt, const uint8_t *box, size_t n,
    const uint8_t *ad, size_t adlen)
{
	struct store_keys *k = st->keys;
	uint8_t npub[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	if (n < BOX_OVERHEAD)
		return SAMEN_EDECRYPT;
	if (!k->open_valid ||
	    memcmp(k->open_prefix, box, sizeof(k->open_prefix)) != 0) {
		crypto_core_hchacha20(k->open_key, box, k->storage, NULL);
		memcpy(k->open_prefix, box, sizeof(k->open_prefix));
		k->open_valid = 1;
	}
	box_npub(npub, box);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL,
	    box + BOX_NONCE, n - BOX_NONCE, ad, adlen, npub, k->open_key) != 0)
		return SAMEN_EDECRYPT;
	return 0;
}

/*
 * The keyed tags SQLite indexes instead of names: a leading byte keeps the
 * domains apart (0 for a collection, the op kind for a field).
 */
void
store_box_tag(const struct store *st, uint8_t out[TAGLEN], uint8_t domain,
    const char *name, size_t n)
{
	crypto_generichash_state h;
	struct tag_memo *m = NULL;
	uint32_t x = 2166136261u ^ domain;	/* FNV-1a */
	size_t i;

	if (n <= OPS_MAX_FIELD) {
		for (i = 0; i < n; i++)
			x = (x ^ (uint8_t)name[i]) * 16777619u;
		m = &st->keys->memo[x & (TAG_MEMO - 1)];
		if (m->used && m->domain == domain && m->len == n &&
		    memcmp(m->name, name, n) == 0) {
			memcpy(out, m->tag, TAGLEN);
			return;
		}
	}
	crypto_generichash_init(&h, st->keys->index, 32, TAGLEN);
	crypto_generichash_update(&h, &domain, 1);
	crypto_generichash_update(&h, (const uint8_t *)name, n);
	crypto_generichash_final(&h, out, TAGLEN);
	if (m != NULL) {
		m->used = 1;
		m->domain = domain;
		m->len = (uint8_t)n;
		if (n > 0)
			memcpy(m->name, name, n);
		memcpy(m->tag, out, TAGLEN);
	}
}

/* Associated data of a record's collection name: where it belongs. */
void
store_box_coll_ad(uint8_t ad[1 + RID_LEN + CS_CIRCLELEN],
    const uint8_t rid[RID_LEN], const uint8_t circle[CS_CIRCLELEN])
{
	ad[0] = 'c';
	memcpy(ad + 1, rid, RID_LEN);
	memcpy(ad + 1 + RID_LEN, circle, CS_CIRCLELEN);
}

/* Associated data of a collection's name in colls: its tag. */
void
store_box_colls_ad(uint8_t ad[1 + TAGLEN], const uint8_t ctag[TAGLEN])
{
	ad[0] = 'C';
	memcpy(ad + 1, ctag, TAGLEN);
}

/* Associated data of a circle's name ('n') or key ('k'). */
void
store_box_circle_ad(uint8_t ad[1 + CS_CIRCLELEN + 4], uint8_t what,
    const uint8_t circle[CS_CIRCLELEN], uint32_t epoch)
{
	ad[0] = what;
	memcpy(ad + 1, circle, CS_CIRCLELEN);
	put_le32(ad + 1 + CS_CIRCLELEN, epoch);
}

/* A value's box: bound to its vid (VAL_ALIVE in store_int.h). */
int
store_box_val_open(struct store *st, struct plainval *pv,
    const uint8_t vid[VID_LEN], const uint8_t *box, size_t n)
{
	uint8_t *pt;
	size_t len;
	int rc;

	if (n < BOX_OVERHEAD + 2)
		return SAMEN_EDECRYPT;
	len = n - BOX_OVERHEAD;
	pt = store_box_scratch(st, len);
	if ((rc = store_box_open(st, pt, box, n, vid, VID_LEN)) != 0)
		return rc;
	if (pt[1] > len - 2)
		return SAMEN_EDECRYPT;
	pv->alive = (pt[0] & VAL_ALIVE) != 0;
	pv->field = (const char *)pt + 2;
	pv->field_len = pt[1];
	pv->value = pt[0] & VAL_HASVALUE ? pv->field + pv->field_len : NULL;
	pv->value_len = len - 2 - pv->field_len;
	return 0;
}
