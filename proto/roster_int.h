/* roster_int: what the roster's own files share: its body, the resolver's graph, their calls. */
#ifndef SAMEN_ROSTER_INT_H
#define SAMEN_ROSTER_INT_H

/*
 * Included only by proto/roster*.c and the roster's unit tests; everyone
 * else has roster.h.
 *
 * The roster is one module in several files, each of one concern:
 *
 *   roster_parse.c  one op alone: its own rules, its order, its codec
 *   roster_graph.c  the ops held as a causal graph: one node per id, the
 *                   devices, the slots, readiness, pasts, their order
 *   roster_apply.c  apply(V): one device's state in a set of valid ops
 *   roster_rules.c  rule 2 for every op, rules 3 to 8 on a closed set
 *   roster.c        the rules written out; roster_resolve(), and the
 *                   roster made of the verdicts
 *   roster_state.c  the resolved roster: its epochs ranked, the queries,
 *                   the maintenance owed, the digest
 *
 * roster_resolve() runs them in that order over one struct roster_ctx of
 * its own: roster_graph_build() fills it, roster_rules_authorize() and
 * roster_rules_resolve() (through roster_apply_*()) judge its nodes,
 * roster.c copies what they found into a new struct roster, and
 * roster_graph_free() frees what the context holds.  The context is
 * scratch of one call on one thread: nothing in it outlives the call.
 *
 * Names: a function one file defines for the others is named after that
 * file (roster_graph_sort() in roster_graph.c) and declared here.  The
 * helpers of the inner loops (inpast, concurrent, row, ...) are static
 * inline below instead: a call across files each time would cost the
 * resolver, and, being static, their short names leave no symbol.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "roster.h"

struct roster_idverdict {
	uint8_t id[32];
	uint8_t verdict;
};

/*
 * The resolved state (roster.h): roster.c fills it, roster_state.c answers
 * from it.  Everything it points to is its own, freed by roster_free().
 */
struct roster {
	int valid;
	uint8_t creator[32];
	uint8_t *verdicts;		/* per input index */
	size_t nin;
	size_t count[ROSTER_NVERDICTS];
	struct roster_idverdict *byid;	/* per distinct op, sorted by id */
	size_t nbyid;
	struct roster_member *members;	/* sorted by device */
	size_t nmembers;
	struct roster_epoch *epochs;	/* sorted by id */
	size_t nepochs;
	size_t preferred;		/* index in epochs, or nepochs */
	uint8_t (*lack)[32];		/* readers without the preferred */
	size_t nlack;
	struct roster_seal *seals;	/* sorted by device, epoch, bytes */
	size_t nseals;
	struct roster_start {		/* for roster_finish() only */
		uint32_t epoch;
		uint8_t op[32];
	} *starts;
	size_t nstarts;
	struct roster_dep *frontier;	/* sorted by author */
	size_t nfrontier;
	struct roster_retention *retentions;	/* sorted by collection */
	size_t nretentions;
	struct roster_purge *purges;	/* sorted by op id */
	size_t npurges;
	int has_audit;
	uint8_t audit[32];
};

/*
 * In roster_state.c, for roster_resolve(), last: makes the epochs of
 * starts (and frees it), drops the seals to epochs nobody started, sorts
 * the seals, fills each epoch's sealed set, ranks the epochs and fills
 * lack.
 */
void roster_finish(struct roster *r);

#define NIL UINT32_MAX			/* no node, no device */
#define FORKED (UINT32_MAX - 1)		/* a slot two ops claim */

/* What the slots and readiness found out about a node. */
enum {
	N_PLACE = 0x01,		/* counts as a placeholder: MALFORMED */
	N_POISON = 0x02,	/* can never be ready */
	N_READY = 0x04,
	N_WAIT = 0x08,		/* not ready for want of an op not held */
	N_SALTOK = 0x10,	/* a create whose salt derives the circle */
};

/* Scratch flags of one roster_rules_resolve() run. */
enum {
	S_F = 0x01,		/* filtered */
	S_BAD = 0x02,		/* a candidate dropped by rule 8 */
	S_FORCED = 0x04,	/* made ineffective by rule 5 */
	S_EFF = 0x08,		/* effective */
	S_DEFEATED = 0x10,	/* defeated by an effective candidate */
};

/* One distinct op (by id). */
struct roster_node {
	const struct roster_op *op;
	size_t first;		/* its first index in the caller's array */
	uint32_t author;	/* device index */
	uint32_t target;	/* device index, or NIL */
	uint32_t kidx;		/* its bit in the pasts (ready only) */
	uint32_t pos;		/* topological position (ready only) */
	uint32_t pending;	/* named nodes not yet ready */
	uint32_t nmissing;	/* named slots not held */
	uint32_t candnext;	/* next candidate with the same target */
	uint8_t flags;
	uint8_t tadmin;		/* target is a current admin in its past */
	uint8_t cand;		/* takes admin power away (rule 3) */
	uint8_t conflicted;	/* its past holds a conflict pair */
	uint8_t verdict;
};

/* Two ops whose order of arrival the rules must weigh: a conflict pair. */
struct roster_pair {
	uint32_t a, b;
};

/* The state of one device in apply(V). */
struct roster_dstate {
	int listed;		/* an add, remove or revoke names it */
	int current;
	int revoked;
	enum roster_role role;
};

/*
 * The resolver's context: the graph of the ops held (roster_graph.c), what
 * the rules found (auth, valid, the nodes' flags), and their scratch.  The
 * arrays are its own (roster_graph_free()); circle and the ops the nodes
 * point to are the caller's.
 */
struct roster_ctx {
	const uint8_t *circle;
	struct roster_node *nodes;	/* sorted by id */
	uint32_t n;
	uint32_t *slots;	/* nodes sorted by (author, seq) */
	uint32_t nslots;
	uint8_t (*dev)[32];	/* every author and target, sorted */
	uint32_t ndev;
	uint32_t *eoff, *edge;	/* what each node names (CSR) */
	uint32_t *roff, *redge;	/* and who names it */
	uint32_t nready;
	uint32_t *topo;		/* ready nodes by position */
	uint64_t *rows;		/* each ready node's past, by kidx */
	size_t words;
	uint32_t *toff, *tlist;	/* per device: the ops naming it */
	uint32_t *aoff, *alist;	/* per device: the ops it wrote */
	uint32_t *candhead;	/* per device: candidates targeting it */
	uint8_t *auth;		/* rule 2, per node */
	uint8_t *valid;		/* the final verdict, per node */
	uint8_t *tmp;		/* a roster_rules_resolve() result */
	uint8_t *sf;		/* roster_rules_resolve() flags */
	struct roster_pair *pairs;
	size_t npairs, cpairs;
	/*
	 * Scratch, n + 1 entries each: roster_rules_resolve() (xs, cs,
	 * act, loc), the defeat graph and its components (eptr, ge, idx,
	 * low, stk, cstk, it, on, comp, csize, order), apply() (sbuf,
	 * rbuf).
	 */
	uint32_t *xs, *cs, *act, *loc, *eptr, *idx, *low, *stk, *cstk, *it,
	    *comp, *csize, *order, *sbuf, *rbuf;
	uint8_t *on;
	uint32_t *scratch32;	/* the blocks the above point into */
	uint8_t *scratch8;
	uint32_t *ge;		/* the defeat graph's edges */
	size_t nge, cge;
};

static inline const struct roster_op *
opof(const struct roster_ctx *x, uint32_t i)
{
	return x->nodes[i].op;
}

static inline enum roster_type
typeof_node(const struct roster_ctx *x, uint32_t i)
{
	return x->nodes[i].op->type;
}

static inline int
idcmp(const struct roster_ctx *x, uint32_t a, uint32_t b)
{
	return memcmp(opof(x, a)->id, opof(x, b)->id, 32);
}

static inline const uint64_t *
row(const struct roster_ctx *x, uint32_t i)
{
	return x->rows + (size_t)x->nodes[i].kidx * x->words;
}

static inline int
bit(const uint64_t *set, uint32_t k)
{
	return (set[k / 64] >> (k % 64)) & 1;
}

/* 1 if ready node a is in the causal past of ready node b. */
static inline int
inpast(const struct roster_ctx *x, uint32_t a, uint32_t b)
{
	return bit(row(x, b), x->nodes[a].kidx);
}

static inline int
concurrent(const struct roster_ctx *x, uint32_t a, uint32_t b)
{
	return a != b && !inpast(x, a, b) && !inpast(x, b, a);
}

/* A member of the set resolved: all ready nodes (set NULL) or a past. */
static inline int
inset(const struct roster_ctx *x, const uint64_t *set, uint32_t i)
{
	return set == NULL || bit(set, x->nodes[i].kidx);
}

#define CMP(a, b) do {							\
	if ((a) != (b))							\
		return (a) < (b) ? -1 : 1;				\
} while (0)

/* ---- roster_graph.c ------------------------------------------------------ */

/*
 * Fills x (which it zeroes first) from the n ops held for circle: one node
 * per distinct id, the devices, the slots, the edges, readiness with each
 * ready node's past and the topological order, the per-device lists, and
 * the scratch the rules use.  nodeof (n entries) gets each op's node.
 * Borrows circle and ops, which must outlive x.  Everything x points to
 * is its own: free with roster_graph_free().
 */
void roster_graph_build(struct roster_ctx *x, const uint8_t circle[16],
    const struct roster_op *ops, size_t n, uint32_t *nodeof);
/* Frees what x holds (not x). */
void roster_graph_free(struct roster_ctx *x);
/* The index of a device in x->dev, or NIL. */
uint32_t roster_graph_device(const struct roster_ctx *x,
    const uint8_t key[32]);
/*
 * Sorts the n node indices of a (in place) with cmp, which gets x.  A
 * merge sort: n log n whatever the input; stable.
 */
void roster_graph_sort(const struct roster_ctx *x, uint32_t *a, size_t n,
    int (*cmp)(const struct roster_ctx *, uint32_t, uint32_t));

/* ---- roster_apply.c ------------------------------------------------------ */

/*
 * The ops of the set that name device d: valid[i] and in set (NULL: every
 * ready node), or i == extra (an op judged with its own effect; NIL for
 * none).  Writes them to x->sbuf and the removals among them to x->rbuf
 * (*nr); returns how many went to sbuf.
 */
uint32_t roster_apply_gather(struct roster_ctx *x, uint32_t d,
    const uint8_t *valid, const uint64_t *set, uint32_t extra, uint32_t *nr);
/* 1 if add or role op i survives the nr removals in x->rbuf, else 0. */
int roster_apply_survives(const struct roster_ctx *x, uint32_t i,
    uint32_t nr);
/*
 * apply() for device d (NIL: *st all zero) over the ops roster_apply_gather()
 * takes; all: the role it last had even where a removal dominates its role
 * setters (for a device that is not current).  Uses x->sbuf and x->rbuf.
 */
void roster_apply_eval(struct roster_ctx *x, uint32_t d,
    const uint8_t *valid, const uint64_t *set, uint32_t extra, int all,
    struct roster_dstate *st);
/* 1 if d is a current admin in apply(the valid ops of set), else 0. */
int roster_apply_admin(struct roster_ctx *x, uint32_t d,
    const uint8_t *valid, const uint64_t *set);

/* ---- roster_rules.c ------------------------------------------------------ */

/*
 * Rule 2 for every ready node in topological order (x->auth, and each
 * node's cand, tadmin and conflicted), and the conflict pairs (x->pairs):
 * without one, rule 2's verdicts are the valid ones.
 */
void roster_rules_authorize(struct roster_ctx *x);
/*
 * Rules 3 to 8 on X, the ready ops at positions below limit that are in
 * set (NULL: all): writes valid[] (per node) for the members of X.  Every
 * auth[] of X must be known.
 */
void roster_rules_resolve(struct roster_ctx *x, const uint64_t *set,
    uint32_t limit, uint8_t *valid);

#endif
