/* members: who belongs to a shared circle, decided from its members chain's signed ops. */
#ifndef SAMEN_MEMBERS_H
#define SAMEN_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "changeset.h"
#include "ops.h"

/*
 * A shared circle's membership is written as ordinary records in a chain
 * of its own (docs/sync.md, "Shared circles and joining"): one "circle"
 * record (name, creator, salt) and one "member" record per device
 * (device, role, added_by, key1).  What counts is decided here, from the
 * history of those records, never from their merged state: in a members
 * chain only the admin's writes count, and nobody else's write may hide
 * or kill them, which the merge rules (any member may write any record)
 * would allow.
 *
 * The rules, as they stand:
 * - the circle record is valid if one of its SETs of "creator" was written
 *   by that very device, and the circle id derives from it and the
 *   creator's latest "salt" (sync_circle_id), and the creator's latest
 *   "name" is a valid field name.  The first such SET wins;
 * - a member record counts only as its creator wrote it: the creator's
 *   latest "device", "role", "added_by" and "key1", unless the creator's
 *   latest word on the record's existence is a delete;
 * - the first record that names a device counts, later ones are ignored;
 * - a member is admin if its role is "admin" and it is the creator (the
 *   circle's only admin for now).
 * Every device that holds the same ops computes the same view.
 *
 * The input is a list of records, each with its ops (signed by their
 * authors) oldest first, plain data borrowed from the caller: nothing
 * here reads a store or a key.
 */

/* One op of a record's history. */
struct members_op {
	const uint8_t *author;	/* 32 bytes: the device that signed it */
	enum op_type kind;	/* OP_SET and OP_EXIST count; others are ignored */
	const char *field;	/* NUL-terminated; "" for EXIST */
	const char *value;	/* NUL-terminated; NULL for EXIST */
	int alive;		/* EXIST: 1 live, 0 a delete */
	uint64_t hlc;
	uint64_t seq;		/* of its change set in the author's chain */
};

/* One record of a members chain and its history. */
struct members_record {
	const char *collection;	/* "circle", "member"; others are ignored */
	const struct members_op *ops;	/* oldest first */
	size_t nops;
};

/* Hex of the epoch-1 circle key sealed to a member (crypto_box_seal). */
#define MEMBERS_SEALEDLEN (CS_KEYLEN + 48)
#define MEMBERS_KEY1LEN (2 * MEMBERS_SEALEDLEN)

struct members_entry {
	uint8_t device[32];
	int admin;
	uint8_t added_by[32];	/* all zero if not given or unreadable */
	char key1[MEMBERS_KEY1LEN + 1];	/* "" if absent or too long */
};

struct members_view {
	uint8_t id[CS_CIRCLELEN];	/* the circle (not its chain) */
	int valid;			/* the circle record checks out */
	char name[OPS_MAX_FIELD + 1];	/* valid only */
	uint8_t creator[32];		/* valid only */
	struct members_entry *members;	/* in record order */
	size_t nmembers;
};

/*
 * Builds the view of circle id from its chain's records (borrowed).  Fills
 * *v, whose members are new: free with members_view_free().  A circle
 * record that does not check out leaves v->valid 0 and no members.
 */
void members_build(struct members_view *v, const uint8_t id[CS_CIRCLELEN],
    const struct members_record *recs, size_t n);
void members_view_free(struct members_view *v);

/* The member entry of device, or NULL.  Borrowed from v. */
const struct members_entry *members_find(const struct members_view *v,
    const uint8_t device[32]);
/* 1 if device is an admin of a valid circle v, else 0. */
int members_is_admin(const struct members_view *v, const uint8_t device[32]);
/*
 * 1 if device may change the membership of a valid circle v, else 0:
 * today its creator, the only admin, whether or not its own member record
 * has arrived.
 */
int members_can_manage(const struct members_view *v,
    const uint8_t device[32]);

/*
 * The latest value author ever set for field in ops[0..n) (oldest first),
 * or NULL.  Borrowed from ops.
 */
const char *members_latest(const struct members_op *ops, size_t n,
    const uint8_t author[32], const char *field);
/* 1 if author's latest word on the record's existence is a delete. */
int members_deleted(const struct members_op *ops, size_t n,
    const uint8_t author[32]);

#endif
