/* roster_graph: the ops held as a causal graph: ids, slots, readiness, pasts, order. */
#include "roster_int.h"

#include <stdlib.h>
#include <string.h>

#include "sync.h"
#include "util.h"

static int
uses_target(enum roster_type t)
{
	return t == ROSTER_ADD || t == ROSTER_REMOVE || t == ROSTER_ROLE ||
	    t == ROSTER_REVOKE || t == ROSTER_ACCEPT;
}


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

uint32_t
roster_graph_device(const struct roster_ctx *x, const uint8_t key[32])
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
void
roster_graph_sort(const struct roster_ctx *x, uint32_t *a, size_t n,
    int (*cmp)(const struct roster_ctx *, uint32_t, uint32_t))
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
build_nodes(struct roster_ctx *x, const struct roster_op *ops, size_t nin,
    uint32_t *nodeof)
{
	const struct roster_op **by;
	struct roster_node *nd;
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
build_devices(struct roster_ctx *x)
{
	uint32_t i, n = 0;
	const struct roster_op *op;
	struct roster_node *nd;
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
		nd->author = roster_graph_device(x, nd->op->author);
		nd->target = !(nd->flags & N_PLACE) &&
		    uses_target(nd->op->type) ?
		    roster_graph_device(x, nd->op->target) : NIL;
	}
}

static int
cmp_slot(const struct roster_ctx *x, uint32_t ia, uint32_t ib)
{
	const struct roster_node *a = &x->nodes[ia], *b = &x->nodes[ib];

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
build_slots(struct roster_ctx *x)
{
	uint32_t i, j, k;

	x->slots = xcalloc(x->n + 1, sizeof(*x->slots));
	for (i = 0; i < x->n; i++)
		if (x->nodes[i].op->seq != 0)
			x->slots[x->nslots++] = i;
	roster_graph_sort(x, x->slots, x->nslots, cmp_slot);
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
slot_find(const struct roster_ctx *x, uint32_t dev, uint64_t seq)
{
	size_t lo = 0, hi = x->nslots, mid;
	const struct roster_node *nd;

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
name_slot(struct roster_ctx *x, uint32_t i, uint32_t dev, uint64_t seq,
    int fill, uint32_t *ne)
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
name_all(struct roster_ctx *x, uint32_t i, int fill)
{
	const struct roster_node *nd = &x->nodes[i];
	const struct roster_op *op = nd->op;
	uint32_t ne = 0;
	size_t k;

	if (op->seq > 1)
		name_slot(x, i, nd->author, op->seq - 1, fill, &ne);
	if (!(nd->flags & N_PLACE))
		for (k = 0; k < op->ndeps; k++)
			name_slot(x, i, roster_graph_device(x,
			    op->deps[k].author), op->deps[k].seq, fill, &ne);
	return ne;
}

static void
build_edges(struct roster_ctx *x)
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
closed(const struct roster_ctx *x, uint32_t i)
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
make_ready(struct roster_ctx *x, uint32_t i, uint64_t *rowi)
{
	struct roster_node *nd = &x->nodes[i];
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
cmp_topo(const struct roster_ctx *x, uint32_t ia, uint32_t ib)
{
	const struct roster_node *a = &x->nodes[ia], *b = &x->nodes[ib];

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
readiness(struct roster_ctx *x)
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
	roster_graph_sort(x, x->topo, x->nready, cmp_topo);
	for (k = 0; k < x->nready; k++)
		x->nodes[x->topo[k]].pos = k;
}

/* Per device, in topological order: the ops naming it, the ops it wrote. */
static void
build_lists(struct roster_ctx *x)
{
	uint32_t k, i, d, *na, *nt;
	const struct roster_node *nd;

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

/* The per-node arrays and the scratch: one block each, n + 1 entries. */
static void
ctx_alloc(struct roster_ctx *x)
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

void
roster_graph_free(struct roster_ctx *x)
{
	void *p[] = { x->nodes, x->slots, x->dev, x->eoff, x->edge, x->roff,
	    x->redge, x->topo, x->rows, x->toff, x->tlist, x->aoff, x->alist,
	    x->candhead, x->pairs, x->ge, x->scratch32, x->scratch8 };
	size_t i;

	for (i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		free(p[i]);
}

void
roster_graph_build(struct roster_ctx *x, const uint8_t circle[16],
    const struct roster_op *ops, size_t n, uint32_t *nodeof)
{
	memset(x, 0, sizeof(*x));
	x->circle = circle;
	build_nodes(x, ops, n, nodeof);
	ctx_alloc(x);
	build_devices(x);
	build_slots(x);
	build_edges(x);
	readiness(x);
	build_lists(x);
}
