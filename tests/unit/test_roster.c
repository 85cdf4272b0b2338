/* test_roster: membership resolution, every rule in every order of the ops. */
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
#include "util.h"

#include "roster_fixture.h"

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
		cmocka_unit_test(test_epochs),
		cmocka_unit_test(test_concurrent_epochs),
		cmocka_unit_test(test_preferred),
		cmocka_unit_test(test_retention_purge_audit),
		cmocka_unit_test(test_large_shuffle),
	};

	if (sodium_init() < 0)
		return 1;
	roster_fixture_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
