/* test_roster_graph: the ops held as a causal graph: readiness, waits, forks, pasts, order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "error.h"
#include "roster.h"
#include "roster_int.h"
#include "util.h"

#include "roster_fixture.h"

/* ---- readiness -------------------------------------------------------------- */

/* An op naming one not held waits, and holds up nothing else. */
static void
test_waiting(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	struct roster_dep *deps;
	size_t n;
	int c, ab, w, w2, b1, d1;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	b1 = add(&s, B, X, ROSTER_MEMBER, SAW(ab));
	w = add(&s, A, Y, ROSTER_MEMBER, SAW(b1));
	s.op[w].deps[0].seq = 5;	/* B's 5th op, never held */
	w2 = add(&s, A, Z, ROSTER_MEMBER, SAW(w));
	/* D's first op names only B's 5th. */
	d1 = add(&s, D, M, ROSTER_MEMBER, NOTHING);
	s.op[d1].deps[0].seq = 5;
	memcpy(s.op[d1].deps[0].author, dev[B], 32);
	s.op[d1].ndeps = 1;
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, d1), ROSTER_WAITING);
	assert_null(member(r, M));
	assert_int_equal(verdict(r, b1), ROSTER_VALID);
	assert_int_equal(verdict(r, w), ROSTER_WAITING);
	assert_int_equal(verdict(r, w2), ROSTER_WAITING);
	assert_int_equal(roster_count(r, ROSTER_WAITING), 3);
	assert_true(current(r, X));
	assert_null(member(r, Y));
	/* The frontier is of ready ops: A's 2, B's 1. */
	assert_int_equal(roster_frontier(r, dev[C], &deps, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(deps[devno(deps[0].author) == A ? 0 : 1].seq, 2);
	assert_int_equal(deps[devno(deps[0].author) == B ? 0 : 1].seq, 1);
	free(deps);
	assert_int_equal(roster_frontier(r, dev[A], &deps, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(deps[0].author, dev[B], 32);
	free(deps);
	roster_free(r);
	scen_free(&s);
}

/*
 * Deps that are not causally closed, unsorted, or that name the author:
 * MALFORMED, and no block of the author's later ops.  A cycle of deps and
 * a fork never get ready.
 */
static void
test_malformed(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	struct roster_dep tmp;
	int c, ab, ad, d1, b1, b2, b3, bad;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	ad = add(&s, A, D, ROSTER_ADMIN, SAW(ab));
	d1 = add(&s, D, X, ROSTER_MEMBER, SAW(ad));
	b1 = add(&s, B, Y, ROSTER_MEMBER, SAW(d1));
	b2 = add(&s, B, Z, ROSTER_MEMBER, SAW(b1));
	b3 = add(&s, B, M, ROSTER_MEMBER, SAW(b2));
	for (bad = 0; bad < 3; bad++) {
		struct roster_op *op = &s.op[b1];

		switch (bad) {
		case 0:	/* names D's op but not A's that D saw */
			assert_int_equal(op->ndeps, 2);
			op->deps[devno(op->deps[0].author) == A ? 0 : 1].seq = 1;
			break;
		case 1:	/* unsorted */
			tmp = op->deps[0];
			op->deps[0] = op->deps[1];
			op->deps[1] = tmp;
			break;
		case 2:	/* names B itself */
			memcpy(op->deps[0].author, dev[B], 32);
			op->deps[0].seq = 1;
			break;
		}
		r = resolve_scen(&s);
		assert_int_equal(verdict(r, b1), ROSTER_MALFORMED);
		assert_int_equal(verdict(r, b2), ROSTER_VALID);
		assert_int_equal(verdict(r, b3), ROSTER_VALID);
		assert_null(member(r, Y));
		assert_true(current(r, Z));
		assert_int_equal(roster_count(r, ROSTER_MALFORMED), 1);
		roster_free(r);
		scen_free(&s);
		memset(&s, 0, sizeof(s));
		c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
		ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
		ad = add(&s, A, D, ROSTER_ADMIN, SAW(ab));
		d1 = add(&s, D, X, ROSTER_MEMBER, SAW(ad));
		b1 = add(&s, B, Y, ROSTER_MEMBER, SAW(d1));
		b2 = add(&s, B, Z, ROSTER_MEMBER, SAW(b1));
		b3 = add(&s, B, M, ROSTER_MEMBER, SAW(b2));
	}
	scen_free(&s);
}

static void
test_cycle_and_fork(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ab, ad, b1, d1, a3, f1, f2, f3;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	ad = add(&s, A, D, ROSTER_ADMIN, SAW(ab));
	/* B's 1st names D's 1st, which names B's 1st. */
	b1 = add(&s, B, X, ROSTER_MEMBER, SAW(ad));
	d1 = add(&s, D, Y, ROSTER_MEMBER, SAW(b1));
	s.op[b1].deps = xreallocarray(s.op[b1].deps, 2, sizeof(*s.op[b1].deps));
	memcpy(s.op[b1].deps[1].author, dev[D], 32);
	s.op[b1].deps[1].seq = 1;
	s.op[b1].ndeps = 2;
	qsort(s.op[b1].deps, 2, sizeof(*s.op[b1].deps), cmp_dep);
	a3 = add(&s, A, Z, ROSTER_MEMBER, SAW(ad));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, b1), ROSTER_MALFORMED);
	assert_int_equal(verdict(r, d1), ROSTER_MALFORMED);
	assert_int_equal(verdict(r, a3), ROSTER_VALID);
	roster_free(r);
	scen_free(&s);

	/* A fork: two ops in B's slot 2, whatever their order. */
	memset(&s, 0, sizeof(s));
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	b1 = add(&s, B, X, ROSTER_MEMBER, SAW(ab));
	f1 = add(&s, B, Y, ROSTER_MEMBER, SAW(b1));
	s.seq[B]--;
	f2 = add(&s, B, Z, ROSTER_MEMBER, SAW(b1));
	set_id(&s, f2, 0);
	f3 = add(&s, B, M, ROSTER_MEMBER, SAW(f1));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, b1), ROSTER_VALID);
	assert_int_equal(verdict(r, f1), ROSTER_MALFORMED);
	assert_int_equal(verdict(r, f2), ROSTER_MALFORMED);
	assert_int_equal(verdict(r, f3), ROSTER_MALFORMED);
	assert_true(current(r, X));
	roster_free(r);
	scen_free(&s);
}

/* A duplicate counts once; one id with two contents counts never. */
static void
test_duplicates(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	struct roster_op ops[4];
	int c, ab;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_MEMBER, SAW(c));
	ops[0] = s.op[c];
	ops[1] = s.op[ab];
	ops[2] = s.op[ab];
	r = resolve_all(ops, 3);
	assert_int_equal(roster_count(r, ROSTER_VALID), 2);
	assert_int_equal(roster_verdict(r, 2), ROSTER_VALID);
	roster_free(r);
	ops[2].role = ROSTER_ADMIN;
	r = resolve_all(ops, 3);
	assert_int_equal(roster_verdict(r, 1), ROSTER_MALFORMED);
	assert_int_equal(roster_verdict(r, 2), ROSTER_MALFORMED);
	assert_null(member(r, B));
	roster_free(r);
	scen_free(&s);
}

/* A placeholder (an op that did not parse) holds its author's place. */
static void
test_placeholder(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, p, a;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	p = add(&s, A, B, ROSTER_MEMBER, SAW(c));
	a = add(&s, A, X, ROSTER_MEMBER, SAW(p));
	roster_op_free(&s.op[p]);
	s.op[p].type = ROSTER_NONE;
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, p), ROSTER_MALFORMED);
	assert_int_equal(verdict(r, a), ROSTER_VALID);
	assert_null(member(r, B));
	assert_true(current(r, X));
	roster_free(r);
	/* An epoch that is not derived from (chain, author, seq) too. */
	s.op[a].type = ROSTER_EPOCH;
	s.op[a].epoch = 0x80000001u;
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, a), ROSTER_MALFORMED);
	roster_free(r);
	scen_free(&s);
}


static void
test_caps(void **state)
{
	struct roster_op *ops;
	struct roster *r;

	(void)state;
	ops = xcalloc(ROSTER_MAX_OPS + 1, sizeof(*ops));
	assert_int_equal(roster_resolve(circle, ops, ROSTER_MAX_OPS + 1, &r),
	    SAMEN_ETOOBIG);
	assert_null(r);
	/* Zeroed ops: seq 0 placeholders, all malformed, no crash. */
	assert_int_equal(roster_resolve(circle, ops, 100, &r), 0);
	assert_int_equal(roster_count(r, ROSTER_MALFORMED), 1);
	roster_free(r);
	assert_int_equal(roster_resolve(circle, ops, 0, &r), 0);
	assert_false(roster_circle_valid(r));
	roster_free(r);
	free(ops);
}


/* ---- the graph itself -------------------------------------------------------- */

/*
 * A random history: A creates, then five authors add members, each op
 * having seen up to two earlier ones (and its author's previous op).
 */
static void
random_scen(struct scen *s, uint64_t *seed, int n)
{
	static const int authors[] = { A, B, C, D, M };
	int k, a, b;

	memset(s, 0, sizeof(*s));
	mk(s, A, ROSTER_CREATE, -1, NOTHING);
	for (k = 1; k < n; k++) {
		a = (int)(rnd(seed) % (uint64_t)k);
		b = (int)(rnd(seed) % (uint64_t)k);
		add(s, authors[rnd(seed) % 5], X + (int)(rnd(seed) % 4),
		    ROSTER_MEMBER, rnd(seed) % 4 == 0 ? NOTHING :
		    rnd(seed) % 2 ? SAW(a) : SAW(a, b));
	}
}

/* 1 if op j is in op i's causal past: its vector is at or below i's. */
static int
saw(const struct scen *s, int i, int j)
{
	uint64_t vi[NDEV], vj[NDEV];
	int d;

	if (i == j)
		return 0;
	vec_of(s, i, vi);
	vec_of(s, j, vj);
	for (d = 0; d < NDEV; d++)
		if (vj[d] > vi[d])
			return 0;
	return 1;
}

/*
 * Every op of a well-formed history gets ready; each one's past is
 * exactly the ops its version vector covers; the order puts every past
 * first, and is the same (by id) in whatever order the ops came.
 */
static void
test_pasts_and_order(void **state)
{
	struct scen s;
	struct roster_op shuf[MAXOPS];
	struct roster_ctx x;
	uint8_t first[MAXOPS][32];
	uint32_t nodeof[MAXOPS], perm[MAXOPS], t;
	uint64_t seed = 7;
	int round, order, i, j, n = 40;

	(void)state;
	for (round = 0; round < 20; round++) {
		random_scen(&s, &seed, n);
		for (order = 0; order < 3; order++) {
			for (i = 0; i < n; i++)
				perm[i] = (uint32_t)i;
			for (i = n - 1; order > 0 && i > 0; i--) {
				j = (int)(rnd(&seed) % (uint64_t)(i + 1));
				t = perm[i];
				perm[i] = perm[j];
				perm[j] = t;
			}
			for (i = 0; i < n; i++)
				shuf[i] = s.op[perm[i]];
			roster_graph_build(&x, circle, shuf, (size_t)n, nodeof);
			assert_int_equal(x.n, n);
			assert_int_equal(x.nready, n);
			for (i = 0; i < n; i++) {
				assert_false(x.nodes[nodeof[i]].flags & N_PLACE);
				for (j = 0; j < n; j++) {
					uint32_t a = nodeof[j], b = nodeof[i];

					assert_int_equal(inpast(&x, a, b),
					    saw(&s, (int)perm[i],
					    (int)perm[j]));
					if (inpast(&x, a, b))
						assert_true(x.nodes[a].pos <
						    x.nodes[b].pos);
				}
			}
			for (i = 0; i < n; i++) {
				const uint8_t *id = x.nodes[x.topo[i]].op->id;

				if (order == 0)
					memcpy(first[i], id, 32);
				else
					assert_memory_equal(first[i], id, 32);
			}
			roster_graph_free(&x);
		}
		scen_free(&s);
	}
}

/*
 * What readiness finds out about each node: a fork poisons both ops in
 * the slot and whatever names it; an op naming one not held waits, and
 * so does what names it; the rest is ready.
 */
static void
test_fork_and_wait(void **state)
{
	struct scen s = { 0 };
	struct roster_ctx x;
	uint32_t nodeof[MAXOPS];
	int c, b1, f1, f2, after, w, w2, k;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	b1 = add(&s, B, X, ROSTER_MEMBER, SAW(c));
	f1 = add(&s, B, Y, ROSTER_MEMBER, SAW(b1));
	s.seq[B]--;
	f2 = add(&s, B, Z, ROSTER_MEMBER, SAW(b1));
	set_id(&s, f2, 1);
	after = add(&s, A, M, ROSTER_MEMBER, SAW(f1));
	w = add(&s, D, R, ROSTER_MEMBER, NOTHING);
	memcpy(s.op[w].deps[0].author, dev[B], 32);
	s.op[w].deps[0].seq = 5;	/* B's 5th op, never held */
	s.op[w].ndeps = 1;
	w2 = add(&s, D, X, ROSTER_MEMBER, SAW(w));
	roster_graph_build(&x, circle, s.op, s.n, nodeof);
	for (k = 0; k < 2; k++) {
		assert_true(x.nodes[nodeof[k ? b1 : c]].flags & N_READY);
		assert_false(x.nodes[nodeof[k ? f1 : f2]].flags &
		    (N_READY | N_WAIT));
		assert_true(x.nodes[nodeof[k ? f1 : f2]].flags & N_POISON);
		assert_true(x.nodes[nodeof[k ? w : w2]].flags & N_WAIT);
		assert_false(x.nodes[nodeof[k ? w : w2]].flags &
		    (N_READY | N_POISON));
	}
	assert_true(x.nodes[nodeof[after]].flags & N_POISON);
	assert_false(x.nodes[nodeof[after]].flags & (N_READY | N_WAIT));
	assert_int_equal(x.nready, 2);
	roster_graph_free(&x);
	scen_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waiting),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_cycle_and_fork),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_placeholder),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_pasts_and_order),
		cmocka_unit_test(test_fork_and_wait),
	};

	if (sodium_init() < 0)
		return 1;
	roster_fixture_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
