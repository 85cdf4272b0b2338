/* roster_fixture: what the roster's unit tests share (roster_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "roster.h"
#include "sync.h"
#include "util.h"

#include "roster_fixture.h"

uint8_t dev[NDEV][32];
uint8_t salt[16];
uint8_t circle[16];
uint8_t chain[16];
const uint8_t rid[RID_LEN] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };


void
roster_fixture_init(void)
{
	int d;

	for (d = 0; d < NDEV; d++)
		crypto_generichash(dev[d], 32, (const uint8_t *)&d, sizeof(d),
		    NULL, 0);
	memset(salt, 0x5a, sizeof(salt));
	sync_circle_id(circle, dev[A], salt);
	sync_members_circle(chain, circle);
}

uint64_t
rnd(uint64_t *s)
{
	/* splitmix64: small, and the seed alone reproduces a run. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int
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
void
vec_of(const struct scen *s, int i, uint64_t v[NDEV])
{
	const struct roster_op *op = &s->op[i];
	size_t k;

	memset(v, 0, NDEV * sizeof(*v));
	for (k = 0; k < op->ndeps; k++)
		v[devno(op->deps[k].author)] = op->deps[k].seq;
	v[devno(op->author)] = op->seq;
}

int
cmp_dep(const void *a, const void *b)
{
	return memcmp(((const struct roster_dep *)a)->author,
	    ((const struct roster_dep *)b)->author, 32);
}

/* The fake id of the spec's tests: BLAKE2b of (author, seq). */
void
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
int
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
int
add(struct scen *s, int author, int target, enum roster_role role,
    const int *saw)
{
	int i = mk(s, author, ROSTER_ADD, target, saw);

	s->op[i].role = role;
	return i;
}

int
role(struct scen *s, int author, int target, enum roster_role r,
    const int *saw)
{
	int i = mk(s, author, ROSTER_ROLE, target, saw);

	s->op[i].role = r;
	return i;
}

/* Seals epoch to device in op i. */
void
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
void
set_id(struct scen *s, int i, int lo)
{
	memset(s->op[i].id, lo ? 0x00 : 0xff, 32);
	s->op[i].id[31] = (uint8_t)i;
}

void
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
struct roster *
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

struct roster *
resolve_scen(struct scen *s)
{
	return resolve_all(s->op, s->n);
}

enum roster_verdict
verdict(const struct roster *r, int i)
{
	return roster_verdict(r, (size_t)i);
}

const struct roster_member *
member(const struct roster *r, int d)
{
	return roster_member(r, dev[d]);
}

int
current(const struct roster *r, int d)
{
	const struct roster_member *m = member(r, d);

	return m && m->state == ROSTER_CURRENT;
}

enum roster_role
role_of(const struct roster *r, int d)
{
	const struct roster_member *m = member(r, d);

	return m ? m->role : ROSTER_NOROLE;
}

int
admin(const struct roster *r, int d)
{
	return roster_is_admin(r, dev[d]);
}
