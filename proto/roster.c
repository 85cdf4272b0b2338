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

#include "roster_int.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"

/* ---- the result ----------------------------------------------------------- */

static void
set_verdicts(struct roster_ctx *x, struct roster *r, const uint32_t *nodeof)
{
	struct roster_node *nd;
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
maximal_min(struct roster_ctx *x, const uint32_t *s, uint32_t ns,
    int (*keep)(struct roster_ctx *, uint32_t, uint32_t), uint32_t nr)
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
keep_add(struct roster_ctx *x, uint32_t i, uint32_t nr)
{
	(void)nr;
	return typeof_node(x, i) == ROSTER_ADD ||
	    typeof_node(x, i) == ROSTER_CREATE;
}

static int
keep_surviving_add(struct roster_ctx *x, uint32_t i, uint32_t nr)
{
	return keep_add(x, i, nr) && roster_apply_survives(x, i, nr);
}

static void
member_of(struct roster_ctx *x, uint32_t d, const struct roster_dstate *st,
    struct roster_member *m)
{
	struct roster_dstate last;
	uint32_t ns, nr, k, i, adder, cut = NIL;
	enum roster_type t;

	memcpy(m->device, x->dev[d], 32);
	m->state = st->revoked ? ROSTER_REVOKED : st->current ?
	    ROSTER_CURRENT : ROSTER_REMOVED;
	m->role = st->role;
	if (!st->current) {
		roster_apply_eval(x, d, x->valid, NULL, NIL, 1, &last);
		m->role = last.role;
	}
	ns = roster_apply_gather(x, d, x->valid, NULL, NIL, &nr);
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
build_members(struct roster_ctx *x, struct roster *r)
{
	struct roster_dstate st;
	uint32_t d;

	r->members = xcalloc((size_t)x->ndev + 1, sizeof(*r->members));
	for (d = 0; d < x->ndev; d++) {
		roster_apply_eval(x, d, x->valid, NULL, NIL, 0, &st);
		if (st.listed)
			member_of(x, d, &st, &r->members[r->nmembers++]);
	}
}

/*
 * The starts of epochs: valid create (epoch 1), remove, revoke and epoch
 * ops.  roster_finish() makes the epochs of them.
 */
static void
build_starts(struct roster_ctx *x, struct roster *r)
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
build_seals(struct roster_ctx *x, struct roster *r)
{
	const struct roster_op *op;
	struct roster_dstate st;
	size_t cs = 0, j;
	uint32_t k, i;

	for (k = 0; k < x->nready; k++) {
		i = x->topo[k];
		if (!x->valid[i])
			continue;
		op = opof(x, i);
		for (j = 0; j < op->nseals; j++) {
			roster_apply_eval(x, roster_graph_device(x,
			    op->seals[j].device), x->valid, row(x, i), i, 0,
			    &st);
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
cmp_coll(const struct roster_ctx *x, uint32_t ia, uint32_t ib)
{
	const struct roster_node *a = &x->nodes[ia], *b = &x->nodes[ib];
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
build_retentions(struct roster_ctx *x, struct roster *r)
{
	uint32_t *s = x->xs, ns = 0, k, a, b, j, best;
	const struct roster_op *op;
	int maximal;

	for (k = 0; k < x->nready; k++)
		if (x->valid[x->topo[k]] &&
		    typeof_node(x, x->topo[k]) == ROSTER_RETENTION)
			s[ns++] = x->topo[k];
	roster_graph_sort(x, s, ns, cmp_coll);
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
keep_audit(struct roster_ctx *x, uint32_t i, uint32_t nr)
{
	(void)nr;
	return x->valid[i] && opof(x, i)->has_audit;
}

static void
build_rest(struct roster_ctx *x, struct roster *r)
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

int
roster_resolve(const uint8_t circle[16], const struct roster_op *ops,
    size_t n, struct roster **out)
{
	struct roster_ctx x;
	struct roster *r;
	uint32_t *nodeof;

	*out = NULL;
	if (n > ROSTER_MAX_OPS)
		return SAMEN_ETOOBIG;
	nodeof = xcalloc(n + 1, sizeof(*nodeof));
	roster_graph_build(&x, circle, ops, n, nodeof);
	roster_rules_authorize(&x);
	/* Without a conflict pair rule 2's verdicts stand (see the Rules). */
	if (x.npairs == 0)
		memcpy(x.valid, x.auth, x.n);
	else
		roster_rules_resolve(&x, NULL, x.nready, x.valid);
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
	roster_graph_free(&x);
	*out = r;
	return 0;
}

