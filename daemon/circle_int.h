/* circle_int: what circle.c (reading, answering) and circle_ops.c (writing ops) share. */
#ifndef SAMEN_CIRCLE_INT_H
#define SAMEN_CIRCLE_INT_H

/* Included only by daemon/circle*.c and test_circle.c. */

#include "circle.h"
#include "ops.h"

/* A shared circle we hold the members chain of, and what it says. */
struct view {
	struct circle_info info;	/* what circle_list hands out */
	uint8_t chain[CS_CIRCLELEN];	/* its members chain */
	struct roster *r;		/* NULL if it could not be resolved */
	struct roster_op *ops;		/* every op of the chain, parsed */
	size_t nops;
	char label[OPS_MAX_FIELD + 1];	/* name or short id */
	const struct store_circle *writer;	/* the preferred epoch's */
};

struct circle {
	struct circle_env env;
	struct store_circle priv;	/* the private circle, once unlocked */
	int have_priv;
	/* Every (circle, epoch) we hold, keys in memory while unlocked. */
	struct store_circle *circles;
	size_t ncircles;
	struct view *views;		/* by name, as circle_list gives them */
	size_t nviews;
	/*
	 * A copy of the info of each view with a valid roster that names
	 * us, in the same order: a chain we are joining, or one a peer
	 * offered that is not ours, is no circle to show or to name.
	 */
	struct circle_info *infos;
	size_t ninfos;
	uint8_t default_circle[CS_CIRCLELEN];
	int has_default;
	/* The circles we departed (store_departed): never joined again. */
	struct store_departed *departed;
	size_t ndeparted;
	int stale;			/* refresh after the batch commits */
	int refreshing;			/* no maintenance inside a refresh */
	/*
	 * circle_purge.c: the purges applied since unlock, each with the
	 * number of epoch keys of its circle held then: a new key owes it
	 * again (its records' tags under that key).
	 */
	struct circle_applied {
		uint8_t op[32];
		size_t nkeys;
	} *applied;
	size_t napplied;
	uint64_t dropped_seen;		/* store_purged_dropped, logged */
	uint64_t refused_seen;		/* circle_purges_refused, logged */
};

/* circle.c, for the other circle_*.c. */

/* The view of shared circle id, or NULL. */
struct view *circle_view_of(struct circle *cs, const uint8_t id[CS_CIRCLELEN]);
/* 1 if c is a key of the records of circle id (not the audit secret). */
int circle_is_key(const struct store_circle *c,
    const uint8_t id[CS_CIRCLELEN]);
/* How many epoch keys of circle id this device holds. */
size_t circle_nkeys(const struct circle *cs, const uint8_t id[CS_CIRCLELEN]);
/* The stored row of (id, epoch), or NULL. */
const struct store_circle *circle_row(const struct circle *cs,
    const uint8_t id[CS_CIRCLELEN], uint32_t epoch);
/*
 * Reads the circles and resolves the rosters again, and takes the keys
 * sealed to us, without the cuts and maintenance (which wait for the end
 * of a transaction).  0 or a negative code.
 */
int circle_reload(struct circle *cs);
/* Stores the members chain of base (its key derives from base's id). */
int circle_put_chain(struct circle *cs, const uint8_t base[CS_CIRCLELEN]);

/* circle_purge.c, for circle.c. */

/*
 * Applies every purge owed and runs a retention pass (which may write
 * purge ops in a batch of its own), out of a transaction.  0 or a
 * negative code; failures of one purge are logged and leave it owed.
 */
int circle_erasure(struct circle *cs);
/* Forgets which purges were applied (lock, close). */
void circle_erasure_forget(struct circle *cs);

/* circle_ops.c, for circle_purge.c. */

/*
 * Writes op into v's members chain in the batch's transaction (opened
 * if need be) and reads the rosters again: v is stale after.  A failure
 * once the op is in the transaction rolls the batch back.
 */
int circle_op_write(struct circle *cs, struct view *v, struct roster_op *op,
    char **cause);

/* circle_ops.c, for circle.c. */

/*
 * An admin's maintenance of every circle (roster_needs), each at most
 * once, in a batch of its own: 1 if it wrote an op, 0 if none was owed,
 * or a negative code.  Out of a transaction only.
 */
int circle_maintain(struct circle *cs);

#endif
