/* roster_fixture: what the roster's unit tests share: named devices, a circle, scenarios of ops, and resolving them in every order. */
#ifndef SAMEN_ROSTER_FIXTURE_H
#define SAMEN_ROSTER_FIXTURE_H

/*
 * Each tests/unit/test_roster*.c links roster_fixture.o (the Makefile's
 * ROSTER_TESTS) and calls roster_fixture_init() first in main().  A
 * scenario (struct scen) is a list of ops that devices wrote, each with
 * the deps of what it saw; resolve_all() resolves them in every order (or
 * 300 random ones) and checks that all give one roster.
 */

#include <stddef.h>
#include <stdint.h>

#include "rid.h"
#include "roster.h"

/*
 * Devices by name.  A creates the circle; the others' roles depend on the
 * scenario.  Their keys are hashes, so their byte order (the order deps are
 * sorted in) is not their letter order.
 */
enum { A, B, C, D, M, X, Y, Z, R, NDEV };
extern uint8_t dev[NDEV][32];
extern uint8_t salt[16];		/* A's create's */
extern uint8_t circle[16];		/* derived from A and salt */
extern uint8_t chain[16];		/* its members chain */
extern const uint8_t rid[RID_LEN];	/* of every encoded op */

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

/* Fills dev, salt, circle and chain. */
void roster_fixture_init(void);

/* splitmix64: the next of the sequence seeded by *s. */
uint64_t rnd(uint64_t *s);
/* The index of a device's key in dev (fails the test if none). */
int devno(const uint8_t key[32]);
/* The version vector of op i with itself in it. */
void vec_of(const struct scen *s, int i, uint64_t v[NDEV]);
/* qsort's order of struct roster_dep: by author. */
int cmp_dep(const void *a, const void *b);
/* The fake id of the spec's tests: BLAKE2b of (author, seq). */
void fake_id(uint8_t id[32], int author, uint64_t seq);
/*
 * Appends an op of author's next seq that saw the ops in saw (and, as
 * every op does, its author's previous op): deps are the causal closure,
 * as roster_frontier() would give.  target -1: none.  Returns its index;
 * its arrays are the scenario's (scen_free()).
 */
int mk(struct scen *s, int author, enum roster_type t, int target,
    const int *saw);
/* An add of target with a role. */
int add(struct scen *s, int author, int target, enum roster_role role,
    const int *saw);
/* A role op giving target r. */
int role(struct scen *s, int author, int target, enum roster_role r,
    const int *saw);
/* Seals epoch to device in op i. */
void seal(struct scen *s, int i, uint32_t epoch, int device);
/* Makes op i's id sort first (lo) or last among the ops. */
void set_id(struct scen *s, int i, int lo);
/* Frees the ops' arrays (not s). */
void scen_free(struct scen *s);

/*
 * Resolves the ops as given, then in every order (n <= 7: all n!, by
 * Heap's algorithm) or in 300 random ones, and checks that the digest and
 * every op's verdict are the same.  Borrows ops.  Returns the first
 * roster: free with roster_free().
 */
struct roster *resolve_all(const struct roster_op *ops, size_t n);
/* resolve_all() of the scenario's ops. */
struct roster *resolve_scen(struct scen *s);
/* The verdict of the scenario's op i. */
enum roster_verdict verdict(const struct roster *r, int i);
/* Device d in r (borrowed from r), or NULL. */
const struct roster_member *member(const struct roster *r, int d);
/* 1 if d is a current member of r. */
int current(const struct roster *r, int d);
/* d's role in r (the role it last had if it is not current). */
enum roster_role role_of(const struct roster *r, int d);
/* 1 if d is a current admin of r. */
int admin(const struct roster *r, int d);

#endif
