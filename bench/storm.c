/*
 * storm: the conflict storm (bench/README.md).
 *
 *   storm [--authors N] [--dir DIR]
 *
 * One device creates a case (existence, status=open, tags+=urgent).  Then
 * N devices, each having seen only that, write one change set each to the
 * same record: existence alive (pred: the create's), status=<its own>
 * (pred: "open"), tags+=t<i % 8> and tags-=urgent (tags: the create's add).
 * Everything is signed first (timed apart), verified as a receiver does
 * (timed apart), stored, and then merged by the daemon's own
 * store_merge_pending() in one transaction: that merge is the figure.  The
 * record is then loaded as the daemon does for its index.  A second store
 * takes the same change sets in another order (the create last, so every
 * kill arrives before its value) in batches of 256 as sync delivers them,
 * and the two replica digests must be equal; after each batch it reloads
 * the records store_merge_pending() reported touched, as the daemon does to
 * refresh its index (refresh_ms, refreshes).  One JSON line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "changeset.h"
#include "error.h"
#include "hlc.h"
#include "ops.h"
#include "rid.h"
#include "store.h"
#include "util.h"
#include "wire.h"

struct built {
	struct cs_header h;
	uint8_t id[CS_IDLEN];
	struct wbuf hdr, payload;
};

/* The records a merge reported touched, as the daemon collects them. */
struct touched {
	int64_t *keys;
	size_t n, cap;
};

static void
touched_cb(void *arg, int64_t rkey)
{
	struct touched *t = arg;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->keys = xreallocarray(t->keys, t->cap, sizeof(*t->keys));
	}
	t->keys[t->n++] = rkey;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "storm: %s: %s\n", what, samen_strerror(rc));
		exit(1);
	}
}

static void
build(struct built *b, const uint8_t pk[32], const uint8_t sk[64],
    const uint8_t circle[CS_CIRCLELEN], const uint8_t key[CS_KEYLEN],
    uint64_t hlc, const struct ops_chunk *c)
{
	struct wbuf pw;
	struct cs_plain plain;
	uint8_t nonce[CS_NONCELEN];

	wire_init(&pw);
	ops_encode(&pw, c);
	changeset_rtag(plain.rtag, key, c->collection, c->collection_len,
	    c->rid);
	plain.data = wire_data(&pw);
	plain.len = wire_len(&pw);
	randombytes_buf(nonce, sizeof(nonce));
	memset(&b->h, 0, sizeof(b->h));
	memcpy(b->h.author, pk, 32);
	memcpy(b->h.circle, circle, CS_CIRCLELEN);
	b->h.epoch = 1;
	b->h.seq = 1;
	b->h.hlc = hlc;
	wire_init(&b->hdr);
	wire_init(&b->payload);
	changeset_build(&b->hdr, &b->payload, b->id, &b->h, sk, key, &plain, 1,
	    nonce);
	wire_free(&pw);
}

static struct store *
open_store(const char *path, const uint8_t skey[32],
    const struct store_circle *sc)
{
	struct store *st;
	char *cause = NULL;

	unlink(path);
	if (store_open(&st, path, &cause) != 0) {
		fprintf(stderr, "storm: %s: %s\n", path, cause);
		exit(1);
	}
	store_set_key(st, skey);
	check(store_begin(st), "begin");
	check(store_circle_put(st, sc), "circle");
	check(store_commit(st), "commit");
	return st;
}

static void
rm_db(const char *path)
{
	char p[4200];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

int
main(int argc, char **argv)
{
	uint32_t n = 1500;
	char dir[] = "/tmp/samen-storm.XXXXXX", pa[4096], pb[4096];
	const char *where = NULL;
	uint8_t skey[32], rid[RID_LEN], rnd[10];
	uint8_t exist_vid[VID_LEN], status_vid[VID_LEN], add_vid[VID_LEN];
	uint8_t (*pk)[32], (*sk)[64], da[32], db[32];
	struct store_circle sc;
	struct built *cs;
	struct store *a, *b;
	struct store_record *rec;
	struct touched tb = { NULL, 0, 0 };
	int64_t rkey;
	double t, t_sign, t_verify, t_insert, t_merge, t_commit, t_load,
	    t_merge_b = 0, t_refresh = 0;
	uint64_t hlc0, ops = 0, refs = 0, refreshes = 0;
	size_t nsurv = 0, ndistinct = 0, ntags = 0;
	int made = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--authors") == 0 && i + 1 < argc)
			n = (uint32_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			where = argv[++i];
		else {
			fprintf(stderr, "usage: storm [--authors N] "
			    "[--dir DIR]\n");
			return 2;
		}
	}
	/* As samend does: SQLite's memory statistics off (store.h). */
	if (store_global_init() != 0 || sodium_init() < 0 || n == 0)
		return 1;
	if (where == NULL) {
		if (mkdtemp(dir) == NULL)
			return 1;
		where = dir;
		made = 1;
	}
	snprintf(pa, sizeof(pa), "%s/storm-a.db", where);
	snprintf(pb, sizeof(pb), "%s/storm-b.db", where);
	randombytes_buf(skey, sizeof(skey));
	memset(&sc, 0, sizeof(sc));
	randombytes_buf(sc.id, sizeof(sc.id));
	randombytes_buf(sc.key, sizeof(sc.key));
	sc.epoch = 1;
	sc.kind = STORE_CIRCLE_SHARED;
	sc.name = xstrdup("storm");
	pk = xcalloc(n + 1, sizeof(*pk));
	sk = xcalloc(n + 1, sizeof(*sk));
	cs = xcalloc(n + 1, sizeof(*cs));
	for (uint32_t i = 0; i <= n; i++)
		crypto_sign_keypair(pk[i], sk[i]);
	randombytes_buf(rnd, sizeof(rnd));
	hlc0 = HLC_MAKE((uint64_t)time(NULL) * 1000 - 60000, 0);
	rid_make(rid, HLC_MS(hlc0), rnd);

	/* Signing (as the writers did, each on its own device). */
	t = now_s();
	{
		struct op o[3];
		struct ops_chunk c = { "case", 4, { 0 }, o, 3 };

		memcpy(c.rid, rid, RID_LEN);
		memset(o, 0, sizeof(o));
		o[0].type = OP_EXIST;
		o[0].alive = 1;
		o[1].type = OP_SET;
		o[1].field = "status";
		o[1].field_len = 6;
		o[1].value = "open";
		o[1].value_len = 4;
		o[2].type = OP_ADD;
		o[2].field = "tags";
		o[2].field_len = 4;
		o[2].value = "urgent";
		o[2].value_len = 6;
		build(&cs[0], pk[0], sk[0], sc.id, sc.key, hlc0, &c);
		ops_vid(exist_vid, cs[0].id, 0, 0);
		ops_vid(status_vid, cs[0].id, 0, 1);
		ops_vid(add_vid, cs[0].id, 0, 2);
		ops += 3;
	}
	for (uint32_t i = 1; i <= n; i++) {
		struct op o[4];
		struct ops_chunk c = { "case", 4, { 0 }, o, 4 };
		char status[32], tag[8];

		snprintf(status, sizeof(status), "status-%u", i);
		snprintf(tag, sizeof(tag), "t%u", i % 8);
		memcpy(c.rid, rid, RID_LEN);
		memset(o, 0, sizeof(o));
		o[0].type = OP_EXIST;
		o[0].alive = 1;
		o[0].refs = exist_vid;
		o[0].nrefs = 1;
		o[1].type = OP_SET;
		o[1].field = "status";
		o[1].field_len = 6;
		o[1].value = status;
		o[1].value_len = strlen(status);
		o[1].refs = status_vid;
		o[1].nrefs = 1;
		o[2].type = OP_ADD;
		o[2].field = "tags";
		o[2].field_len = 4;
		o[2].value = tag;
		o[2].value_len = strlen(tag);
		o[3].type = OP_REM;
		o[3].field = "tags";
		o[3].field_len = 4;
		o[3].value = "urgent";
		o[3].value_len = 6;
		o[3].refs = add_vid;
		o[3].nrefs = 1;
		/* Concurrent: all within the same few milliseconds. */
		build(&cs[i], pk[i], sk[i], sc.id, sc.key, hlc0 + 1 + i % 7,
		    &c);
		ops += 4;
		refs += 3;
	}
	t_sign = now_s() - t;

	/* Verifying, as a receiver does before storing. */
	t = now_s();
	for (uint32_t i = 0; i <= n; i++) {
		struct cs_header h;

		check(changeset_header_decode(&h, wire_data(&cs[i].hdr),
		    wire_len(&cs[i].hdr)), "decode");
		check(changeset_verify(&h), "verify");
	}
	t_verify = now_s() - t;

	/* Store A: arrival in writing order, one merge. */
	a = open_store(pa, skey, &sc);
	t = now_s();
	check(store_begin(a), "begin");
	for (uint32_t i = 0; i <= n; i++)
		check(store_cs_insert(a, &cs[i].h, cs[i].id,
		    wire_data(&cs[i].hdr), wire_len(&cs[i].hdr),
		    wire_data(&cs[i].payload), wire_len(&cs[i].payload)),
		    "insert");
	check(store_commit(a), "commit");
	t_insert = now_s() - t;
	check(store_begin(a), "begin");
	t = now_s();
	check(store_merge_pending(a, NULL, NULL), "merge");
	t_merge = now_s() - t;
	t = now_s();
	check(store_commit(a), "commit");
	t_commit = now_s() - t;
	t = now_s();
	check(store_record_find(a, sc.id, "case", rid, &rkey), "find");
	check(store_record_load(a, rkey, &rec), "load");
	t_load = now_s() - t;
	for (size_t i = 0; i < rec->nfields; i++) {
		if (strcmp(rec->fields[i].name, "status") == 0 &&
		    !rec->fields[i].is_set) {
			nsurv = rec->fields[i].nvals;
			ndistinct = rec->fields[i].ndistinct;
		}
		if (strcmp(rec->fields[i].name, "tags") == 0 &&
		    rec->fields[i].is_set)
			ntags = rec->fields[i].ndistinct;
	}
	store_record_free(rec);
	check(store_digest(a, da), "digest");

	/* Store B: reversed, the create last, in sync-sized batches. */
	b = open_store(pb, skey, &sc);
	for (uint32_t done = 0; done <= n;) {
		uint32_t k = 0;

		check(store_begin(b), "begin");
		for (; k < 256 && done <= n; k++, done++) {
			uint32_t i = n - done;

			check(store_cs_insert(b, &cs[i].h, cs[i].id,
			    wire_data(&cs[i].hdr), wire_len(&cs[i].hdr),
			    wire_data(&cs[i].payload),
			    wire_len(&cs[i].payload)), "insert");
		}
		t = now_s();
		tb.n = 0;
		check(store_merge_pending(b, touched_cb, &tb), "merge");
		t_merge_b += now_s() - t;
		check(store_commit(b), "commit");
		/* As host_stored() refreshes the daemon's index. */
		t = now_s();
		for (size_t i = 0; i < tb.n; i++) {
			check(store_record_load(b, tb.keys[i], &rec), "load");
			store_record_free(rec);
		}
		t_refresh += now_s() - t;
		refreshes += tb.n;
	}
	check(store_digest(b, db), "digest");

	printf("{\"authors\": %u, \"changesets\": %u, \"ops\": %llu, "
	    "\"refs\": %llu, \"sign_ms\": %.1f, \"verify_ms\": %.1f, "
	    "\"insert_ms\": %.1f, \"merge_ms\": %.1f, \"commit_ms\": %.1f, "
	    "\"load_ms\": %.1f, \"merge_reordered_ms\": %.1f, "
	    "\"refresh_ms\": %.1f, \"refreshes\": %llu, "
	    "\"status_survivors\": %zu, \"status_distinct\": %zu, "
	    "\"tags\": %zu, \"digest_equal\": %s}\n",
	    n, n + 1, (unsigned long long)ops, (unsigned long long)refs,
	    t_sign * 1e3, t_verify * 1e3, t_insert * 1e3, t_merge * 1e3,
	    t_commit * 1e3, t_load * 1e3, t_merge_b * 1e3, t_refresh * 1e3,
	    (unsigned long long)refreshes, nsurv, ndistinct, ntags,
	    memcmp(da, db, 32) == 0 ? "true" : "false");
	store_close(a);
	store_close(b);
	rm_db(pa);
	rm_db(pb);
	if (made)
		rmdir(dir);
	for (uint32_t i = 0; i <= n; i++) {
		wire_free(&cs[i].hdr);
		wire_free(&cs[i].payload);
	}
	sodium_memzero(sk, (n + 1) * sizeof(*sk));
	free(pk);
	free(sk);
	free(cs);
	free(tb.keys);
	store_circle_clear(&sc);
	return 0;
}
