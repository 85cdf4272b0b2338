/* fuzz_roster: membership ops, parsed and resolved in three orders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "fixture.h"
#include "ops.h"
#include "roster.h"
#include "sync.h"
#include "util.h"
#include "wire.h"

/*
 * The input's first byte chooses how the rest becomes ops:
 *   even: a msgpack array of [author u8, seq u64, hlc u64, chunk bin], each
 *     chunk through ops_decode() and roster_op_parse() (a placeholder when
 *     either refuses it), as the daemon will feed them;
 *   odd: compact records (below) that fill struct roster_op directly, so
 *     that mutations reach the resolver's rules rather than the hex codec.
 * Devices are FUZZ_NDEV fixed keys; device 0 creates the circle with
 * FUZZ_SALT.  mkseeds.c writes both kinds with the same conventions.
 *
 * Asserts: an op that parses encodes (roster_op_encode, ops_encode) and
 * decodes back to the same op; resolve never fails below the cap, and the
 * ops reversed and rotated give the same digest and the same verdicts;
 * the counts add up; an invalid circle has no valid op.
 */
#define FUZZ_NDEV 8
#define FUZZ_SALT 0x5a

static uint8_t dev[FUZZ_NDEV][32];
static uint8_t circle[16];
static uint8_t chain[16];
static const uint8_t rid[RID_LEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t salt[16];
	int d;

	(void)argc;
	(void)argv;
	fixture_init();
	for (d = 0; d < FUZZ_NDEV; d++)
		crypto_generichash(dev[d], 32, (const uint8_t *)&d, sizeof(d),
		    NULL, 0);
	memset(salt, FUZZ_SALT, sizeof(salt));
	sync_circle_id(circle, dev[0], salt);
	sync_members_circle(chain, circle);
	return 0;
}

static void
op_id(uint8_t id[32], const uint8_t *p, size_t n, uint64_t seq)
{
	crypto_generichash_state st;
	uint8_t le[8];

	put_le64(le, seq);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, le, sizeof(le));
	crypto_generichash_update(&st, p, n);
	crypto_generichash_final(&st, id, 32);
}

/*
 * What of op the chunk carries: the fields of its type (a shallow copy;
 * the arrays stay op's).
 */
static void
carried(struct roster_op *c, const struct roster_op *op)
{
	enum roster_type t = op->type;
	int target = t == ROSTER_ADD || t == ROSTER_REMOVE ||
	    t == ROSTER_ROLE || t == ROSTER_REVOKE || t == ROSTER_ACCEPT;

	*c = *op;
	if (!target)
		memset(c->target, 0, sizeof(c->target));
	if (t != ROSTER_ADD && t != ROSTER_ROLE)
		c->role = ROSTER_NOROLE;
	if (t != ROSTER_REMOVE && t != ROSTER_REVOKE && t != ROSTER_ACCEPT) {
		c->cut_seq = 0;
		memset(c->cut_id, 0, sizeof(c->cut_id));
	}
	if (t != ROSTER_CREATE && t != ROSTER_REMOVE && t != ROSTER_REVOKE &&
	    t != ROSTER_EPOCH)
		c->epoch = 0;
	if (t != ROSTER_CREATE) {
		memset(c->salt, 0, sizeof(c->salt));
		c->name = NULL;
		c->name_len = 0;
	}
	if (t != ROSTER_REMOVE && t != ROSTER_REVOKE && t != ROSTER_PURGE) {
		c->reason = NULL;
		c->reason_len = 0;
	}
	if (!c->has_audit)
		memset(c->audit, 0, sizeof(c->audit));
	if (t != ROSTER_RETENTION) {
		memset(c->coll, 0, sizeof(c->coll));
		c->keep = 0;
	}
	if (t != ROSTER_PURGE) {
		c->tags = NULL;
		c->ntags = 0;
		c->rids = NULL;
		c->rids_len = 0;
	}
}

/* encode, ops_encode, ops_decode, parse: the same op, or abort. */
static void
roundtrip(const struct roster_op *op)
{
	struct roster_op back, want;
	struct ops_chunk c, d;
	struct wbuf w;
	int rc;

	if ((rc = roster_op_encode(&c, op, rid)) != 0) {
		/* Only an op whose fields do not fit one value. */
		if (rc != SAMEN_ETOOBIG)
			abort();
		return;
	}
	wire_init(&w);
	ops_encode(&w, &c);
	if (ops_decode(&d, wire_data(&w), wire_len(&w)) != 0)
		abort();
	carried(&want, op);
	if (roster_op_parse(&back, &d, circle, op->id, op->author, op->seq,
	    op->hlc) != 0 || roster_op_cmp(&back, &want) != 0) {
		fprintf(stderr, "fuzz_roster: an op does not round-trip\n");
		abort();
	}
	roster_op_free(&back);
	ops_chunk_free(&d);
	ops_chunk_free(&c);
	wire_free(&w);
}

static struct roster_op *ops;	/* grown, never shrunk */
static size_t cops;

static struct roster_op *
slot(size_t m)
{
	if (m == cops) {
		cops = cops ? 2 * cops : 64;
		ops = xreallocarray(ops, cops, sizeof(*ops));
	}
	return &ops[m];
}

/* Mode 0: chunks as the members chain carries them. */
static size_t
from_chunks(const uint8_t *p, size_t n)
{
	struct wire_reader r;
	struct ops_chunk c;
	const uint8_t *chunk;
	uint64_t seq, hlc;
	uint32_t count, k;
	size_t len, m = 0;
	uint8_t author, id[32];

	wire_reader_init(&r, p, n);
	if (wire_get_array(&r, &count, ROSTER_MAX_OPS))
		return 0;
	for (k = 0; k < count; k++) {
		if (wire_get_array_n(&r, 4) || wire_get_u8(&r, &author) ||
		    wire_get_u64(&r, &seq) || wire_get_u64(&r, &hlc) ||
		    wire_get_bin(&r, &chunk, &len, OPS_MAX_VALUE * 2))
			break;
		op_id(id, chunk, len, seq);
		if (ops_decode(&c, chunk, len) != 0) {
			memset(&c, 0, sizeof(c));
			c.collection = "";
		}
		if (roster_op_parse(slot(m), &c, circle, id,
		    dev[author % FUZZ_NDEV], seq, hlc) == 0)
			roundtrip(&ops[m]);
		else if (ops[m].type != ROSTER_NONE || ops[m].deps ||
		    ops[m].seals || ops[m].tags || ops[m].name)
			abort();
		ops_chunk_free(&c);
		m++;
	}
	return m;
}

static int
cmp_dep(const void *a, const void *b)
{
	return memcmp(((const struct roster_dep *)a)->author,
	    ((const struct roster_dep *)b)->author, 32);
}

/*
 * Mode 1, one record: b0 = author (bits 0-2), type % 10 (bits 3-6), raw
 * deps (bit 7); b1 = seq; b2 = target (0-2), role (3-4), audit (5), cut
 * (6-7); b3 = deps (0-2), seals (3-5), derived epoch (6), the creator's
 * salt (7); then 2 bytes a dep (author, seq) and 2 a seal (epoch: 0, 1,
 * or the derived id of (e & 7, e >> 3); device).
 */
static size_t
record(struct roster_op *op, const uint8_t *p, size_t n)
{
	size_t need, k, j;
	uint8_t e;

	if (n < 4)
		return 0;
	need = 4 + 2 * (size_t)(p[3] & 7) + 2 * (size_t)((p[3] >> 3) & 7);
	if (n < need)
		return 0;
	memset(op, 0, sizeof(*op));
	op_id(op->id, p, need, 0);
	memcpy(op->author, dev[p[0] & 7], 32);
	op->seq = p[1];
	op->hlc = (uint64_t)(p[1] ^ p[2]);
	op->type = (enum roster_type)(((p[0] >> 3) & 15) % 10);
	memcpy(op->target, dev[p[2] & 7], 32);
	op->role = (enum roster_role)((p[2] >> 3) & 3);
	op->has_audit = (p[2] >> 5) & 1;
	memset(op->audit, p[1], 32);
	if (p[2] >> 6) {
		op->cut_seq = p[2] >> 6;
		memset(op->cut_id, p[1] | 1, 32);
	}
	if ((p[3] >> 6) & 1)
		op->epoch = op->type == ROSTER_CREATE ? ROSTER_FIRST_EPOCH :
		    roster_epoch_id(chain, op->author, op->seq);
	else
		op->epoch = (uint32_t)p[1] << 24 | p[2];
	memset(op->salt, (p[3] >> 7) ? FUZZ_SALT : p[1], 16);
	strcpy(op->coll, (p[2] & 1) ? "notes" : "cases");
	op->keep = p[1];
	op->ndeps = p[3] & 7;
	op->deps = xcalloc(op->ndeps + 1, sizeof(*op->deps));
	for (k = 0; k < op->ndeps; k++) {
		memcpy(op->deps[k].author, dev[p[4 + 2 * k] & 7], 32);
		op->deps[k].seq = p[5 + 2 * k];
	}
	if (!(p[0] & 0x80) && op->ndeps > 1) {
		/* Mostly well formed: sorted, one entry per author. */
		qsort(op->deps, op->ndeps, sizeof(*op->deps), cmp_dep);
		for (j = 1, k = 1; k < op->ndeps; k++)
			if (cmp_dep(&op->deps[j - 1], &op->deps[k]) != 0)
				op->deps[j++] = op->deps[k];
		op->ndeps = j;
	}
	op->nseals = (p[3] >> 3) & 7;
	op->seals = xcalloc(op->nseals + 1, sizeof(*op->seals));
	for (k = 0; k < op->nseals; k++) {
		e = p[4 + 2 * (p[3] & 7) + 2 * k];
		op->seals[k].epoch = e < 2 ? e :
		    roster_epoch_id(chain, dev[e & 7], e >> 3);
		memcpy(op->seals[k].device, dev[p[5 + 2 * (p[3] & 7) + 2 * k] & 7],
		    32);
		memset(op->seals[k].sealed, e, ROSTER_SEALLEN);
	}
	if (op->type == ROSTER_PURGE) {
		op->ntags = 1;
		op->tags = xcalloc(1, ROSTER_TAGLEN);
		memcpy(op->tags[0], op->id, ROSTER_TAGLEN);
	}
	if (roster_op_check(op, circle) == 0)
		roundtrip(op);
	return need;
}

static size_t
from_records(const uint8_t *p, size_t n)
{
	size_t m = 0, used;

	while (m < ROSTER_MAX_OPS && (used = record(slot(m), p, n)) > 0) {
		p += used;
		n -= used;
		m++;
	}
	return m;
}

/* Resolves ops in the order perm and checks it against want. */
static void
again(size_t n, const size_t *perm,
    const struct roster *want, const uint8_t digest[32])
{
	struct roster_op *shuf;
	struct roster *r;
	uint8_t got[32];
	size_t k;

	shuf = xcalloc(n + 1, sizeof(*shuf));
	for (k = 0; k < n; k++)
		shuf[k] = ops[perm[k]];
	if (roster_resolve(circle, shuf, n, &r) != 0)
		abort();
	roster_digest(r, got);
	if (memcmp(got, digest, 32) != 0) {
		fprintf(stderr, "fuzz_roster: the order of arrival matters\n");
		abort();
	}
	for (k = 0; k < n; k++)
		if (roster_verdict(r, k) != roster_verdict(want, perm[k]))
			abort();
	roster_free(r);
	free(shuf);
}

static void
check(const struct roster *r, size_t n)
{
	const struct roster_member *m;
	const struct roster_epoch *e;
	const struct roster_retention *rt;
	const struct roster_purge *pg;
	const uint8_t (*lack)[32];
	struct roster_dep *deps;
	size_t k, sum = 0, nm, ne, nl, nd, nr, np;
	int v, d;

	for (v = 0; v < ROSTER_NVERDICTS; v++)
		sum += roster_count(r, (enum roster_verdict)v);
	if (sum > n || (n > 0 && sum == 0))
		abort();
	if (!roster_circle_valid(r) && roster_count(r, ROSTER_VALID) != 0)
		abort();
	m = roster_members(r, &nm);
	for (k = 0; k < nm; k++)
		if (m[k].state < ROSTER_CURRENT || m[k].state > ROSTER_REVOKED ||
		    m[k].role > ROSTER_ADMIN)
			abort();
	e = roster_epochs(r, &ne);
	if ((ne > 0) != (roster_preferred(r) != NULL))
		abort();
	for (k = 0; k < ne; k++)
		if (e[k].nexposed > e[k].nsealed)
			abort();
	/* One policy per collection, sorted; purges sorted by op. */
	rt = roster_retentions(r, &nr);
	for (k = 1; k < nr; k++)
		if (strcmp(rt[k - 1].coll, rt[k].coll) >= 0)
			abort();
	pg = roster_purges(r, &np);
	for (k = 1; k < np; k++)
		if (memcmp(pg[k - 1].op, pg[k].op, 32) >= 0)
			abort();
	if ((roster_creator(r) != NULL) != roster_circle_valid(r) ||
	    (roster_audit(r) != NULL && !roster_circle_valid(r)))
		abort();
	for (d = 0; d < FUZZ_NDEV; d++) {
		roster_needs(r, dev[d], &lack, &nl);
		roster_seals(r, dev[d], &nl);
		if (roster_frontier(r, dev[d], &deps, &nd) == 0)
			free(deps);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct roster *r;
	uint8_t digest[32];
	size_t n, k, *perm;

	if (size < 1)
		return 0;
	n = (data[0] & 1) ? from_records(data + 1, size - 1) :
	    from_chunks(data + 1, size - 1);
	if (roster_resolve(circle, ops, n, &r) != 0)
		abort();
	check(r, n);
	roster_digest(r, digest);
	perm = xcalloc(n + 1, sizeof(*perm));
	for (k = 0; k < n; k++)
		perm[k] = n - 1 - k;
	again(n, perm, r, digest);
	for (k = 0; k < n; k++)
		perm[k] = (k + n / 3 + 1) % n;
	again(n, perm, r, digest);
	free(perm);
	roster_free(r);
	for (k = 0; k < n; k++)
		roster_op_free(&ops[k]);
	return 0;
}
