/* roster_rules: rule 2 for every membership op, rules 3 to 8 on a closed set. */
#include "roster_int.h"

#include <string.h>

#include "util.h"

/* ---- rules 3 to 8 on one causally closed set ----------------------------- */

/* 1 if some device is a current admin in apply(the valid ops of set). */
static int
any_admin(struct roster_ctx *x, const uint8_t *valid, const uint64_t *set)
{
	uint32_t d;

	for (d = 0; d < x->ndev; d++)
		if (roster_apply_admin(x, d, valid, set))
			return 1;
	return 0;
}

static int
cmp_by_author(const struct roster_ctx *x, uint32_t ia, uint32_t ib)
{
	const struct roster_node *a = &x->nodes[ia], *b = &x->nodes[ib];

	CMP(a->author, b->author);
	CMP(a->pos, b->pos);
	return 0;
}

static void
push_edge(struct roster_ctx *x, uint32_t v)
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
defeat_graph(struct roster_ctx *x, uint32_t m)
{
	uint32_t *by = x->order, k, lo, hi, mid, j, t;

	memcpy(by, x->act, m * sizeof(*by));
	roster_graph_sort(x, by, m, cmp_by_author);
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
tarjan(struct roster_ctx *x, uint32_t m)
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
effective(struct roster_ctx *x, uint32_t m)
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
tiebreak(struct roster_ctx *x, uint32_t m)
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
filter(struct roster_ctx *x, const uint64_t *set, uint32_t nx, uint32_t m,
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
pass(struct roster_ctx *x, uint32_t nx, uint32_t counted, uint8_t *valid)
{
	uint32_t k, i;

	for (k = 0; k < nx; k++) {
		i = x->xs[k];
		if (!x->auth[i] || (x->sf[i] & S_F))
			valid[i] = 0;
		else if (typeof_node(x, i) == ROSTER_CREATE)
			valid[i] = i == counted;
		else
			valid[i] = (uint8_t)roster_apply_admin(x,
			    x->nodes[i].author, valid, row(x, i));
	}
}

/*
 * resolve(X) for X the ready ops at positions below limit that are in set
 * (NULL: all).  Writes valid[] for the members of X.  Every auth[] of X is
 * known: X is a past, and auth of its members was worked out before.
 */
void
roster_rules_resolve(struct roster_ctx *x, const uint64_t *set, uint32_t limit,
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
add_pair(struct roster_ctx *x, uint32_t a, uint32_t b)
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
 * without one resolves in one pass (roster.c's Rules): no defeat, nothing to
 * filter, one create.
 */
static void
find_pairs(struct roster_ctx *x, uint32_t i)
{
	const struct roster_node *nd = &x->nodes[i];
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
conflicted(const struct roster_ctx *x, uint32_t i)
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

void
roster_rules_authorize(struct roster_ctx *x)
{
	uint32_t k, i;
	struct roster_node *nd;
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
				roster_rules_resolve(x, row(x, i), k, x->tmp);
				v = x->tmp;
			}
			x->auth[i] = (uint8_t)roster_apply_admin(x, nd->author,
			    v, row(x, i));
			if (nd->target != NIL)
				nd->tadmin = (uint8_t)roster_apply_admin(x,
				    nd->target, v, row(x, i));
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
