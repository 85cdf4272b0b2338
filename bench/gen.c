/*
 * gen: fills data directories' samen.db directly with signed change sets,
 * for the benchmarks (bench/README.md).  It links the proto objects and the
 * daemon's store, and writes exactly what samend would: the same change-set
 * bytes, the same membership ops (daemon/circle_ops.c: circle new and
 * add), the same circle keys, merged into the replica with the daemon's
 * own store_merge_pending().  No daemon may run on a directory while gen
 * writes to it (gen takes the directory's lock, as samend does).
 *
 *   gen circle --name NAME --into DIR... [--member DIR...] [--random N]
 *       A shared circle created by the first --into device (its create
 *       op, with the first key sealed to it and the name sealed under
 *       that key): the circle key and the members chain go into every
 *       --into store; every other --into and --member device, and N more
 *       of random keys, is added as a member with the key sealed to it
 *       (an add op each).
 *   gen roster --from DIR [--reps R]
 *       Reads the members chain of DIR's shared circle as samend does
 *       (daemon/circle.c: every change set, its op opened and parsed) and
 *       resolves its roster (roster_resolve) R times (default 100): the
 *       time of each part, per resolve.
 *   gen data --seed S --cs N [--recs K] [--authors A] [--bytes B]
 *            --into DIR...
 *       N change sets of the circle, each touching K new records (one chunk
 *       each), from A authors whose keys derive from S, round-robin: change
 *       set j is author j % A's.  K = 1: a case with four fields of about
 *       B bytes in all (default 200); K > 1: notes with one text field.
 *       Every --into store gets the same bytes.
 *   gen update --seed S --cs N --offset O --stride D [--authors A]
 *            --into DIR
 *       N change sets signed by DIR's own device, each updating the status
 *       of one record written by `gen data --seed S` (the first record of
 *       base change set O + i * D), with the right preds.
 *   gen peer --into DIR --peer DIR2[@tcp://HOST:PORT]...
 *       Stores DIR2's device as a peer of DIR (with an address, or none).
 *   gen erase --into DIR [--notes N]
 *       A case and N notes that link to it (default 100), written by DIR's
 *       own device into its shared circle, one change set each, merged;
 *       then the erase a purge of the case with --cascade makes
 *       (store_erase_tags with the rtags of all N + 1 records under every
 *       epoch key) is timed, and the WAL's truncate after it; beside them,
 *       one read of every change set of the circle (what an erase cannot
 *       do without: it finds the chunks by reading every payload).
 *   gen replay --from DIR --into DIR2 [--limit N]
 *       Replays the receiving path of a sync for every change set of the
 *       shared circle of DIR into DIR2's store, stage by stage (encode a
 *       BATCH, decode it, header decode and ed25519 verify, payload decode
 *       and hash check, insert, commit, sync, checkpoint (off the commit,
 *       as samend does), decrypt, merge, index load), with
 *       the daemon's own functions, and prints the time per change set of
 *       each stage.  DIR2 must be an initialised, empty data directory;
 *       DIR may be in use by a samend.  --limit: the first N change sets.
 *
 * Every subcommand prints one JSON line with what it did and how long each
 * part took.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "changeset.h"
#include "conf.h"
#include "devid.h"
#include "error.h"
#include "hlc.h"
#include "index.h"
#include "keyring.h"
#include "ops.h"
#include "rid.h"
#include "roster.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "vault.h"
#include "wire.h"

#define MAX_DIRS 64
#define TXN_OPS 20000		/* ops inserted and merged per transaction */
#define DAY_MS 86400000ull

struct target {
	const char *dir;
	struct vault *vault;
	struct keywrap_secrets sec;
	uint8_t pk[32];
	struct store *st;
	int lock_fd;
};

/*
 * The stages' clock: wall time, or with GEN_CLOCK=cpu in the environment
 * this thread's CPU time, which other work on the machine barely moves
 * (for comparing two builds on a shared machine; fsync waits drop out).
 */
static double
now_s(void)
{
	static int cpu = -1;
	struct timespec ts;

	if (cpu < 0) {
		const char *e = getenv("GEN_CLOCK");

		cpu = e != NULL && strcmp(e, "cpu") == 0;
	}
	clock_gettime(cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void
check(int rc, const char *what)
{
	if (rc != 0)
		die("%s: %s", what, samen_strerror(rc));
}

/*
 * Opens DIR's identity (no passphrase) and, if with_store, its store; with
 * lock, only if no samend runs on DIR (gen writes).  Without, for reading
 * the change sets of a running daemon (SQLite's WAL lets a reader in).
 */
static void
target_open_lock(struct target *t, const char *dir, int with_store, int lock)
{
	char *cause = NULL, *path;
	int rc;

	memset(t, 0, sizeof(*t));
	t->dir = dir;
	t->lock_fd = -1;
	if (vault_open(&t->vault, dir, &cause) != 0)
		die("%s", cause);
	if ((rc = vault_try(t->vault, NULL, 0, &t->sec)) != 0)
		die("%s: %s (gen needs keys made with --no-passphrase)", dir,
		    samen_strerror(rc));
	memcpy(t->pk, vault_public_key(t->vault), 32);
	if (!with_store)
		return;
	/* samend holds this lock while it runs: never write under it. */
	if (lock) {
		path = xasprintf("%s/samend.lock", dir);
		t->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (t->lock_fd < 0 ||
		    flock(t->lock_fd, LOCK_EX | LOCK_NB) != 0)
			die("%s: a samend runs on this directory", dir);
		free(path);
	}
	path = xasprintf("%s/samen.db", dir);
	if (store_open(&t->st, path, &cause) != 0)
		die("%s: %s", path, cause);
	free(path);
	store_set_key(t->st, t->sec.storage_key);
}

static void
target_open(struct target *t, const char *dir, int with_store)
{
	target_open_lock(t, dir, with_store, 1);
}

static void
target_close(struct target *t)
{
	if (t->st != NULL)
		store_close(t->st);
	if (t->lock_fd >= 0)
		close(t->lock_fd);
	sodium_memzero(&t->sec, sizeof(t->sec));
	vault_close(t->vault);
}

/* A deterministic key pair per (seed, index). */
static void
author_keys(uint8_t pk[32], uint8_t sk[64], const char *seed, uint32_t i)
{
	uint8_t s[32], le[4];
	crypto_generichash_state h;

	put_le32(le, i);
	crypto_generichash_init(&h, NULL, 0, sizeof(s));
	crypto_generichash_update(&h, (const uint8_t *)"samen-bench-author",
	    18);
	crypto_generichash_update(&h, (const uint8_t *)seed, strlen(seed));
	crypto_generichash_update(&h, le, 4);
	crypto_generichash_final(&h, s, sizeof(s));
	crypto_sign_seed_keypair(pk, sk, s);
	sodium_memzero(s, sizeof(s));
}

/* Records: the chunks of one change set under construction. */
struct chunkbuf {
	struct wbuf *plain;	/* one encoded chunk plaintext each */
	struct cs_plain *cp;
	uint8_t *nonces;
	size_t n, cap;
};

static void
chunkbuf_reset(struct chunkbuf *b)
{
	for (size_t i = 0; i < b->n; i++)
		wire_free(&b->plain[i]);
	b->n = 0;
}

static void
chunkbuf_add(struct chunkbuf *b, const uint8_t key[CS_KEYLEN],
    const struct ops_chunk *c)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16;
		b->plain = xreallocarray(b->plain, b->cap, sizeof(*b->plain));
		b->cp = xreallocarray(b->cp, b->cap, sizeof(*b->cp));
		b->nonces = xreallocarray(b->nonces, b->cap, CS_NONCELEN);
	}
	wire_init(&b->plain[b->n]);
	ops_encode(&b->plain[b->n], c);
	changeset_rtag(b->cp[b->n].rtag, key, c->collection,
	    c->collection_len, c->rid);
	b->n++;
}

static void
chunkbuf_free(struct chunkbuf *b)
{
	chunkbuf_reset(b);
	free(b->plain);
	free(b->cp);
	free(b->nonces);
}

/* A built change set. */
struct built {
	struct cs_header h;
	uint8_t id[CS_IDLEN];
	struct wbuf hdr, payload;
};

static double t_sign;

static void
build(struct built *out, const uint8_t author[32], const uint8_t sk[64],
    const uint8_t circle[CS_CIRCLELEN], const uint8_t key[CS_KEYLEN],
    uint64_t seq, const uint8_t prev[CS_IDLEN], uint64_t hlc,
    struct chunkbuf *b)
{
	double t0 = now_s();

	for (size_t i = 0; i < b->n; i++) {
		b->cp[i].data = wire_data(&b->plain[i]);
		b->cp[i].len = wire_len(&b->plain[i]);
	}
	randombytes_buf(b->nonces, b->n * CS_NONCELEN);
	memset(&out->h, 0, sizeof(out->h));
	memcpy(out->h.author, author, 32);
	memcpy(out->h.circle, circle, CS_CIRCLELEN);
	out->h.epoch = 1;
	out->h.seq = seq;
	memcpy(out->h.prev, prev, CS_IDLEN);
	out->h.hlc = hlc;
	wire_init(&out->hdr);
	wire_init(&out->payload);
	changeset_build(&out->hdr, &out->payload, out->id, &out->h, sk, key,
	    b->cp, b->n, b->nonces);
	t_sign += now_s() - t0;
}

static void
built_free(struct built *b)
{
	wire_free(&b->hdr);
	wire_free(&b->payload);
}

/* Inserting into several stores, in transactions of about TXN_OPS ops. */
struct writer {
	struct target *t;
	size_t nt;
	size_t pending_ops;
	int open;
	double t_insert, t_merge, t_commit;
	uint64_t cs, bytes;
};

static void
writer_flush(struct writer *w)
{
	double t0;

	if (!w->open)
		return;
	for (size_t i = 0; i < w->nt; i++) {
		t0 = now_s();
		check(store_merge_pending(w->t[i].st, NULL, NULL), "merge");
		w->t_merge += now_s() - t0;
		t0 = now_s();
		check(store_commit(w->t[i].st), "commit");
		w->t_commit += now_s() - t0;
	}
	w->open = 0;
	w->pending_ops = 0;
}

static void
writer_put(struct writer *w, const struct built *b, size_t ops)
{
	double t0;
	int rc;

	if (!w->open) {
		for (size_t i = 0; i < w->nt; i++)
			check(store_begin(w->t[i].st), "begin");
		w->open = 1;
	}
	t0 = now_s();
	for (size_t i = 0; i < w->nt; i++) {
		rc = store_cs_insert(w->t[i].st, &b->h, b->id,
		    wire_data(&b->hdr), wire_len(&b->hdr),
		    wire_data(&b->payload), wire_len(&b->payload));
		if (rc != 0)
			die("%s: insert seq %llu: %s", w->t[i].dir,
			    (unsigned long long)b->h.seq, samen_strerror(rc));
	}
	w->t_insert += now_s() - t0;
	w->cs++;
	w->bytes += wire_len(&b->hdr) + wire_len(&b->payload);
	w->pending_ops += ops;
	if (w->pending_ops >= TXN_OPS)
		writer_flush(w);
}

/*
 * The shared circle of a store (the first one listed), with its data key:
 * not the audit secret, kept as its epoch 0 and listed first.
 */
static void
find_circle(struct store *st, struct store_circle *out)
{
	struct store_circle *c;
	size_t n;

	check(store_circle_list(st, &c, &n), "circle list");
	for (size_t i = 0; i < n; i++) {
		if (c[i].kind == STORE_CIRCLE_SHARED &&
		    c[i].epoch != ROSTER_AUDIT_EPOCH) {
			*out = c[i];
			out->name = xstrdup(c[i].name);
			store_circle_list_free(c, n);
			return;
		}
	}
	die("no shared circle in the store: run 'gen circle' first");
}

/* One record chunk: EXIST alive (pred), then SETs of kv (with preds). */
struct setop {
	const char *field;
	const char *value;
	const uint8_t *pred;	/* VID_LEN or NULL */
};

static void
record_chunk(struct chunkbuf *b, const uint8_t key[CS_KEYLEN],
    const char *collection, const uint8_t rid[RID_LEN],
    const uint8_t *exist_pred, const struct setop *s, size_t n)
{
	struct op ops[16];
	struct ops_chunk c;

	if (n + 1 > sizeof(ops) / sizeof(ops[0]))
		die("too many fields");
	memset(ops, 0, sizeof(ops));
	ops[0].type = OP_EXIST;
	ops[0].alive = 1;
	ops[0].refs = exist_pred;
	ops[0].nrefs = exist_pred ? 1 : 0;
	for (size_t i = 0; i < n; i++) {
		ops[i + 1].type = OP_SET;
		ops[i + 1].field = s[i].field;
		ops[i + 1].field_len = strlen(s[i].field);
		ops[i + 1].value = s[i].value;
		ops[i + 1].value_len = strlen(s[i].value);
		ops[i + 1].refs = s[i].pred;
		ops[i + 1].nrefs = s[i].pred ? 1 : 0;
	}
	memset(&c, 0, sizeof(c));
	c.collection = collection;
	c.collection_len = strlen(collection);
	memcpy(c.rid, rid, RID_LEN);
	c.ops = ops;
	c.nops = (uint32_t)n + 1;
	chunkbuf_add(b, key, &c);
}

/* One op, one change set of the members chain: circle_ops.c's op_write. */
static void
put_op(struct writer *w, struct target *t0, const struct store_circle *mc,
    struct roster_op *op, uint64_t *seq, uint8_t prev[CS_IDLEN],
    struct hlc *clock)
{
	struct chunkbuf b;
	struct ops_chunk c;
	struct built bl;
	uint8_t rid[RID_LEN];

	memset(&b, 0, sizeof(b));
	randombytes_buf(rid, sizeof(rid));
	rid[0] &= 0x7f;
	check(roster_op_encode(&c, op, rid), "roster op");
	chunkbuf_add(&b, mc->key, &c);
	ops_chunk_free(&c);
	build(&bl, t0->pk, t0->sec.sign_sk, mc->id, mc->key, ++*seq, prev,
	    hlc_now(clock, wall_ms()), &b);
	writer_put(w, &bl, 1 + c.nops);
	memcpy(prev, bl.id, CS_IDLEN);
	built_free(&bl);
	chunkbuf_free(&b);
}

/* gen circle */
static int
cmd_circle(const char *name, const char **into, size_t ninto,
    const char **members, size_t nmembers, uint64_t nrandom)
{
	struct target t[MAX_DIRS], m;
	uint8_t (*extra)[32];
	struct store_circle sc, mc, ask;
	struct roster_op op;
	struct roster_seal seal;
	struct writer w;
	struct hlc clock;
	uint8_t salt[16], prev[CS_IDLEN], sk[64];
	uint64_t seq = 0;
	size_t nextra = nmembers + (size_t)nrandom;
	double t0 = now_s();

	if (ninto == 0)
		die("circle: at least one --into");
	for (size_t i = 0; i < ninto; i++)
		target_open(&t[i], into[i], 1);
	extra = xcalloc(nextra + 1, sizeof(*extra));
	for (size_t i = 0; i < nmembers; i++) {
		target_open(&m, members[i], 0);
		memcpy(extra[i], m.pk, 32);
		target_close(&m);
	}
	/* Devices nobody runs: members of a big circle (removal bench). */
	for (size_t i = nmembers; i < nextra; i++)
		crypto_sign_keypair(extra[i], sk);
	sodium_memzero(sk, sizeof(sk));
	/* As circle_create(): id from creator and salt, a random key. */
	memset(&sc, 0, sizeof(sc));
	randombytes_buf(salt, sizeof(salt));
	sync_circle_id(sc.id, t[0].pk, salt);
	randombytes_buf(sc.key, sizeof(sc.key));
	sc.epoch = ROSTER_FIRST_EPOCH;
	sc.kind = STORE_CIRCLE_SHARED;
	sc.name = xmalloc(2 * CS_CIRCLELEN + 1);
	hex_encode(sc.name, sc.id, CS_CIRCLELEN);
	memset(&mc, 0, sizeof(mc));
	sync_members_circle(mc.id, sc.id);
	sync_members_key(mc.key, sc.id);
	mc.epoch = 1;
	mc.kind = STORE_CIRCLE_MEMBERS;
	memcpy(mc.base, sc.id, CS_CIRCLELEN);
	mc.name = xstrdup(sc.name);
	memset(&ask, 0, sizeof(ask));
	memcpy(ask.id, sc.id, CS_CIRCLELEN);
	ask.kind = STORE_CIRCLE_SHARED;
	ask.name = xstrdup(sc.name);
	for (size_t i = 0; i < ninto; i++) {
		check(store_begin(t[i].st), "begin");
		check(store_circle_put(t[i].st, &sc), "circle put");
		check(store_circle_put(t[i].st, &mc), "members put");
		check(store_commit(t[i].st), "commit");
	}

	memset(&w, 0, sizeof(w));
	w.t = t;
	w.nt = ninto;
	memset(prev, 0, sizeof(prev));
	hlc_init(&clock, 0);
	/*
	 * The create: the first key sealed to the creator, the audit key
	 * pair (its secret sealed to the creator, the only admin, and kept
	 * at rest there: reads of the circle are refused without it), the
	 * name.
	 */
	memset(&op, 0, sizeof(op));
	op.type = ROSTER_CREATE;
	op.epoch = ROSTER_FIRST_EPOCH;
	memcpy(op.salt, salt, sizeof(salt));
	crypto_box_keypair(op.audit, ask.key);
	op.has_audit = 1;
	op.seals = xcalloc(2, sizeof(*op.seals));
	check(keyring_seal(&op.seals[0], ROSTER_FIRST_EPOCH, sc.key, t[0].pk,
	    ROSTER_ADMIN), "seal");
	check(keyring_seal(&op.seals[1], ROSTER_AUDIT_EPOCH, ask.key,
	    t[0].pk, ROSTER_ADMIN), "audit seal");
	op.nseals = 2;
	ask.epoch = ROSTER_AUDIT_EPOCH;
	check(store_begin(t[0].st), "begin");
	check(store_circle_put(t[0].st, &ask), "audit key put");
	check(store_commit(t[0].st), "commit");
	store_circle_clear(&ask);
	keyring_blob_seal(&op.name, &op.name_len, sc.key, sc.id, "name", name,
	    strlen(name));
	put_op(&w, &t[0], &mc, &op, &seq, prev, &clock);
	roster_op_free(&op);
	/* An add per device; only the creator writes: no deps. */
	for (size_t i = 1; i < ninto + nextra; i++) {
		const uint8_t *dev = i < ninto ? t[i].pk : extra[i - ninto];

		memset(&op, 0, sizeof(op));
		op.type = ROSTER_ADD;
		op.role = ROSTER_MEMBER;
		memcpy(op.target, dev, 32);
		check(keyring_seal(&seal, ROSTER_FIRST_EPOCH, sc.key, dev,
		    ROSTER_MEMBER), "seal");
		op.seals = xcalloc(1, sizeof(*op.seals));
		op.seals[0] = seal;
		op.nseals = 1;
		put_op(&w, &t[0], &mc, &op, &seq, prev, &clock);
		roster_op_free(&op);
	}
	writer_flush(&w);
	{
		char hex[2 * CS_CIRCLELEN + 1];

		hex_encode(hex, sc.id, CS_CIRCLELEN);
		printf("{\"cmd\": \"circle\", \"circle\": \"%s\", \"name\": "
		    "\"%s\", \"members\": %zu, \"into\": %zu, \"s\": %.3f}\n",
		    hex, name, ninto + nextra, ninto, now_s() - t0);
	}
	free(extra);
	store_circle_clear(&sc);
	store_circle_clear(&mc);
	for (size_t i = 0; i < ninto; i++)
		target_close(&t[i]);
	return 0;
}

/* gen roster: the members chain as daemon/circle.c reads it. */
struct reading {
	uint8_t base[CS_CIRCLELEN];
	uint8_t key[CS_KEYLEN];
	struct roster_op *ops;
	size_t n, cap;
	double t_open, t_parse;
};

static int
read_op_cb(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct reading *rd = arg;
	struct cs_header h;
	struct cs_payload pl;
	struct ops_chunk oc;
	uint8_t id[CS_IDLEN], *plain;
	size_t plen;
	double t0 = now_s();

	if (changeset_header_decode(&h, hdr, hdr_len) != 0 ||
	    changeset_payload_decode(&pl, payload, payload_len) != 0)
		die("roster: a change set of the members chain does not decode");
	changeset_id(id, hdr, hdr_len);
	if (rd->n == rd->cap) {
		rd->cap = rd->cap ? 2 * rd->cap : 64;
		rd->ops = xreallocarray(rd->ops, rd->cap, sizeof(*rd->ops));
	}
	if (pl.nchunks != 1 || changeset_chunk_read(&plain, &plen, &oc, &h,
	    &pl.chunks[0], rd->key) != 0)
		die("roster: an op does not open");
	rd->t_open += now_s() - t0;
	t0 = now_s();
	if (roster_op_parse(&rd->ops[rd->n++], &oc, rd->base, id, h.author,
	    h.seq, h.hlc) != 0)
		die("roster: an op does not parse");
	rd->t_parse += now_s() - t0;
	ops_chunk_free(&oc);
	free(plain);
	changeset_payload_free(&pl);
	return 0;
}

static int
cmd_roster(const char *from, uint64_t reps)
{
	struct target f;
	struct store_circle *cl;
	struct reading rd;
	struct roster *r = NULL;
	const struct roster_member *m;
	uint8_t chain[CS_CIRCLELEN];
	size_t ncl, nm, ncur = 0;
	double t_read = 0, t_resolve = 0, t0;
	int found = 0;

	if (reps == 0)
		reps = 1;
	target_open_lock(&f, from, 1, 0);
	check(store_circle_list(f.st, &cl, &ncl), "circle list");
	memset(&rd, 0, sizeof(rd));
	for (size_t i = 0; i < ncl && !found; i++)
		if (cl[i].kind == STORE_CIRCLE_MEMBERS) {
			memcpy(chain, cl[i].id, CS_CIRCLELEN);
			memcpy(rd.base, cl[i].base, CS_CIRCLELEN);
			memcpy(rd.key, cl[i].key, CS_KEYLEN);
			found = 1;
		}
	store_circle_list_free(cl, ncl);
	if (!found)
		die("roster: %s holds no members chain", from);
	for (uint64_t k = 0; k < reps; k++) {
		for (size_t i = 0; i < rd.n; i++)
			roster_op_free(&rd.ops[i]);
		rd.n = 0;
		t0 = now_s();
		check(store_chain_each(f.st, chain, read_op_cb, &rd), "chain");
		t_read += now_s() - t0;
		roster_free(r);
		t0 = now_s();
		check(roster_resolve(rd.base, rd.ops, rd.n, &r), "resolve");
		t_resolve += now_s() - t0;
	}
	m = roster_members(r, &nm);
	for (size_t i = 0; i < nm; i++)
		ncur += m[i].state == ROSTER_CURRENT;
	printf("{\"cmd\": \"roster\", \"ops\": %zu, \"members\": %zu, "
	    "\"current\": %zu, \"valid\": %zu, \"reps\": %llu, "
	    "\"read_ms\": %.4f, \"open_ms\": %.4f, \"parse_ms\": %.4f, "
	    "\"resolve_ms\": %.4f}\n", rd.n, nm, ncur,
	    roster_count(r, ROSTER_VALID), (unsigned long long)reps,
	    t_read / (double)reps * 1e3, rd.t_open / (double)reps * 1e3,
	    rd.t_parse / (double)reps * 1e3, t_resolve / (double)reps * 1e3);
	roster_free(r);
	for (size_t i = 0; i < rd.n; i++)
		roster_op_free(&rd.ops[i]);
	free(rd.ops);
	sodium_memzero(rd.key, sizeof(rd.key));
	target_close(&f);
	return 0;
}

/* Filler text of about n bytes, varying with j. */
static void
filler(char *out, size_t n, uint64_t j)
{
	static const char words[] = "huisbezoek budgetcoach schuldhulp "
	    "afspraak wijkteam buurtcentrum post ongeopend mantelzorg "
	    "ervaringsdeskundige vrijwilliger gesprek dagbesteding ";
	size_t wl = sizeof(words) - 1, k = (size_t)(j * 7919) % wl;

	for (size_t i = 0; i < n; i++) {
		out[i] = words[(k + i) % wl];
	}
	out[n] = '\0';
}

/* gen data */
static int
cmd_data(const char *seed, uint64_t ncs, uint32_t recs, uint32_t nauthors,
    size_t bytes, const char **into, size_t ninto)
{
	struct target t[MAX_DIRS];
	struct store_circle sc;
	struct chunkbuf b;
	struct built bl;
	struct writer w;
	uint8_t (*pk)[32], (*sk)[64], (*prev)[CS_IDLEN];
	uint64_t *seq, t0ms, step, ops = 0, csops;
	char name[48], status[16], adres[64], *summary;
	double t0 = now_s();
	size_t sumlen;

	if (ninto == 0 || ncs == 0 || recs == 0 || nauthors == 0)
		die("data: --into, --cs, --recs and --authors must be > 0");
	for (size_t i = 0; i < ninto; i++)
		target_open(&t[i], into[i], 1);
	find_circle(t[0].st, &sc);
	pk = xcalloc(nauthors, sizeof(*pk));
	sk = xcalloc(nauthors, sizeof(*sk));
	prev = xcalloc(nauthors, sizeof(*prev));
	seq = xcalloc(nauthors, sizeof(*seq));
	for (uint32_t a = 0; a < nauthors; a++) {
		author_keys(pk[a], sk[a], seed, a);
		check(store_cs_head(t[0].st, pk[a], sc.id, &seq[a], prev[a]),
		    "head");
	}
	/* A year of entries, ending now: rids and HLCs time-ordered. */
	t0ms = wall_ms() - 365 * DAY_MS;
	step = 365 * DAY_MS / (ncs * recs);
	if (step == 0)
		step = 1;
	sumlen = bytes > 60 ? bytes - 60 : 10;
	summary = xmalloc(sumlen + 1);
	memset(&w, 0, sizeof(w));
	w.t = t;
	w.nt = ninto;
	memset(&b, 0, sizeof(b));
	for (uint64_t j = 0; j < ncs; j++) {
		uint32_t a = (uint32_t)(j % nauthors);
		uint64_t ms = t0ms + j * recs * step;

		csops = 0;
		for (uint32_t k = 0; k < recs; k++) {
			uint64_t r = j * recs + k;
			uint8_t rnd[10], rid[RID_LEN];
			struct setop s[4];
			size_t ns;

			randombytes_buf(rnd, sizeof(rnd));
			rid_make(rid, ms + k * step, rnd);
			if (recs == 1) {
				/* A case as `samen put` writes one. */
				snprintf(name, sizeof(name), "Familie %llu",
				    (unsigned long long)r);
				snprintf(status, sizeof(status), "open");
				snprintf(adres, sizeof(adres), "Lindenlaan "
				    "%llu, Noord", (unsigned long long)r % 977);
				filler(summary, sumlen, r);
				s[0] = (struct setop){ "name", name, NULL };
				s[1] = (struct setop){ "status", status, NULL };
				s[2] = (struct setop){ "adres", adres, NULL };
				s[3] = (struct setop){ "summary", summary,
				    NULL };
				ns = 4;
			} else {
				/* Bulk: one field per record. */
				filler(summary, sumlen > 100 ? 100 : sumlen, r);
				s[0] = (struct setop){ "text", summary, NULL };
				ns = 1;
			}
			record_chunk(&b, sc.key, recs == 1 ? "case" : "note",
			    rid, NULL, s, ns);
			csops += ns + 1;
		}
		ops += csops;
		build(&bl, pk[a], sk[a], sc.id, sc.key, ++seq[a], prev[a],
		    HLC_MAKE(ms, 0), &b);
		writer_put(&w, &bl, csops);
		memcpy(prev[a], bl.id, CS_IDLEN);
		built_free(&bl);
		chunkbuf_reset(&b);
	}
	writer_flush(&w);
	printf("{\"cmd\": \"data\", \"cs\": %llu, \"records\": %llu, \"ops\": "
	    "%llu, \"authors\": %u, \"bytes\": %llu, \"into\": %zu, "
	    "\"sign_s\": %.3f, \"insert_s\": %.3f, \"merge_s\": %.3f, "
	    "\"commit_s\": %.3f, \"s\": %.3f}\n",
	    (unsigned long long)w.cs, (unsigned long long)(ncs * recs),
	    (unsigned long long)ops, nauthors, (unsigned long long)w.bytes,
	    ninto, t_sign, w.t_insert, w.t_merge, w.t_commit, now_s() - t0);
	chunkbuf_free(&b);
	free(summary);
	sodium_memzero(sk, nauthors * sizeof(*sk));
	free(pk);
	free(sk);
	free(prev);
	free(seq);
	store_circle_clear(&sc);
	for (size_t i = 0; i < ninto; i++)
		target_close(&t[i]);
	return 0;
}

/* What one base change set holds: its first chunk's record and vids. */
struct baserec {
	int found;
	uint8_t rid[RID_LEN];
	char coll[OPS_MAX_COLLECTION + 1];
	uint8_t exist_vid[VID_LEN];
	uint8_t status_vid[VID_LEN];
	int has_status;
};

struct base_arg {
	struct baserec *out;
	const uint8_t *key;
};

static int
base_cb(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct base_arg *ba = arg;
	struct baserec *br = ba->out;
	struct cs_header h;
	struct cs_payload pl;
	struct ops_chunk oc;
	uint8_t id[CS_IDLEN], *plain;
	size_t plen;

	(void)seq;
	if (changeset_header_decode(&h, hdr, hdr_len) != 0 ||
	    changeset_payload_decode(&pl, payload, payload_len) != 0)
		return SAMEN_EPROTO;
	changeset_id(id, hdr, hdr_len);
	if (pl.nchunks == 0 || changeset_chunk_open(&plain, &plen, &h,
	    &pl.chunks[0], ba->key) != 0) {
		changeset_payload_free(&pl);
		return SAMEN_EDECRYPT;
	}
	if (ops_decode(&oc, plain, plen) == 0) {
		memcpy(br->rid, oc.rid, RID_LEN);
		snprintf(br->coll, sizeof(br->coll), "%.*s",
		    (int)oc.collection_len, oc.collection);
		for (uint32_t i = 0; i < oc.nops; i++) {
			if (oc.ops[i].type == OP_EXIST)
				ops_vid(br->exist_vid, id, 0, i);
			if (oc.ops[i].type == OP_SET &&
			    oc.ops[i].field_len == 6 &&
			    memcmp(oc.ops[i].field, "status", 6) == 0) {
				ops_vid(br->status_vid, id, 0, i);
				br->has_status = 1;
			}
		}
		br->found = 1;
		ops_chunk_free(&oc);
	}
	free(plain);
	changeset_payload_free(&pl);
	return 0;
}

/* gen update */
static int
cmd_update(const char *seed, uint64_t ncs, uint64_t offset, uint64_t stride,
    uint32_t nauthors, const char *dir)
{
	struct target t;
	struct store_circle sc;
	struct chunkbuf b;
	struct built bl;
	struct writer w;
	struct hlc clock;
	uint8_t apk[32], ask[64], prev[CS_IDLEN];
	uint64_t seq;
	double t0 = now_s();
	char status[48];

	target_open(&t, dir, 1);
	find_circle(t.st, &sc);
	check(store_cs_head(t.st, t.pk, sc.id, &seq, prev), "head");
	memset(&w, 0, sizeof(w));
	w.t = &t;
	w.nt = 1;
	memset(&b, 0, sizeof(b));
	hlc_init(&clock, 0);
	for (uint64_t i = 0; i < ncs; i++) {
		uint64_t j = offset + i * stride;
		uint32_t a = (uint32_t)(j % nauthors);
		struct baserec br;
		struct base_arg ba = { &br, sc.key };
		struct setop s[1];

		memset(&br, 0, sizeof(br));
		author_keys(apk, ask, seed, a);
		check(store_cs_range(t.st, sc.id, apk, j / nauthors, 1, 0, base_cb,
		    &ba), "read base");
		if (!br.found)
			die("update: base change set %llu not found",
			    (unsigned long long)j);
		snprintf(status, sizeof(status), "in behandeling %llu",
		    (unsigned long long)i);
		s[0] = (struct setop){ "status", status,
		    br.has_status ? br.status_vid : NULL };
		record_chunk(&b, sc.key, br.coll, br.rid, br.exist_vid, s, 1);
		build(&bl, t.pk, t.sec.sign_sk, sc.id, sc.key, ++seq, prev,
		    hlc_now(&clock, wall_ms()), &b);
		writer_put(&w, &bl, 2);
		memcpy(prev, bl.id, CS_IDLEN);
		built_free(&bl);
		chunkbuf_reset(&b);
	}
	writer_flush(&w);
	sodium_memzero(ask, sizeof(ask));
	printf("{\"cmd\": \"update\", \"cs\": %llu, \"bytes\": %llu, "
	    "\"s\": %.3f}\n", (unsigned long long)w.cs,
	    (unsigned long long)w.bytes, now_s() - t0);
	chunkbuf_free(&b);
	store_circle_clear(&sc);
	target_close(&t);
	return 0;
}

/* gen erase: one read of every payload of circle, in ms (the bound). */
static double
scan_ms(const char *dir, const uint8_t circle[CS_CIRCLELEN], uint64_t *n,
    uint64_t *bytes)
{
	char *path = xasprintf("%s/samen.db", dir);
	sqlite3_stmt *s;
	sqlite3 *db;
	double t0;

	*n = *bytes = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "SELECT payload FROM cs"
	    " WHERE circle = ?1", -1, &s, NULL) != SQLITE_OK)
		die("%s: %s", path, sqlite3_errmsg(db));
	sqlite3_bind_blob(s, 1, circle, CS_CIRCLELEN, SQLITE_STATIC);
	t0 = now_s();
	/* column_blob reads the whole value, overflow pages too. */
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (sqlite3_column_blob(s, 0) == NULL)
			continue;
		(*n)++;
		*bytes += (uint64_t)sqlite3_column_bytes(s, 0);
	}
	t0 = now_s() - t0;
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
	return t0 * 1e3;
}

/* gen erase */
static int
cmd_erase(uint32_t notes, const char *dir)
{
	struct target t;
	struct store_circle sc;
	struct store_erased out;
	struct store_stats st0, st1;
	struct chunkbuf b;
	struct built bl;
	struct writer w;
	struct hlc clock;
	uint8_t prev[CS_IDLEN], rnd[10], op[CS_IDLEN];
	uint8_t (*rids)[RID_LEN], (*tags)[CS_RTAGLEN] = NULL, (*tg)[CS_RTAGLEN];
	char link[2 * RID_LEN + 1], text[160];
	size_t ntags = 0, ntg;
	uint64_t seq, scanned, scanbytes;
	double t0, t_erase, t_trunc, t_scan;

	target_open(&t, dir, 1);
	find_circle(t.st, &sc);
	check(store_cs_head(t.st, t.pk, sc.id, &seq, prev), "head");
	memset(&w, 0, sizeof(w));
	w.t = &t;
	w.nt = 1;
	memset(&b, 0, sizeof(b));
	hlc_init(&clock, 0);
	rids = xcalloc(notes + 1, sizeof(*rids));
	for (uint32_t i = 0; i <= notes; i++) {
		struct setop s[3];

		randombytes_buf(rnd, sizeof(rnd));
		rid_make(rids[i], wall_ms(), rnd);
		if (i == 0) {
			s[0] = (struct setop){ "name", "Familie te wissen",
			    NULL };
			s[1] = (struct setop){ "status", "open", NULL };
			s[2] = (struct setop){ "adres", "Lindenlaan 1, Noord",
			    NULL };
			record_chunk(&b, sc.key, "case", rids[0], NULL, s, 3);
		} else {
			filler(text, 120, i);
			s[0] = (struct setop){ "case", link, NULL };
			s[1] = (struct setop){ "text", text, NULL };
			record_chunk(&b, sc.key, "note", rids[i], NULL, s, 2);
		}
		if (i == 0)
			hex_encode(link, rids[0], RID_LEN);
		build(&bl, t.pk, t.sec.sign_sk, sc.id, sc.key, ++seq, prev,
		    hlc_now(&clock, wall_ms()), &b);
		writer_put(&w, &bl, 4);
		memcpy(prev, bl.id, CS_IDLEN);
		built_free(&bl);
		chunkbuf_reset(&b);
	}
	writer_flush(&w);
	/* What a purge with --cascade names: every epoch's tag of each. */
	for (uint32_t i = 0; i <= notes; i++) {
		check(store_erase_rtags(t.st, sc.id, i == 0 ? "case" : "note",
		    rids[i], &tg, &ntg), "rtags");
		tags = xreallocarray(tags, ntags + ntg, sizeof(*tags));
		memcpy(tags + ntags, tg, ntg * sizeof(*tg));
		ntags += ntg;
		free(tg);
	}
	check(store_stats(t.st, &st0), "stats");
	t_scan = scan_ms(dir, sc.id, &scanned, &scanbytes);
	randombytes_buf(op, sizeof(op));
	t0 = now_s();
	check(store_erase_tags(t.st, sc.id, op,
	    (const uint8_t (*)[CS_RTAGLEN])tags, ntags, &out), "erase");
	t_erase = now_s() - t0;
	t0 = now_s();
	check(store_wal_truncate(t.st), "truncate");
	t_trunc = now_s() - t0;
	check(store_stats(t.st, &st1), "stats");
	printf("{\"cmd\": \"erase\", \"replica\": %llu, \"records\": %zu, "
	    "\"tags\": %zu, \"changesets\": %llu, \"chunks\": %llu, "
	    "\"left\": %llu, \"erase_ms\": %.1f, \"truncate_ms\": %.1f, "
	    "\"scan_ms\": %.1f, \"scanned\": %llu, \"scanned_bytes\": "
	    "%llu}\n", (unsigned long long)st0.records, out.nrkeys, ntags,
	    (unsigned long long)out.changesets,
	    (unsigned long long)out.chunks, (unsigned long long)st1.records,
	    t_erase * 1e3, t_trunc * 1e3, t_scan,
	    (unsigned long long)scanned, (unsigned long long)scanbytes);
	store_erased_free(&out);
	free(tags);
	free(rids);
	chunkbuf_free(&b);
	store_circle_clear(&sc);
	target_close(&t);
	return 0;
}

/* gen peer */
static int
cmd_peer(const char *dir, const char **peers, size_t npeers)
{
	struct target t, p;

	target_open(&t, dir, 1);
	for (size_t i = 0; i < npeers; i++) {
		char *d = xstrdup(peers[i]), *at = strchr(d, '@');

		if (at != NULL)
			*at++ = '\0';
		target_open(&p, d, 0);
		check(store_peer_put(t.st, p.pk, at), "peer put");
		target_close(&p);
		free(d);
	}
	printf("{\"cmd\": \"peer\", \"peers\": %zu}\n", npeers);
	target_close(&t);
	return 0;
}

/*
 * gen replay: the receiving side of a sync, stage by stage, in the order
 * daemon/peer.c's on_batch() and daemon/ctl.c's host_merge() and
 * host_stored() run them (the checks run on the pool in the daemon; here
 * they are timed one after the other on one thread).
 */
struct stage {
	double encode, decode, verify, payload, insert, commit, sync,
	    checkpoint, decrypt, merge, index;
};

struct rp_batch {
	struct wbuf entries;
	uint32_t count;
	size_t bytes;
	uint64_t next;
};

static int
rp_fill(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct rp_batch *f = arg;

	sync_put_batch_cs(&f->entries, hdr, hdr_len, payload, payload_len);
	f->count++;
	f->bytes += hdr_len + payload_len;
	f->next = seq + 1;
	return f->bytes >= (1u << 20) ? 1 : 0;
}

struct touched {
	int64_t *k;
	size_t n, cap;
};

static void
touched_cb(void *arg, int64_t rkey)
{
	struct touched *t = arg;

	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		t->k = xreallocarray(t->k, t->cap, sizeof(*t->k));
	}
	t->k[t->n++] = rkey;
}

static void
replay_batch(struct store *to, int wal_fd, const uint8_t *msg, size_t len,
    const uint8_t key[CS_KEYLEN], struct stage *sg, struct index *ix,
    struct touched *tc, uint64_t *ncs, uint64_t ckpt_pages)
{
	uint64_t ticket;
	struct sync_msg m;
	struct cs_header *h;
	struct cs_opened *op;
	uint8_t id[CS_IDLEN];
	double t0;
	int rc;

	t0 = now_s();
	check(sync_decode(&m, msg, len), "sync decode");
	sg->decode += now_s() - t0;
	h = xcalloc(m.ncs, sizeof(*h));
	t0 = now_s();
	for (uint32_t i = 0; i < m.ncs; i++) {
		check(changeset_header_decode(&h[i], m.cs[i].hdr,
		    m.cs[i].hdr_len), "header");
		check(changeset_verify(&h[i]), "verify");
	}
	sg->verify += now_s() - t0;
	t0 = now_s();
	for (uint32_t i = 0; i < m.ncs; i++) {
		struct cs_payload pl;

		check(changeset_payload_decode(&pl, m.cs[i].payload,
		    m.cs[i].payload_len), "payload");
		rc = changeset_payload_check(&h[i], &pl, m.cs[i].payload_len);
		changeset_payload_free(&pl);
		check(rc, "payload hash");
	}
	sg->payload += now_s() - t0;
	/*
	 * check_one(): the chunks read ahead (decrypted, decoded, rtags
	 * checked, their vids worked out) on the pool, beside the checks
	 * above; timed apart.
	 */
	t0 = now_s();
	op = xcalloc(m.ncs, sizeof(*op));
	for (uint32_t i = 0; i < m.ncs; i++) {
		struct cs_payload pl;

		check(changeset_payload_decode(&pl, m.cs[i].payload,
		    m.cs[i].payload_len), "payload");
		rc = changeset_open(&op[i], &h[i], &pl, key);
		changeset_payload_free(&pl);
		check(rc, "read ahead");
		changeset_id(id, m.cs[i].hdr, m.cs[i].hdr_len);
		merge_opened_vids(&op[i], id);
	}
	sg->decrypt += now_s() - t0;
	/* accept_one(): each change set stored and merged in one pass,
	 * optimistic (all of these are clean: no careful pass). */
	t0 = now_s();
	check(store_begin_lazy(to), "begin");
	for (uint32_t i = 0; i < m.ncs; i++) {
		/* The id as read ahead worked it out (check_one's k->id). */
		if (store_cs_insert_optimistic(to, &h[i], op[i].csid,
		    m.cs[i].hdr, m.cs[i].hdr_len, m.cs[i].payload,
		    m.cs[i].payload_len, &op[i]) != 0)
			die("insert: change set %u of a batch is not a clean "
			    "insert", i);
		changeset_opened_free(&op[i]);
	}
	free(op);
	sg->insert += now_s() - t0;
	/*
	 * host_merge(): what store_cs_insert_merged could not merge (nothing,
	 * here), in the same transaction, and the records touched.
	 */
	t0 = now_s();
	tc->n = 0;
	check(store_merge_pending(to, touched_cb, tc), "merge");
	sg->merge += now_s() - t0;
	/* store_batches(): a lazy commit on the loop, the sync on
	 * daemon/durable.c's thread (here right after, timed apart). */
	t0 = now_s();
	check(store_commit_lazy(to, &ticket), "commit");
	sg->commit += now_s() - t0;
	t0 = now_s();
	if (fdatasync(wal_fd) != 0)
		die("replay: fdatasync: %s", strerror(errno));
	sg->sync += now_s() - t0;
	/*
	 * samend's checkpoints (daemon/main.c): never in the commit, on its
	 * pool once the WAL holds wal_autocheckpoint pages; here on this
	 * thread, timed apart, so that the commit above is the daemon's.
	 */
	if (store_wal_frames(to) >= ckpt_pages) {
		uint64_t copied;

		t0 = now_s();
		check(store_checkpoint_here(to, &copied), "checkpoint");
		sg->checkpoint += now_s() - t0;
	}
	/* host_stored(): the index, after the commit, in one pass. */
	t0 = now_s();
	{
		struct store_record **rs = xreallocarray(NULL, tc->n + 1,
		    sizeof(*rs));

		check(store_record_load_many(to, tc->k, tc->n, rs),
		    "record load");
		for (size_t i = 0; i < tc->n; i++)
			if (rs[i] == NULL)
				die("replay: could not load a record");
		index_put_many(ix, rs, tc->n);
		free(rs);
	}
	sg->index += now_s() - t0;
	*ncs += m.ncs;
	free(h);
	sync_msg_free(&m);
}

static int
cmd_replay(const char *from, const char *into, uint64_t limit)
{
	struct target f, t;
	struct store_circle *cl;
	struct sync_head *heads;
	struct stage sg;
	struct index *ix = index_open();
	struct touched tc;
	struct conf cf;
	uint8_t chains[2][CS_CIRCLELEN], dg_from[32], dg_to[32];
	const uint8_t *keys[2];
	size_t ncl, nheads;
	uint64_t ncs = 0, bytes = 0, nbatches = 0;
	double t0 = now_s();
	int wal_fd, rc;

	memset(&sg, 0, sizeof(sg));
	memset(&tc, 0, sizeof(tc));
	target_open_lock(&f, from, 1, 0);
	target_open(&t, into, 1);
	check(store_circle_list(f.st, &cl, &ncl), "circle list");
	keys[0] = keys[1] = NULL;
	/* The receiver holds the keys (as after joining). */
	check(store_begin(t.st), "begin");
	for (size_t i = 0; i < ncl; i++) {
		if (cl[i].kind == STORE_CIRCLE_PRIVATE)
			continue;
		check(store_circle_put(t.st, &cl[i]), "circle put");
		if (cl[i].epoch == ROSTER_AUDIT_EPOCH)
			continue;	/* the audit secret, no chain's key */
		if (cl[i].kind == STORE_CIRCLE_MEMBERS) {
			memcpy(chains[0], cl[i].id, CS_CIRCLELEN);
			keys[0] = cl[i].key;
		} else {
			memcpy(chains[1], cl[i].id, CS_CIRCLELEN);
			keys[1] = cl[i].key;
		}
	}
	check(store_commit(t.st), "commit");
	store_checkpoint_elsewhere(t.st);	/* as samend does */
	/* DIR2's own wal_autocheckpoint, as samend would read it. */
	{
		char *path = xasprintf("%s/samen.conf", into), *cause = NULL;

		if (conf_load(&cf, path, 0, &cause) != 0)
			die("replay: %s", cause);
		free(path);
	}
	if (keys[0] == NULL || keys[1] == NULL)
		die("replay: %s holds no shared circle", from);
	{
		char *wal = xasprintf("%s/samen.db-wal", into);

		if ((wal_fd = open(wal, O_RDWR | O_CLOEXEC)) < 0)
			die("replay: %s: %s", wal, strerror(errno));
		free(wal);
	}
	for (int c = 0; c < 2; c++) {
		check(store_vector(f.st, chains[c], &heads, &nheads), "vector");
		for (size_t a = 0; a < nheads; a++) {
			uint64_t next = 1;

			while (next <= heads[a].seq && ncs < limit) {
				struct rp_batch fb;
				struct wbuf w;
				double ts = now_s();

				wire_init(&fb.entries);
				fb.count = 0;
				fb.bytes = 0;
				fb.next = next;
				/* 1: rp_fill stopped it at a full batch. */
				rc = store_cs_range(f.st, chains[c],
				    heads[a].author, next - 1,
				    limit - ncs < SYNC_MAX_BATCH ? limit - ncs :
				    SYNC_MAX_BATCH, 0, rp_fill, &fb);
				check(rc == 1 ? 0 : rc, "range");
				if (fb.count == 0)
					die("replay: range came back empty");
				next = fb.next;
				wire_init(&w);
				sync_put_batch_start(&w, 1, chains[c],
				    fb.count);
				wire_put_raw(&w, wire_data(&fb.entries),
				    wire_len(&fb.entries));
				wire_free(&fb.entries);
				sg.encode += now_s() - ts;
				bytes += wire_len(&w);
				nbatches++;
				replay_batch(t.st, wal_fd, wire_data(&w),
				    wire_len(&w), keys[c], &sg, ix, &tc, &ncs,
				    (uint64_t)cf.wal_autocheckpoint);
				wire_free(&w);
			}
		}
		free(heads);
	}
	check(store_digest(f.st, dg_from), "digest");
	check(store_digest(t.st, dg_to), "digest");
#define PER(x) ((x) * 1e6 / (double)(ncs ? ncs : 1))
	printf("{\"cmd\": \"replay\", \"cs\": %llu, \"batches\": %llu, "
	    "\"bytes\": %llu, \"digest_equal\": %s, \"s\": %.3f, "
	    "\"us_per_cs\": {\"encode\": %.2f, \"decode\": %.2f, "
	    "\"verify\": %.2f, \"payload_check\": %.2f, "
	    "\"store_and_merge\": %.2f, \"commit\": %.2f, "
	    "\"sync_off_loop\": %.2f, \"checkpoint_off_loop\": %.2f, "
	    "\"read_ahead_on_pool\": %.2f, \"merge_pending\": %.2f, "
	    "\"index\": %.2f}}\n",
	    (unsigned long long)ncs, (unsigned long long)nbatches,
	    (unsigned long long)bytes,
	    limit != UINT64_MAX ? "null" :
	    memcmp(dg_from, dg_to, 32) == 0 ? "true" : "false",
	    now_s() - t0, PER(sg.encode), PER(sg.decode), PER(sg.verify),
	    PER(sg.payload), PER(sg.insert), PER(sg.commit), PER(sg.sync),
	    PER(sg.checkpoint), PER(sg.decrypt), PER(sg.merge), PER(sg.index));
	close(wal_fd);
#undef PER
	store_circle_list_free(cl, ncl);
	index_close(ix);
	free(tc.k);
	target_close(&f);
	target_close(&t);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: gen circle --name NAME --into DIR... [--member DIR...] "
	    "[--random N]\n"
	    "       gen roster --from DIR [--reps R]\n"
	    "       gen data --seed S --cs N [--recs K] [--authors A] "
	    "[--bytes B] --into DIR...\n"
	    "       gen update --seed S --cs N --offset O --stride D "
	    "[--authors A] --into DIR\n"
	    "       gen peer --into DIR --peer DIR2[@tcp://HOST:PORT]...\n"
	    "       gen erase --into DIR [--notes N]\n"
	    "       gen replay --from DIR --into DIR2 [--limit N]\n");
	exit(2);
}

static uint64_t
num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		die("not a number: %s", s);
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "into", required_argument, NULL, 'i' },
		{ "member", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "cs", required_argument, NULL, 'c' },
		{ "recs", required_argument, NULL, 'k' },
		{ "authors", required_argument, NULL, 'a' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "offset", required_argument, NULL, 'o' },
		{ "stride", required_argument, NULL, 'd' },
		{ "peer", required_argument, NULL, 'p' },
		{ "from", required_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'l' },
		{ "random", required_argument, NULL, 'r' },
		{ "reps", required_argument, NULL, 'R' },
		{ "notes", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 }
	};
	const char *into[MAX_DIRS], *members[MAX_DIRS], *peers[MAX_DIRS];
	const char *name = "bench", *seed = "samen", *from = NULL, *cmd;
	size_t ninto = 0, nmembers = 0, npeers = 0, bytes = 200;
	uint64_t ncs = 0, offset = 0, stride = 100, limit = UINT64_MAX;
	uint64_t nrandom = 0, reps = 100;
	uint32_t recs = 1, nauthors = 20, notes = 100;
	int ch;

	if (argc < 2)
		usage();
	/* As samend does: SQLite's memory statistics off (store.h). */
	if (store_global_init() != 0)
		die("SQLite was in use before store_global_init");
	cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			if (ninto == MAX_DIRS)
				die("too many --into");
			into[ninto++] = optarg;
			break;
		case 'm':
			if (nmembers == MAX_DIRS)
				die("too many --member");
			members[nmembers++] = optarg;
			break;
		case 'p':
			if (npeers == MAX_DIRS)
				die("too many --peer");
			peers[npeers++] = optarg;
			break;
		case 'n': name = optarg; break;
		case 's': seed = optarg; break;
		case 'c': ncs = num(optarg); break;
		case 'k': recs = (uint32_t)num(optarg); break;
		case 'a': nauthors = (uint32_t)num(optarg); break;
		case 'b': bytes = (size_t)num(optarg); break;
		case 'o': offset = num(optarg); break;
		case 'd': stride = num(optarg); break;
		case 'f': from = optarg; break;
		case 'l': limit = num(optarg); break;
		case 'r': nrandom = num(optarg); break;
		case 'R': reps = num(optarg); break;
		case 'N': notes = (uint32_t)num(optarg); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (sodium_init() < 0)
		die("sodium_init");
	if (ninto + nmembers > MAX_DIRS)
		die("too many directories");
	if (strcmp(cmd, "circle") == 0)
		return cmd_circle(name, into, ninto, members, nmembers,
		    nrandom);
	if (strcmp(cmd, "roster") == 0 && from != NULL)
		return cmd_roster(from, reps);
	if (strcmp(cmd, "data") == 0)
		return cmd_data(seed, ncs, recs, nauthors, bytes, into, ninto);
	if (strcmp(cmd, "update") == 0 && ninto == 1)
		return cmd_update(seed, ncs, offset, stride, nauthors, into[0]);
	if (strcmp(cmd, "peer") == 0 && ninto == 1)
		return cmd_peer(into[0], peers, npeers);
	if (strcmp(cmd, "erase") == 0 && ninto == 1)
		return cmd_erase(notes, into[0]);
	if (strcmp(cmd, "replay") == 0 && ninto == 1 && from != NULL)
		return cmd_replay(from, into[0], limit);
	usage();
	return 2;
}
