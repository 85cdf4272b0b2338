/* changeset: the unit of replication: signed header, per-record encrypted chunks. */
#ifndef SAMEN_CHANGESET_H
#define SAMEN_CHANGESET_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "wire.h"

#define CS_VERSION 1
#define CS_KEYLEN 32		/* circle key (XChaCha20-Poly1305) */
#define CS_IDLEN 32		/* change-set id = BLAKE2b-256(header bytes) */
#define CS_CIRCLELEN 16
#define CS_RTAGLEN 16
#define CS_NONCELEN 24
#define CS_HASHLEN 32
#define CS_SIGLEN 64
#define CS_ABYTES 16		/* AEAD tag */

/* Hard limits of the decoders (bad input is rejected, never trusted). */
#define CS_MAX_HEADER 512	/* bytes of an encoded header */
#define CS_MAX_PAYLOAD (8u << 20)	/* bytes of an encoded payload */
#define CS_MAX_CHUNKS 65536
#define CS_MAX_CHUNK (4u << 20)	/* bytes of one chunk's ciphertext */

/*
 * Header.  Encoded as a msgpack array of 10 in this order:
 *   [version u8, author bin32, circle bin16, epoch u32, seq u64,
 *    prev bin32, hlc u64, payload_len u64, payload_hash bin32, sig bin64]
 * The signature is ed25519 over the canonical encoding of the array of the
 * first 9 elements (the same bytes with a 9-array header and no sig).
 * Rules enforced by the decoder: version == CS_VERSION, seq >= 1, epoch >= 1,
 * prev all zero exactly when seq == 1, payload_len <= CS_MAX_PAYLOAD,
 * canonical form, no trailing bytes.
 */
struct cs_header {
	uint8_t version;
	uint8_t author[32];
	uint8_t circle[CS_CIRCLELEN];
	uint32_t epoch;
	uint64_t seq;
	uint8_t prev[CS_IDLEN];
	uint64_t hlc;
	uint64_t payload_len;
	uint8_t payload_hash[CS_HASHLEN];
	uint8_t sig[CS_SIGLEN];
};

/*
 * Payload: a msgpack array of chunks, one per record touched.  A chunk is
 *   [rtag bin16, nonce bin24, ciphertext bin]        (sealed)
 * or [hash bin32]                                    (purged: only its hash)
 * chunk hash = BLAKE2b-256 of the chunk's encoded bytes (for a purged chunk:
 * the hash it carries).  payload_hash = BLAKE2b-256 of the concatenated chunk
 * hashes, so chunks can be erased while header and chain still verify.
 * payload_len is the length of the encoded payload as first written.
 *
 * rtag = BLAKE2b-128 keyed with the circle key over "collection\0" || rid:
 * members find a record's chunks without decrypting; relays learn nothing.
 * Ciphertext = XChaCha20-Poly1305-IETF of the chunk plaintext (see ops.h)
 * with associated data "samen-chunk-1" || circle || author || le64(seq) ||
 * rtag.
 */
struct cs_chunk {
	int purged;
	uint8_t rtag[CS_RTAGLEN];
	uint8_t nonce[CS_NONCELEN];
	const uint8_t *ct;	/* borrowed from the payload bytes */
	size_t ct_len;
	uint8_t hash[CS_HASHLEN];
};

struct cs_payload {
	struct cs_chunk *chunks;	/* owned; free with changeset_payload_free */
	uint32_t nchunks;
};

/* Encodes the full header (with sig) canonically. Appends to w. */
void changeset_header_encode(struct wbuf *w, const struct cs_header *h);
/* Decodes and validates the form (not the signature). */
int changeset_header_decode(struct cs_header *h, const uint8_t *p, size_t n);
/* id = BLAKE2b-256 over the encoded header bytes. */
void changeset_id(uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t n);
/* Fills h->sig. sk is a libsodium ed25519 secret key (64 bytes). */
void changeset_sign(struct cs_header *h, const uint8_t sk[64]);
/* 0 if h->sig is the author's signature over the header, else SAMEN_ESIG. */
int changeset_verify(const struct cs_header *h)
    __attribute__((warn_unused_result));

/*
 * Decodes a payload and computes its chunk hashes.  Borrows p: the chunks
 * point into it.  Returns 0 or a negative code; on error *out is empty.
 */
int changeset_payload_decode(struct cs_payload *out, const uint8_t *p,
    size_t n);
void changeset_payload_free(struct cs_payload *pl);
/*
 * Checks payload against its header: SAMEN_EHASH if the hash over the
 * chunk hashes differs, or if no chunk is purged and n != payload_len.
 */
int changeset_payload_check(const struct cs_header *h,
    const struct cs_payload *pl, size_t n)
    __attribute__((warn_unused_result));

/*
 * Writes pl (decoded from a payload) again into w, with every chunk i for
 * which purge[i] is set in its purged form ([hash]): an erasure.  The
 * other chunks come out as the same bytes (the decoder admits only the
 * canonical encoding), so the result checks against the same header
 * (changeset_payload_check).  Returns how many chunks it purged (chunks
 * purged already do not count).  Borrows pl and purge; appends to w.
 */
uint32_t changeset_payload_purge(struct wbuf *w, const struct cs_payload *pl,
    const uint8_t *purge);

void changeset_rtag(uint8_t out[CS_RTAGLEN], const uint8_t key[CS_KEYLEN],
    const char *collection, size_t collection_len, const uint8_t rid[16]);

/* One record's plaintext, as encoded by ops_encode(). */
struct cs_plain {
	uint8_t rtag[CS_RTAGLEN];
	const uint8_t *data;
	size_t len;
};

/*
 * Builds a signed change set.  h carries author, circle, epoch, seq, prev and
 * hlc; this fills version, payload_len, payload_hash and sig.  nonces holds
 * n * CS_NONCELEN random bytes from the caller.  Appends the encoded header
 * to hdr_out and the payload to payload_out, and writes the id.
 */
void changeset_build(struct wbuf *hdr_out, struct wbuf *payload_out,
    uint8_t id[CS_IDLEN], struct cs_header *h, const uint8_t sk[64],
    const uint8_t key[CS_KEYLEN], const struct cs_plain *chunks, size_t n,
    const uint8_t *nonces);

/*
 * Decrypts one sealed chunk.  Returns 0 and *plain (free with free()), or
 * SAMEN_EDECRYPT, or SAMEN_EINVAL for a purged chunk.
 */
int changeset_chunk_open(uint8_t **plain, size_t *len,
    const struct cs_header *h, const struct cs_chunk *c,
    const uint8_t key[CS_KEYLEN]) __attribute__((warn_unused_result));

/*
 * Reads one chunk as a merge needs it: decrypts it, decodes its plaintext
 * (ops_decode) and checks that the chunk's rtag names the record the
 * plaintext is about.  Returns 0 with *plain (wipe, then free()) and *oc
 * (borrows *plain; ops_chunk_free), or SAMEN_EDECRYPT, an ops_decode
 * error or SAMEN_EHASH (rtag): then nothing needs freeing.  Every error is
 * the author's, not the reader's.
 */
int changeset_chunk_read(uint8_t **plain, size_t *len, struct ops_chunk *oc,
    const struct cs_header *h, const struct cs_chunk *c,
    const uint8_t key[CS_KEYLEN]) __attribute__((warn_unused_result));

struct merge_vid;

/*
 * Every chunk of a decoded payload read ahead of its merge (on the thread
 * pool: daemon/peer.c), in payload order; a purged chunk has plain NULL.
 */
struct cs_read_chunk {
	uint8_t *plain;
	size_t len;
	struct ops_chunk oc;	/* borrows plain */
	struct merge_vid *vids;	/* oc.nops of them in the opened's, or NULL */
};

struct cs_opened {
	struct cs_read_chunk *chunks;
	uint32_t n;
	/* The change set whose vids the chunks hold (merge_opened_vids, one
	 * allocation for all chunks: merge.h). */
	uint8_t csid[CS_IDLEN];
	int has_vids;
	struct merge_vid *vids;
};

/*
 * changeset_chunk_read over every chunk of pl.  0 and *out (which owns it
 * all: changeset_opened_free), or the first chunk's error, with *out empty
 * and every plaintext read so far wiped.
 */
int changeset_open(struct cs_opened *out, const struct cs_header *h,
    const struct cs_payload *pl, const uint8_t key[CS_KEYLEN])
    __attribute__((warn_unused_result));
/* Wipes the plaintexts and frees everything; *o is empty after.  NULL-safe. */
void changeset_opened_free(struct cs_opened *o);

#endif
