/* ops: the plaintext of one chunk: a record and the operations on it. */
#ifndef SAMEN_OPS_H
#define SAMEN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "rid.h"
#include "wire.h"

#define VID_LEN 16

/*
 * Encoding (canonical msgpack):
 *   chunk = [collection str, rid bin16, ops array]
 *   SET   = [1, field str, value str, pred array of bin16]
 *   EXIST = [2, alive bool, pred array of bin16]
 *   ADD   = [3, field str, element str]
 *   REM   = [4, field str, element str, tags array of bin16]
 * A value id (vid) names one operation: BLAKE2b-128 over the change-set id,
 * le32(chunk index), le32(op index).  pred names the register values a SET or
 * EXIST replaces; tags names the ADDs (by vid) a REM observed.
 */
enum op_type { OP_SET = 1, OP_EXIST = 2, OP_ADD = 3, OP_REM = 4 };

/* Schema limits; the decoder rejects anything past them (SAMEN_ETOOBIG). */
#define OPS_MAX_COLLECTION 32
#define OPS_MAX_FIELD 64
#define OPS_MAX_VALUE 65536
#define OPS_MAX_ELEMENT 1024
#define OPS_MAX_OPS 1024	/* per chunk */
#define OPS_MAX_REFS 4096	/* pred or tags of one op */

struct op {
	enum op_type type;
	const char *field;	/* SET, ADD, REM; NULL for EXIST */
	size_t field_len;
	const char *value;	/* SET value, ADD/REM element */
	size_t value_len;
	int alive;		/* EXIST */
	const uint8_t *refs;	/* pred or tags: nrefs * VID_LEN bytes */
	uint32_t nrefs;
};

struct ops_chunk {
	const char *collection;
	size_t collection_len;
	uint8_t rid[RID_LEN];
	struct op *ops;
	uint32_t nops;
};

/*
 * Name rules, checked by the decoder (SAMEN_EVALUE) and by writers:
 * collection: 1-32 bytes of [a-z0-9_-], starting with a letter;
 * field: 1-64 bytes of [A-Za-z0-9_-], starting with a letter or digit.
 * Also rejected: two SETs of one field, or two EXISTs, in one chunk.
 * The two checks return 1 if the name is valid, else 0.
 */
int ops_collection_valid(const char *s, size_t n);
int ops_field_valid(const char *s, size_t n);

/* Appends the encoding to w; the caller has checked the names. */
void ops_encode(struct wbuf *w, const struct ops_chunk *c);
/*
 * Decodes and validates.  Borrows p: strings point into it.  On success
 * c->ops is allocated, and the refs of all ops are copied into the same
 * allocation (in the input each has its own header, so they are not
 * contiguous there): free both with ops_chunk_free().  On error nothing
 * needs freeing.
 */
int ops_decode(struct ops_chunk *c, const uint8_t *p, size_t n);
void ops_chunk_free(struct ops_chunk *c);

void ops_vid(uint8_t vid[VID_LEN], const uint8_t csid[32], uint32_t chunk,
    uint32_t op);

#endif
