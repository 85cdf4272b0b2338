/* store_rk: the filter of which records exist, so that a new record needs no descent of records_key. */
#include "store_int.h"

#include <stdlib.h>

#include "util.h"

/*
 * The filter of which records exist (struct store's rk).  It never forgets
 * a row: every row of records is added, by rk_step's scan of records_key
 * or by store_replica.c's rec_insert as it writes it, and nothing is taken
 * out (a row rolled back or deleted only leaves a false "maybe").  So when
 * it says absent, the row is absent; when it says maybe, rec_resolve asks
 * SQLite.  Should that ever fail, records_key is UNIQUE: the insert fails,
 * loudly.
 *
 * It fills in steps of RK_STEP rows of records_key in its order (about
 * 0.3 ms), one each time RK_BUSY more records were asked about, in one
 * transaction or over many: so that none stalls (a step of 16,384 rows
 * holds a batch of 64 puts for 5 ms), and so that a device that only puts
 * gets there too (counted per transaction, a batch of puts would seldom
 * reach a step, and nearly every put would ask SQLite).  Until it is
 * complete it answers only for keys up to the last row it read.
 *
 * Layers double in room as records are added (a scalable Bloom filter): a
 * key is absent when no layer holds it.  16 bits and 4 probes per key:
 * about 1 in 400 keys per full layer is a false maybe.
 */
#define RK_STEP 1024
#define RK_BUSY 64
#define RK_FIRST 65536		/* keys of the first layer */
#define RK_BITS 16		/* bits per key */
#define RK_PROBES 4

void
store_rk_free(struct store *st)
{
	for (size_t i = 0; i < st->rk.nl; i++)
		free(st->rk.l[i].bits);
	free(st->rk.l);
	memset(&st->rk, 0, sizeof(st->rk));
}

/* Two hashes of key (its RK_KEYLEN bytes): SipHash, keyed per store. */
static void
rk_hash(const struct store *st, const uint8_t *key, uint64_t h[2])
{
	uint8_t out[crypto_shorthash_siphashx24_BYTES];

	crypto_shorthash_siphashx24(out, key, RK_KEYLEN, st->rk.seed);
	memcpy(h, out, sizeof(out));
	h[1] |= 1;	/* probes step by an odd stride */
}

static void
rk_add_layer(struct store *st)
{
	struct rk_layer *x;
	uint64_t cap = st->rk.nl == 0 ? RK_FIRST :
	    st->rk.l[st->rk.nl - 1].cap * 2;

	st->rk.l = xreallocarray(st->rk.l, st->rk.nl + 1, sizeof(*st->rk.l));
	x = &st->rk.l[st->rk.nl++];
	x->nbits = cap * RK_BITS;
	x->bits = xcalloc(x->nbits / 64, sizeof(uint64_t));
	x->n = 0;
	x->cap = cap;
}

void
store_rk_add(struct store *st, const uint8_t *key)
{
	struct rk_layer *x;
	uint64_t h[2];

	if (st->rk.nl == 0)
		return;		/* not set up yet: rk_step will add it */
	if (st->rk.l[st->rk.nl - 1].n >= st->rk.l[st->rk.nl - 1].cap)
		rk_add_layer(st);
	x = &st->rk.l[st->rk.nl - 1];
	rk_hash(st, key, h);
	for (int i = 0; i < RK_PROBES; i++) {
		uint64_t b = (h[0] + (uint64_t)i * h[1]) % x->nbits;

		x->bits[b / 64] |= 1ULL << (b % 64);
	}
	x->n++;
}

/* Adds the next RK_STEP rows of records_key; completes at its end. */
static void
rk_step(struct store *st)
{
	static const uint8_t none[1];
	sqlite3_stmt *s;
	int64_t n = 0;
	int rc;

	if ((s = sql_q(st, Q_REC_SCAN)) == NULL)
		return;		/* incomplete: rec_resolve asks SQLite */
	if (st->rk.has_upto) {
		sql_bind_blob(s, 1, st->rk.upto, CS_CIRCLELEN);
		sql_bind_blob(s, 2, st->rk.upto + CS_CIRCLELEN, RID_LEN);
		sql_bind_blob(s, 3, st->rk.upto + CS_CIRCLELEN + RID_LEN,
		    TAGLEN);
	} else {
		/* A zero-length blob sorts before every other. */
		for (int i = 1; i <= 3; i++)
			sqlite3_bind_blob(s, i, none, 0, SQLITE_STATIC);
	}
	sqlite3_bind_int64(s, 4, RK_STEP);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint8_t key[RK_KEYLEN];

		/* A row of another shape cannot be placed: stay incomplete. */
		if (!sql_col_fixed(s, 0, key, CS_CIRCLELEN) ||
		    !sql_col_fixed(s, 1, key + CS_CIRCLELEN, RID_LEN) ||
		    !sql_col_fixed(s, 2, key + CS_CIRCLELEN + RID_LEN,
		    TAGLEN)) {
			sqlite3_reset(s);
			store_rk_free(st);
			st->rk.failed = 1;
			return;
		}
		store_rk_add(st, key);
		memcpy(st->rk.upto, key, RK_KEYLEN);
		st->rk.has_upto = 1;
		n++;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_DONE && n < RK_STEP)
		st->rk.complete = 1;
}

/* 1 if no row of records has key (RK_KEYLEN bytes), 0 if there may be. */
int
store_rk_absent(struct store *st, const uint8_t *key)
{
	uint64_t h[2];

	if (st->rk.failed)
		return 0;
	if (st->rk.nl == 0) {		/* set up at the first call */
		randombytes_buf(st->rk.seed, sizeof(st->rk.seed));
		rk_add_layer(st);
	}
	if (!st->rk.complete && ++st->rk.asked % RK_BUSY == 0)
		rk_step(st);
	if (st->rk.failed)
		return 0;		/* rk_step found a row it cannot place */
	if (!st->rk.complete &&
	    (!st->rk.has_upto || memcmp(key, st->rk.upto, RK_KEYLEN) > 0))
		return 0;
	rk_hash(st, key, h);
	for (size_t j = 0; j < st->rk.nl; j++) {
		const struct rk_layer *x = &st->rk.l[j];
		int i;

		for (i = 0; i < RK_PROBES; i++) {
			uint64_t b = (h[0] + (uint64_t)i * h[1]) % x->nbits;

			if (!(x->bits[b / 64] & (1ULL << (b % 64))))
				break;
		}
		if (i == RK_PROBES)
			return 0;
	}
	return 1;
}

void
store_rk_key(uint8_t key[RK_KEYLEN], const uint8_t circle[CS_CIRCLELEN],
    const uint8_t rid[RID_LEN], const uint8_t ctag[TAGLEN])
{
	memcpy(key, circle, CS_CIRCLELEN);
	memcpy(key + CS_CIRCLELEN, rid, RID_LEN);
	memcpy(key + CS_CIRCLELEN + RID_LEN, ctag, TAGLEN);
}

int
store_records_filter_complete(const struct store *st)
{
	return !st->rk.failed && st->rk.complete;
}
