/* roster_state: the resolved roster's queries, its maintenance, its digest. */
#include "roster_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "util.h"

#define DIGEST_PREFIX "samen-roster-1"

static int
cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int
cmp_member(const void *key, const void *m)
{
	return memcmp(key, ((const struct roster_member *)m)->device, 32);
}

static int
has_key(const uint8_t (*keys)[32], size_t n, const uint8_t key[32])
{
	return n > 0 && bsearch(key, keys, n, sizeof(*keys), cmp_key) != NULL;
}

/* (epoch, device) of a counted seal. */
struct pair {
	uint32_t epoch;
	uint8_t key[32];
};

static int
cmp_pair(const void *pa, const void *pb)
{
	const struct pair *a = pa, *b = pb;

	CMP(a->epoch, b->epoch);
	return memcmp(a->key, b->key, 32);
}

static int
cmp_seal(const void *pa, const void *pb)
{
	const struct roster_seal *a = pa, *b = pb;
	int c;

	if ((c = memcmp(a->device, b->device, 32)) != 0)
		return c;
	CMP(a->epoch, b->epoch);
	return memcmp(a->sealed, b->sealed, ROSTER_SEALLEN);
}

static int
cmp_epoch_key(const void *key, const void *e)
{
	uint32_t k = *(const uint32_t *)key;
	uint32_t id = ((const struct roster_epoch *)e)->id;

	return k < id ? -1 : k > id;
}

static int
cmp_start(const void *pa, const void *pb)
{
	const struct roster_start *a = pa, *b = pb;

	CMP(a->epoch, b->epoch);
	return memcmp(a->op, b->op, 32);
}

static struct roster_epoch *
find_epoch(const struct roster *r, uint32_t id)
{
	if (r->nepochs == 0)
		return NULL;
	return bsearch(&id, r->epochs, r->nepochs, sizeof(*r->epochs),
	    cmp_epoch_key);
}

/*
 * One epoch per id started; two valid ops that derive one id (31 bits:
 * rare, not impossible) make one epoch, started by the smaller op id.
 */
static void
make_epochs(struct roster *r)
{
	struct roster_start *st = r->starts;
	size_t j;

	if (r->nstarts > 1)
		qsort(st, r->nstarts, sizeof(*st), cmp_start);
	r->epochs = xcalloc(r->nstarts + 1, sizeof(*r->epochs));
	for (j = 0; j < r->nstarts; j++) {
		if (r->nepochs > 0 && r->epochs[r->nepochs - 1].id == st[j].epoch)
			continue;
		r->epochs[r->nepochs].id = st[j].epoch;
		memcpy(r->epochs[r->nepochs++].op, st[j].op, 32);
	}
	free(r->starts);
	r->starts = NULL;
	r->nstarts = 0;
}

/*
 * Drops seals to epochs nobody started (epoch 0 is the audit secret's),
 * sorts and dedups the rest, and gives each epoch its sorted set.
 */
static void
make_sealed(struct roster *r)
{
	struct roster_epoch *e;
	struct pair *es;
	size_t nes = 0, a, b, j;

	es = xcalloc(r->nseals + 1, sizeof(*es));
	for (a = 0, b = 0; b < r->nseals; b++) {
		if (r->seals[b].epoch != ROSTER_AUDIT_EPOCH &&
		    find_epoch(r, r->seals[b].epoch) == NULL)
			continue;
		r->seals[a++] = r->seals[b];
	}
	r->nseals = a;
	if (r->nseals > 1)
		qsort(r->seals, r->nseals, sizeof(*r->seals), cmp_seal);
	for (a = 0, b = 0; b < r->nseals; b++) {
		if (a > 0 && cmp_seal(&r->seals[a - 1], &r->seals[b]) == 0)
			continue;
		r->seals[a++] = r->seals[b];
		if (r->seals[b].epoch == ROSTER_AUDIT_EPOCH)
			continue;
		es[nes].epoch = r->seals[b].epoch;
		memcpy(es[nes++].key, r->seals[b].device, 32);
	}
	r->nseals = a;
	if (nes > 1)
		qsort(es, nes, sizeof(*es), cmp_pair);
	for (b = 0; b < nes; b = a) {
		e = find_epoch(r, es[b].epoch);
		for (a = b; a < nes && es[a].epoch == es[b].epoch; a++)
			;
		e->sealed = xcalloc(a - b, sizeof(*e->sealed));
		for (j = b; j < a; j++)
			if (e->nsealed == 0 || memcmp(e->sealed[e->nsealed - 1],
			    es[j].key, 32) != 0)
				memcpy(e->sealed[e->nsealed++], es[j].key, 32);
	}
	free(es);
}

/* A current member that is not a relay: one that may hold keys. */
static int
reader(const struct roster *r, const uint8_t device[32])
{
	const struct roster_member *m = roster_member(r, device);

	return m && m->state == ROSTER_CURRENT && m->role != ROSTER_RELAY;
}

/*
 * The preferred epoch, and what the admins owe (roster_needs()).  Ranked
 * by exposure, then coverage, then id (see the Rules: the spec's "smallest
 * set" never settles).
 */
void
roster_finish(struct roster *r)
{
	const struct roster_member *m;
	struct roster_epoch *e, *p = NULL;
	size_t k, j, nreaders = 0, held;

	make_epochs(r);
	make_sealed(r);
	for (k = 0; k < r->nmembers; k++)
		if (reader(r, r->members[k].device))
			nreaders++;
	for (k = 0; k < r->nepochs; k++) {
		e = &r->epochs[k];
		for (held = 0, j = 0; j < e->nsealed; j++) {
			if (reader(r, e->sealed[j]))
				held++;
			else
				e->nexposed++;
		}
		e->nlacking = nreaders - held;
		if (p == NULL || e->nexposed < p->nexposed ||
		    (e->nexposed == p->nexposed && e->nlacking < p->nlacking))
			p = e;
	}
	r->preferred = p ? (size_t)(p - r->epochs) : r->nepochs;
	if (p == NULL)
		return;
	r->lack = xcalloc(r->nmembers + 1, sizeof(*r->lack));
	for (k = 0; k < r->nmembers; k++) {
		m = &r->members[k];
		if (reader(r, m->device) && !has_key(p->sealed, p->nsealed,
		    m->device))
			memcpy(r->lack[r->nlack++], m->device, 32);
	}
}

void
roster_free(struct roster *r)
{
	size_t k;

	if (r == NULL)
		return;
	for (k = 0; k < r->nepochs; k++)
		free(r->epochs[k].sealed);
	for (k = 0; k < r->npurges; k++)
		free(r->purges[k].tags);
	free(r->starts);
	free(r->verdicts);
	free(r->byid);
	free(r->members);
	free(r->epochs);
	free(r->lack);
	free(r->seals);
	free(r->frontier);
	free(r->retentions);
	free(r->purges);
	free(r);
}

/* ---- queries -------------------------------------------------------------- */

int
roster_circle_valid(const struct roster *r)
{
	return r->valid;
}

const uint8_t *
roster_creator(const struct roster *r)
{
	return r->valid ? r->creator : NULL;
}

enum roster_verdict
roster_verdict(const struct roster *r, size_t i)
{
	return i < r->nin ? (enum roster_verdict)r->verdicts[i] :
	    ROSTER_MALFORMED;
}

size_t
roster_count(const struct roster *r, enum roster_verdict v)
{
	return (unsigned)v < ROSTER_NVERDICTS ? r->count[v] : 0;
}

const struct roster_member *
roster_members(const struct roster *r, size_t *n)
{
	*n = r->nmembers;
	return r->members;
}

const struct roster_member *
roster_member(const struct roster *r, const uint8_t device[32])
{
	if (r->nmembers == 0)
		return NULL;
	return bsearch(device, r->members, r->nmembers, sizeof(*r->members),
	    cmp_member);
}

int
roster_is_admin(const struct roster *r, const uint8_t device[32])
{
	const struct roster_member *m = roster_member(r, device);

	return m && m->state == ROSTER_CURRENT && m->role == ROSTER_ADMIN;
}

const struct roster_epoch *
roster_epochs(const struct roster *r, size_t *n)
{
	*n = r->nepochs;
	return r->epochs;
}

const struct roster_epoch *
roster_preferred(const struct roster *r)
{
	return r->preferred < r->nepochs ? &r->epochs[r->preferred] : NULL;
}

const struct roster_seal *
roster_seals(const struct roster *r, const uint8_t device[32], size_t *n)
{
	size_t lo = 0, hi = r->nseals, mid, end;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (memcmp(r->seals[mid].device, device, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < r->nseals && memcmp(r->seals[end].device, device,
	    32) == 0; end++)
		;
	*n = end - lo;
	return *n ? &r->seals[lo] : NULL;
}

int
roster_frontier(const struct roster *r, const uint8_t self[32],
    struct roster_dep **deps, size_t *n)
{
	size_t k, m = 0;

	*deps = NULL;
	*n = 0;
	for (k = 0; k < r->nfrontier; k++)
		if (memcmp(r->frontier[k].author, self, 32) != 0)
			m++;
	if (m > ROSTER_MAX_DEPS)
		return SAMEN_ETOOBIG;
	if (m == 0)
		return 0;
	*deps = xcalloc(m, sizeof(**deps));
	for (k = 0; k < r->nfrontier; k++)
		if (memcmp(r->frontier[k].author, self, 32) != 0)
			(*deps)[(*n)++] = r->frontier[k];
	return 0;
}

const struct roster_retention *
roster_retentions(const struct roster *r, size_t *n)
{
	*n = r->nretentions;
	return r->retentions;
}

const struct roster_purge *
roster_purges(const struct roster *r, size_t *n)
{
	*n = r->npurges;
	return r->purges;
}

const uint8_t *
roster_audit(const struct roster *r)
{
	return r->has_audit ? r->audit : NULL;
}

unsigned
roster_needs(const struct roster *r, const uint8_t self[32],
    const uint8_t (**lack)[32], size_t *nlack)
{
	const struct roster_epoch *p = roster_preferred(r);

	*lack = NULL;
	*nlack = 0;
	if (!r->valid || p == NULL || !roster_is_admin(r, self))
		return 0;
	if (p->nexposed > 0)
		return ROSTER_NEED_EPOCH;
	if (r->nlack == 0)
		return 0;
	/* Only a holder of the key can seal it. */
	if (!has_key(p->sealed, p->nsealed, self))
		return ROSTER_NEED_EPOCH;
	*lack = (const uint8_t (*)[32])r->lack;
	*nlack = r->nlack;
	return ROSTER_NEED_SEAL;
}

static void
hash_u64(crypto_generichash_state *st, uint64_t v)
{
	uint8_t le[8];

	put_le64(le, v);
	crypto_generichash_update(st, le, sizeof(le));
}

void
roster_digest(const struct roster *r, uint8_t out[32])
{
	crypto_generichash_state st;
	const struct roster_member *m;
	const struct roster_epoch *e;
	size_t k, j;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)DIGEST_PREFIX,
	    sizeof(DIGEST_PREFIX) - 1);
	hash_u64(&st, (uint64_t)r->valid);
	crypto_generichash_update(&st, r->creator, 32);
	hash_u64(&st, r->nbyid);
	for (k = 0; k < r->nbyid; k++) {
		crypto_generichash_update(&st, r->byid[k].id, 32);
		hash_u64(&st, r->byid[k].verdict);
	}
	hash_u64(&st, r->nmembers);
	for (k = 0; k < r->nmembers; k++) {
		m = &r->members[k];
		crypto_generichash_update(&st, m->device, 32);
		hash_u64(&st, m->state);
		hash_u64(&st, m->role);
		hash_u64(&st, (uint64_t)m->has_adder);
		crypto_generichash_update(&st, m->added_by, 32);
		hash_u64(&st, m->cut_seq);
		crypto_generichash_update(&st, m->cut_id, 32);
	}
	hash_u64(&st, r->nepochs);
	for (k = 0; k < r->nepochs; k++) {
		e = &r->epochs[k];
		hash_u64(&st, e->id);
		crypto_generichash_update(&st, e->op, 32);
		hash_u64(&st, e->nsealed);
		for (j = 0; j < e->nsealed; j++)
			crypto_generichash_update(&st, e->sealed[j], 32);
		hash_u64(&st, e->nexposed);
		hash_u64(&st, e->nlacking);
	}
	hash_u64(&st, r->preferred);
	hash_u64(&st, r->nlack);
	for (k = 0; k < r->nlack; k++)
		crypto_generichash_update(&st, r->lack[k], 32);
	hash_u64(&st, r->nseals);
	for (k = 0; k < r->nseals; k++) {
		hash_u64(&st, r->seals[k].epoch);
		crypto_generichash_update(&st, r->seals[k].device, 32);
		crypto_generichash_update(&st, r->seals[k].sealed,
		    ROSTER_SEALLEN);
	}
	hash_u64(&st, r->nfrontier);
	for (k = 0; k < r->nfrontier; k++) {
		crypto_generichash_update(&st, r->frontier[k].author, 32);
		hash_u64(&st, r->frontier[k].seq);
	}
	hash_u64(&st, r->nretentions);
	for (k = 0; k < r->nretentions; k++) {
		crypto_generichash_update(&st,
		    (const uint8_t *)r->retentions[k].coll,
		    sizeof(r->retentions[k].coll));
		hash_u64(&st, r->retentions[k].keep);
		crypto_generichash_update(&st, r->retentions[k].op, 32);
	}
	hash_u64(&st, r->npurges);
	for (k = 0; k < r->npurges; k++) {
		crypto_generichash_update(&st, r->purges[k].op, 32);
		hash_u64(&st, r->purges[k].ntags);
		crypto_generichash_update(&st,
		    (const uint8_t *)r->purges[k].tags,
		    r->purges[k].ntags * ROSTER_TAGLEN);
	}
	hash_u64(&st, (uint64_t)r->has_audit);
	crypto_generichash_update(&st, r->audit, 32);
	crypto_generichash_final(&st, out, 32);
}
