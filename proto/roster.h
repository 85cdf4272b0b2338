/* roster: a circle's membership, resolved from its signed membership ops. */
#ifndef SAMEN_ROSTER_H
#define SAMEN_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"

/*
 * Pure: no I/O, no clock, no store, no keys.  Every device and relay that
 * holds the same set of ops computes the same roster, whatever order they
 * arrived in.  The rules (DESIGN.md, "Trust lifecycle", made exact) are
 * written at the top of roster.c.
 *
 * Each change set of a circle's members chain (sync_members_circle) carries
 * exactly one op: one chunk that creates a record of collection "mop" whose
 * fields, all SET strings, describe it.  The op's id is the change set's id,
 * its author and seq the header's.
 */

/* Caps: past one, parse and resolve return SAMEN_ETOOBIG. */
#define ROSTER_MAX_OPS 4096	/* ops given to one roster_resolve() */
#define ROSTER_MAX_DEPS 256	/* entries of one op's deps */
#define ROSTER_MAX_SEALS 1024	/* entries of one op's keys */
#define ROSTER_MAX_TAGS 2048	/* record tags of one purge */
/*
 * Opaque blobs (name, reason, rids) are hex in a SET value, which
 * ops_decode() holds to OPS_MAX_VALUE characters.  The same bound limits
 * the keys field to 282 seals in practice, below ROSTER_MAX_SEALS:
 * roster_op_encode() refuses an op whose fields do not fit.
 */
#define ROSTER_MAX_BLOB (OPS_MAX_VALUE / 2)

#define ROSTER_COLLECTION "mop"
#define ROSTER_SEALLEN 80	/* crypto_box_SEALBYTES + a 32-byte key */
#define ROSTER_TAGLEN 16	/* CS_RTAGLEN */
/* Epoch 0 in a seal is the circle's audit secret, not an epoch key. */
#define ROSTER_AUDIT_EPOCH 0
/* The epoch a create starts; every other epoch id has its top bit set. */
#define ROSTER_FIRST_EPOCH 1

enum roster_type {
	ROSTER_NONE = 0,	/* a placeholder: the op did not parse */
	ROSTER_CREATE = 1,
	ROSTER_ADD,
	ROSTER_REMOVE,
	ROSTER_ROLE,
	ROSTER_REVOKE,
	ROSTER_ACCEPT,
	ROSTER_EPOCH,
	ROSTER_RETENTION,
	ROSTER_PURGE,
};

/* Ordered by privilege: where concurrent ops disagree the smaller wins. */
enum roster_role {
	ROSTER_NOROLE = 0,
	ROSTER_RELAY = 1,
	ROSTER_MEMBER = 2,
	ROSTER_ADMIN = 3,
};

/* One entry of a version vector of the members chain. */
struct roster_dep {
	uint8_t author[32];
	uint64_t seq;
};

/* A key sealed to a device (crypto_box_seal of the 32-byte key). */
struct roster_seal {
	uint32_t epoch;
	uint8_t device[32];
	uint8_t sealed[ROSTER_SEALLEN];
};

/*
 * One op.  roster_op_parse() leaves the fields its type does not use zero;
 * roster_resolve() ignores them.  Owned arrays are freed by
 * roster_op_free().
 */
struct roster_op {
	uint8_t id[32];			/* the change set's id */
	uint8_t author[32];
	uint64_t seq;
	uint64_t hlc;
	enum roster_type type;
	struct roster_dep *deps;	/* owned; sorted by author */
	size_t ndeps;
	uint8_t target[32];		/* add, remove, role, revoke, accept */
	enum roster_role role;		/* add, role */
	uint64_t cut_seq;		/* remove, revoke, accept */
	uint8_t cut_id[32];
	uint32_t epoch;			/* create, remove, revoke, epoch */
	struct roster_seal *seals;	/* owned; any type */
	size_t nseals;
	uint8_t salt[16];		/* create */
	int has_audit;			/* any type */
	uint8_t audit[32];
	char coll[OPS_MAX_COLLECTION + 1];	/* retention, NUL-terminated */
	uint32_t keep;			/* retention: days, 0 = none */
	uint8_t (*tags)[ROSTER_TAGLEN];	/* owned; purge */
	size_t ntags;
	uint8_t *name;			/* owned, opaque; create */
	size_t name_len;
	uint8_t *reason;		/* owned, opaque; remove, revoke, purge */
	size_t reason_len;
	uint8_t *rids;			/* owned, opaque; purge */
	size_t rids_len;
};

/*
 * An op's epoch id: the first 4 bytes (little endian) of BLAKE2b-256 over
 * "samen-epoch-1" || chain (the members chain id) || author || le64(seq),
 * with the top bit set.  Never 0 (the audit seals) nor 1 (the create's).
 */
uint32_t roster_epoch_id(const uint8_t chain[16], const uint8_t author[32],
    uint64_t seq);

/*
 * Parses the decoded chunk of one members-chain change set of circle (its
 * id, author, seq and hlc from the header).  Borrows c and the arrays.
 * Returns 0, with the owned arrays of *op allocated (roster_op_free()), or
 * SAMEN_EVALUE / SAMEN_ETOOBIG / SAMEN_EPROTO / SAMEN_EVERSION for anything
 * malformed; then *op is still filled as a placeholder (type ROSTER_NONE,
 * id, author, seq and hlc set, nothing allocated), which roster_resolve()
 * takes: it holds its place in its author's chain, so that the author's
 * later ops are not held up, and counts as ROSTER_MALFORMED.
 */
int roster_op_parse(struct roster_op *op, const struct ops_chunk *c,
    const uint8_t circle[16], const uint8_t id[32], const uint8_t author[32],
    uint64_t seq, uint64_t hlc);

/*
 * Builds the chunk of op (collection "mop", the rid given, the EXIST alive
 * op and one SET per field) for ops_encode().  The writer sets deps from
 * roster_frontier() and epoch from roster_epoch_id() first; id, author, seq
 * and hlc are the header's and not encoded.  Borrows op.  Returns 0, or
 * SAMEN_EINVAL for an op parse would refuse (a field missing or out of its
 * range) or SAMEN_ETOOBIG past a cap or OPS_MAX_VALUE.  On success c->ops
 * and every string it points to lie in one allocation: free with
 * ops_chunk_free(c).  On error nothing needs freeing.
 */
int roster_op_encode(struct ops_chunk *c, const struct roster_op *op,
    const uint8_t rid[RID_LEN]);

/*
 * The rules of one op that need no other op (types, ranges, caps, sorted
 * deps, seal epochs, the cut's form).  With circle, for a received op, also
 * seq >= 1, deps that do not name the author, and the epoch derived from
 * (members chain, author, seq); NULL for an op being written.  Returns 0,
 * SAMEN_EVALUE or SAMEN_ETOOBIG.  roster_op_parse() ends with it and
 * roster_resolve() counts an op that fails it as a placeholder.
 */
int roster_op_check(const struct roster_op *op, const uint8_t circle[16]);

/*
 * A total order on what two ops say, their ids aside (equal: 0).  Two ops
 * with one id must compare equal, or the id is poisoned (roster.c).
 */
int roster_op_cmp(const struct roster_op *a, const struct roster_op *b);

/* Frees the owned arrays and zeroes them; keeps the rest. */
void roster_op_free(struct roster_op *op);

/* Why an op does (not) count. */
enum roster_verdict {
	ROSTER_VALID = 0,
	ROSTER_WAITING,		/* names an op not held: may count later */
	ROSTER_MALFORMED,	/* a placeholder, bad deps, a fork: never */
	ROSTER_UNAUTHORIZED,	/* its author lacked the role in its past */
	ROSTER_FILTERED,	/* taken away by a removal or demotion */
	ROSTER_NVERDICTS
};

enum roster_state {
	ROSTER_CURRENT = 1,
	ROSTER_REMOVED,
	ROSTER_REVOKED,
};

/* A device that a valid op adds, removes or revokes (or the creator). */
struct roster_member {
	uint8_t device[32];
	enum roster_state state;
	/* Current: the role now; otherwise the role it last had. */
	enum roster_role role;
	int has_adder;
	uint8_t added_by[32];		/* author of the surviving add */
	/* Removed or revoked: past this seq its change sets are refused. */
	uint64_t cut_seq;
	uint8_t cut_id[32];
};

/*
 * An epoch started by a valid op.  A reader is a current member that is not
 * a relay.
 */
struct roster_epoch {
	uint32_t id;
	uint8_t op[32];			/* the op that started it */
	uint8_t (*sealed)[32];		/* devices it is sealed to, sorted */
	size_t nsealed;
	size_t nexposed;		/* of them, not readers */
	size_t nlacking;		/* readers it is not sealed to */
};

/* The winning retention policy of one collection. */
struct roster_retention {
	char coll[OPS_MAX_COLLECTION + 1];
	uint32_t keep;
	uint8_t op[32];
};

/* A valid purge; the op's opaque fields are in the caller's ops. */
struct roster_purge {
	uint8_t op[32];
	size_t index;			/* of the op in roster_resolve()'s ops */
	uint8_t (*tags)[ROSTER_TAGLEN];
	size_t ntags;
};

/*
 * The resolved state, opaque: read it through the functions below.
 * Immutable once resolved; all of it is owned by the roster and freed by
 * roster_free().
 */
struct roster;

/*
 * Resolves the ops held for circle, in any order (duplicates by id are
 * ignored).  Borrows ops for the call only.  Returns 0 and a new roster
 * (free with roster_free()), or SAMEN_ETOOBIG for more than ROSTER_MAX_OPS
 * ops.  Ops that break a rule are verdicts, never an error.
 */
int roster_resolve(const uint8_t circle[16], const struct roster_op *ops,
    size_t n, struct roster **out);
void roster_free(struct roster *r);

/*
 * Queries.  Pointers returned are borrowed from r and live until
 * roster_free().
 */
/* 1 if the circle has a valid create, else 0. */
int roster_circle_valid(const struct roster *r);
/* The creator's device id, or NULL. */
const uint8_t *roster_creator(const struct roster *r);
/* The verdict of ops[i] as given to roster_resolve(); i < n. */
enum roster_verdict roster_verdict(const struct roster *r, size_t i);
/* How many distinct ops (by id) got verdict v. */
size_t roster_count(const struct roster *r, enum roster_verdict v);
/*
 * Every device that a valid op adds, removes or revokes, and the creator;
 * sorted by id; *n entries.
 */
const struct roster_member *roster_members(const struct roster *r,
    size_t *n);
/* One device, or NULL. */
const struct roster_member *roster_member(const struct roster *r,
    const uint8_t device[32]);
/* 1 if device is a current admin, else 0. */
int roster_is_admin(const struct roster *r, const uint8_t device[32]);
/* Epochs sorted by id; *n entries. */
const struct roster_epoch *roster_epochs(const struct roster *r, size_t *n);
/*
 * The preferred epoch (writers use it): sealed to the fewest devices that
 * are not readers, then lacked by the fewest readers, then the smallest
 * id.  NULL if there is none.
 */
const struct roster_epoch *roster_preferred(const struct roster *r);
/*
 * The valid seals to device, sorted by epoch (then bytes; no two alike):
 * every epoch key it was given and the audit secret (epoch 0), to open
 * with its own key.  NULL and *n 0 if none.
 */
const struct roster_seal *roster_seals(const struct roster *r,
    const uint8_t device[32], size_t *n);
/*
 * The version vector a new op of self must carry as deps: for every other
 * author the highest seq among ready ops (placeholders included, WAITING
 * and stuck ops not: only ready ops keep deps causally closed).  Returns
 * 0 and a new array (free with free(); NULL when empty), or SAMEN_ETOOBIG
 * if it has more than ROSTER_MAX_DEPS entries.
 */
int roster_frontier(const struct roster *r, const uint8_t self[32],
    struct roster_dep **deps, size_t *n);
/* Retention policies sorted by collection; *n entries. */
const struct roster_retention *roster_retentions(const struct roster *r,
    size_t *n);
/* Valid purges sorted by op id; kept for ever; *n entries. */
const struct roster_purge *roster_purges(const struct roster *r, size_t *n);
/* The current audit public key, or NULL. */
const uint8_t *roster_audit(const struct roster *r);

/*
 * BLAKE2b-256 of the whole state (every distinct op's verdict, by id, and
 * all the above): equal on every device that holds the same ops.
 */
void roster_digest(const struct roster *r, uint8_t out[32]);

/*
 * The maintenance an admin device self owes, as a mask; 0 if none or self
 * is not a current admin.
 *   ROSTER_NEED_EPOCH: start a new epoch sealed to exactly the readers:
 *     the preferred epoch is sealed to a device that is not one (removed,
 *     revoked, demoted to relay), or some readers lack it and self cannot
 *     seal it (self lacks it too).  That epoch then ranks first.
 *   ROSTER_NEED_SEAL: seal the preferred epoch to the devices in *lack
 *     (borrowed, sorted, *nlack entries): the readers that lack it.  Only
 *     the preferred epoch is owed (history is the adder's).
 * NEED_EPOCH alone when both apply: the new epoch covers the others.
 */
#define ROSTER_NEED_EPOCH 0x1u
#define ROSTER_NEED_SEAL 0x2u
unsigned roster_needs(const struct roster *r, const uint8_t self[32],
    const uint8_t (**lack)[32], size_t *nlack);

#endif
