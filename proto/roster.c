/* roster: a circle's membership, resolved from its signed membership ops. */

/*
 * Rules: DESIGN.md "Trust lifecycle" made exact (numbered as in the spec).
 * "Decided" marks a case the spec left open or got wrong.
 *
 * Readiness.  An op is (author, seq); deps is the version vector its writer
 * had seen.  Its past P(o) is every held op at or below deps, and its
 * author's earlier ops.  It is ready when all it names is held and ready
 * and its deps are causally closed.  Ready ops are sorted by (|P|, id), a
 * linear extension of causality.  Not ready, but would be once the missing
 * ops came: WAITING.  Decided: an op whose own fields break a rule (one
 * that did not parse comes as a ROSTER_NONE placeholder) or whose deps are
 * not closed is MALFORMED but keeps its slot, naming only its author's
 * previous op, so nothing waits on it for ever.  Decided: a cycle of deps,
 * a fork (two ops in one slot), one id with two contents, or seq 0 is
 * never ready, nor is what names it (MALFORMED): honest writers never name
 * such ops, since none is in a frontier.
 *
 * 1. The create that counts: the one of smallest id whose salt derives
 *    the circle; other creates are UNAUTHORIZED.
 * 2. auth(o): o's author is a current admin in apply(resolve(P(o))).
 * 3. Candidates: ops with auth that remove or revoke anyone, or demote a
 *    device that was an admin in their own past.
 * 4. c' defeats c if c' targets c's author and they are concurrent.  The
 *    components of that graph, sources first: one is effective unless an
 *    effective candidate outside it defeats a member.
 * 5. If rule 7 leaves no current admin, the effective candidate of
 *    smallest id in a component of two or more, whose target was an admin
 *    in its own past, leaves the graph; again from 4 while that holds.
 * 6. Filtered: ineffective candidates, and ops of an effective candidate's
 *    target concurrent with it and not in its component.
 * 7. In topological order: valid if auth(o), not filtered, and the author
 *    is a current admin in apply(the valid ops of P(o)).  Decided: auth(o)
 *    is required (the spec's formula left it out), so an op whose author
 *    lacked the role in its own past never counts.
 * 8. Effective candidates found invalid are dropped, all at once, and 4-7
 *    run again.  Decided: a dropped candidate stays filtered, so it can
 *    neither defeat nor come back as a plain op; C only shrinks.
 * UNAUTHORIZED: rule 1 or 2 says no.  FILTERED: rule 2 says yes and 3-8
 * take it away, which is where "everything that depends on them" lands.
 * A set with no conflict pair (a candidate and a concurrent op with auth
 * by its target; or two valid creates) has no defeat and filters nothing:
 * its valid ops are those with auth.  So rule 2 runs 4-8 only on pasts
 * that hold such a pair.
 *
 * apply(V): revoked is for ever.  Current: some add (the create, for the
 * creator) survives, i.e. every removal of the device in V saw it.  Role:
 * of the surviving adds and role ops the maximal ones, the least
 * privileged.  Cut: the largest seq of its remove, revoke and accept ops,
 * then the smaller id.  Decided: listed if a valid op adds, removes or
 * revokes it; a device not current shows the role it last had; the adder
 * is the author of the maximal surviving add of smallest id.
 *
 * Epochs: started by the valid create (1), remove, revoke and epoch ops;
 * sealed to the union of the valid ops' seals, less devices that are
 * relays in the op's own state with the op applied.  Decided: seals to an
 * epoch nobody validly started are dropped; a seal need not follow the
 * start; two starters of one 31-bit id make one epoch (the smaller op id).
 * Decided: the preferred epoch is ranked by (sealed devices that are not
 * readers, readers it lacks, id); a reader is a current non-relay member.
 * The spec's "smallest set of non-revoked devices, then smallest id" never
 * settles: once X is revoked, epoch 1 sealed to {A, B, X} and the revoke's
 * epoch sealed to {A, B} tie at 2, epoch 1 wins on id, is sealed to X, so
 * needs() asks for a new epoch, which ties and loses again, for ever.
 * Both rankings agree on the spec's cases (removal, concurrent removals,
 * the merge that follows).
 *
 * Policies: per collection the maximal valid retention ops, then the
 * larger hlc, then the larger id; every valid purge; the audit key of the
 * maximal valid op that sets one, then the smaller id.
 */

#include "roster.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "sync.h"
#include "util.h"

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

/* Scratch flags of one resolve_set() run. */
enum {
	S_F = 0x01,		/* filtered */
	S_BAD = 0x02,		/* a candidate dropped by rule 8 */
	S_FORCED = 0x04,	/* made ineffective by rule 5 */
	S_EFF = 0x08,		/* effective */
	S_DEFEATED = 0x10,	/* defeated by an effective candidate */
};

/* One distinct op (by id). */
struct node {
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

/* Two ops whose order of arrival the rules must weigh (see conflicts). */
struct pair {
	uint32_t a, b;
};

/* The state of one device in apply(V). */
struct dstate {
	int listed;		/* an add, remove or revoke names it */
	int current;
	int revoked;
	enum roster_role role;
};

struct ctx {
	const uint8_t *circle;
	struct node *nodes;	/* sorted by id */
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
	uint8_t *tmp;		/* a resolve_set() result */
	uint8_t *sf;		/* resolve_set() flags */
	struct pair *pairs;
	size_t npairs, cpairs;
	/*
	 * Scratch, n + 1 entries each: resolve_set() (xs, cs, act, loc),
	 * the defeat graph and its components (eptr, ge, idx, low, stk,
	 * cstk, it, on, comp, csize, order), apply() (sbuf, rbuf).
	 */
	uint32_t *xs, *cs, *act, *loc, *eptr, *idx, *low, *stk, *cstk, *it,
	    *comp, *csize, *order, *sbuf, *rbuf;
	uint8_t *on;
	uint32_t *scratch32;	/* the blocks the above point into */
	uint8_t *scratch8;
	uint32_t *ge;		/* the defeat graph's edges */
	size_t nge, cge;
};

/* ---- small helpers ------------------------------------------------------- */

static int
uses_target(enum roster_type t)
{
	return t == ROSTER_ADD || t == ROSTER_REMOVE || t == ROSTER_ROLE ||
	    t == ROSTER_REVOKE || t == ROSTER_ACCEPT;
}

static const struct roster_op *
opof(const struct ctx *x, uint32_t i)
{
	return x->nodes[i].op;
}

static enum roster_type
typeof_node(const struct ctx *x, uint32_t i)
{
	return x->nodes[i].op->type;
}

static int
idcmp(const struct ctx *x, uint32_t a, uint32_t b)
{
	return memcmp(opof(x, a)->id, opof(x, b)->id, 32);
}

static const uint64_t *
row(const struct ctx *x, uint32_t i)
{
	return x->rows + (size_t)x->nodes[i].kidx * x->words;
}

static int
bit(const uint64_t *set, uint32_t k)
{
	return (set[k / 64] >> (k % 64)) & 1;
}

/* 1 if ready node a is in the causal past of ready node b. */
static int
inpast(const struct ctx *x, uint32_t a, uint32_t b)
{
	return bit(row(x, b), x->nodes[a].kidx);
}

static int
concurrent(const struct ctx *x, uint32_t a, uint32_t b)
{
	return a != b && !inpast(x, a, b) && !inpast(x, b, a);
}

/* A member of the set resolved: all ready nodes (set NULL) or a past. */
static int
inset(const struct ctx *x, const uint64_t *set, uint32_t i)
{
	return set == NULL || bit(set, x->nodes[i].kidx);
}

#define CMP(a, b) do {							\
	if ((a) != (b))							\
		return (a) < (b) ? -1 : 1;				\
} while (0)

/* By id, then content, then place in the caller's array. */
static int
cmp_input(const void *pa, const void *pb)
{
	const struct roster_op *a = *(const struct roster_op *const *)pa;
	const struct roster_op *b = *(const struct roster_op *const *)pb;
	int c;

	if ((c = memcmp(a->id, b->id, 32)) != 0 ||
	    (c = roster_op_cmp(a, b)) != 0)
		return c;
	return a < b ? -1 : a > b;
}

static int
cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static uint32_t
devfind(const struct ctx *x, const uint8_t key[32])
{
	const uint8_t (*p)[32];

	p = bsearch(key, x->dev, x->ndev, sizeof(*x->dev), cmp_key);
	return p ? (uint32_t)(p - x->dev) : NIL;
}

/*
 * Sorts node indices with cmp, which gets the context (qsort() passes
 * none, and a file-static one would race when two threads resolve).  A
 * merge sort: n log n whatever the input.
 */
static void
sort_nodes(const struct ctx *x, uint32_t *a, size_t n,
    int (*cmp)(const struct ctx *, uint32_t, uint32_t))
{
	uint32_t *tmp, *src, *dst, *t;
	size_t w, lo, mid, hi, i, j, k;

	if (n < 2)
		return;
	tmp = xcalloc(n, sizeof(*tmp));
	src = a;
	dst = tmp;
	for (w = 1; w < n; w *= 2) {
		for (lo = 0; lo < n; lo += 2 * w) {
			mid = lo + w < n ? lo + w : n;
			hi = lo + 2 * w < n ? lo + 2 * w : n;
			for (i = lo, j = mid, k = lo; k < hi; k++)
				dst[k] = i < mid && (j >= hi ||
				    cmp(x, src[i], src[j]) <= 0) ? src[i++] :
				    src[j++];
		}
		t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
	free(tmp);
}

/* ---- the ops: distinct ids, devices, slots ------------------------------ */

/*
 * One node per id.  Entries with one id but different contents are a
 * caller's error (the id hashes the header, which hashes the payload): the
 * node is poisoned rather than one of them chosen by the order of arrival.
 */
static void
build_nodes(struct ctx *x, const struct roster_op *ops, size_t nin,
    uint32_t *nodeof)
{
	const struct roster_op **by;
	struct node *nd;
	size_t i, j;

	by = xcalloc(nin ? nin : 1, sizeof(*by));
	for (i = 0; i < nin; i++)
		by[i] = &ops[i];
	qsort(by, nin, sizeof(*by), cmp_input);
	x->nodes = xcalloc(nin ? nin : 1, sizeof(*x->nodes));
	for (i = 0; i < nin; i = j) {
		nd = &x->nodes[x->n];
		nd->op = by[i];
		nd->first = (size_t)(by[i] - ops);
		for (j = i; j < nin && memcmp(by[j]->id, by[i]->id, 32) == 0;
		    j++) {
			if (roster_op_cmp(by[j], by[i]) != 0)
				nd->flags |= N_POISON;
			if ((size_t)(by[j] - ops) < nd->first)
				nd->first = (size_t)(by[j] - ops);
			nodeof[by[j] - ops] = x->n;
		}
		x->n++;
	}
	free(by);
}

static void
build_devices(struct ctx *x)
{
	uint32_t i, n = 0;
	const struct roster_op *op;
	struct node *nd;
	uint8_t salted[16];

	x->dev = xcalloc(2 * (size_t)x->n + 1, sizeof(*x->dev));
	for (i = 0; i < x->n; i++) {
		nd = &x->nodes[i];
		op = nd->op;
		/* Anything the op's own rules refuse is a placeholder. */
		if (op->type == ROSTER_NONE ||
		    roster_op_check(op, x->circle) != 0)
			nd->flags |= N_PLACE;
		/* Seq 0 cannot hold a place in a chain that starts at 1. */
		if (op->seq == 0)
			nd->flags |= N_POISON;
		memcpy(x->dev[n++], op->author, 32);
		if (!(nd->flags & N_PLACE) && uses_target(op->type))
			memcpy(x->dev[n++], op->target, 32);
		if (!(nd->flags & N_PLACE) && op->type == ROSTER_CREATE) {
			sync_circle_id(salted, op->author, op->salt);
			if (memcmp(salted, x->circle, 16) == 0)
				nd->flags |= N_SALTOK;
		}
	}
	qsort(x->dev, n, sizeof(*x->dev), cmp_key);
	x->ndev = 0;
	for (i = 0; i < n; i++)
		if (x->ndev == 0 || memcmp(x->dev[x->ndev - 1], x->dev[i],
		    32) != 0)
			memcpy(x->dev[x->ndev++], x->dev[i], 32);
	for (i = 0; i < x->n; i++) {
		nd = &x->nodes[i];
		nd->author = devfind(x, nd->op->author);
		nd->target = !(nd->flags & N_PLACE) &&
		    uses_target(nd->op->type) ? devfind(x, nd->op->target) : NIL;
	}
}

static int
cmp_slot(const struct ctx *x, uint32_t ia, uint32_t ib)
{
	const struct node *a = &x->nodes[ia], *b = &x->nodes[ib];

	CMP(a->author, b->author);
	CMP(a->op->seq, b->op->seq);
	return memcmp(a->op->id, b->op->id, 32);
}

/*
 * Slots (author, seq).  Two ops in one slot are a fork, which the chain
 * layer refuses (SAMEN_EFORK); here, whatever arrived first, neither holds
 * the slot: both are poisoned, and so is whatever names it.
 */
static void
build_slots(struct ctx *x)
{
	uint32_t i, j, k;

	x->slots = xcalloc(x->n + 1, sizeof(*x->slots));
	for (i = 0; i < x->n; i++)
		if (x->nodes[i].op->seq != 0)
			x->slots[x->nslots++] = i;
	sort_nodes(x, x->slots, x->nslots, cmp_slot);
	for (i = 0; i < x->nslots; i = j) {
		for (j = i + 1; j < x->nslots &&
		    x->nodes[x->slots[j]].author == x->nodes[x->slots[i]].author &&
		    x->nodes[x->slots[j]].op->seq ==
		    x->nodes[x->slots[i]].op->seq; j++)
			;
		if (j - i > 1)
			for (k = i; k < j; k++)
				x->nodes[x->slots[k]].flags |= N_POISON;
	}
}

static uint32_t
slot_find(const struct ctx *x, uint32_t dev, uint64_t seq)
{
	size_t lo = 0, hi = x->nslots, mid;
	const struct node *nd;

	if (dev == NIL)
		return NIL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		nd = &x->nodes[x->slots[mid]];
		if (nd->author < dev || (nd->author == dev && nd->op->seq < seq))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == x->nslots)
		return NIL;
	nd = &x->nodes[x->slots[lo]];
	if (nd->author != dev || nd->op->seq != seq)
		return NIL;
	if (lo + 1 < x->nslots && x->nodes[x->slots[lo + 1]].author == dev &&
	    x->nodes[x->slots[lo + 1]].op->seq == seq)
		return FORKED;
	return x->slots[lo];
}

/* ---- readiness and causal pasts ------------------------------------------ */

/*
 * Names (author, seq): an edge to the op in that slot, or a missing op, or
 * a fork (then the node can never be ready).  fill 0 only counts.
 */
static void
name_slot(struct ctx *x, uint32_t i, uint32_t dev, uint64_t seq, int fill,
    uint32_t *ne)
{
	uint32_t j = slot_find(x, dev, seq);

	if (j == FORKED) {
		x->nodes[i].flags |= N_POISON;
		return;
	}
	if (j == NIL) {
		if (fill)
			x->nodes[i].nmissing++;
		return;
	}
	if (fill)
		x->edge[x->eoff[i] + *ne] = j;
	(*ne)++;
}

/*
 * What a node names: its author's previous op and, unless it is a
 * placeholder (whose deps mean nothing), the top op of each dep.  The
 * previous op comes first: a node found malformed later keeps only it.
 */
static uint32_t
name_all(struct ctx *x, uint32_t i, int fill)
{
	const struct node *nd = &x->nodes[i];
	const struct roster_op *op = nd->op;
	uint32_t ne = 0;
	size_t k;

	if (op->seq > 1)
		name_slot(x, i, nd->author, op->seq - 1, fill, &ne);
	if (!(nd->flags & N_PLACE))
		for (k = 0; k < op->ndeps; k++)
			name_slot(x, i, devfind(x, op->deps[k].author),
			    op->deps[k].seq, fill, &ne);
	return ne;
}

static void
build_edges(struct ctx *x)
{
	uint32_t i, k, j, *fill;

	x->eoff = xcalloc((size_t)x->n + 1, sizeof(*x->eoff));
	x->roff = xcalloc((size_t)x->n + 1, sizeof(*x->roff));
	for (i = 0; i < x->n; i++)
		x->eoff[i + 1] = x->eoff[i] + ((x->nodes[i].flags & N_POISON) ?
		    0 : name_all(x, i, 0));
	x->edge = xcalloc((size_t)x->eoff[x->n] + 1, sizeof(*x->edge));
	x->redge = xcalloc((size_t)x->eoff[x->n] + 1, sizeof(*x->redge));
	for (i = 0; i < x->n; i++) {
		if (x->nodes[i].flags & N_POISON)
			continue;
		name_all(x, i, 1);
		x->nodes[i].pending = x->eoff[i + 1] - x->eoff[i];
		for (k = x->eoff[i]; k < x->eoff[i + 1]; k++)
			x->roff[x->edge[k] + 1]++;
	}
	for (i = 0; i < x->n; i++)
		x->roff[i + 1] += x->roff[i];
	fill = xcalloc((size_t)x->n + 1, sizeof(*fill));
	for (i = 0; i < x->n; i++)
		for (k = x->eoff[i]; k < x->eoff[i + 1]; k++) {
			j = x->edge[k];
			x->redge[x->roff[j] + fill[j]++] = i;
		}
	free(fill);
}

/* The seq V_o[author] of node i's version vector (its own: seq - 1). */
static uint64_t
vget(const struct roster_op *op, const uint8_t author[32])
{
	size_t lo = 0, hi = op->ndeps, mid;
	int c;

	if (memcmp(author, op->author, 32) == 0)
		return op->seq - 1;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = memcmp(op->deps[mid].author, author, 32)) == 0)
			return op->deps[mid].seq;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Causally closed: every op node i names saw no more than node i claims to
 * have seen.  The named ops are ready, so closed themselves, and this
 * carries over to their whole pasts.
 */
static int
closed(const struct ctx *x, uint32_t i)
{
	const struct roster_op *op = opof(x, i), *c;
	uint32_t k;
	size_t d;

	for (k = x->eoff[i]; k < x->eoff[i + 1]; k++) {
		if (x->nodes[x->edge[k]].flags & N_PLACE)
			continue;
		c = opof(x, x->edge[k]);
		for (d = 0; d < c->ndeps; d++)
			if (vget(op, c->deps[d].author) < c->deps[d].seq)
				return 0;
	}
	return 1;
}

static void
make_ready(struct ctx *x, uint32_t i, uint64_t *rowi)
{
	struct node *nd = &x->nodes[i];
	uint32_t k, end, j;
	const uint64_t *rj;
	size_t w;

	if (!(nd->flags & N_PLACE) && !closed(x, i))
		nd->flags |= N_PLACE;
	end = x->eoff[i + 1];
	/* A placeholder's past is its own chain's: the first edge only. */
	if ((nd->flags & N_PLACE) && end > x->eoff[i])
		end = nd->op->seq > 1 ? x->eoff[i] + 1 : x->eoff[i];
	for (k = x->eoff[i]; k < end; k++) {
		j = x->edge[k];
		rj = row(x, j);
		for (w = 0; w < x->words; w++)
			rowi[w] |= rj[w];
		rowi[x->nodes[j].kidx / 64] |= 1ULL << (x->nodes[j].kidx % 64);
	}
	nd->flags |= N_READY;
}

static int
cmp_topo(const struct ctx *x, uint32_t ia, uint32_t ib)
{
	const struct node *a = &x->nodes[ia], *b = &x->nodes[ib];

	/* pending holds the size of the past here. */
	CMP(a->pending, b->pending);
	return memcmp(a->op->id, b->op->id, 32);
}

/*
 * Kahn's walk, twice.  First with the held ops: what it reaches is ready.
 * Then as if every missing op were held: what that reaches too is WAITING
 * (it may count once they come); what neither reaches names a fork, a
 * poisoned op or a cycle of deps, and never will (MALFORMED).
 */
static void
readiness(struct ctx *x)
{
	uint32_t *q = x->xs, qh = 0, qt = 0, i, k, r;
	size_t w, pop;

	x->words = ((size_t)x->n + 63) / 64;
	x->rows = xcalloc((size_t)x->n * x->words + 1, sizeof(*x->rows));
	x->topo = xcalloc((size_t)x->n + 1, sizeof(*x->topo));
	for (i = 0; i < x->n; i++)
		if (!(x->nodes[i].flags & N_POISON) && x->nodes[i].pending == 0 &&
		    x->nodes[i].nmissing == 0)
			q[qt++] = i;
	while (qh < qt) {
		i = q[qh++];
		x->nodes[i].kidx = x->nready;
		x->topo[x->nready++] = i;
		make_ready(x, i, x->rows + (size_t)x->nodes[i].kidx * x->words);
		for (k = x->roff[i]; k < x->roff[i + 1]; k++) {
			r = x->redge[k];
			if (--x->nodes[r].pending == 0 &&
			    x->nodes[r].nmissing == 0 &&
			    !(x->nodes[r].flags & N_POISON))
				q[qt++] = r;
		}
	}
	qh = qt = 0;
	for (i = 0; i < x->n; i++)
		if (!(x->nodes[i].flags & (N_POISON | N_READY)) &&
		    x->nodes[i].pending == 0)
			q[qt++] = i;
	while (qh < qt) {
		i = q[qh++];
		x->nodes[i].flags |= N_WAIT;
		for (k = x->roff[i]; k < x->roff[i + 1]; k++) {
			r = x->redge[k];
			if (--x->nodes[r].pending == 0 &&
			    !(x->nodes[r].flags & (N_POISON | N_READY)))
				q[qt++] = r;
		}
	}
	/* Topological order: by the size of the past, then by id. */
	for (k = 0; k < x->nready; k++) {
		i = x->topo[k];
		for (pop = 0, w = 0; w < x->words; w++)
			pop += (size_t)__builtin_popcountll(row(x, i)[w]);
		x->nodes[i].pending = (uint32_t)pop;
	}
	sort_nodes(x, x->topo, x->nready, cmp_topo);
	for (k = 0; k < x->nready; k++)
		x->nodes[x->topo[k]].pos = k;
}

/* Per device, in topological order: the ops naming it, the ops it wrote. */
static void
build_lists(struct ctx *x)
{
	uint32_t k, i, d, *na, *nt;
	const struct node *nd;

	x->toff = xcalloc((size_t)x->ndev + 1, sizeof(*x->toff));
	x->aoff = xcalloc((size_t)x->ndev + 1, sizeof(*x->aoff));
	x->tlist = xcalloc((size_t)x->nready + 1, sizeof(*x->tlist));
	x->alist = xcalloc((size_t)x->nready + 1, sizeof(*x->alist));
	x->candhead = xcalloc((size_t)x->ndev + 1, sizeof(*x->candhead));
	for (d = 0; d < x->ndev; d++)
		x->candhead[d] = NIL;
	for (k = 0; k < x->nready; k++) {
		nd = &x->nodes[x->topo[k]];
		if (nd->flags & N_PLACE)
			continue;
		x->aoff[nd->author + 1]++;
		if (nd->target != NIL)
			x->toff[nd->target + 1]++;
		else if (nd->op->type == ROSTER_CREATE)
			x->toff[nd->author + 1]++;
	}
	for (d = 0; d < x->ndev; d++) {
		x->aoff[d + 1] += x->aoff[d];
		x->toff[d + 1] += x->toff[d];
	}
	na = xcalloc((size_t)x->ndev + 1, sizeof(*na));
	nt = xcalloc((size_t)x->ndev + 1, sizeof(*nt));
	for (k = 0; k < x->nready; k++) {
		i = x->topo[k];
		nd = &x->nodes[i];
		if (nd->flags & N_PLACE)
			continue;
		x->alist[x->aoff[nd->author] + na[nd->author]++] = i;
		d = nd->target != NIL ? nd->target :
		    nd->op->type == ROSTER_CREATE ? nd->author : NIL;
		if (d != NIL)
			x->tlist[x->toff[d] + nt[d]++] = i;
	}
	free(na);
	free(nt);
}

/* ---- apply(): one device's state in a set of valid ops ------------------- */

static enum roster_role
setter_role(const struct ctx *x, uint32_t i)
{
	return typeof_node(x, i) == ROSTER_CREATE ? ROSTER_ADMIN :
	    opof(x, i)->role;
}

/*
 * The ops of the set that name device d: valid[i] and in set (or i ==
 * extra, an op judged with its own effect).  Gathers them in x->sbuf and
 * the removals among them in x->rbuf.
 */
static uint32_t
gather(struct ctx *x, uint32_t d, const uint8_t *valid, const uint64_t *set,
    uint32_t extra, uint32_t *nr)
{
	uint32_t k, i, ns = 0;
	enum roster_type t;

	*nr = 0;
	for (k = x->toff[d]; k < x->toff[d + 1]; k++) {
		i = x->tlist[k];
		if (!valid[i] || (i != extra && !inset(x, set, i)))
			continue;
		x->sbuf[ns++] = i;
		t = typeof_node(x, i);
		if (t == ROSTER_REMOVE || t == ROSTER_REVOKE)
			x->rbuf[(*nr)++] = i;
	}
	return ns;
}

/* An add or a role op survives unless a removal did not see it. */
static int
survives(const struct ctx *x, uint32_t i, uint32_t nr)
{
	uint32_t k;

	for (k = 0; k < nr; k++)
		if (!inpast(x, x->rbuf[k], i))
			return 0;
	return 1;
}

static int
is_setter(enum roster_type t)
{
	return t == ROSTER_ADD || t == ROSTER_CREATE || t == ROSTER_ROLE;
}

/*
 * apply() for one device.  all: the role it last had, whether or not a
 * removal dominates its role setters (for a device that is not current).
 */
static void
dev_eval(struct ctx *x, uint32_t d, const uint8_t *valid,
    const uint64_t *set, uint32_t extra, int all, struct dstate *st)
{
	uint32_t ns, nr, k, j, i, nset = 0;
	enum roster_type t;
	int maximal;

	memset(st, 0, sizeof(*st));
	if (d == NIL)
		return;
	ns = gather(x, d, valid, set, extra, &nr);
	for (k = 0; k < ns; k++) {
		i = x->sbuf[k];
		t = typeof_node(x, i);
		if (t == ROSTER_REVOKE)
			st->revoked = 1;
		if (t == ROSTER_ADD || t == ROSTER_CREATE || t == ROSTER_REMOVE ||
		    t == ROSTER_REVOKE)
			st->listed = 1;
		if (!is_setter(t))
			continue;
		if (survives(x, i, nr)) {
			if (t != ROSTER_ROLE)
				st->current = 1;
		} else if (!all)
			continue;
		/* Keep the setters at the front of sbuf. */
		x->sbuf[k] = x->sbuf[nset];
		x->sbuf[nset++] = i;
	}
	if (st->revoked)
		st->current = 0;
	/* The maximal setters; of concurrent ones the least privileged. */
	for (k = 0; k < nset; k++) {
		maximal = 1;
		for (j = 0; j < nset && maximal; j++)
			if (j != k && inpast(x, x->sbuf[k], x->sbuf[j]))
				maximal = 0;
		if (maximal && (st->role == ROSTER_NOROLE ||
		    setter_role(x, x->sbuf[k]) < st->role))
			st->role = setter_role(x, x->sbuf[k]);
	}
}

static int
dev_admin(struct ctx *x, uint32_t d, const uint8_t *valid,
    const uint64_t *set)
{
	struct dstate st;

	dev_eval(x, d, valid, set, NIL, 0, &st);
	return st.current && st.role == ROSTER_ADMIN;
}

static int
any_admin(struct ctx *x, const uint8_t *valid, const uint64_t *set)
{
	uint32_t d;

	for (d = 0; d < x->ndev; d++)
		if (dev_admin(x, d, valid, set))
			return 1;
	return 0;
}

/* ---- rules 3 to 8 on one causally closed set ----------------------------- */

static int
cmp_by_author(const struct ctx *x, uint32_t ia, uint32_t ib)
{
	const struct node *a = &x->nodes[ia], *b = &x->nodes[ib];

	CMP(a->author, b->author);
	CMP(a->pos, b->pos);
	return 0;
}

static void
push_edge(struct ctx *x, uint32_t v)
{
	if (x->nge == x->cge) {
		x->cge = x->cge ? 2 * x->cge : 64;
		x->ge = xreallocarray(x->ge, x->cge, sizeof(*x->ge));
	}
	x->ge[x->nge++] = v;
}

/*
 * The defeat graph over the active candidates x->act[0..m) (local
 * indices): c' -> c if c' removes or demotes c's author and the two are
 * concurrent.  CSR in x->eptr (m + 1 offsets) and x->ge.
 */
static void
defeat_graph(struct ctx *x, uint32_t m)
{
	uint32_t *by = x->order, k, lo, hi, mid, j, t;

	memcpy(by, x->act, m * sizeof(*by));
	sort_nodes(x, by, m, cmp_by_author);
	x->nge = 0;
	for (k = 0; k < m; k++) {
		x->eptr[k] = (uint32_t)x->nge;
		/* The candidates written by act[k]'s target. */
		t = x->nodes[x->act[k]].target;
		lo = 0;
		hi = m;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (x->nodes[by[mid]].author < t)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (j = lo; j < m && x->nodes[by[j]].author == t; j++)
			if (concurrent(x, x->act[k], by[j]))
				push_edge(x, x->loc[by[j]]);
	}
	x->eptr[m] = (uint32_t)x->nge;
}

/*
 * Tarjan's strongly connected components, without recursion (a hostile
 * set may hold thousands of candidates).  Components come out sinks first:
 * comp[] numbers them so, csize[] holds their sizes.
 */
static uint32_t
tarjan(struct ctx *x, uint32_t m)
{
	uint32_t *idx = x->idx, *low = x->low, *stk = x->stk, *cstk = x->cstk;
	uint32_t *it = x->it, *comp = x->comp, *csize = x->csize;
	uint32_t next = 0, sp = 0, cp = 0, ncomp = 0, s, v, w;
	uint8_t *on = x->on;

	for (v = 0; v < m; v++) {
		idx[v] = NIL;
		on[v] = 0;
	}
	for (s = 0; s < m; s++) {
		if (idx[s] != NIL)
			continue;
		cstk[cp++] = s;
		idx[s] = low[s] = next++;
		it[s] = x->eptr[s];
		stk[sp++] = s;
		on[s] = 1;
		while (cp > 0) {
			v = cstk[cp - 1];
			if (it[v] < x->eptr[v + 1]) {
				w = x->ge[it[v]++];
				if (idx[w] == NIL) {
					idx[w] = low[w] = next++;
					it[w] = x->eptr[w];
					stk[sp++] = w;
					on[w] = 1;
					cstk[cp++] = w;
				} else if (on[w] && idx[w] < low[v])
					low[v] = idx[w];
				continue;
			}
			cp--;
			if (cp > 0 && low[v] < low[cstk[cp - 1]])
				low[cstk[cp - 1]] = low[v];
			if (low[v] != idx[v])
				continue;
			csize[ncomp] = 0;
			do {
				w = stk[--sp];
				on[w] = 0;
				comp[w] = ncomp;
				csize[ncomp]++;
			} while (w != v);
			ncomp++;
		}
	}
	return ncomp;
}

/*
 * Rule 4: walk the components sources first; one is effective unless an
 * effective candidate outside it defeats a member.  Sets S_EFF.
 */
static void
effective(struct ctx *x, uint32_t m)
{
	uint32_t ncomp, c, v, b, e, w, *end = x->low, *order = x->order;
	uint8_t *sf = x->sf;
	int beaten;

	ncomp = tarjan(x, m);
	/* The members of each component together (a counting sort). */
	memset(end, 0, ((size_t)ncomp + 1) * sizeof(*end));
	for (v = 0; v < m; v++)
		end[x->comp[v] + 1]++;
	for (c = 0; c < ncomp; c++)
		end[c + 1] += end[c];
	for (v = 0; v < m; v++)
		order[end[x->comp[v]]++] = v;
	/* end[c] is now where component c's members end in order[]. */
	for (c = ncomp; c-- > 0;) {
		b = c == 0 ? 0 : end[c - 1];
		for (beaten = 0, v = b; v < end[c] && !beaten; v++)
			beaten = (sf[x->act[order[v]]] & S_DEFEATED) != 0;
		if (beaten)
			continue;
		for (v = b; v < end[c]; v++) {
			sf[x->act[order[v]]] |= S_EFF;
			for (e = x->eptr[order[v]]; e < x->eptr[order[v] + 1];
			    e++) {
				w = x->ge[e];
				if (x->comp[w] != c)
					sf[x->act[w]] |= S_DEFEATED;
			}
		}
	}
}

/*
 * Rule 5's candidate: the effective one of smallest id in a component of
 * two or more whose target was an admin in its own past.  NIL if none.
 */
static uint32_t
tiebreak(struct ctx *x, uint32_t m)
{
	uint32_t v, best = NIL, i;

	for (v = 0; v < m; v++) {
		i = x->act[v];
		if ((x->sf[i] & S_EFF) && x->csize[x->comp[v]] >= 2 &&
		    x->nodes[i].tadmin && (best == NIL || idcmp(x, i, best) < 0))
			best = i;
	}
	return best;
}

/*
 * Rule 6: the ineffective candidates, and the ops of an effective
 * candidate's target that it did not see and that did not see it (but not
 * those of its own component: mutual removals both stand).
 */
static void
filter(struct ctx *x, const uint64_t *set, uint32_t nx, uint32_t m,
    uint32_t nc)
{
	uint32_t k, v, c, y, t;
	uint8_t *sf = x->sf;

	for (k = 0; k < nx; k++)
		sf[x->xs[k]] &= (uint8_t)~S_F;
	for (k = 0; k < nc; k++)
		if (!(sf[x->cs[k]] & S_EFF))
			sf[x->cs[k]] |= S_F;
	for (v = 0; v < m; v++) {
		c = x->act[v];
		if (!(sf[c] & S_EFF))
			continue;
		t = x->nodes[c].target;
		for (k = x->aoff[t]; k < x->aoff[t + 1]; k++) {
			y = x->alist[k];
			if (!inset(x, set, y) || !concurrent(x, c, y))
				continue;
			if (x->loc[y] != NIL && x->comp[x->loc[y]] ==
			    x->comp[v])
				continue;
			sf[y] |= S_F;
		}
	}
}

/* Rule 7: in topological order, with rule 2's own verdict as a floor. */
static void
pass(struct ctx *x, uint32_t nx, uint32_t counted, uint8_t *valid)
{
	uint32_t k, i;

	for (k = 0; k < nx; k++) {
		i = x->xs[k];
		if (!x->auth[i] || (x->sf[i] & S_F))
			valid[i] = 0;
		else if (typeof_node(x, i) == ROSTER_CREATE)
			valid[i] = i == counted;
		else
			valid[i] = (uint8_t)dev_admin(x, x->nodes[i].author,
			    valid, row(x, i));
	}
}

/*
 * resolve(X) for X the ready ops at positions below limit that are in set
 * (NULL: all).  Writes valid[] for the members of X.  Every auth[] of X is
 * known: X is a past, and auth of its members was worked out before.
 */
static void
resolve_set(struct ctx *x, const uint64_t *set, uint32_t limit,
    uint8_t *valid)
{
	uint32_t nx = 0, nc = 0, m, k, i, counted = NIL, forced, bad;

	for (k = 0; k < limit; k++) {
		i = x->topo[k];
		if (!inset(x, set, i) || (x->nodes[i].flags & N_PLACE))
			continue;
		x->xs[nx++] = i;
		x->sf[i] = 0;
		x->loc[i] = NIL;
		valid[i] = 0;
		if ((x->nodes[i].flags & N_SALTOK) && (counted == NIL ||
		    idcmp(x, i, counted) < 0))
			counted = i;
		if (x->nodes[i].cand)
			x->cs[nc++] = i;
	}
	/* Rule 8: until no effective candidate turns out invalid. */
	for (;;) {
		for (k = 0; k < nc; k++)
			x->sf[x->cs[k]] &= (uint8_t)~S_FORCED;
		/* Rule 5: until an admin is left or no tie can be broken. */
		for (;;) {
			for (m = 0, k = 0; k < nc; k++) {
				i = x->cs[k];
				x->sf[i] &= (uint8_t)~(S_EFF | S_DEFEATED);
				x->loc[i] = NIL;
				if (!(x->sf[i] & (S_BAD | S_FORCED))) {
					x->loc[i] = m;
					x->act[m++] = i;
				}
			}
			defeat_graph(x, m);
			effective(x, m);
			filter(x, set, nx, m, nc);
			pass(x, nx, counted, valid);
			if ((forced = tiebreak(x, m)) == NIL ||
			    any_admin(x, valid, set))
				break;
			x->sf[forced] |= S_FORCED;
		}
		for (bad = 0, k = 0; k < nc; k++) {
			i = x->cs[k];
			if ((x->sf[i] & S_EFF) && !valid[i]) {
				x->sf[i] |= S_BAD;
				bad++;
			}
		}
		if (bad == 0)
			break;
	}
}

/* ---- rule 2 for every op, and the conflicts that need rules 4-8 ---------- */

static void
add_pair(struct ctx *x, uint32_t a, uint32_t b)
{
	if (x->npairs == x->cpairs) {
		x->cpairs = x->cpairs ? 2 * x->cpairs : 16;
		x->pairs = xreallocarray(x->pairs, x->cpairs,
		    sizeof(*x->pairs));
	}
	x->pairs[x->npairs].a = a;
	x->pairs[x->npairs++].b = b;
}

/*
 * A conflict pair: a candidate and a concurrent op of its target's that
 * rule 2 lets count, or two creates that both derive the circle.  A set
 * without one resolves in one pass (see the Rules): no defeat, nothing to
 * filter, one create.
 */
static void
find_pairs(struct ctx *x, uint32_t i)
{
	const struct node *nd = &x->nodes[i];
	uint32_t k, y;

	if (nd->cand)
		for (k = x->aoff[nd->target]; k < x->aoff[nd->target + 1]; k++) {
			y = x->alist[k];
			if (x->nodes[y].pos >= nd->pos)
				break;
			if (x->auth[y] && concurrent(x, i, y))
				add_pair(x, i, y);
		}
	if (x->auth[i] && typeof_node(x, i) != ROSTER_CREATE)
		for (y = x->candhead[nd->author]; y != NIL;
		    y = x->nodes[y].candnext)
			if (concurrent(x, i, y))
				add_pair(x, y, i);
	if (nd->flags & N_SALTOK)
		for (k = 0; k < nd->pos; k++) {
			y = x->topo[k];
			if (x->nodes[y].flags & N_SALTOK)
				add_pair(x, y, i);
		}
}

static int
conflicted(const struct ctx *x, uint32_t i)
{
	const uint64_t *r = row(x, i);
	size_t k;

	for (k = x->eoff[i]; k < x->eoff[i + 1]; k++)
		if ((x->nodes[x->edge[k]].flags & N_READY) &&
		    x->nodes[x->edge[k]].conflicted && bit(r,
		    x->nodes[x->edge[k]].kidx))
			return 1;
	for (k = 0; k < x->npairs; k++)
		if (bit(r, x->nodes[x->pairs[k].a].kidx) &&
		    bit(r, x->nodes[x->pairs[k].b].kidx))
			return 1;
	return 0;
}

static void
authorize(struct ctx *x)
{
	uint32_t k, i;
	struct node *nd;
	const uint8_t *v;
	enum roster_type t;

	for (k = 0; k < x->nready; k++) {
		i = x->topo[k];
		nd = &x->nodes[i];
		nd->conflicted = (uint8_t)conflicted(x, i);
		if (nd->flags & N_PLACE)
			continue;
		t = nd->op->type;
		if (t == ROSTER_CREATE) {
			x->auth[i] = (nd->flags & N_SALTOK) != 0;
		} else {
			v = x->auth;
			if (nd->conflicted) {
				resolve_set(x, row(x, i), k, x->tmp);
				v = x->tmp;
			}
			x->auth[i] = (uint8_t)dev_admin(x, nd->author, v,
			    row(x, i));
			if (nd->target != NIL)
				nd->tadmin = (uint8_t)dev_admin(x, nd->target,
				    v, row(x, i));
		}
		nd->cand = x->auth[i] && (t == ROSTER_REMOVE ||
		    t == ROSTER_REVOKE || (t == ROSTER_ROLE &&
		    nd->op->role < ROSTER_ADMIN && nd->tadmin));
		find_pairs(x, i);
		if (nd->cand) {
			nd->candnext = x->candhead[nd->target];
			x->candhead[nd->target] = i;
		}
	}
}

/* ---- the result ----------------------------------------------------------- */

static void
set_verdicts(struct ctx *x, struct roster *r, const uint32_t *nodeof)
{
	struct node *nd;
	uint32_t i;
	size_t k;

	r->byid = xcalloc((size_t)x->n + 1, sizeof(*r->byid));
	for (i = 0; i < x->n; i++) {
		nd = &x->nodes[i];
		if (!(nd->flags & N_READY))
			nd->verdict = (nd->flags & N_WAIT) ? ROSTER_WAITING :
			    ROSTER_MALFORMED;
		else if (nd->flags & N_PLACE)
			nd->verdict = ROSTER_MALFORMED;
		else if (x->valid[i])
			nd->verdict = ROSTER_VALID;
		else if (!x->auth[i] || nd->op->type == ROSTER_CREATE)
			nd->verdict = ROSTER_UNAUTHORIZED;
		else
			nd->verdict = ROSTER_FILTERED;
		r->count[nd->verdict]++;
		memcpy(r->byid[i].id, nd->op->id, 32);
		r->byid[i].verdict = nd->verdict;
	}
	r->nbyid = x->n;
	r->verdicts = xcalloc(r->nin + 1, 1);
	for (k = 0; k < r->nin; k++)
		r->verdicts[k] = x->nodes[nodeof[k]].verdict;
}

/*
 * Of the ops in sbuf[0..ns) that pass keep(), the maximal ones (not in
 * another's past); of those the one of smallest id.  NIL if none.
 */
static uint32_t
maximal_min(struct ctx *x, const uint32_t *s, uint32_t ns,
    int (*keep)(struct ctx *, uint32_t, uint32_t), uint32_t nr)
{
	uint32_t k, j, best = NIL;
	int maximal;

	for (k = 0; k < ns; k++) {
		if (!keep(x, s[k], nr))
			continue;
		maximal = 1;
		for (j = 0; j < ns && maximal; j++)
			if (j != k && keep(x, s[j], nr) &&
			    inpast(x, s[k], s[j]))
				maximal = 0;
		if (maximal && (best == NIL || idcmp(x, s[k], best) < 0))
			best = s[k];
	}
	return best;
}

static int
keep_add(struct ctx *x, uint32_t i, uint32_t nr)
{
	(void)nr;
	return typeof_node(x, i) == ROSTER_ADD ||
	    typeof_node(x, i) == ROSTER_CREATE;
}

static int
keep_surviving_add(struct ctx *x, uint32_t i, uint32_t nr)
{
	return keep_add(x, i, nr) && survives(x, i, nr);
}

static void
member_of(struct ctx *x, uint32_t d, const struct dstate *st,
    struct roster_member *m)
{
	struct dstate last;
	uint32_t ns, nr, k, i, adder, cut = NIL;
	enum roster_type t;

	memcpy(m->device, x->dev[d], 32);
	m->state = st->revoked ? ROSTER_REVOKED : st->current ?
	    ROSTER_CURRENT : ROSTER_REMOVED;
	m->role = st->role;
	if (!st->current) {
		dev_eval(x, d, x->valid, NULL, NIL, 1, &last);
		m->role = last.role;
	}
	ns = gather(x, d, x->valid, NULL, NIL, &nr);
	adder = maximal_min(x, x->sbuf, ns, st->current ? keep_surviving_add :
	    keep_add, nr);
	if (adder != NIL) {
		m->has_adder = 1;
		memcpy(m->added_by, opof(x, adder)->author, 32);
	}
	if (st->current)
		return;
	/* The largest cut; of equal ones the smaller id's. */
	for (k = 0; k < ns; k++) {
		i = x->sbuf[k];
		t = typeof_node(x, i);
		if (t != ROSTER_REMOVE && t != ROSTER_REVOKE && t != ROSTER_ACCEPT)
			continue;
		if (cut == NIL || opof(x, i)->cut_seq > opof(x, cut)->cut_seq ||
		    (opof(x, i)->cut_seq == opof(x, cut)->cut_seq &&
		    idcmp(x, i, cut) < 0))
			cut = i;
	}
	if (cut != NIL) {
		m->cut_seq = opof(x, cut)->cut_seq;
		memcpy(m->cut_id, opof(x, cut)->cut_id, 32);
	}
}

static void
build_members(struct ctx *x, struct roster *r)
{
	struct dstate st;
	uint32_t d;

	r->members = xcalloc((size_t)x->ndev + 1, sizeof(*r->members));
	for (d = 0; d < x->ndev; d++) {
		dev_eval(x, d, x->valid, NULL, NIL, 0, &st);
		if (st.listed)
			member_of(x, d, &st, &r->members[r->nmembers++]);
	}
}

/*
 * The starts of epochs: valid create (epoch 1), remove, revoke and epoch
 * ops.  roster_finish() makes the epochs of them.
 */
static void
build_starts(struct ctx *x, struct roster *r)
{
	uint32_t k, i;
	enum roster_type t;

	r->starts = xcalloc((size_t)x->nready + 1, sizeof(*r->starts));
	for (k = 0; k < x->nready; k++) {
		i = x->topo[k];
		t = typeof_node(x, i);
		if (!x->valid[i] || (t != ROSTER_CREATE && t != ROSTER_REMOVE &&
		    t != ROSTER_REVOKE && t != ROSTER_EPOCH))
			continue;
		r->starts[r->nstarts].epoch = t == ROSTER_CREATE ?
		    ROSTER_FIRST_EPOCH : opof(x, i)->epoch;
		memcpy(r->starts[r->nstarts++].op, opof(x, i)->id, 32);
	}
}

/*
 * The seals that count: of valid ops, not to a device that is a relay in
 * the op's own state with the op applied (an add of a relay that seals to
 * it does not count).  roster_finish() drops those to epochs that nobody
 * started.
 */
static void
build_seals(struct ctx *x, struct roster *r)
{
	const struct roster_op *op;
	struct dstate st;
	size_t cs = 0, j;
	uint32_t k, i;

	for (k = 0; k < x->nready; k++) {
		i = x->topo[k];
		if (!x->valid[i])
			continue;
		op = opof(x, i);
		for (j = 0; j < op->nseals; j++) {
			dev_eval(x, devfind(x, op->seals[j].device), x->valid,
			    row(x, i), i, 0, &st);
			if (st.current && st.role == ROSTER_RELAY)
				continue;
			if (r->nseals == cs) {
				cs = cs ? 2 * cs : 16;
				r->seals = xreallocarray(r->seals, cs,
				    sizeof(*r->seals));
			}
			r->seals[r->nseals++] = op->seals[j];
		}
	}
}

static int
cmp_coll(const struct ctx *x, uint32_t ia, uint32_t ib)
{
	const struct node *a = &x->nodes[ia], *b = &x->nodes[ib];
	int c;

	if ((c = strcmp(a->op->coll, b->op->coll)) != 0)
		return c;
	CMP(a->pos, b->pos);
	return 0;
}

/*
 * Per collection the maximal valid retention ops; of concurrent ones the
 * larger hlc, then the larger id.
 */
static void
build_retentions(struct ctx *x, struct roster *r)
{
	uint32_t *s = x->xs, ns = 0, k, a, b, j, best;
	const struct roster_op *op;
	int maximal;

	for (k = 0; k < x->nready; k++)
		if (x->valid[x->topo[k]] &&
		    typeof_node(x, x->topo[k]) == ROSTER_RETENTION)
			s[ns++] = x->topo[k];
	sort_nodes(x, s, ns, cmp_coll);
	r->retentions = xcalloc((size_t)ns + 1, sizeof(*r->retentions));
	for (a = 0; a < ns; a = b) {
		for (b = a; b < ns && strcmp(opof(x, s[b])->coll,
		    opof(x, s[a])->coll) == 0; b++)
			;
		best = NIL;
		for (k = a; k < b; k++) {
			for (maximal = 1, j = a; j < b && maximal; j++)
				if (j != k && inpast(x, s[k], s[j]))
					maximal = 0;
			if (!maximal)
				continue;
			if (best == NIL || opof(x, s[k])->hlc > opof(x, best)->hlc ||
			    (opof(x, s[k])->hlc == opof(x, best)->hlc &&
			    idcmp(x, s[k], best) > 0))
				best = s[k];
		}
		op = opof(x, best);
		memcpy(r->retentions[r->nretentions].coll, op->coll,
		    sizeof(op->coll));
		r->retentions[r->nretentions].keep = op->keep;
		memcpy(r->retentions[r->nretentions++].op, op->id, 32);
	}
}

static int
keep_audit(struct ctx *x, uint32_t i, uint32_t nr)
{
	(void)nr;
	return x->valid[i] && opof(x, i)->has_audit;
}

static void
build_rest(struct ctx *x, struct roster *r)
{
	const struct roster_op *op;
	uint64_t *top;
	uint32_t i, d, k;

	/* Purges, kept for ever; nodes are in id order. */
	r->purges = xcalloc((size_t)x->n + 1, sizeof(*r->purges));
	for (i = 0; i < x->n; i++) {
		op = opof(x, i);
		if (!x->valid[i] || op->type != ROSTER_PURGE)
			continue;
		memcpy(r->purges[r->npurges].op, op->id, 32);
		r->purges[r->npurges].index = x->nodes[i].first;
		r->purges[r->npurges].ntags = op->ntags;
		if (op->ntags) {
			r->purges[r->npurges].tags = xcalloc(op->ntags,
			    ROSTER_TAGLEN);
			memcpy(r->purges[r->npurges].tags, op->tags,
			    op->ntags * ROSTER_TAGLEN);
		}
		r->npurges++;
	}
	/* The audit key of the causally latest op; concurrent: smallest id. */
	if ((i = maximal_min(x, x->topo, x->nready, keep_audit, 0)) != NIL) {
		r->has_audit = 1;
		memcpy(r->audit, opof(x, i)->audit, 32);
	}
	/* The frontier: per author, the highest ready seq. */
	top = xcalloc((size_t)x->ndev + 1, sizeof(*top));
	for (k = 0; k < x->nready; k++) {
		i = x->topo[k];
		if (opof(x, i)->seq > top[x->nodes[i].author])
			top[x->nodes[i].author] = opof(x, i)->seq;
	}
	r->frontier = xcalloc((size_t)x->ndev + 1, sizeof(*r->frontier));
	for (d = 0; d < x->ndev; d++)
		if (top[d] > 0) {
			memcpy(r->frontier[r->nfrontier].author, x->dev[d], 32);
			r->frontier[r->nfrontier++].seq = top[d];
		}
	free(top);
	/* The creator: the valid create's author. */
	for (k = 0; k < x->nready; k++) {
		i = x->topo[k];
		if (x->valid[i] && typeof_node(x, i) == ROSTER_CREATE) {
			r->valid = 1;
			memcpy(r->creator, opof(x, i)->author, 32);
		}
	}
}

/* The per-node arrays and the scratch: one block each, n + 1 entries. */
static void
ctx_alloc(struct ctx *x)
{
	uint32_t **u32[] = { &x->xs, &x->cs, &x->act, &x->loc, &x->eptr,
	    &x->idx, &x->low, &x->stk, &x->cstk, &x->it, &x->comp, &x->csize,
	    &x->order, &x->sbuf, &x->rbuf };
	uint8_t **u8[] = { &x->auth, &x->valid, &x->tmp, &x->sf, &x->on };
	size_t n = (size_t)x->n + 1, k;

	x->scratch32 = xcalloc(n * (sizeof(u32) / sizeof(u32[0])),
	    sizeof(uint32_t));
	for (k = 0; k < sizeof(u32) / sizeof(u32[0]); k++)
		*u32[k] = x->scratch32 + k * n;
	x->scratch8 = xcalloc(n, sizeof(u8) / sizeof(u8[0]));
	for (k = 0; k < sizeof(u8) / sizeof(u8[0]); k++)
		*u8[k] = x->scratch8 + k * n;
}

static void
ctx_free(struct ctx *x)
{
	void *p[] = { x->nodes, x->slots, x->dev, x->eoff, x->edge, x->roff,
	    x->redge, x->topo, x->rows, x->toff, x->tlist, x->aoff, x->alist,
	    x->candhead, x->pairs, x->ge, x->scratch32, x->scratch8 };
	size_t i;

	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		free(p[i]);
}

int
roster_resolve(const uint8_t circle[16], const struct roster_op *ops,
    size_t n, struct roster **out)
{
	struct ctx x;
	struct roster *r;
	uint32_t *nodeof;

	*out = NULL;
	if (n > ROSTER_MAX_OPS)
		return SAMEN_ETOOBIG;
	memset(&x, 0, sizeof(x));
	x.circle = circle;
	nodeof = xcalloc(n + 1, sizeof(*nodeof));
	build_nodes(&x, ops, n, nodeof);
	ctx_alloc(&x);
	build_devices(&x);
	build_slots(&x);
	build_edges(&x);
	readiness(&x);
	build_lists(&x);
	authorize(&x);
	/* Without a conflict pair rule 2's verdicts stand (see the Rules). */
	if (x.npairs == 0)
		memcpy(x.valid, x.auth, x.n);
	else
		resolve_set(&x, NULL, x.nready, x.valid);
	r = xcalloc(1, sizeof(*r));
	r->nin = n;
	set_verdicts(&x, r, nodeof);
	build_members(&x, r);
	build_starts(&x, r);
	build_seals(&x, r);
	build_retentions(&x, r);
	build_rest(&x, r);
	roster_finish(r);
	free(nodeof);
	ctx_free(&x);
	*out = r;
	return 0;
}

