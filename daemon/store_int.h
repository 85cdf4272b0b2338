/* store_int: what the store's own files share: the handle's body, the statements, and each file's internal calls. */
#ifndef SAMEN_STORE_INT_H
#define SAMEN_STORE_INT_H

/*
 * Included only by daemon/store*.c and the store's unit tests; everyone
 * else has store.h.
 *
 * The store is one module in several files, each of one concern:
 *
 *   store.c          the handle: open, close, transactions, checkpoints
 *   store_sql.c      every statement the store prepares, and how
 *   store_schema.c   the tables, and bringing older schemas up to date
 *   store_box.c      sealing at rest: boxes, tags, associated data (no SQL)
 *   store_circle.c   circles and their keys
 *   store_cs.c       the change-set log: authors, chains, forks, vectors
 *   store_merge.c    merging change sets into the replica; rebuild
 *   store_replica.c  the replica's tables as merge.h's replica_ops
 *   store_vp.c       value packs: a record's first chunk in its row
 *   store_rk.c       the filter of which records exist
 *   store_fresh.c    the records this transaction created, in plaintext
 *   store_record.c   loading records, their history, counts and digests
 *   store_peer.c     the peers table
 *   store_cut.c      cuts and the quarantine past them
 *   store_erase.c    erasure: purged record tags, a departed circle, all
 *
 * Names: a function one file defines for the others is named after that
 * file, store_box_seal() in store_box.c, and declared here.  The few
 * helpers that run on every statement or every value (sql_*, vp_find,
 * vp_takes, circle_is_private) are static inline below instead: calls
 * across files would cost the merge a call each, and, being static, their
 * short names leave no symbol that another module's could meet.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "changeset.h"
#include "error.h"
#include "merge.h"
#include "ops.h"
#include "store.h"
#include "sync.h"

#define TAGLEN 16		/* keyed BLAKE2b-128: ctag, ftag */
/* A records_key entry, (circle, rid, ctag), in the index's order. */
#define RK_KEYLEN (CS_CIRCLELEN + RID_LEN + TAGLEN)
#define BOX_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define BOX_ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define BOX_OVERHEAD (BOX_NONCE + BOX_ABYTES)

/*
 * Statements, prepared once on first use (sql_q) and kept until close.
 * Their text is store_sql.c's; the schema they run on, store_schema.c's.
 */
enum store_q {
	Q_BEGIN, Q_BEGIN_READ, Q_COMMIT, Q_ROLLBACK,
	Q_SP_CS, Q_SP_CS_RELEASE, Q_SP_CS_ROLLBACK,
	Q_SP_ST, Q_SP_ST_RELEASE, Q_SP_ST_ROLLBACK,
	Q_META_GET, Q_META_PUT,
	Q_AUTHOR_GET, Q_AUTHOR_ADD, Q_FLAGGED, Q_FLAG,
	Q_CIRCLE_PUT, Q_CIRCLE_UNPRIVATE, Q_CIRCLE_GET, Q_CIRCLE_PRIVATE,
	Q_CIRCLE_HAS, Q_CIRCLE_LIST, Q_CS_READABLE,
	Q_CS_HEAD, Q_CS_HEAD_AID, Q_CS_AT, Q_CS_INSERT, Q_FORK_INSERT,
	Q_CS_NEXT_AID, Q_CS_HEAD_PK, Q_CS_RANGE,
	Q_PEER_PUT, Q_PEER_RM, Q_PEER_LIST, Q_PEER_NOTE,
	Q_CS_TODO, Q_CS_LOAD, Q_CS_MERGED, Q_CS_BAD,
	Q_REC_FIND, Q_REC_MERGE, Q_REC_ADD, Q_REC_MAX, Q_REC_SCAN,
	Q_REC_UPDATE, Q_REC_ROW,
	Q_REC_KEYS, Q_REC_CIRCLE,
	Q_VAL_ADD, Q_VAL_KILL, Q_KILL_ADD, Q_KILL_HAS,
	Q_VALS_LIVE, Q_VALS_ALL, Q_VALS_EXIST, Q_VAL_BOX,
	Q_PACK_GET, Q_COLL_ADD,
	Q_MIG_EXIST, Q_MIG_SHOWN,
	Q_N_CS, Q_N_TODO, Q_N_NOKEY, Q_N_BAD, Q_N_RECORDS, Q_N_FLAGGED,
	Q_MAX_HLC, Q_N_HELD, Q_HELD_NEXT,
	Q_RB_KILLS, Q_RB_VALS, Q_RB_RECORDS, Q_RB_COLLS, Q_RB_CS,
	Q_CUT_ANY, Q_CUT_GET, Q_CUT_PUT, Q_CUT_DEL, Q_CUT_LIST, Q_CUT_STALE,
	Q_CUT_MARK, Q_CUT_UNMARK, Q_QUAR_LIST, Q_QUAR_COUNT, Q_N_QUAR,
	Q_CHAIN_ALL, Q_CIRCLE_EPOCHS,
	Q_PURGED_LIST, Q_PURGED_ADD, Q_ER_EPOCHS, Q_ER_RECS, Q_ER_HAS_RECS,
	Q_ER_CS_SCAN, Q_ER_CS_PUT, Q_ER_FORK_SCAN, Q_ER_FORK_PUT,
	Q_ER_LIVE_VALS, Q_ER_PACK, Q_ER_DEL_VALS, Q_ER_DEL_KILLS, Q_ER_DEL_REC,
	Q_ER_DEL_CS, Q_ER_DEL_FORKS, Q_ER_DEL_CUTS, Q_ER_DEL_PURGED,
	Q_ER_DEL_CIRCLE, Q_ER_DEPARTED, Q_ER_COLLS_GC, Q_ER_DEPART_ALL,
	Q_DEPARTED_LIST,
	Q_PURGED_OP, Q_ER_EXPIRED,
	Q_AUDIT_BASES, Q_CS_AUDIT, Q_AUDIT_OLD,
	Q_JNL_ADD, Q_JNL_ALL, Q_JNL_DEL, Q_ER_DEL_JNL,
	Q_COUNT
};

/* How many collections' colls rows struct store remembers writing. */
#define COLLS_MEMO 8

/* struct store's rec.fr when the cached record is not in the fresh cache. */
#define NO_FRESH SIZE_MAX

/* Per value in records.pkeys: kind, ftag, vid, nrefs (little-endian). */
#define PACK_KEY (1 + TAGLEN + VID_LEN + 4)
/*
 * What comes before pkeys in a pack's associated data (store_vp.c's
 * vp_ad): PACK_AD_ROW bytes, and the record's ctag, rid and circle after
 * them if it is named in colls; kbuf has room for the longer.
 */
#define PACK_AD_ROW (1 + 4 * 8)
#define PACK_AD (PACK_AD_ROW + TAGLEN + RID_LEN + CS_CIRCLELEN)
/*
 * A pack holds at most a chunk's ops; a first chunk's values past 1 MiB
 * of plaintext go into vals.
 */
#define PACK_MAX OPS_MAX_OPS
#define PACK_PT_MAX (1u << 20)

/*
 * A value's plaintext in its box (vals.box): flags (1: alive, 2: has a
 * value), the field name's length (at most OPS_MAX_FIELD, so one byte),
 * the name, then the value.  The box is bound to the vid, which names the
 * op for good.  A pack's values carry the same flags (struct valpack).
 */
#define VAL_ALIVE 1
#define VAL_HASVALUE 2

/*
 * A record's pack (its row's p columns), in memory: pkeys and pdead,
 * and, once opened, the plaintext of its box: per value flags (VAL_*), the
 * field name's length (one byte), the name, the value's length (four
 * bytes, little-endian) and the value.  Owns its buffers; pt is wiped
 * whenever it is emptied (store_vp_clear, store_vp_free).
 */
struct valpack {
	int known;		/* reflects the row, or that there is none */
	int pending;		/* a new record: its first chunk fills it */
	int opened;		/* pt holds the box's plaintext */
	int64_t aid;
	uint64_t seq, hlc;
	uint8_t author[32];	/* aid's key */
	uint8_t *keys;		/* n * PACK_KEY bytes, at kbuf + PACK_AD */
	uint8_t *kbuf;		/* the box's associated data: vp_ad */
	uint8_t *dead;		/* n bytes */
	size_t n, cap;
	uint8_t *pt;
	size_t ptlen, ptcap;
};

/* Key material, in sodium_malloc()'d memory (guarded, kept out of swap). */
#define TAG_MEMO 32		/* a power of two */
#define NAME_MEMO 8		/* a power of two */
struct store_keys {
	uint8_t storage[32];	/* encrypts values, names and circle keys */
	uint8_t index[32];	/* keys the ctag/ftag hashes */
	uint8_t circle[CS_KEYLEN];	/* merge's cached circle key */
	/*
	 * The tags of the names seen last, by a cheap hash of (domain,
	 * name): a batch names the same few collections and fields in
	 * every change set, and a keyed BLAKE2b per op was a tenth of the
	 * merge.  Here, not in the store, because the names are plaintext.
	 */
	struct tag_memo {
		uint8_t used, domain, len;
		char name[OPS_MAX_FIELD];
		uint8_t tag[TAGLEN];
	} memo[TAG_MEMO];
	/*
	 * The collections' names colls gave last, by ctag: every record of
	 * a collection names it there, and each load opened the same box.
	 * A ctag is the keyed hash of its name: forgotten on a key change.
	 */
	struct name_memo {
		uint8_t used, len;
		uint8_t ctag[TAGLEN];
		char name[OPS_MAX_COLLECTION];
	} names[NAME_MEMO];
	/*
	 * A box is XChaCha20-Poly1305: HChaCha20 of the key and the nonce's
	 * first 16 bytes gives a subkey, under which ChaCha20-Poly1305 (IETF)
	 * seals with the nonce's last 8 (libsodium's own construction, the
	 * same bytes).  Every box one key setting seals shares those 16
	 * (nonce_base): seal_key is their subkey, derived once, not a
	 * HChaCha20 per box (a fifth of sealing a new record's two
	 * boxes).  Boxes read back come mostly from one run of a writer:
	 * open_key is the subkey of the prefix read last.
	 */
	uint8_t seal_key[crypto_core_hchacha20_OUTPUTBYTES];
	uint8_t open_prefix[crypto_core_hchacha20_INPUTBYTES];
	uint8_t open_key[crypto_core_hchacha20_OUTPUTBYTES];
	int open_valid;
};

/*
 * An own change set committed lazily and not synced yet: peers must see
 * neither it nor what follows it in its chain (store_durable).
 */
struct held_own {
	uint8_t chain[CS_CIRCLELEN];
	uint8_t author[32];
	uint64_t seq;		/* the first seq not synced */
	uint64_t ticket;	/* its commit's; 0: the open transaction's */
};

/*
 * The replica digests.  all: every live value (meta 'digest'); shared:
 * those outside the private circle (meta 'digest_shared'), the part two
 * devices can have in common.
 */
struct digests {
	struct merge_digest all;
	struct merge_digest shared;
};

/*
 * The cached record's shown existence value, as records.shown and
 * deleted have it or will (store_schema.c says why the row keeps it).
 */
struct shown {
	int has;		/* a live EXIST value exists */
	uint8_t vid[VID_LEN];
	uint64_t hlc;
	uint8_t author[32];
	int alive;
};

/* The filter of which records exist (store_rk.c). */
struct rk_filter {
	struct rk_layer {
		uint64_t *bits;		/* nbits / 64 words */
		uint64_t nbits, n, cap;	/* keys added; room */
	} *l;
	size_t nl;
	/* SipHash's key, per store: nobody can aim at a bit. */
	uint8_t seed[crypto_shorthash_siphashx24_KEYBYTES];
	int failed;		/* records_key unreadable: never used */
	int complete;		/* every row of records added */
	uint32_t asked;		/* store_rk_absent calls while incomplete */
	uint8_t upto[RK_KEYLEN];	/* else: rows up to this one */
	int has_upto;
};

/*
 * The records this transaction created (store_fresh.c): three arrays that
 * only grow within a transaction, their layout private to that file.
 */
struct fresh {
	struct fresh_rec *r;
	size_t n, capr;
	struct fresh_val *v;
	size_t nv, capv;
	char *buf;	/* wiped when emptied */
	size_t len, cap;
	int off;
};

/*
 * The handle.  Each part is commented with the file that keeps it; the
 * caches of several are dropped together by store_drop_caches (store.c)
 * whenever a rollback may have taken what they remember.
 */
struct store {
	/* store.c and store_sql.c: the connection, its statements. */
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	/* store.c: transactions. */
	int in_txn;
	int lazy;		/* the open transaction's commit skips fsync */
	int broken;		/* a sync or the digest failed: no more writes */
	uint64_t lazy_commits;	/* the last lazy commit's ticket */
	struct held_own *held;
	size_t nheld, capheld;
	/*
	 * store_merge.c: change sets from the future are held (store_set_hold):
	 * the wall clock to read, the skew allowed, and the horizon pinned by
	 * store_begin for the transaction.
	 */
	uint64_t (*hold_clock)(void);
	uint64_t hold_skew_ms;
	uint64_t horizon;
	/* WAL frames after the last commit (store_checkpoint_elsewhere). */
	uint64_t wal_frames;
	uint64_t wal_commits;	/* since open */
	struct metric *commit_seconds;	/* store_time_commits, or NULL */

	/* store_box.c: keys, and the scratch buffer for plaintext. */
	int has_key;
	struct store_keys *keys;
	/*
	 * Nonces: 16 random bytes per key setting, then a counter.  Unique
	 * like fully random ones, without a getrandom() call per value.
	 */
	uint8_t nonce_base[BOX_NONCE - 8];
	uint64_t nonce_ctr;
	/* The ftag of every EXIST value (its field is ""). */
	uint8_t exist_ftag[TAGLEN];
	/* Scratch for plaintext; wiped on close. */
	uint8_t *buf;
	size_t bufcap;

	/* store.c loads and saves it; store_replica.c keeps it up to date. */
	struct digests digest;
	/*
	 * store_cs_insert_merged changed the digest in this transaction:
	 * store_merge_pending or store_commit writes it.
	 */
	int digest_unsaved;

	/* store_circle.c: the private circle, the merge's circle key. */
	uint8_t private_id[CS_CIRCLELEN];
	int has_private;
	struct {
		int valid;
		uint8_t id[CS_CIRCLELEN];
		uint32_t epoch;
	} ckey;

	/* store_cs.c: the author and the chain head looked up last. */
	struct {
		int valid;
		int64_t aid;
		uint8_t pk[32];
	} author;
	/*
	 * The last change set the log stored: the head of (circle, aid),
	 * whose author was not flagged then, and the cut of (circle, aid)
	 * (UINT64_MAX: none).  A batch holds one author's
	 * consecutive seqs, so the next insert needs neither the head query
	 * nor the flag check.  Rows of cs are only ever added by store_cs.c's
	 * cs_insert and authors only flagged by its keep_fork, which drops
	 * it, as does every rollback.
	 */
	struct {
		int valid;
		uint8_t circle[CS_CIRCLELEN];
		int64_t aid;
		uint64_t seq;
		uint8_t id[CS_IDLEN];
		uint64_t cut;
	} head;
	/*
	 * store_cut.c: whether the cuts table holds a row (-1: not known).
	 * While it holds none, which is almost always, an insert looks no
	 * cut up.
	 */
	int cuts_any;

	/*
	 * store_replica.c: the record the merge works on, cached while one
	 * chunk is merged, and dropped on every rollback.
	 */
	struct {
		int valid;
		int64_t rkey;
		uint8_t circle[CS_CIRCLELEN];
		uint8_t rid[RID_LEN];
		char coll[OPS_MAX_COLLECTION];
		size_t coll_len;
		int fresh;		/* created in this merge: no kills yet */
		/*
		 * Fresh and its row not written yet: store_replica_flush
		 * inserts it whole (rkey given, ctag kept), instead of an
		 * insert at resolve and an update at flush.
		 */
		int row_pending;
		uint8_t ctag[TAGLEN];
		int has_range;
		uint64_t created, updated;
		/* records.shown and deleted, as the row has them or will. */
		struct shown shown;
		int shown_lost;		/* shown was killed: scan at flush */
		int dirty;		/* the row needs writing at flush */
		size_t fr;		/* its entry in fresh, or NO_FRESH */
		/*
		 * Its pack: every rec_resolve that succeeds reads it (or
		 * starts an empty one), so while valid, vp.known holds.
		 */
		struct valpack vp;
	} rec;
	/*
	 * For the tests that make databases of older schemas, and compare
	 * packed records with unpacked ones (store_set_packing and
	 * store_set_naming): set once after open, never around a call.
	 */
	int no_packs;		/* every value in vals, as schema 3 */
	int no_colls;		/* names in coll, as schema 4 */
	/*
	 * The ctags whose colls row this connection has seen written: the
	 * last COLLS_MEMO.  store_drop_caches forgets them all, since a
	 * rollback may have taken the row with it.
	 */
	struct {
		uint8_t tag[COLLS_MEMO][TAGLEN];
		size_t n, next;
	} colls;
	/*
	 * The rkey the next new record gets (max + 1 when read): rows are
	 * written at flush, and their values, which name the rkey, before.
	 */
	struct {
		int valid;
		int64_t next;
	} rkey;
	/*
	 * Records the change sets merged by one store_merge_pending touched,
	 * reported once each at its end (want_touched: it has a callback).
	 */
	int64_t *touched;
	size_t ntouched, captouched;
	int want_touched;

	/*
	 * store_erase.c: the purged record tags, (circle, rtag) in order,
	 * read when first needed and again after any rollback (valid 0):
	 * what arrives for a circle is checked against them.  dropped
	 * counts the chunks that arrived with one and were stored purged,
	 * since open (dropped_txn: in the open transaction, counted at its
	 * commit).  erased: an erase is in the open transaction; owed: one
	 * was committed and the WAL not truncated since (store_wal_truncate).
	 */
	struct {
		int valid;
		uint8_t (*keys)[CS_CIRCLELEN + CS_RTAGLEN];
		size_t n, cap;
		uint64_t dropped, dropped_txn;
		int erased, owed;
		/* Tests only: called at each named step of an erase. */
		void (*hook)(void *arg, const char *where);
		void *hook_arg;
	} purged;

	/*
	 * store_circle.c: the audit chains of the shared circles held
	 * (sync_audit_circle of every members row's base), sorted, read
	 * when first needed and again after any change of the circles or
	 * any rollback (valid 0).  store_erase.c: expired, the hlc below
	 * which every audit change set held has been erased (meta
	 * "audit_expired", read once: 0 before any; has_expired).
	 */
	struct {
		int valid;
		uint8_t (*ids)[CS_CIRCLELEN];
		size_t n, cap;
		int has_expired;
		uint64_t expired;
	} audit;

	/* store_record.c: the pack store_record_load reads, emptied after. */
	struct valpack rdvp;
	/*
	 * store_rk.c: which records exist, a Bloom filter over records_key,
	 * so that a new record (most of a sync or a bulk import) is known to
	 * be new without a descent of that index.
	 */
	struct rk_filter rk;
	/*
	 * store_fresh.c: the records this transaction created, with their
	 * live values as the merge wrote them, in plaintext:
	 * store_record_load_many builds them from here instead of reading
	 * and decrypting them back.  Cleared by store_begin and by
	 * store_record_load_many; off (and empty) after any rollback, any
	 * merge outside a transaction, or too many values, until the next
	 * store_begin.  An entry is stale (served from SQL) once the record
	 * is merged into again or one of its values is killed.  Sorted by
	 * rkey: rowids only grow.
	 */
	struct fresh fresh;
};

/*
 * store_sql.c: statements.  sql_q gives the prepared statement (NULL if
 * it cannot be prepared, which every helper below passes on as
 * SAMEN_ESTORE).
 */
sqlite3_stmt *store_sql_prepare(struct store *st, enum store_q which);
/* Runs SQL text; on error, *cause (if cause is not NULL) says why. */
int store_sql_exec(sqlite3 *db, const char *s, char **cause);
/* The integer a PRAGMA (or any one-row query) s returns, into *v. */
int store_sql_pragma_int(sqlite3 *db, const char *s, int *v);

static inline sqlite3_stmt *
sql_q(struct store *st, enum store_q which)
{
	sqlite3_stmt *s = st->q[which];

	return s != NULL ? s : store_sql_prepare(st, which);
}

static inline void
sql_bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n)
{
	/* SQLITE_STATIC: every statement is reset before the data goes. */
	sqlite3_bind_blob(s, i, n ? p : "", (int)n, SQLITE_STATIC);
}

static inline void
sql_bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	/* SQLite integers are signed; a u64 round-trips through the cast. */
	sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

static inline uint64_t
sql_col_u64(sqlite3_stmt *s, int i)
{
	return (uint64_t)sqlite3_column_int64(s, i);
}

/* Copies a fixed-size blob column: 1 if done, 0 if its size is wrong. */
static inline int
sql_col_fixed(sqlite3_stmt *s, int i, void *out, size_t n)
{
	const void *p = sqlite3_column_blob(s, i);

	if (p == NULL || (size_t)sqlite3_column_bytes(s, i) != n)
		return 0;
	memcpy(out, p, n);
	return 1;
}

/* Runs a statement that returns no row. */
static inline int
sql_run(sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return SAMEN_ESTORE;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : SAMEN_ESTORE;
}

/* Steps to the first row: 1 if there is one, 0 if none, or an error. */
static inline int
sql_row(sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return SAMEN_ESTORE;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : SAMEN_ESTORE;
}

static inline int
sql_run_q(struct store *st, enum store_q which)
{
	return sql_run(sql_q(st, which));
}

/* A single count(*)-like integer. */
static inline int
sql_scalar(struct store *st, enum store_q which, uint64_t *v)
{
	sqlite3_stmt *s = sql_q(st, which);
	int rc;

	*v = 0;
	if ((rc = sql_row(s)) < 0)
		return rc;
	if (rc == 1) {
		*v = sql_col_u64(s, 0);
		sqlite3_reset(s);
	}
	return 0;
}

/*
 * store_schema.c: creates the tables in a new database, or brings one of
 * an older schema up to date; refuses a newer one (SAMEN_EVERSION).  path
 * is for *cause (free with free()).
 */
int store_schema_ensure(struct store *st, const char *path, char **cause);

/* store_merge.c: the hold's horizon by the clock now (store_set_hold). */
uint64_t store_horizon_now(struct store *st);

/* store.c: the handle's own state. */
/* Forgets what the caches remember, after a rollback may have taken it. */
void store_drop_caches(struct store *st);
void store_digests_init(struct digests *d);
int store_digest_load(struct store *st);
int store_digest_save(struct store *st);
/*
 * Savepoint "st": makes a multi-statement write atomic, in or out of a
 * transaction.  store_sp_end keeps what it wrote if keep, else rolls it
 * back (and drops the caches); SAMEN_ESTORE if the release fails.
 */
int store_sp_begin(struct store *st);
int store_sp_end(struct store *st, int keep);
/*
 * The first hold on (chain, author), if its change sets are not all
 * synced (store_begin_lazy), else NULL.
 */
const struct held_own *store_held_find(const struct store *st,
    const uint8_t chain[CS_CIRCLELEN], const uint8_t author[32]);
/* Holds own change set h back from peers until its commit is synced. */
void store_held_add(struct store *st, const struct cs_header *h);

/*
 * store_box.c: sealing at rest.  A box is nonce || ciphertext, n +
 * BOX_OVERHEAD bytes for n of plaintext; its associated data says where
 * it belongs, so that no box can be moved to another place.
 */
/* A scratch buffer of at least n bytes (st->buf, wiped when it grows). */
uint8_t *store_box_scratch(struct store *st, size_t n);
/* out gets nonce || ciphertext: n + BOX_OVERHEAD bytes. */
void store_box_seal(struct store *st, uint8_t *out, const uint8_t *pt,
    size_t n, const uint8_t *ad, size_t adlen);
/* pt gets n - BOX_OVERHEAD bytes; SAMEN_EDECRYPT if forged or damaged. */
int store_box_open(struct store *st, uint8_t *pt, const uint8_t *box,
    size_t n, const uint8_t *ad, size_t adlen);
/*
 * The keyed tag SQLite indexes instead of a name: domain 0 for a
 * collection, the op kind for a field.
 */
void store_box_tag(const struct store *st, uint8_t out[TAGLEN],
    uint8_t domain, const char *name, size_t n);
/* Associated data of a record's collection name in its row. */
void store_box_coll_ad(uint8_t ad[1 + RID_LEN + CS_CIRCLELEN],
    const uint8_t rid[RID_LEN], const uint8_t circle[CS_CIRCLELEN]);
/* Associated data of a collection's name in colls: its tag. */
void store_box_colls_ad(uint8_t ad[1 + TAGLEN], const uint8_t ctag[TAGLEN]);
/* Associated data of a circle's name ('n') or key ('k'). */
void store_box_circle_ad(uint8_t ad[1 + CS_CIRCLELEN + 4], uint8_t what,
    const uint8_t circle[CS_CIRCLELEN], uint32_t epoch);

/* A value's box (vals.box) opened: its parts point into st->buf. */
struct plainval {
	int alive;
	const char *field;	/* point into the scratch buffer */
	size_t field_len;
	const char *value;	/* NULL for EXIST */
	size_t value_len;
};
/*
 * Opens the box of value vid into st->buf; the caller wipes the 2 +
 * field_len + value_len bytes it used.
 */
int store_box_val_open(struct store *st, struct plainval *pv,
    const uint8_t vid[VID_LEN], const uint8_t *box, size_t n);

/* store_circle.c: circles and their keys. */
/*
 * Decrypts the key of (id, epoch) into key; the name too if name != NULL
 * (a new string), kind and base if kind != NULL.
 */
int store_circle_load(struct store *st, const uint8_t id[CS_CIRCLELEN],
    uint32_t epoch, uint8_t key[CS_KEYLEN], char **name, int *kind,
    uint8_t base[CS_CIRCLELEN]);
/* The key of (circle, epoch) into st->keys->circle, cached (st->ckey). */
int store_circle_key(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    uint32_t epoch);
/*
 * What cs.readable says of a change set: its key is not stored (0), it
 * is (1), or it is of an audit chain (STORE_AUDIT), whose chunks are
 * sealed read-audit events, never merged (docs/design.md, "Read audit").
 */
#define STORE_AUDIT 2
/*
 * 1 if (circle, epoch)'s key is stored, STORE_AUDIT if circle is the
 * audit chain of a circle held, 0 if neither, or an error.
 */
int store_circle_known(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    uint32_t epoch);
/* st->audit.ids from the members rows, unless read already: 0 or an error. */
int store_circle_audit_load(struct store *st);
/* 1 if chain is the audit chain of a circle held, 0 if not, or an error. */
int store_circle_audit(struct store *st, const uint8_t chain[CS_CIRCLELEN]);
/*
 * How many audit change sets cs holds, into *n: the sum of each audit
 * chain's heads (a chain holds seq 1 to its head, no gap), two index
 * seeks per author, without a scan.  0 or SAMEN_ESTORE.
 */
int store_circle_audit_ncs(struct store *st, uint64_t *n);
/* Frees the list of audit chains (store_close). */
void store_circle_audit_free(struct store *st);
/* Which circle is private: its values stay out of the shared digest. */
int store_circle_private_load(struct store *st);

static inline int
circle_is_private(const struct store *st, const uint8_t circle[CS_CIRCLELEN])
{
	return st->has_private &&
	    memcmp(st->private_id, circle, CS_CIRCLELEN) == 0;
}

/* store_cs.c: the change-set log. */
/* The author's integer id; adds the author if add, else ENOTFOUND. */
int store_cs_author_id(struct store *st, const uint8_t pk[32], int add,
    int64_t *aid);

/* store_cut.c: cuts. */
/* The cut of (circle, aid) into *cut; UINT64_MAX if it has none. */
int store_cut_get(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    int64_t aid, uint64_t *cut);

/*
 * One change set going in (store_cs.c's cs_insert) and, if merge, into the
 * replica (store_merge_bytes): its bytes as received, and where the merge
 * takes its chunks' plaintext from.  These are arguments of one call, not
 * settings of the handle.
 */
struct store_cs_in {
	const struct cs_header *h;
	const uint8_t *id;			/* CS_IDLEN bytes */
	const uint8_t *hdr, *payload;
	size_t hdr_len, payload_len;
	int merge;		/* merge it now if the store can */
	/*
	 * No savepoints: anything but a clean insert is SAMEN_ERETRY, and
	 * the caller rolls the whole transaction back.
	 */
	int optimistic;
	/*
	 * Decrypted from the payload, unless the caller has the plaintexts
	 * it was built from (own) or its chunks read ahead (opened).
	 */
	const struct cs_plain *own;
	size_t nown;
	const struct cs_opened *opened;
	/*
	 * Chunk i arrived with a purged tag (store_erase_arrival): the
	 * payload above has it purged, and the merge skips it in own and
	 * opened too.  NULL: none.
	 */
	const uint8_t *dropped;
};

/* store_merge.c: merging change sets into the replica. */
/*
 * Merges in's change set inside the caller's savepoint "cs" (none if
 * optimistic): 0, and *bad = 1 if the change set is bad (a chunk that
 * does not decrypt or decode: its author's fault), or a store error.
 * Unless it merged, everything it did is taken back: rolled back to "cs",
 * the digests restored to saved, the touched records to ntouched.
 */
int store_merge_bytes(struct store *st, const struct store_cs_in *in,
    const struct digests *saved, size_t ntouched, int *bad);

/* store_erase.c: erasure. */
/*
 * A change set arriving (in): if it is an audit change set dated before
 * what the read audit's retention erased, every chunk of it; else if a
 * chunk of its payload carries a tag purged in its circle, *x is in with the payload rewritten into w (the
 * caller's, initialised) with those chunks purged and x->dropped marking
 * them (*mask: free() it), and it returns how many; 0: none (x, w and
 * *mask untouched), or a negative code.
 */
int store_erase_arrival(struct store *st, const struct store_cs_in *in,
    struct store_cs_in *x, struct wbuf *w, uint8_t **mask);
/* n chunks of a change set that was kept were stored purged. */
void store_erase_count(struct store *st, uint64_t n);
/* Frees the purged tags read (at close). */
void store_erase_free(struct store *st);

/* store_replica.c: the replica's tables, as merge.h's replica_ops. */
extern const struct replica_ops store_replica_ops;
/* Writes what the merge changed of the cached record's row. */
int store_replica_flush(struct store *st);

/* store_vp.c: value packs. */
/* Empties p, wiping its plaintext; keeps its buffers unless large. */
void store_vp_clear(struct valpack *p);
void store_vp_free(struct valpack *p);
/*
 * p (emptied first) from the pack's clear columns of row s, (paid, pseq,
 * phlc, pkeys, pdead) from column i on, then its author's key (joined):
 * known, and empty if they are NULL.
 */
int store_vp_cols(struct valpack *p, sqlite3_stmt *s, int i);
/* Reads rkey's pack into p and opens its box; none is not an error. */
int store_vp_read(struct store *st, int64_t rkey, struct valpack *p);
/* The cached record's pack, opened (read back from the row if sealed). */
int store_vp_open(struct store *st);
/* One value of an opened pack's plaintext, the one at *off (moved on). */
struct packval {
	int flags;
	const char *field;
	size_t field_len;
	const char *value;
	size_t value_len;
};
int store_vp_next(const struct valpack *p, size_t *off, struct packval *v);
/* Adds v (author aid, tag ftag) to the cached new record's pack. */
void store_vp_append(struct store *st, const struct merge_value *v,
    int64_t aid, const uint8_t ftag[TAGLEN], int live);
/* Binds the cached new record's pack to Q_REC_ADD's p columns. */
void store_vp_bind(struct store *st, sqlite3_stmt *s, uint8_t *box);

/* The index of (kind, ftag, vid) in p, or -1. */
static inline ptrdiff_t
vp_find(const struct valpack *p, int kind, const uint8_t ftag[TAGLEN],
    const uint8_t vid[VID_LEN])
{
	const uint8_t *k;
	size_t i;

	for (i = 0, k = p->keys; i < p->n; i++, k += PACK_KEY)
		if (memcmp(k + 1 + TAGLEN, vid, VID_LEN) == 0 &&
		    k[0] == (uint8_t)kind && memcmp(k + 1, ftag, TAGLEN) == 0)
			return (ptrdiff_t)i;
	return -1;
}

/* 1 if the pending pack of the cached record can take v (author aid). */
static inline int
vp_takes(const struct store *st, const struct merge_value *v, int64_t aid)
{
	const struct valpack *p = &st->rec.vp;

	if (!p->pending || p->n >= PACK_MAX || p->ptlen + 6 + v->field_len +
	    v->value_len > PACK_PT_MAX)
		return 0;
	return p->n == 0 ||
	    (p->aid == aid && p->seq == v->seq && p->hlc == v->hlc);
}

/* store_rk.c: the filter of which records exist. */
void store_rk_free(struct store *st);
/* A key of records_key: (circle, rid, ctag). */
void store_rk_key(uint8_t key[RK_KEYLEN], const uint8_t circle[CS_CIRCLELEN],
    const uint8_t rid[RID_LEN], const uint8_t ctag[TAGLEN]);
/* Adds a row just written. */
void store_rk_add(struct store *st, const uint8_t *key);
/* 1 if no row of records has key, 0 if there may be. */
int store_rk_absent(struct store *st, const uint8_t *key);

/* store_record.c: an item of a record, one decrypted value. */
struct item {
	enum op_type kind;
	uint8_t vid[VID_LEN];
	uint64_t hlc;
	uint8_t author[32];
	uint64_t seq;
	uint32_t nrefs;
	int alive;
	char *field;
	size_t field_len;
	char *value;		/* NULL for EXIST */
	size_t value_len;
};
/*
 * Fills r (its row already in) from its live values it[0..n), which it
 * consumes, and returns it packed; r is freed.  borrowed: the strings of
 * r and it are not theirs (store_fresh.c's): only the arrays are freed.
 */
struct store_record *store_record_build(struct store_record *r,
    struct item *it, size_t n, int borrowed);
/* The name of rkey's collection, from its row (a new string: free()). */
int store_record_collection(struct store *st, int64_t rkey, char **out);

/* store_fresh.c: the records this transaction created. */
/* Empties the cache; off: and keeps it off until the next store_begin. */
void store_fresh_clear(struct store *st, int off);
/* Frees what store_fresh_clear keeps for the next transaction. */
void store_fresh_free(struct store *st);
/*
 * The merge resolved the cached record st->rec (created: as a new record,
 * given the next rkey): where its values go.
 */
void store_fresh_resolved(struct store *st, const struct merge_rec *rec,
    int created);
/* Value v was just added to the cached record (live: as a live row). */
void store_fresh_added(struct store *st, const struct merge_value *v,
    int live);
/* A value of the cached record was killed: it is served from SQL. */
void store_fresh_stale(struct store *st);
/*
 * out[i] for each of rkeys[0..n) this transaction created, built from the
 * cache (NULL where it holds none); then empties the cache, whose records
 * are handed out once.
 */
void store_fresh_take(struct store *st, const int64_t *rkeys, size_t n,
    struct store_record **out);

#endif
