/* test_roster: membership resolution, every rule in every order; the codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "devid.h"
#include "error.h"
#include "ops.h"
#include "roster.h"
#include "sync.h"
#include "util.h"
#include "wire.h"

/*
 * Devices by name.  A creates the circle; the others' roles depend on the
 * scenario.  Their keys are hashes, so their byte order (the order deps are
 * sorted in) is not their letter order.
 */
enum { A, B, C, D, M, X, Y, Z, R, NDEV };
static uint8_t dev[NDEV][32];
static uint8_t salt[16];
static uint8_t circle[16];
static uint8_t chain[16];
static const uint8_t rid[RID_LEN] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };

#define MAXOPS 64
#define END (-1)
/* A list of op indices (the ops an op saw), END-terminated. */
#define SAW(...) ((const int[]){ __VA_ARGS__, END })
#define NOTHING ((const int[]){ END })

struct scen {
	struct roster_op op[MAXOPS];
	size_t n;
	uint64_t seq[NDEV];
};

static uint64_t
rnd(uint64_t *s)
{
	/* splitmix64: small, and the seed alone reproduces a run. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
devno(const uint8_t key[32])
{
	int d;

	for (d = 0; d < NDEV; d++)
		if (memcmp(dev[d], key, 32) == 0)
			return d;
	fail_msg("unknown device");
	return -1;
}

/* The version vector of op i with itself in it. */
static void
vec_of(const struct scen *s, int i, uint64_t v[NDEV])
{
	const struct roster_op *op = &s->op[i];
	size_t k;

	memset(v, 0, NDEV * sizeof(*v));
	for (k = 0; k < op->ndeps; k++)
		v[devno(op->deps[k].author)] = op->deps[k].seq;
	v[devno(op->author)] = op->seq;
}

static int
cmp_dep(const void *a, const void *b)
{
	return memcmp(((const struct roster_dep *)a)->author,
	    ((const struct roster_dep *)b)->author, 32);
}

/* The fake id of the spec's tests: BLAKE2b of (author, seq). */
static void
fake_id(uint8_t id[32], int author, uint64_t seq)
{
	uint8_t buf[40];

	memcpy(buf, dev[author], 32);
	put_le64(buf + 32, seq);
	crypto_generichash(id, 32, buf, sizeof(buf), NULL, 0);
}

/*
 * Appends an op of author's next seq that saw the ops in saw (and, as
 * every op does, its author's previous op): deps are the causal closure,
 * as roster_frontier() would give.  Returns its index.
 */
static int
mk(struct scen *s, int author, enum roster_type t, int target,
    const int *saw)
{
	struct roster_op *op;
	uint64_t v[NDEV] = { 0 }, w[NDEV];
	size_t k;
	int d;

	assert_true(s->n < MAXOPS);
	op = &s->op[s->n];
	memset(op, 0, sizeof(*op));
	memcpy(op->author, dev[author], 32);
	op->seq = ++s->seq[author];
	fake_id(op->id, author, op->seq);
	op->hlc = 1000 + s->n;
	op->type = t;
	for (k = 0; k < s->n; k++)
		if (memcmp(s->op[k].author, op->author, 32) == 0 &&
		    s->op[k].seq == op->seq - 1) {
			vec_of(s, (int)k, w);
			for (d = 0; d < NDEV; d++)
				if (w[d] > v[d])
					v[d] = w[d];
		}
	for (; *saw != END; saw++) {
		vec_of(s, *saw, w);
		for (d = 0; d < NDEV; d++)
			if (w[d] > v[d])
				v[d] = w[d];
	}
	v[author] = 0;
	op->deps = xcalloc(NDEV, sizeof(*op->deps));
	for (d = 0; d < NDEV; d++)
		if (v[d]) {
			memcpy(op->deps[op->ndeps].author, dev[d], 32);
			op->deps[op->ndeps++].seq = v[d];
		}
	qsort(op->deps, op->ndeps, sizeof(*op->deps), cmp_dep);
	if (target >= 0)
		memcpy(op->target, dev[target], 32);
	switch (t) {
	case ROSTER_CREATE:
		memcpy(op->salt, salt, sizeof(salt));
		op->epoch = ROSTER_FIRST_EPOCH;
		break;
	case ROSTER_ADD:
		op->role = ROSTER_MEMBER;
		break;
	case ROSTER_ROLE:
		op->role = ROSTER_ADMIN;
		break;
	case ROSTER_REMOVE:
	case ROSTER_REVOKE:
	case ROSTER_EPOCH:
		op->epoch = roster_epoch_id(chain, op->author, op->seq);
		break;
	default:
		break;
	}
	s->n++;
	return (int)s->n - 1;
}

/* An add with a role. */
static int
add(struct scen *s, int author, int target, enum roster_role role,
    const int *saw)
{
	int i = mk(s, author, ROSTER_ADD, target, saw);

	s->op[i].role = role;
	return i;
}

static int
role(struct scen *s, int author, int target, enum roster_role r,
    const int *saw)
{
	int i = mk(s, author, ROSTER_ROLE, target, saw);

	s->op[i].role = r;
	return i;
}

/* Seals epoch to device in op i. */
static void
seal(struct scen *s, int i, uint32_t epoch, int device)
{
	struct roster_op *op = &s->op[i];
	struct roster_seal *sl;

	op->seals = xreallocarray(op->seals, op->nseals + 1,
	    sizeof(*op->seals));
	sl = &op->seals[op->nseals++];
	memset(sl, 0, sizeof(*sl));
	sl->epoch = epoch;
	memcpy(sl->device, dev[device], 32);
	memset(sl->sealed, (int)(epoch ^ (uint32_t)device ^ (uint32_t)i), 80);
}

/* Makes op i's id sort first (lo) or last among the ops. */
static void
set_id(struct scen *s, int i, int lo)
{
	memset(s->op[i].id, lo ? 0x00 : 0xff, 32);
	s->op[i].id[31] = (uint8_t)i;
}

static void
scen_free(struct scen *s)
{
	size_t k;

	for (k = 0; k < s->n; k++)
		roster_op_free(&s->op[k]);
}

/* ---- every order gives the same roster ------------------------------------ */

static void
check_order(const struct roster_op *ops, size_t n, const size_t *perm,
    const struct roster *want, const uint8_t digest[32])
{
	struct roster_op *shuf;
	struct roster *r;
	uint8_t got[32];
	size_t k;

	shuf = xcalloc(n + 1, sizeof(*shuf));
	for (k = 0; k < n; k++)
		shuf[k] = ops[perm[k]];
	assert_int_equal(roster_resolve(circle, shuf, n, &r), 0);
	roster_digest(r, got);
	assert_memory_equal(got, digest, 32);
	for (k = 0; k < n; k++)
		assert_int_equal(roster_verdict(r, k),
		    roster_verdict(want, perm[k]));
	roster_free(r);
	free(shuf);
}

/*
 * Resolves the ops as given, then in every order (n <= 7: all n!, by
 * Heap's algorithm) or in 300 random ones, and checks that the digest and
 * every op's verdict are the same.  Returns the first roster.
 */
static struct roster *
resolve_all(const struct roster_op *ops, size_t n)
{
	struct roster *r;
	uint8_t digest[32];
	size_t perm[MAXOPS], c[MAXOPS], k, i, j, tmp;
	uint64_t seed = 42;

	assert_int_equal(roster_resolve(circle, ops, n, &r), 0);
	roster_digest(r, digest);
	for (k = 0; k < n; k++) {
		perm[k] = k;
		c[k] = 0;
	}
	if (n <= 7) {
		for (i = 1; i < n;) {
			if (c[i] < i) {
				j = i % 2 ? c[i] : 0;
				tmp = perm[j];
				perm[j] = perm[i];
				perm[i] = tmp;
				check_order(ops, n, perm, r, digest);
				c[i]++;
				i = 1;
			} else
				c[i++] = 0;
		}
		return r;
	}
	for (k = 0; k < 300; k++) {
		for (i = n - 1; i > 0; i--) {
			j = rnd(&seed) % (i + 1);
			tmp = perm[j];
			perm[j] = perm[i];
			perm[i] = tmp;
		}
		check_order(ops, n, perm, r, digest);
	}
	return r;
}

static struct roster *
resolve_scen(struct scen *s)
{
	return resolve_all(s->op, s->n);
}

static enum roster_verdict
verdict(const struct roster *r, int i)
{
	return roster_verdict(r, (size_t)i);
}

static const struct roster_member *
member(const struct roster *r, int d)
{
	return roster_member(r, dev[d]);
}

static int
current(const struct roster *r, int d)
{
	const struct roster_member *m = member(r, d);

	return m && m->state == ROSTER_CURRENT;
}

static enum roster_role
role_of(const struct roster *r, int d)
{
	const struct roster_member *m = member(r, d);

	return m ? m->role : ROSTER_NOROLE;
}

static int
admin(const struct roster *r, int d)
{
	return roster_is_admin(r, dev[d]);
}

/* ---- create -------------------------------------------------------------- */

static void
test_create(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, a;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	a = add(&s, A, B, ROSTER_MEMBER, SAW(c));
	r = resolve_scen(&s);
	assert_true(roster_circle_valid(r));
	assert_memory_equal(roster_creator(r), dev[A], 32);
	assert_int_equal(verdict(r, c), ROSTER_VALID);
	assert_int_equal(verdict(r, a), ROSTER_VALID);
	assert_true(admin(r, A));
	assert_true(current(r, B));
	assert_int_equal(role_of(r, B), ROSTER_MEMBER);
	assert_memory_equal(member(r, B)->added_by, dev[A], 32);
	assert_memory_equal(member(r, A)->added_by, dev[A], 32);
	assert_int_equal(roster_count(r, ROSTER_VALID), 2);
	roster_free(r);
	scen_free(&s);
}

/* B claims the circle with A's salt: the id does not derive from B. */
static void
test_create_forged(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, a;

	(void)state;
	c = mk(&s, B, ROSTER_CREATE, -1, NOTHING);
	a = add(&s, B, X, ROSTER_ADMIN, SAW(c));
	r = resolve_scen(&s);
	assert_false(roster_circle_valid(r));
	assert_null(roster_creator(r));
	assert_int_equal(verdict(r, c), ROSTER_UNAUTHORIZED);
	assert_int_equal(verdict(r, a), ROSTER_UNAUTHORIZED);
	assert_false(admin(r, B));
	assert_null(member(r, X));
	assert_null(roster_preferred(r));
	roster_free(r);
	scen_free(&s);
}

/* Two creates by the creator: the smaller id counts, in both orders. */
static void
test_create_twice(void **state)
{
	struct scen s;
	struct roster *r;
	int c1, c2, a, lo;

	(void)state;
	for (lo = 0; lo < 2; lo++) {
		memset(&s, 0, sizeof(s));
		c1 = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
		c2 = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
		seal(&s, c2, ROSTER_FIRST_EPOCH, A);
		a = add(&s, A, B, ROSTER_MEMBER, NOTHING);
		set_id(&s, c1, lo);
		set_id(&s, c2, !lo);
		r = resolve_scen(&s);
		assert_true(roster_circle_valid(r));
		assert_int_equal(verdict(r, c1), lo ? ROSTER_VALID :
		    ROSTER_UNAUTHORIZED);
		assert_int_equal(verdict(r, c2), lo ? ROSTER_UNAUTHORIZED :
		    ROSTER_VALID);
		assert_int_equal(verdict(r, a), ROSTER_VALID);
		assert_true(current(r, B));
		/* Epoch 1 is the counted create's: sealed to A by c2 only. */
		assert_non_null(roster_preferred(r));
		assert_int_equal(roster_preferred(r)->nsealed, lo ? 0 : 1);
		roster_free(r);
		scen_free(&s);
	}
}

/* ---- authorization -------------------------------------------------------- */

static void
test_authorization(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ab, bx, bb, ap, by;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_MEMBER, SAW(c));
	bx = add(&s, B, X, ROSTER_MEMBER, SAW(ab));	/* B is no admin */
	bb = role(&s, B, B, ROSTER_ADMIN, SAW(ab));	/* nor makes itself one */
	ap = role(&s, A, B, ROSTER_ADMIN, SAW(ab));
	by = add(&s, B, Y, ROSTER_MEMBER, SAW(ap));	/* now it is */
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, bx), ROSTER_UNAUTHORIZED);
	assert_int_equal(verdict(r, bb), ROSTER_UNAUTHORIZED);
	assert_int_equal(verdict(r, ap), ROSTER_VALID);
	assert_int_equal(verdict(r, by), ROSTER_VALID);
	assert_null(member(r, X));
	assert_true(admin(r, B));
	assert_true(current(r, Y));
	assert_memory_equal(member(r, Y)->added_by, dev[B], 32);
	assert_int_equal(roster_count(r, ROSTER_UNAUTHORIZED), 2);
	roster_free(r);
	scen_free(&s);
}

/* ---- remove, add, revoke -------------------------------------------------- */

static void
test_remove_beats_add(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ad, ab, dr, ab2;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ad = add(&s, A, D, ROSTER_ADMIN, SAW(c));
	ab = add(&s, A, B, ROSTER_MEMBER, SAW(ad));
	dr = mk(&s, D, ROSTER_REMOVE, B, SAW(ad));	/* did not see ab */
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, ab), ROSTER_VALID);
	assert_int_equal(verdict(r, dr), ROSTER_VALID);
	assert_false(current(r, B));
	assert_int_equal(member(r, B)->state, ROSTER_REMOVED);
	roster_free(r);
	/* An add that saw the removal adds again. */
	ab2 = add(&s, A, B, ROSTER_MEMBER, SAW(dr));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, ab2), ROSTER_VALID);
	assert_true(current(r, B));
	assert_memory_equal(member(r, B)->added_by, dev[A], 32);
	roster_free(r);
	scen_free(&s);
}

static void
test_revoke_forever(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ab, rv, ab2;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	rv = mk(&s, A, ROSTER_REVOKE, B, SAW(ab));
	s.op[rv].cut_seq = 3;
	memset(s.op[rv].cut_id, 0x33, 32);
	ab2 = add(&s, A, B, ROSTER_ADMIN, SAW(rv));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, rv), ROSTER_VALID);
	assert_int_equal(verdict(r, ab2), ROSTER_VALID);
	assert_int_equal(member(r, B)->state, ROSTER_REVOKED);
	assert_false(admin(r, B));
	assert_int_equal(member(r, B)->cut_seq, 3);
	roster_free(r);
	scen_free(&s);
}

/*
 * D is removed by A.  D's op that A saw stays; D's concurrent promotion of
 * X is ignored, and so is what X did with it.
 */
static void
test_removed_admin(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ad, ax, d1, rm, d2, x1, x2;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ad = add(&s, A, D, ROSTER_ADMIN, SAW(c));
	ax = add(&s, A, X, ROSTER_MEMBER, SAW(ad));
	d1 = add(&s, D, Z, ROSTER_MEMBER, SAW(ax));
	rm = mk(&s, A, ROSTER_REMOVE, D, SAW(d1));
	d2 = role(&s, D, X, ROSTER_ADMIN, SAW(d1));
	x1 = add(&s, X, Y, ROSTER_MEMBER, SAW(d2));
	/*
	 * X then hears of D's removal and adds M: in that past D's promotion
	 * of X is filtered, so X never was an admin there.
	 */
	x2 = add(&s, X, M, ROSTER_MEMBER, SAW(rm, x1));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, x2), ROSTER_UNAUTHORIZED);
	assert_int_equal(verdict(r, d1), ROSTER_VALID);
	assert_int_equal(verdict(r, rm), ROSTER_VALID);
	assert_int_equal(verdict(r, d2), ROSTER_FILTERED);
	assert_int_equal(verdict(r, x1), ROSTER_FILTERED);
	assert_int_equal(member(r, D)->state, ROSTER_REMOVED);
	assert_int_equal(member(r, D)->role, ROSTER_ADMIN);
	assert_true(current(r, Z));
	assert_int_equal(role_of(r, X), ROSTER_MEMBER);
	assert_null(member(r, Y));
	assert_int_equal(roster_count(r, ROSTER_FILTERED), 2);
	roster_free(r);
	scen_free(&s);
}

/* ---- removals that cross --------------------------------------------------- */

/* A and B remove each other; with C, both go; alone, the smaller id loses. */
static void
test_mutual_removal(void **state)
{
	struct scen s;
	struct roster *r;
	int c, ab, ac, rb, ra, lo, third;

	(void)state;
	for (third = 0; third < 2; third++)
		for (lo = 0; lo < 2; lo++) {
			memset(&s, 0, sizeof(s));
			c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
			ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
			ac = third ? add(&s, A, C, ROSTER_ADMIN, SAW(ab)) : ab;
			rb = mk(&s, A, ROSTER_REMOVE, B, SAW(ac));
			ra = mk(&s, B, ROSTER_REMOVE, A, SAW(ac));
			set_id(&s, rb, lo);
			set_id(&s, ra, !lo);
			r = resolve_scen(&s);
			if (third) {
				assert_int_equal(verdict(r, rb), ROSTER_VALID);
				assert_int_equal(verdict(r, ra), ROSTER_VALID);
				assert_false(current(r, A));
				assert_false(current(r, B));
				assert_true(admin(r, C));
			} else if (lo) {
				/* rb has the smaller id: ignored, B stays. */
				assert_int_equal(verdict(r, rb),
				    ROSTER_FILTERED);
				assert_int_equal(verdict(r, ra), ROSTER_VALID);
				assert_false(current(r, A));
				assert_true(admin(r, B));
			} else {
				assert_int_equal(verdict(r, rb), ROSTER_VALID);
				assert_int_equal(verdict(r, ra),
				    ROSTER_FILTERED);
				assert_true(admin(r, A));
				assert_false(current(r, B));
			}
			roster_free(r);
			scen_free(&s);
		}
}

/*
 * A removes B, B removes C, C removes A, all concurrently.  With a fourth
 * admin D all three go.  Alone, the smallest id (A's) is ignored: B's
 * removal of C then stands, and C's of A falls with C.
 */
static void
test_three_cycle(void **state)
{
	struct scen s;
	struct roster *r;
	int c, ab, ac, ad, rab, rbc, rca, fourth;

	(void)state;
	for (fourth = 0; fourth < 2; fourth++) {
		memset(&s, 0, sizeof(s));
		c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
		ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
		ac = add(&s, A, C, ROSTER_ADMIN, SAW(ab));
		ad = fourth ? add(&s, A, D, ROSTER_ADMIN, SAW(ac)) : ac;
		rab = mk(&s, A, ROSTER_REMOVE, B, SAW(ad));
		rbc = mk(&s, B, ROSTER_REMOVE, C, SAW(ad));
		rca = mk(&s, C, ROSTER_REMOVE, A, SAW(ad));
		set_id(&s, rab, 1);
		set_id(&s, rbc, 0);
		set_id(&s, rca, 0);
		r = resolve_scen(&s);
		if (fourth) {
			assert_int_equal(verdict(r, rab), ROSTER_VALID);
			assert_int_equal(verdict(r, rbc), ROSTER_VALID);
			assert_int_equal(verdict(r, rca), ROSTER_VALID);
			assert_false(current(r, A));
			assert_false(current(r, B));
			assert_false(current(r, C));
			assert_true(admin(r, D));
		} else {
			assert_int_equal(verdict(r, rab), ROSTER_FILTERED);
			assert_int_equal(verdict(r, rbc), ROSTER_VALID);
			assert_int_equal(verdict(r, rca), ROSTER_FILTERED);
			assert_true(admin(r, A));
			assert_true(admin(r, B));
			assert_false(current(r, C));
		}
		roster_free(r);
		scen_free(&s);
	}
}

/*
 * Rule 7 needs rule 2 too.  B removes X; A, not knowing, removes B; X saw
 * its removal and adds Y anyway.  A's removal filters B's, so X is still
 * an admin in the valid ops of the add's past; but in that past as its
 * author knew it, X had been removed: the add never counts.
 */
static void
test_auth_floor(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ab, ax, bx, ab2, xy;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	ax = add(&s, A, X, ROSTER_ADMIN, SAW(ab));
	bx = mk(&s, B, ROSTER_REMOVE, X, SAW(ax));
	ab2 = mk(&s, A, ROSTER_REMOVE, B, SAW(ax));
	xy = add(&s, X, Y, ROSTER_MEMBER, SAW(bx));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, ab2), ROSTER_VALID);
	assert_int_equal(verdict(r, bx), ROSTER_FILTERED);
	assert_int_equal(verdict(r, xy), ROSTER_UNAUTHORIZED);
	assert_true(admin(r, X));
	assert_false(current(r, B));
	assert_null(member(r, Y));
	roster_free(r);
	scen_free(&s);
}

/* M, a member, "removes" A while A removes B: B goes, A stays. */
static void
test_forged_removal(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ab, am, ma, ar, a2;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	am = add(&s, A, M, ROSTER_MEMBER, SAW(ab));
	ma = mk(&s, M, ROSTER_REMOVE, A, SAW(am));
	ar = mk(&s, A, ROSTER_REMOVE, B, SAW(am));
	a2 = add(&s, A, X, ROSTER_MEMBER, SAW(ar, ma));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, ma), ROSTER_UNAUTHORIZED);
	assert_int_equal(verdict(r, ar), ROSTER_VALID);
	assert_int_equal(verdict(r, a2), ROSTER_VALID);
	assert_true(admin(r, A));
	assert_false(current(r, B));
	assert_true(current(r, X));
	roster_free(r);
	scen_free(&s);

	/*
	 * A and D remove M while M "removes" A: had M's op been a candidate
	 * it would form a cycle with A's removal, defeated from outside by
	 * D's, and take A's down with it.
	 */
	memset(&s, 0, sizeof(s));
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, D, ROSTER_ADMIN, SAW(c));
	am = add(&s, A, M, ROSTER_MEMBER, SAW(ab));
	ar = mk(&s, A, ROSTER_REMOVE, M, SAW(am));
	a2 = mk(&s, D, ROSTER_REMOVE, M, SAW(am));
	ma = mk(&s, M, ROSTER_REMOVE, A, SAW(am));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, ar), ROSTER_VALID);
	assert_int_equal(verdict(r, a2), ROSTER_VALID);
	assert_int_equal(verdict(r, ma), ROSTER_UNAUTHORIZED);
	assert_true(admin(r, A));
	assert_false(current(r, M));
	roster_free(r);
	scen_free(&s);
}

/* ---- roles ------------------------------------------------------------------ */

/* A demotes B while B adds X: like a removal, B's add is ignored. */
static void
test_demotion_filters(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ab, dm, bx;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	dm = role(&s, A, B, ROSTER_MEMBER, SAW(ab));
	bx = add(&s, B, X, ROSTER_MEMBER, SAW(ab));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, dm), ROSTER_VALID);
	assert_int_equal(verdict(r, bx), ROSTER_FILTERED);
	assert_true(current(r, B));
	assert_int_equal(role_of(r, B), ROSTER_MEMBER);
	assert_null(member(r, X));
	roster_free(r);
	scen_free(&s);
}

/* Concurrent promotion and demotion: the demotion wins, either way. */
static void
test_promote_demote(void **state)
{
	struct scen s;
	struct roster *r;
	int c, ab, ax, up, down, was;

	(void)state;
	for (was = ROSTER_MEMBER; was <= ROSTER_ADMIN; was++) {
		memset(&s, 0, sizeof(s));
		c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
		ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
		ax = add(&s, A, X, (enum roster_role)was, SAW(ab));
		up = role(&s, A, X, ROSTER_ADMIN, SAW(ax));
		down = role(&s, B, X, ROSTER_RELAY, SAW(ax));
		r = resolve_scen(&s);
		assert_int_equal(verdict(r, up), ROSTER_VALID);
		assert_int_equal(verdict(r, down), ROSTER_VALID);
		assert_int_equal(role_of(r, X), ROSTER_RELAY);
		roster_free(r);
		scen_free(&s);
	}
}

/* ---- cuts ----------------------------------------------------------------- */

static void
test_cuts(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ab, ax, r1, r2, ac;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	ax = add(&s, A, X, ROSTER_MEMBER, SAW(ab));
	r1 = mk(&s, A, ROSTER_REMOVE, X, SAW(ax));
	r2 = mk(&s, B, ROSTER_REMOVE, X, SAW(ax));
	s.op[r1].cut_seq = 7;
	memset(s.op[r1].cut_id, 0x77, 32);
	s.op[r2].cut_seq = 5;
	memset(s.op[r2].cut_id, 0x55, 32);
	r = resolve_scen(&s);
	assert_int_equal(member(r, X)->state, ROSTER_REMOVED);
	assert_int_equal(member(r, X)->cut_seq, 7);
	assert_int_equal(member(r, X)->cut_id[0], 0x77);
	assert_int_equal(member(r, B)->cut_seq, 0);
	roster_free(r);
	/* An accept moves it on. */
	ac = mk(&s, B, ROSTER_ACCEPT, X, SAW(r1, r2));
	s.op[ac].cut_seq = 9;
	memset(s.op[ac].cut_id, 0x99, 32);
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, ac), ROSTER_VALID);
	assert_int_equal(member(r, X)->cut_seq, 9);
	assert_int_equal(member(r, X)->cut_id[0], 0x99);
	roster_free(r);
	/* Equal seqs: the smaller op id's head. */
	s.op[ac].cut_seq = 7;
	set_id(&s, ac, 1);
	r = resolve_scen(&s);
	assert_int_equal(member(r, X)->cut_seq, 7);
	assert_int_equal(member(r, X)->cut_id[0], 0x99);
	roster_free(r);
	scen_free(&s);
}

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

/* ---- epochs ----------------------------------------------------------------- */

static void
test_epochs(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	const struct roster_epoch *e, *p;
	const struct roster_seal *sl;
	const uint8_t (*lack)[32];
	size_t n, nlack;
	int c, ab, ax, rx;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	seal(&s, c, ROSTER_FIRST_EPOCH, A);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	seal(&s, ab, ROSTER_FIRST_EPOCH, B);
	ax = add(&s, A, X, ROSTER_MEMBER, SAW(ab));
	seal(&s, ax, ROSTER_FIRST_EPOCH, X);
	r = resolve_scen(&s);
	p = roster_preferred(r);
	assert_int_equal(p->id, ROSTER_FIRST_EPOCH);
	assert_int_equal(p->nsealed, 3);
	assert_int_equal(roster_needs(r, dev[A], &lack, &nlack), 0);
	sl = roster_seals(r, dev[X], &n);
	assert_int_equal(n, 1);
	assert_int_equal(sl[0].epoch, ROSTER_FIRST_EPOCH);
	roster_free(r);
	/* The removal's epoch, sealed to A and B only, is preferred. */
	rx = mk(&s, A, ROSTER_REMOVE, X, SAW(ax));
	seal(&s, rx, s.op[rx].epoch, A);
	seal(&s, rx, s.op[rx].epoch, B);
	r = resolve_scen(&s);
	e = roster_epochs(r, &n);
	assert_int_equal(n, 2);
	p = roster_preferred(r);
	assert_int_equal(p->id, s.op[rx].epoch);
	assert_memory_equal(p->op, s.op[rx].id, 32);
	assert_int_equal(p->nsealed, 2);
	assert_int_equal(p->nexposed, 0);
	assert_int_equal(e[0].id, ROSTER_FIRST_EPOCH);
	assert_int_equal(e[0].nexposed, 1);
	assert_int_equal(roster_needs(r, dev[A], &lack, &nlack), 0);
	assert_int_equal(roster_needs(r, dev[X], &lack, &nlack), 0);
	/* X keeps the keys it was given. */
	sl = roster_seals(r, dev[X], &n);
	assert_int_equal(n, 1);
	roster_free(r);
	scen_free(&s);
}

/* Two concurrent removals: two epochs, each sealed to the other's target. */
static void
test_concurrent_epochs(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	const uint8_t (*lack)[32];
	size_t n, nlack;
	int c, ab, ax, ay, r1, r2, e3;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	seal(&s, c, ROSTER_FIRST_EPOCH, A);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	seal(&s, ab, ROSTER_FIRST_EPOCH, B);
	ax = add(&s, A, X, ROSTER_MEMBER, SAW(ab));
	seal(&s, ax, ROSTER_FIRST_EPOCH, X);
	ay = add(&s, A, Y, ROSTER_MEMBER, SAW(ax));
	seal(&s, ay, ROSTER_FIRST_EPOCH, Y);
	r1 = mk(&s, A, ROSTER_REMOVE, X, SAW(ay));
	seal(&s, r1, s.op[r1].epoch, A);
	seal(&s, r1, s.op[r1].epoch, B);
	seal(&s, r1, s.op[r1].epoch, Y);
	r2 = mk(&s, B, ROSTER_REMOVE, Y, SAW(ay));
	seal(&s, r2, s.op[r2].epoch, A);
	seal(&s, r2, s.op[r2].epoch, B);
	seal(&s, r2, s.op[r2].epoch, X);
	r = resolve_scen(&s);
	roster_epochs(r, &n);
	assert_int_equal(n, 3);		/* the create's, and one each */
	assert_int_equal(roster_preferred(r)->nexposed, 1);
	assert_int_equal(roster_preferred(r)->id, s.op[r1].epoch <
	    s.op[r2].epoch ? s.op[r1].epoch : s.op[r2].epoch);
	assert_int_equal(roster_needs(r, dev[A], &lack, &nlack),
	    ROSTER_NEED_EPOCH);
	assert_int_equal(roster_needs(r, dev[B], &lack, &nlack),
	    ROSTER_NEED_EPOCH);
	assert_int_equal(roster_needs(r, dev[X], &lack, &nlack), 0);
	roster_free(r);
	/* A merges: a new epoch sealed to the readers, which wins. */
	e3 = mk(&s, A, ROSTER_EPOCH, -1, SAW(r1, r2));
	seal(&s, e3, s.op[e3].epoch, A);
	seal(&s, e3, s.op[e3].epoch, B);
	r = resolve_scen(&s);
	assert_int_equal(roster_preferred(r)->id, s.op[e3].epoch);
	assert_int_equal(roster_needs(r, dev[A], &lack, &nlack), 0);
	roster_free(r);
	scen_free(&s);
}

/*
 * The ranking: ties go to the smaller id; an epoch sealed to a revoked
 * device loses to the revoke's own; readers that lack the preferred epoch
 * are owed a seal by an admin that holds it, a new epoch by one that does
 * not; a seal to a relay does not count.
 */
static void
test_preferred(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	const uint8_t (*lack)[32];
	const struct roster_seal *sl;
	size_t n, nlack;
	int c, ab, ax, rv, ay, ar, e2;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	seal(&s, c, ROSTER_FIRST_EPOCH, A);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	seal(&s, ab, ROSTER_FIRST_EPOCH, B);
	ax = add(&s, A, X, ROSTER_MEMBER, SAW(ab));
	seal(&s, ax, ROSTER_FIRST_EPOCH, X);
	rv = mk(&s, A, ROSTER_REVOKE, X, SAW(ax));
	seal(&s, rv, s.op[rv].epoch, A);
	seal(&s, rv, s.op[rv].epoch, B);
	r = resolve_scen(&s);
	assert_int_equal(roster_preferred(r)->id, s.op[rv].epoch);
	assert_int_equal(roster_needs(r, dev[A], &lack, &nlack), 0);
	roster_free(r);
	/* Y is added without a seal: the admins that hold the key owe one. */
	ay = add(&s, B, Y, ROSTER_MEMBER, SAW(rv));
	/* R is a relay; a seal to it is an error and does not count. */
	ar = add(&s, A, R, ROSTER_RELAY, SAW(ay));
	seal(&s, ar, s.op[rv].epoch, R);
	r = resolve_scen(&s);
	assert_int_equal(roster_preferred(r)->id, s.op[rv].epoch);
	assert_int_equal(roster_preferred(r)->nsealed, 2);
	assert_int_equal(roster_preferred(r)->nlacking, 1);
	assert_null(roster_seals(r, dev[R], &n));
	assert_int_equal(n, 0);
	assert_int_equal(roster_needs(r, dev[A], &lack, &nlack),
	    ROSTER_NEED_SEAL);
	assert_int_equal(nlack, 1);
	assert_memory_equal(lack[0], dev[Y], 32);
	roster_free(r);
	/*
	 * An epoch of B's own, sealed to B alone.  The smallest set, but it
	 * lacks more readers than rv's: rv's stays preferred (the spec's
	 * "smallest set" would take B's and never let go).
	 */
	e2 = mk(&s, B, ROSTER_EPOCH, -1, SAW(ar));
	seal(&s, e2, s.op[e2].epoch, B);
	r = resolve_scen(&s);
	assert_int_equal(roster_preferred(r)->id, s.op[rv].epoch);
	assert_int_equal(roster_needs(r, dev[B], &lack, &nlack),
	    ROSTER_NEED_SEAL);
	roster_free(r);
	/* With rv's epoch only A's, both lack two readers: A cannot seal. */
	s.op[rv].nseals = 1;
	r = resolve_scen(&s);
	/* Both lack readers: 2 (B, Y) and 2 (A, Y); the smaller id wins. */
	assert_int_equal(roster_preferred(r)->id,
	    s.op[rv].epoch < s.op[e2].epoch ? s.op[rv].epoch :
	    s.op[e2].epoch);
	if (roster_preferred(r)->id == s.op[e2].epoch) {
		assert_int_equal(roster_needs(r, dev[A], &lack, &nlack),
		    ROSTER_NEED_EPOCH);
		assert_int_equal(roster_needs(r, dev[B], &lack, &nlack),
		    ROSTER_NEED_SEAL);
	} else {
		assert_int_equal(roster_needs(r, dev[A], &lack, &nlack),
		    ROSTER_NEED_SEAL);
		assert_int_equal(roster_needs(r, dev[B], &lack, &nlack),
		    ROSTER_NEED_EPOCH);
	}
	/* Y is owed, in either case. */
	sl = roster_seals(r, dev[Y], &n);
	assert_int_equal(n, 0);
	(void)sl;
	roster_free(r);
	s.op[rv].nseals = 2;
	scen_free(&s);
}

/* ---- policies ---------------------------------------------------------------- */

static void
test_retention_purge_audit(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	const struct roster_retention *rt;
	const struct roster_purge *pg;
	size_t n;
	int c, ab, t1, t2, t3, t4, p1, u1, u2;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	s.op[c].has_audit = 1;
	memset(s.op[c].audit, 0x11, 32);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	t1 = mk(&s, A, ROSTER_RETENTION, -1, SAW(ab));
	strcpy(s.op[t1].coll, "notes");
	s.op[t1].keep = 100;
	t2 = mk(&s, A, ROSTER_RETENTION, -1, SAW(t1));	/* replaces t1 */
	strcpy(s.op[t2].coll, "notes");
	s.op[t2].keep = 200;
	t3 = mk(&s, B, ROSTER_RETENTION, -1, SAW(t1));	/* concurrent with t2 */
	strcpy(s.op[t3].coll, "notes");
	s.op[t3].keep = 300;
	s.op[t3].hlc = s.op[t2].hlc - 1;		/* older: loses */
	t4 = mk(&s, B, ROSTER_RETENTION, -1, SAW(t3));
	strcpy(s.op[t4].coll, "cases");
	s.op[t4].keep = 0;
	p1 = mk(&s, B, ROSTER_PURGE, -1, SAW(t4));
	s.op[p1].tags = xcalloc(2, ROSTER_TAGLEN);
	s.op[p1].ntags = 2;
	s.op[p1].tags[1][0] = 0xee;
	u1 = mk(&s, A, ROSTER_EPOCH, -1, SAW(t2));
	s.op[u1].has_audit = 1;
	memset(s.op[u1].audit, 0x22, 32);
	u2 = mk(&s, B, ROSTER_EPOCH, -1, SAW(p1));	/* concurrent with u1 */
	s.op[u2].has_audit = 1;
	memset(s.op[u2].audit, 0x33, 32);
	r = resolve_scen(&s);
	rt = roster_retentions(r, &n);
	assert_int_equal(n, 2);
	assert_string_equal(rt[0].coll, "cases");
	assert_int_equal(rt[0].keep, 0);
	assert_string_equal(rt[1].coll, "notes");
	assert_int_equal(rt[1].keep, 200);
	pg = roster_purges(r, &n);
	assert_int_equal(n, 1);
	assert_int_equal(pg[0].ntags, 2);
	assert_int_equal(pg[0].tags[1][0], 0xee);
	assert_int_equal(pg[0].index, (size_t)p1);
	/* Concurrent audit keys: the smaller op id's. */
	assert_int_equal(roster_audit(r)[0], memcmp(s.op[u1].id, s.op[u2].id,
	    32) < 0 ? 0x22 : 0x33);
	roster_free(r);
	/* The hlc decides between concurrent policies. */
	s.op[t3].hlc = s.op[t2].hlc + 1;
	r = resolve_scen(&s);
	rt = roster_retentions(r, &n);
	assert_int_equal(rt[1].keep, 300);
	roster_free(r);
	scen_free(&s);
}

/* ---- a larger history, shuffled ---------------------------------------------- */

/*
 * Twelve members come and go under three admins, with a mutual removal
 * and a concurrent demotion in the middle: 300 random orders agree.
 */
static void
test_large_shuffle(void **state)
{
	struct scen s = { 0 };
	struct roster *r;
	int c, ab, ac, last, k, rb, rc, x1;

	(void)state;
	c = mk(&s, A, ROSTER_CREATE, -1, NOTHING);
	ab = add(&s, A, B, ROSTER_ADMIN, SAW(c));
	ac = add(&s, B, C, ROSTER_ADMIN, SAW(ab));
	last = ac;
	for (k = 0; k < 4; k++)
		last = add(&s, k % 2 ? B : A, X + k % 3, ROSTER_MEMBER,
		    SAW(last));
	rb = mk(&s, C, ROSTER_REMOVE, B, SAW(last));
	rc = mk(&s, B, ROSTER_REMOVE, C, SAW(last));
	x1 = role(&s, B, M, ROSTER_ADMIN, SAW(rc));
	add(&s, A, M, ROSTER_MEMBER, SAW(last));
	add(&s, A, D, ROSTER_MEMBER, SAW(rb, rc));
	add(&s, C, Z, ROSTER_MEMBER, SAW(rb));
	mk(&s, A, ROSTER_REMOVE, X, SAW(rb, rc, x1));
	r = resolve_scen(&s);
	assert_int_equal(verdict(r, rb), ROSTER_VALID);
	assert_int_equal(verdict(r, rc), ROSTER_VALID);
	assert_int_equal(verdict(r, x1), ROSTER_FILTERED);
	assert_true(admin(r, A));
	assert_false(current(r, B));
	assert_false(current(r, C));
	assert_true(current(r, D));
	assert_false(current(r, X));
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

/* ---- the codec ----------------------------------------------------------------- */

/* One op of every type with every field it may carry. */
static void
full_op(struct roster_op *op, enum roster_type t)
{
	size_t k;

	memset(op, 0, sizeof(*op));
	memset(op->id, 0x42, 32);
	memcpy(op->author, dev[A], 32);
	op->seq = 7;
	op->hlc = 123456;
	op->type = t;
	if (t != ROSTER_CREATE) {
		op->ndeps = 2;
		op->deps = xcalloc(2, sizeof(*op->deps));
		memcpy(op->deps[0].author, dev[B], 32);
		memcpy(op->deps[1].author, dev[C], 32);
		op->deps[0].seq = 3;
		op->deps[1].seq = 0x0102030405060708ULL;
		qsort(op->deps, 2, sizeof(*op->deps), cmp_dep);
	}
	memcpy(op->target, dev[X], 32);
	op->nseals = 3;
	op->seals = xcalloc(3, sizeof(*op->seals));
	for (k = 0; k < 3; k++) {
		op->seals[k].epoch = k == 0 ? 0 : k == 1 ? 1 : 0x80000005u;
		memcpy(op->seals[k].device, dev[Y + k], 32);
		memset(op->seals[k].sealed, (int)k + 1, ROSTER_SEALLEN);
	}
	op->has_audit = 1;
	memset(op->audit, 0xaa, 32);
	switch (t) {
	case ROSTER_CREATE:
		memcpy(op->salt, salt, 16);
		op->epoch = 1;
		op->name_len = 5;
		op->name = (uint8_t *)xstrdup("named");
		break;
	case ROSTER_ADD:
	case ROSTER_ROLE:
		op->role = ROSTER_RELAY;
		break;
	case ROSTER_REMOVE:
	case ROSTER_REVOKE:
	case ROSTER_ACCEPT:
		op->cut_seq = 18446744073709551615ULL;
		memset(op->cut_id, 0xcd, 32);
		if (t != ROSTER_ACCEPT) {
			op->reason_len = 3;
			op->reason = (uint8_t *)xstrdup("why");
		}
		break;
	case ROSTER_RETENTION:
		strcpy(op->coll, "notes");
		op->keep = 2555;
		break;
	case ROSTER_PURGE:
		op->ntags = 2;
		op->tags = xcalloc(2, ROSTER_TAGLEN);
		op->tags[0][3] = 3;
		op->rids_len = 4;
		op->rids = (uint8_t *)xstrdup("rids");
		op->reason_len = 1;
		op->reason = (uint8_t *)xstrdup("r");
		break;
	default:
		break;
	}
	if (t == ROSTER_REMOVE || t == ROSTER_REVOKE || t == ROSTER_EPOCH)
		op->epoch = roster_epoch_id(chain, op->author, op->seq);
}

static int
parse_chunk(struct roster_op *out, const struct ops_chunk *c,
    const struct roster_op *like)
{
	return roster_op_parse(out, c, circle, like->id, like->author,
	    like->seq, like->hlc);
}

static void
assert_same_op(const struct roster_op *a, const struct roster_op *b)
{
	size_t k;

	assert_memory_equal(a->id, b->id, 32);
	assert_memory_equal(a->author, b->author, 32);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->hlc, b->hlc);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->ndeps, b->ndeps);
	for (k = 0; k < a->ndeps; k++) {
		assert_memory_equal(a->deps[k].author, b->deps[k].author, 32);
		assert_int_equal(a->deps[k].seq, b->deps[k].seq);
	}
	assert_memory_equal(a->target, b->target, 32);
	assert_int_equal(a->role, b->role);
	assert_int_equal(a->cut_seq, b->cut_seq);
	assert_memory_equal(a->cut_id, b->cut_id, 32);
	assert_int_equal(a->epoch, b->epoch);
	assert_int_equal(a->nseals, b->nseals);
	for (k = 0; k < a->nseals; k++) {
		assert_int_equal(a->seals[k].epoch, b->seals[k].epoch);
		assert_memory_equal(a->seals[k].device, b->seals[k].device, 32);
		assert_memory_equal(a->seals[k].sealed, b->seals[k].sealed,
		    ROSTER_SEALLEN);
	}
	assert_memory_equal(a->salt, b->salt, 16);
	assert_int_equal(a->has_audit, b->has_audit);
	assert_memory_equal(a->audit, b->audit, 32);
	assert_string_equal(a->coll, b->coll);
	assert_int_equal(a->keep, b->keep);
	assert_int_equal(a->ntags, b->ntags);
	if (a->ntags)
		assert_memory_equal(a->tags, b->tags, a->ntags * ROSTER_TAGLEN);
	assert_int_equal(a->name_len, b->name_len);
	if (a->name_len)
		assert_memory_equal(a->name, b->name, a->name_len);
	assert_int_equal(a->reason_len, b->reason_len);
	if (a->reason_len)
		assert_memory_equal(a->reason, b->reason, a->reason_len);
	assert_int_equal(a->rids_len, b->rids_len);
	if (a->rids_len)
		assert_memory_equal(a->rids, b->rids, a->rids_len);
}

/* encode, ops_encode, ops_decode, parse: the op comes back. */
static void
test_codec_roundtrip(void **state)
{
	struct roster_op op, back;
	struct ops_chunk c, d;
	struct wbuf w;
	int t;

	(void)state;
	for (t = ROSTER_CREATE; t <= ROSTER_PURGE; t++) {
		full_op(&op, (enum roster_type)t);
		assert_int_equal(roster_op_encode(&c, &op, rid), 0);
		wire_init(&w);
		ops_encode(&w, &c);
		assert_int_equal(ops_decode(&d, wire_data(&w), wire_len(&w)),
		    0);
		assert_int_equal(d.nops, c.nops);
		assert_int_equal(parse_chunk(&back, &d, &op), 0);
		/* Fields the type does not carry do not come back. */
		if (t != ROSTER_ADD && t != ROSTER_REMOVE && t != ROSTER_ROLE &&
		    t != ROSTER_REVOKE && t != ROSTER_ACCEPT)
			memset(op.target, 0, 32);
		if (t != ROSTER_ADD && t != ROSTER_ROLE)
			op.role = ROSTER_NOROLE;
		assert_same_op(&op, &back);
		assert_int_equal(roster_op_check(&back, circle), 0);
		roster_op_free(&back);
		ops_chunk_free(&d);
		ops_chunk_free(&c);
		wire_free(&w);
		roster_op_free(&op);
	}
}

/* The writer refuses what the reader would. */
static void
test_encode_refuses(void **state)
{
	struct roster_op op;
	struct ops_chunk c;

	(void)state;
	full_op(&op, ROSTER_ADD);
	op.role = 9;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	assert_null(c.ops);
	op.role = ROSTER_MEMBER;
	op.deps[0].seq = 0;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	op.deps[0].seq = 1;
	op.type = 42;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	op.type = ROSTER_ADD;
	/* 283 seals are 65,656 hex characters: over OPS_MAX_VALUE. */
	op.seals = xreallocarray(op.seals, 283, sizeof(*op.seals));
	memset(op.seals, 0, 283 * sizeof(*op.seals));
	op.nseals = 283;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_ETOOBIG);
	op.nseals = 282;
	assert_int_equal(roster_op_encode(&c, &op, rid), 0);
	ops_chunk_free(&c);
	op.nseals = ROSTER_MAX_SEALS + 1;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_ETOOBIG);
	op.nseals = 1;
	roster_op_free(&op);
	full_op(&op, ROSTER_REMOVE);
	op.cut_seq = 0;		/* seq 0 with a non-zero head */
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	roster_op_free(&op);
	full_op(&op, ROSTER_EPOCH);
	op.epoch = 5;		/* never derived */
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	roster_op_free(&op);
}

/*
 * Parses the chunk of a full op of type t with field f set to value (NULL:
 * removed; "+dup": twice), and returns the code.  On error the op must be
 * a placeholder that holds nothing.
 */
static int
parse_with(enum roster_type t, const char *f, const char *value)
{
	struct roster_op op, out;
	struct ops_chunk c, m;
	struct op ops[32];
	uint32_t k, n = 0;
	int rc, found = 0;

	full_op(&op, t);
	assert_int_equal(roster_op_encode(&c, &op, rid), 0);
	for (k = 0; k < c.nops; k++) {
		if (c.ops[k].field && strlen(f) == c.ops[k].field_len &&
		    memcmp(f, c.ops[k].field, c.ops[k].field_len) == 0) {
			found = 1;
			if (value == NULL)
				continue;
			if (strcmp(value, "+dup") == 0)
				ops[n++] = c.ops[k];
			else {
				ops[n] = c.ops[k];
				ops[n].value = value;
				ops[n++].value_len = strlen(value);
				continue;
			}
		}
		ops[n++] = c.ops[k];
	}
	if (value && !found) {
		/* The field was not there: add it. */
		memset(&ops[n], 0, sizeof(ops[n]));
		ops[n].type = OP_SET;
		ops[n].field = f;
		ops[n].field_len = strlen(f);
		ops[n].value = value;
		ops[n++].value_len = strlen(value);
	}
	m = c;
	m.ops = ops;
	m.nops = n;
	rc = parse_chunk(&out, &m, &op);
	if (rc != 0) {
		assert_int_equal(out.type, ROSTER_NONE);
		assert_null(out.deps);
		assert_null(out.seals);
		assert_null(out.tags);
		assert_null(out.name);
		assert_memory_equal(out.id, op.id, 32);
		assert_int_equal(out.seq, op.seq);
	}
	roster_op_free(&out);
	ops_chunk_free(&c);
	roster_op_free(&op);
	return rc;
}

static char *
repeat(const char *unit, size_t n)
{
	size_t len = strlen(unit), k;
	char *s = xmalloc(len * n + 1);

	for (k = 0; k < n; k++)
		memcpy(s + k * len, unit, len);
	s[len * n] = '\0';
	return s;
}

static void
test_parse_fields(void **state)
{
	char text[DEVID_TEXTLEN + 1], *big;
	int rc;

	(void)state;
	/* The unchanged chunk parses, and unknown fields are ignored. */
	assert_int_equal(parse_with(ROSTER_ADD, "zz", NULL), 0);
	assert_int_equal(parse_with(ROSTER_ADD, "later", "anything"), 0);
	/* Version and type. */
	assert_int_equal(parse_with(ROSTER_ADD, "v", "2"), SAMEN_EVERSION);
	assert_int_equal(parse_with(ROSTER_ADD, "v", NULL), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_ADD, "type", "join"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_ADD, "type", NULL), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_ADD, "type", "+dup"), SAMEN_EPROTO);
	/* A field the type needs, missing; one it does not use, present. */
	assert_int_equal(parse_with(ROSTER_ADD, "target", NULL), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_ADD, "deps", NULL), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_ADD, "cut", "0:" "0000000000000000"
	    "000000000000000000000000000000000000000000000000"), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_EPOCH, "salt",
	    "00000000000000000000000000000000"), SAMEN_EPROTO);
	/* deps: odd, upper case, not a whole entry, unsorted, seq 0. */
	assert_int_equal(parse_with(ROSTER_ADD, "deps", "0"), SAMEN_EVALUE);
	big = repeat("AB", 40);
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_EVALUE);
	free(big);
	big = repeat("ab", 41);
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_EVALUE);
	free(big);
	big = repeat("ab", 80);	/* two entries with one author */
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_EVALUE);
	free(big);
	big = repeat("00", 40);
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_EVALUE);
	free(big);
	big = repeat("ab", 40 * (ROSTER_MAX_DEPS + 1));
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_ETOOBIG);
	free(big);
	/* create has no deps. */
	big = repeat("ab", 40);
	assert_int_equal(parse_with(ROSTER_CREATE, "deps", big), SAMEN_EVALUE);
	free(big);
	/* target: not a device id, wrong checksum, upper case. */
	assert_int_equal(parse_with(ROSTER_ADD, "target", "x"), SAMEN_EVALUE);
	devid_encode(text, dev[B]);
	text[5] = text[5] == 'a' ? 'b' : 'a';
	assert_int_equal(parse_with(ROSTER_ADD, "target", text),
	    SAMEN_EVALUE);
	devid_encode(text, dev[B]);
	for (rc = 0; text[rc]; rc++)
		if (text[rc] >= 'a' && text[rc] <= 'z')
			text[rc] = (char)(text[rc] - 'a' + 'A');
	assert_int_equal(parse_with(ROSTER_ADD, "target", text),
	    SAMEN_EVALUE);
	/* role. */
	assert_int_equal(parse_with(ROSTER_ADD, "role", "owner"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_ROLE, "role", ""), SAMEN_EVALUE);
	/* cut: no colon, a leading zero, seq 0 with a head, short hex. */
	assert_int_equal(parse_with(ROSTER_REMOVE, "cut", "5"), SAMEN_EVALUE);
	big = repeat("cd", 32);
	{
		char cut[100];

		snprintf(cut, sizeof(cut), "05:%s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut),
		    SAMEN_EVALUE);
		snprintf(cut, sizeof(cut), "0:%s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut),
		    SAMEN_EVALUE);
		snprintf(cut, sizeof(cut), "18446744073709551616:%s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut),
		    SAMEN_EVALUE);
		snprintf(cut, sizeof(cut), "5:%.62s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut),
		    SAMEN_EVALUE);
		snprintf(cut, sizeof(cut), "5:%s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut), 0);
	}
	free(big);
	/* epoch: not derived, 0, not a number; create's must be 1. */
	assert_int_equal(parse_with(ROSTER_REMOVE, "epoch", "2147483653"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_EPOCH, "epoch", "0"), SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_EPOCH, "epoch", "-1"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_EPOCH, "epoch", "4294967296"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_CREATE, "epoch", "2"), SAMEN_EVALUE);
	/* keys: a partial seal, a seal to epoch 5, too many. */
	big = repeat("00", 115);
	assert_int_equal(parse_with(ROSTER_ADD, "keys", big), SAMEN_EVALUE);
	free(big);
	big = repeat("05", 116);
	assert_int_equal(parse_with(ROSTER_ADD, "keys", big), SAMEN_EVALUE);
	free(big);
	big = repeat("00", 116 * 283);
	assert_int_equal(parse_with(ROSTER_ADD, "keys", big), SAMEN_ETOOBIG);
	free(big);
	/* salt, audit: wrong lengths and digits. */
	assert_int_equal(parse_with(ROSTER_CREATE, "salt", "00"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_CREATE, "salt",
	    "0000000000000000000000000000000g"), SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_ADD, "audit", "aa"), SAMEN_EVALUE);
	/* Blobs: odd length, not hex, too long. */
	assert_int_equal(parse_with(ROSTER_CREATE, "name", "abc"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_REVOKE, "reason", "zz"),
	    SAMEN_EVALUE);
	big = repeat("ab", OPS_MAX_VALUE / 2 + 1);
	assert_int_equal(parse_with(ROSTER_PURGE, "rids", big), SAMEN_ETOOBIG);
	free(big);
	/* retention. */
	assert_int_equal(parse_with(ROSTER_RETENTION, "coll", "Notes"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_RETENTION, "keep", "7y"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_RETENTION, "keep", ""),
	    SAMEN_EVALUE);
	/* purge: a partial tag, too many. */
	assert_int_equal(parse_with(ROSTER_PURGE, "rec", "00"), SAMEN_EVALUE);
	big = repeat("00", 16 * (ROSTER_MAX_TAGS + 1));
	assert_int_equal(parse_with(ROSTER_PURGE, "rec", big), SAMEN_ETOOBIG);
	free(big);
	assert_int_equal(parse_with(ROSTER_PURGE, "rids", NULL), SAMEN_EPROTO);
}

/* The chunk's shape: collection, EXIST, preds, other op types. */
static void
test_parse_shape(void **state)
{
	struct roster_op op, out;
	struct ops_chunk c, m;
	struct op ops[32];
	uint8_t ref[VID_LEN] = { 1 };
	uint32_t k;

	(void)state;
	full_op(&op, ROSTER_ADD);
	assert_int_equal(roster_op_encode(&c, &op, rid), 0);
	assert_true(c.nops < 31);
	memcpy(ops, c.ops, c.nops * sizeof(*ops));
	m = c;
	m.ops = ops;
	assert_int_equal(parse_chunk(&out, &m, &op), 0);
	roster_op_free(&out);
	m.collection = "mops";
	m.collection_len = 4;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	m.collection = c.collection;
	m.collection_len = c.collection_len;
	/* No EXIST; a dead one; two. */
	m.ops = ops + 1;
	m.nops = c.nops - 1;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	m.ops = ops;
	m.nops = c.nops;
	ops[0].alive = 0;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	ops[0].alive = 1;
	ops[c.nops] = ops[0];
	m.nops = c.nops + 1;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	m.nops = c.nops;
	/* A pred: not a creation. */
	ops[1].refs = ref;
	ops[1].nrefs = 1;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	ops[1].refs = NULL;
	ops[1].nrefs = 0;
	/* An ADD op. */
	ops[1].type = OP_ADD;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	ops[1].type = OP_SET;
	/* A bad field name. */
	for (k = 1; k < c.nops; k++)
		if (ops[k].field_len == 4 && memcmp(ops[k].field, "role", 4) == 0)
			ops[k].field = "_ole";
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	/* seq 0 in the header. */
	memcpy(ops, c.ops, c.nops * sizeof(*ops));
	op.seq = 0;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EVALUE);
	op.seq = 7;
	/* deps that name the author. */
	memcpy(op.author, dev[B], 32);
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EVALUE);
	ops_chunk_free(&c);
	roster_op_free(&op);
}

/* Random mutations of encoded chunks: parse is an error or a valid op. */
static void
test_parse_mutations(void **state)
{
	struct roster_op op, out;
	struct ops_chunk c, d;
	struct wbuf w;
	uint8_t *buf;
	uint64_t seed = 7;
	size_t len, k;
	int t, i, rc;

	(void)state;
	for (t = ROSTER_CREATE; t <= ROSTER_PURGE; t++) {
		full_op(&op, (enum roster_type)t);
		assert_int_equal(roster_op_encode(&c, &op, rid), 0);
		wire_init(&w);
		ops_encode(&w, &c);
		len = wire_len(&w);
		buf = xmalloc(len);
		for (i = 0; i < 300; i++) {
			memcpy(buf, wire_data(&w), len);
			for (k = 0; k < 1 + rnd(&seed) % 4; k++)
				buf[rnd(&seed) % len] = (uint8_t)rnd(&seed);
			if (ops_decode(&d, buf, len) != 0)
				continue;
			rc = parse_chunk(&out, &d, &op);
			if (rc == 0)
				assert_int_equal(roster_op_check(&out, circle),
				    0);
			else
				assert_int_equal(out.type, ROSTER_NONE);
			roster_op_free(&out);
			ops_chunk_free(&d);
		}
		free(buf);
		wire_free(&w);
		ops_chunk_free(&c);
		roster_op_free(&op);
	}
}

static void
test_epoch_id(void **state)
{
	uint32_t e;
	uint64_t s;

	(void)state;
	for (s = 1; s < 200; s++) {
		e = roster_epoch_id(chain, dev[s % NDEV], s);
		assert_true(e & 0x80000000u);
		assert_int_not_equal(e, roster_epoch_id(chain, dev[s % NDEV],
		    s + 1));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_create_forged),
		cmocka_unit_test(test_create_twice),
		cmocka_unit_test(test_authorization),
		cmocka_unit_test(test_remove_beats_add),
		cmocka_unit_test(test_revoke_forever),
		cmocka_unit_test(test_removed_admin),
		cmocka_unit_test(test_mutual_removal),
		cmocka_unit_test(test_three_cycle),
		cmocka_unit_test(test_auth_floor),
		cmocka_unit_test(test_forged_removal),
		cmocka_unit_test(test_demotion_filters),
		cmocka_unit_test(test_promote_demote),
		cmocka_unit_test(test_cuts),
		cmocka_unit_test(test_waiting),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_cycle_and_fork),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_placeholder),
		cmocka_unit_test(test_epochs),
		cmocka_unit_test(test_concurrent_epochs),
		cmocka_unit_test(test_preferred),
		cmocka_unit_test(test_retention_purge_audit),
		cmocka_unit_test(test_large_shuffle),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_shape),
		cmocka_unit_test(test_parse_mutations),
		cmocka_unit_test(test_epoch_id),
	};
	int d;

	if (sodium_init() < 0)
		return 1;
	for (d = 0; d < NDEV; d++)
		crypto_generichash(dev[d], 32, (const uint8_t *)&d, sizeof(d),
		    NULL, 0);
	memset(salt, 0x5a, sizeof(salt));
	sync_circle_id(circle, dev[A], salt);
	sync_members_circle(chain, circle);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
