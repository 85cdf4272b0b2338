/* merge: the CRDT rules, as pure functions over a small replica interface. */
#ifndef SAMEN_MERGE_H
#define SAMEN_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "changeset.h"
#include "ops.h"

/*
 * The replica's state is four grow-only sets, so merging is a union: any order
 * of arrival, any repetition, gives the same state (commutative, associative,
 * idempotent).
 *   values: every SET, EXIST and ADD ever received (and REMs, for history);
 *   kills:  (record, kind, field, vid) for every vid named in a pred or tags.
 * A value is live unless a kill names it within its own record, kind and
 * field (so a pred cannot reach into another record).  The record's existence
 * is a register too (kind EXIST, empty field): a concurrent edit and delete
 * leave one live value of each, a visible conflict.
 *
 * A record is identified by (circle, collection, rid).
 */
struct merge_rec {
	const uint8_t *circle;		/* CS_CIRCLELEN bytes */
	const char *collection;
	size_t collection_len;
	const uint8_t *rid;		/* RID_LEN bytes */
};

struct merge_value {
	const struct merge_rec *rec;
	enum op_type kind;
	const char *field;		/* "" (len 0) for EXIST */
	size_t field_len;
	const char *value;		/* SET value, ADD/REM element; NULL for EXIST */
	size_t value_len;
	int alive;			/* EXIST */
	const uint8_t *vid;		/* VID_LEN */
	uint64_t hlc;
	const uint8_t *author;		/* 32 */
	uint64_t seq;
	uint32_t nrefs;			/* size of pred/tags, for history */
	const uint8_t *vid_hash;	/* merge_vid_hash(vid) if worked out
					 * ahead (struct merge_vid), or NULL */
};

/*
 * Implemented by the store (SQLite) and by the tests (in memory).  Both must
 * be idempotent.  Return 0 or a negative code; an error aborts the merge and
 * the caller rolls back.
 */
struct replica_ops {
	/* Records v; it is live iff no kill for (rec, kind, field, vid). */
	int (*add)(void *ctx, const struct merge_value *v);
	/* Remembers the kill, and marks the value dead if it is there. */
	int (*kill)(void *ctx, const struct merge_rec *rec, enum op_type kind,
	    const char *field, size_t field_len, const uint8_t vid[VID_LEN]);
};

/*
 * Merges one decoded chunk of change set csid (header h), the chunk_index'th
 * of its payload: add() for each op, kill() for each ref.  For a REM the
 * kills have kind OP_ADD.
 */
int merge_chunk(const struct replica_ops *ops, void *ctx,
    const struct cs_header *h, const uint8_t csid[CS_IDLEN],
    uint32_t chunk_index, const struct ops_chunk *c);
/*
 * merge_chunk with each op's vid and its hash taken from vids[op] (the
 * chunk's merge_opened_vids), which add() finds in v->vid_hash; vids NULL:
 * merge_chunk itself.
 */
int merge_chunk_vids(const struct replica_ops *ops, void *ctx,
    const struct cs_header *h, const uint8_t csid[CS_IDLEN],
    uint32_t chunk_index, const struct ops_chunk *c,
    const struct merge_vid *vids);

/* A surviving register value, as the materialiser sees it. */
struct merge_survivor {
	const uint8_t *vid;
	uint64_t hlc;
	const uint8_t *author;
	const char *value;
	size_t value_len;
	int alive;			/* for EXIST; 0 otherwise: compared */
	void *user;			/* caller's, carried along */
};

/*
 * Orders a register's survivors for display: the shown value first (highest
 * (hlc, author, vid)), the rest after in the same order.  Returns the number
 * of distinct values (by content; EXIST compares alive): more than one is a
 * conflict.
 */
size_t merge_order(struct merge_survivor *s, size_t n);

/*
 * merge_order's display order for two survivors: negative if a comes before
 * b (a has the higher (hlc, author, vid)), positive if after, 0 only for
 * the same vid.  Only vid, hlc and author are read, so a caller can keep
 * the shown value of a register up to date one survivor at a time.
 */
int merge_cmp(const struct merge_survivor *a, const struct merge_survivor *b);

/*
 * The replica digest: equal on two devices exactly when their replicas are.
 * The state is determined by the set of live vids (a vid commits to its
 * change set and so to everything in the op), so the digest is a multiset
 * hash over them: sum of BLAKE2b-256(vid) mod 2^256, kept up to date with
 * add/sub as values come alive or die, then hashed once more.
 */
struct merge_digest {
	uint8_t sum[32];
};

void merge_digest_init(struct merge_digest *d);
void merge_digest_add(struct merge_digest *d, const uint8_t vid[VID_LEN]);
void merge_digest_sub(struct merge_digest *d, const uint8_t vid[VID_LEN]);
/*
 * The same in two steps, for a value counted in more than one digest: the
 * vid's hash once (merge_vid_hash), then added to or taken from each.
 */
#define MERGE_VID_HASHLEN 32
void merge_vid_hash(uint8_t out[MERGE_VID_HASHLEN],
    const uint8_t vid[VID_LEN]);
void merge_digest_add_hash(struct merge_digest *d,
    const uint8_t h[MERGE_VID_HASHLEN]);
void merge_digest_sub_hash(struct merge_digest *d,
    const uint8_t h[MERGE_VID_HASHLEN]);
void merge_digest_final(uint8_t out[32], const struct merge_digest *d);

/*
 * What merge_chunk works out for each op, done ahead of the merge (on the
 * thread pool, beside reading the chunks: daemon/peer.c): the value's id
 * (ops_vid) and its hash for the digest (merge_vid_hash).  Two BLAKE2b per
 * op, a tenth of what a bulk merge did on the loop.
 */
struct merge_vid {
	uint8_t vid[VID_LEN];
	uint8_t hash[MERGE_VID_HASHLEN];
};

/*
 * Works out the vids of every chunk read in o, the change set csid's
 * (changeset_open): each chunk's vids (for its ops, in order), all in one
 * allocation, o->vids (replaced if there were some), and o->csid and
 * o->has_vids.  changeset_opened_free frees them.
 */
void merge_opened_vids(struct cs_opened *o, const uint8_t csid[CS_IDLEN]);

#endif
