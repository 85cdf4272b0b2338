/* store: the SQLite database: change sets as received, and the replica derived from them. */
#ifndef SAMEN_STORE_H
#define SAMEN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "changeset.h"
#include "merge.h"
#include "sync.h"

/*
 * One database per device (DIR/samen.db), WAL mode, synchronous=FULL
 * (NORMAL in lazy transactions, store_begin_lazy), secure_delete=ON,
 * foreign keys checked by the tests.  Change sets are stored as received
 * (header bytes + payload bytes); the replica tables are a cache of them and
 * can be rebuilt.  Replica values, field names and collection names are
 * encrypted with the storage key (XChaCha20-Poly1305); what SQLite indexes
 * is either time-ordered (rids, (circle, author, seq)) or a keyed hash
 * (BLAKE2b keyed with a key derived from the storage key), never text a
 * person typed.
 *
 * Without the storage key (daemon locked) the store still takes in change
 * sets; store_merge_pending() does the merging once the key is set.
 *
 * All calls run on the loop thread; the handle is not thread-safe.  It
 * must be the database's only writer (samend's lock file sees to that): it
 * keeps what it wrote in memory (the next rkey, the filter of which records
 * exist), which another writer's rows would make wrong.
 *
 * The implementation is one file per concern, daemon/store*.c, which
 * share daemon/store_int.h (it lists them); callers need only this header.
 */
struct store;

/*
 * Once per process, before anything else uses SQLite (sqlite3_config's
 * rule): turns SQLite's memory statistics off.  Nothing here reads them,
 * and they cost a lock of one process-wide mutex around every allocation
 * and free of every connection, the loop's and the pool's alike: about a
 * tenth of the loop's time per write.  0, or SAMEN_ESTORE if SQLite was
 * in use already (then nothing changed, and nothing is wrong but the
 * speed).
 */
int store_global_init(void);

/* Opens or creates path.  On error returns a negative code and *cause
 * (free with free()). */
int store_open(struct store **st, const char *path, char **cause);
/* Wipes the keys it holds and closes. */
void store_close(struct store *st);
/*
 * Checkpoints off the writer: after this, SQLite no longer checkpoints in
 * the commit that takes the WAL past its threshold (a stall of tens of
 * milliseconds on the loop); store_wal_frames says how many frames the
 * WAL held after the last commit, and the caller runs store_ckpt_run
 * when it sees fit.
 */
void store_checkpoint_elsewhere(struct store *st);
/*
 * Times each COMMIT statement (the statement alone: what the disk and
 * SQLite's own work on it cost, without the digest written before it)
 * into hist, a histogram in seconds (metrics.h), on the caller's thread;
 * NULL: nothing is timed.  Borrowed: hist must outlive the store, or be
 * unset first.
 */
struct metric;
void store_time_commits(struct store *st, struct metric *hist);
uint64_t store_wal_frames(const struct store *st);
/* Commits to the WAL since open: tells a WAL that changed, or started
 * over, from one that did not. */
uint64_t store_wal_commits(const struct store *st);
/*
 * Frees the pages of SQLite's cache that no statement holds (they are read
 * again from the file when needed): for after a large sync, so that an
 * idle daemon does not keep them.  Returns how many bytes of cache it
 * freed.
 */
size_t store_release_memory(struct store *st);
/* The bytes a WAL of frames frames takes (SQLite's header and frame sizes). */
uint64_t store_wal_bytes(struct store *st, uint64_t frames);
/*
 * PASSIVE checkpoints of the database at path from a connection of their
 * own, kept open between runs: safe on any thread while the store writes,
 * on one thread at a time.  store_ckpt_new only copies path (nothing is
 * opened until the first run, on the thread that runs it); the caller
 * frees the result with store_ckpt_free, once no run is going on.
 * store_ckpt_run returns 0, -EIO or SAMEN_ESTORE, and in *log and *copied
 * the frames the WAL held when it ran and how many of them are copied
 * into the database, by this run or earlier ones (0 and 0 on error).  It
 * also syncs the database file, which SQLite does only when it copied all
 * of the WAL.  -EIO: a sync failed.  What it was to write may be lost,
 * and a later sync of the file may succeed all the same (Linux reports a
 * writeback error once per open file), after which the WAL would start
 * over without it: the caller must stop writing and checkpointing, and
 * leave the WAL as it is (samend stops at once).
 */
struct store_ckpt;
struct store_ckpt *store_ckpt_new(const char *path);
int store_ckpt_run(struct store_ckpt *c, uint64_t *log, uint64_t *copied);
void store_ckpt_free(struct store_ckpt *c);
/*
 * The same on the store's own connection, on its thread: with no write
 * running beside it (and no reader's snapshot behind it), it copies the
 * whole WAL, and the next commit starts the WAL over.  0, -EIO (a sync
 * failed: as for store_ckpt_run) or SAMEN_ESTORE; *copied: the WAL's
 * frames copied into the database, by this checkpoint or earlier ones (0
 * on error).
 */
int store_checkpoint_here(struct store *st, uint64_t *copied);

/*
 * Gives the store the storage key (it keeps a copy, wiped on close) and
 * derives its index key.  Call once after unlock.
 */
void store_set_key(struct store *st, const uint8_t key[32]);
/*
 * Lock: wipes the storage key, what derives from it, and every plaintext
 * the store keeps between calls (its scratch buffer, value packs, the
 * records a transaction created, memoised names); the store then reads
 * and merges as a locked one does (SAMEN_ELOCKED) until store_set_key.
 * Out of a transaction.
 */
void store_forget_key(struct store *st);

/*
 * Test-only switches, set once after store_open (samend never calls
 * them): the tests compare packed records with unpacked ones and make
 * databases of older schemas with them.
 *
 * store_set_packing: on (the default), the values of a record's first
 * chunk go into the record's row, its pack.  Off: every value goes into
 * vals, as schema 3 wrote them.
 */
void store_set_packing(struct store *st, int on);
/*
 * store_set_naming: on (the default), a packed record's collection is
 * named in colls.  Off: in its row, as schema 4 wrote every record.
 */
void store_set_naming(struct store *st, int on);

int store_has_key(const struct store *st);

/*
 * Transactions: one per batch of writes.  Nested begin is a bug (assert).
 * store_rollback reads the replica digest back; if it cannot, the store
 * takes no more writes (store_begin: SAMEN_ESTORE), as after a failed sync.
 */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/*
 * A transaction whose commit does not wait for the disk (docs/design.md,
 * "Durable off the loop"): SQLite runs it at synchronous=NORMAL, so its
 * COMMIT writes the WAL and returns.  store_commit_lazy gives its ticket
 * (1, 2, ... in commit order); the caller tells nobody of it before the
 * WAL is synced past it (durable.h), then calls store_durable(ticket).
 * Until then the own change sets it stored (store_cs_insert_own) are
 * hidden from peers with the rest of their chain: store_vector,
 * store_cs_range and store_cs_id_at stop before them, so no peer can hold
 * a change set that a power cut would take back, which would make this
 * device fork its own chain.  A store_commit (always synced) syncs every
 * lazy commit before it too, and lifts every hold.  store_rollback ends a
 * lazy transaction like any other; so must the caller after a failed
 * store_commit_lazy.
 */
int store_begin_lazy(struct store *st);
int store_commit_lazy(struct store *st, uint64_t *ticket);
void store_durable(struct store *st, uint64_t ticket);
/* A sync failed (durable.h): from now on every transaction is refused. */
void store_fail(struct store *st);
/* PRAGMA synchronous now (2: FULL, 1: NORMAL), or -1: for the tests. */
int store_safety_level(struct store *st);
/*
 * 1 once the filter of which records exist has read all of records_key
 * and answers "new" for any record (store_rk.c): for the tests.
 */
int store_records_filter_complete(const struct store *st);

/*
 * Circles and their keys (key and name stored encrypted under the storage
 * key).  A circle is the device's private one, a shared one, or the members
 * chain of a shared one (sync.h: its id and key derive from the shared
 * circle's id, which base holds).
 */
enum store_circle_kind {
	STORE_CIRCLE_SHARED = 0,
	STORE_CIRCLE_PRIVATE = 1,
	STORE_CIRCLE_MEMBERS = 2,
};

struct store_circle {
	uint8_t id[CS_CIRCLELEN];
	uint32_t epoch;
	char *name;
	uint8_t key[CS_KEYLEN];
	int kind;			/* enum store_circle_kind */
	uint8_t base[CS_CIRCLELEN];	/* MEMBERS: the circle it lists */
};
/*
 * Inserts or replaces (id, epoch); kind and base are taken from c, except
 * that a put never takes the private mark off a circle (only
 * store_circle_put_private of another one moves it).
 */
int store_circle_put(struct store *st, const struct store_circle *c);
/* ENOTFOUND if absent; fills *c (name allocated: store_circle_clear). */
int store_circle_get(struct store *st, const uint8_t id[CS_CIRCLELEN],
    uint32_t epoch, struct store_circle *c);
/* The device's private circle: store_circle_put with kind PRIVATE. */
int store_circle_put_private(struct store *st, const struct store_circle *c);
int store_circle_private(struct store *st, struct store_circle *c);
/* Wipes the key and frees the name. */
void store_circle_clear(struct store_circle *c);
/*
 * Every (circle, epoch) held, ordered by (kind, name, id, epoch); epoch 0
 * is a shared circle's audit secret (ROSTER_AUDIT_EPOCH), never the key
 * of a change set.  *out is a new array of *n: free with
 * store_circle_list_free(), which wipes keys.  SAMEN_ELOCKED without the
 * storage key.
 */
int store_circle_list(struct store *st, struct store_circle **out,
    size_t *n);
void store_circle_list_free(struct store_circle *c, size_t n);

/*
 * Sync support.  A chain is a circle id as it appears in change-set
 * headers (a shared circle's, or its members chain's).
 *
 * store_vector: per author of the chain, the highest stored seq and that
 * change set's id, sorted by author bytes (the VECTOR of sync.h).  Forks
 * kept as evidence do not count, nor own change sets not synced yet
 * (store_begin_lazy; nor are they found by the two calls below).  *out is
 * new (free()); may be empty.
 */
int store_vector(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    struct sync_head **out, size_t *n);
/* The id of (chain, author, seq): 0, or SAMEN_ENOTFOUND. */
int store_cs_id_at(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, uint8_t id[CS_IDLEN]);
/*
 * Calls cb for the change sets of (chain, author) with seq > after, in
 * ascending seq, at most limit of them; cb borrows the bytes for the call.
 * With clean, it stops before the first one quarantined (past the
 * author's cut): what a peer that is no admin or relay may be sent.  A
 * non-zero return from cb stops the walk and is returned.
 */
int store_cs_range(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t after, uint64_t limit, int clean,
    int (*cb)(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len), void *arg);
/* 1 if author is flagged for a fork, 0 if not, or a negative code. */
int store_author_flagged(struct store *st, const uint8_t author[32]);

/*
 * Peers: devices this one syncs with.  The address is where to connect
 * (NULL: the peer connects to us).  Counters add up over every session.
 */
struct store_peer {
	uint8_t device[32];
	char *addr;
	uint64_t added_ms;
	uint64_t last_sync_ms;		/* 0: never */
	uint64_t sent, received, rejected;	/* change sets */
	uint8_t digest[32];		/* the peer's replica digest at last sync */
};
/* Adds, or updates the address of, device. */
int store_peer_put(struct store *st, const uint8_t device[32],
    const char *addr);
/* SAMEN_ENOTFOUND if not a peer. */
int store_peer_rm(struct store *st, const uint8_t device[32]);
/* Ordered by added_ms; *out new, free with store_peer_list_free(). */
int store_peer_list(struct store *st, struct store_peer **out, size_t *n);
void store_peer_list_free(struct store_peer *p, size_t n);
/* After a session: sets last_sync_ms and digest, adds to the counters. */
int store_peer_note(struct store *st, const uint8_t device[32],
    uint64_t when_ms, const uint8_t digest[32], uint64_t sent,
    uint64_t received, uint64_t rejected);

/* Latest (seq, id) of (author, circle); seq 0 and zero id if none. */
int store_cs_head(struct store *st, const uint8_t author[32],
    const uint8_t circle[CS_CIRCLELEN], uint64_t *seq, uint8_t id[CS_IDLEN]);

/*
 * Stores a change set as received.  The caller has decoded and verified the
 * header and checked the payload against it.  Returns 0, SAMEN_EEXIST if this
 * exact change set is already stored (harmless replay), SAMEN_ECHAIN if seq
 * is not head+1 or prev is not the head's id, SAMEN_EFORK if another change
 * set already holds (author, circle, seq) (both are kept as evidence and the
 * author is flagged), SAMEN_EFORK too for anything from an author already
 * flagged (in any circle: nothing more is accepted from a forking device),
 * or SAMEN_ESTORE.  Borrows everything.
 */
int store_cs_insert(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len);
/*
 * store_cs_insert, and inside the caller's transaction (store_begin) also
 * the merge of that change set, from the bytes in hand: it is decrypted
 * and applied before its row is written, and the row goes in merged (or
 * bad, as store_merge_pending would mark it), so it is neither read back
 * nor updated.  Out of a transaction, without the storage key, or for a
 * circle whose key the store lacks, it is stored pending as by
 * store_cs_insert; so it is if its merge fails on a store error (the next
 * store_merge_pending retries it).  The records it touched are reported
 * by the next store_merge_pending's touched(), which the caller must call
 * before store_commit to learn them.  Returns what store_cs_insert does.
 */
int store_cs_insert_merged(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len);

/*
 * store_cs_insert_merged for a change set this device has just built:
 * plain[0..nplain) are the plaintexts (ops_encode) its payload's chunks
 * seal, in order, and the merge decodes them instead of decrypting the
 * chunks it was handed (the caller vouches for it: changeset_build of
 * exactly these).  A chunk that does not decode (past a schema limit
 * such as OPS_MAX_REFS) would leave it stored bad and nothing applied:
 * then it returns SAMEN_EINVAL, with the change set in the transaction,
 * which the caller must roll back.  Borrows everything.
 */
int store_cs_insert_own(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len,
    const struct cs_plain *plain, size_t nplain);

/*
 * store_cs_insert_merged for a change set whose chunks were read ahead
 * (changeset_open with the key of (h->circle, h->epoch), on the thread
 * pool): the merge takes op's decoded chunks instead of decrypting the
 * payload again.  The caller vouches that op was read from exactly this
 * header and payload.  Returns what store_cs_insert_merged does.  Borrows
 * everything.
 */
int store_cs_insert_opened(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len, const struct cs_opened *op);

/*
 * store_cs_insert_opened (store_cs_insert_merged if op is NULL) for the
 * common case, without the two savepoints that let a refused or bad change
 * set leave nothing behind (their copies of every page a change set
 * touches cost a fifth of its store and merge).  Only inside a
 * transaction (store_begin).  Returns 0 if the change set was stored as
 * store_cs_insert_merged would store it: merged, or pending (no key for
 * its circle).  Returns SAMEN_ERETRY for anything else, refused, a
 * replay, bad, or a store error: then the transaction may hold part of
 * it, and the caller must store_rollback() and store again what the
 * transaction held, with store_cs_insert_opened or _merged, which give the
 * real answer.  Borrows everything.
 */
int store_cs_insert_optimistic(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len, const struct cs_opened *op);

/*
 * The keys of chain (a circle id as headers carry it) at the epochs the
 * store holds, at most max of them, into out[0..*n): for reading a peer's
 * change sets ahead of their merge (daemon/intake.c), each with the key
 * of its header's epoch.  0 (*n may be 0) or SAMEN_ELOCKED.  out should
 * be guarded memory; the caller wipes it (sodium_memzero) when done.
 */
struct store_epoch_key {
	uint32_t epoch;
	uint8_t key[CS_KEYLEN];
};
int store_chain_keys(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    struct store_epoch_key *out, size_t max, size_t *n);

/*
 * Cuts and quarantine (store_cut.c; docs/sync.md, "Removal, cuts and
 * quarantine").  A cut is the last seq of (circle, author) that counts:
 * a removed or revoked author's change sets in circle past it are
 * quarantined, kept but never merged (store_merge_pending leaves them
 * out), and a change set that arrives past it is stored so.  The circle
 * module sets them from the rosters it resolves.
 *
 * store_cut_set sets (or moves) the cut of (circle, author) to seq and
 * marks that author's change sets of circle accordingly: those past seq
 * quarantined, those at or below it not (they become pending, and the
 * next store_merge_pending merges them: an accept).  *rebuild is 1 if a
 * change set it quarantined was merged already (it arrived before the
 * removal did): the replica holds what it must not, and the caller must
 * store_rebuild() in the same transaction.  store_cut_clear drops the cut
 * (a device added again): nothing of it is quarantined any more.  Both
 * are atomic (a savepoint), in or out of a transaction.
 */
int store_cut_set(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, int *rebuild);
int store_cut_clear(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t author[32]);
struct store_cut {
	uint8_t author[32];
	uint64_t seq;
};
/* The cuts of circle, by author; *out new (free()), NULL if none. */
int store_cuts(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    struct store_cut **out, size_t *n);
/*
 * store_vector of chain as a peer that is no admin or relay of its circle
 * is offered it (docs/sync.md, "Quarantine travels to admins"): every
 * author with a cut in chain but keep (NULL: none) is shown at its cut,
 * (cut, its id), or not at all if the cut is 0, so that what is
 * quarantined neither shows in the digest nor is planned.  Costs nothing
 * more than store_vector while the store holds no cut.  *out as
 * store_vector's.
 */
int store_vector_capped(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t keep[32], struct sync_head **out, size_t *n);
/* A quarantined change set, borrowed for the callback. */
struct store_quarantined {
	uint8_t author[32];
	uint64_t seq, hlc;
	uint32_t epoch;
	const uint8_t *hdr, *payload;
	size_t hdr_len, payload_len;
};
/*
 * Calls cb for each quarantined change set of circle, by author then seq;
 * cb must not call the store.  A non-zero return from cb stops the walk
 * and is returned.
 */
int store_quarantine_each(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    int (*cb)(void *arg, const struct store_quarantined *q), void *arg);
int store_quarantine_count(struct store *st,
    const uint8_t circle[CS_CIRCLELEN], uint64_t *n);
/*
 * Calls cb for every change set of chain, whoever wrote it, held back
 * from peers or not, merged or not (a members chain: the roster needs
 * them all), by author then seq.  cb borrows the bytes and must not call
 * the store; a non-zero return stops the walk and is returned.
 */
int store_chain_each(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    int (*cb)(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len), void *arg);

/*
 * Merges every stored change set not merged yet whose circle key the store
 * has, per (author, circle) in seq order: decrypts each chunk, decodes its
 * ops and applies merge_chunk() against the replica tables.  A change set
 * whose chunk fails to decrypt or decode is marked bad, counted and skipped
 * (it is signed, so its author is at fault; nothing of it is applied).
 * touched(arg, rkey) is called once per record that the change sets merged
 * by this call, and by store_cs_insert_merged since the last call in this
 * transaction, touched, however many of them did, in rkey order, before it
 * returns (may be NULL); after an error, for those merged before it.
 * Requires the storage key (SAMEN_ELOCKED).
 */
int store_merge_pending(struct store *st,
    void (*touched)(void *arg, int64_t rkey), void *arg);

/*
 * Change sets from the future (docs/sync.md, "A clock ahead"): one whose
 * hlc is more than skew_ms ahead of wall_ms() is stored, so that its
 * author's chain goes on, but held: not merged into the replica, by any
 * insert, store_merge_pending or store_rebuild, until wall_ms() has caught
 * up with it; then the next store_merge_pending merges it.  A change set
 * this device wrote itself (store_cs_insert_own) is never held.  Without
 * this call nothing is held.  wall_ms is read at store_begin (the horizon
 * stays for the transaction) and at each call outside one.
 */
void store_set_hold(struct store *st, uint64_t (*wall_ms)(void),
    uint64_t skew_ms);
/* The highest hlc merged now: change sets above it are held. */
uint64_t store_hold_horizon(struct store *st);
/*
 * How many change sets are held, and the lowest hlc among them (0 if
 * none): the next to come due, at HLC_MS(*next) - skew_ms.
 */
int store_held(struct store *st, uint64_t *n, uint64_t *next);

/* A materialised record: what the CLI shows.  All memory belongs to it. */
struct store_value {
	uint8_t vid[VID_LEN];
	uint64_t hlc;
	const uint8_t *author;	/* 32 bytes, inside the record */
	char *value;		/* NUL-terminated; NULL for EXIST */
	uint32_t value_len;
	uint8_t alive;		/* EXIST only */
};

struct store_field {
	char *name;		/* NUL-terminated */
	int is_set;		/* 0: register; 1: add-wins set */
	/*
	 * Register: the live values, display value first (merge_order), and
	 * ndistinct > 1 means a conflict.  Set: every live ADD (one entry
	 * per tag, so an element added twice concurrently appears twice),
	 * sorted by (element bytes, vid), because a remove must name every
	 * tag it saw; ndistinct = the number of distinct elements.
	 */
	struct store_value *vals;
	size_t nvals;
	size_t ndistinct;
};

struct store_record {
	int64_t rkey;			/* the store's handle for the record */
	uint8_t circle[CS_CIRCLELEN];
	char *collection;
	uint8_t rid[RID_LEN];
	/*
	 * Existence register survivors, display first.  deleted = the shown
	 * EXIST value is a tombstone; exist_conflict = survivors disagree
	 * (edited on one device, deleted on another).  A record with no EXIST
	 * value at all counts as live.
	 */
	struct store_value *exist;
	size_t nexist;
	int deleted;
	int exist_conflict;
	uint64_t created;		/* lowest hlc of any op on it */
	uint64_t updated;		/* highest */
	struct store_field *fields;	/* sorted by (name, is_set) */
	size_t nfields;
	/*
	 * The store hands out records packed: the record, its arrays, the
	 * distinct authors and every string in one allocation (a third less
	 * memory than one allocation per piece, which the index of 100k cases
	 * feels).  A record built by hand is not (packed 0): then every
	 * pointer is its own allocation.  Either way store_record_free.
	 */
	int packed;
};

/* Finds the record by (circle, collection, rid); SAMEN_ENOTFOUND if none. */
int store_record_find(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const char *collection, const uint8_t rid[RID_LEN], int64_t *rkey);
/* Loads and decrypts; *out is new: free with store_record_free(). */
int store_record_load(struct store *st, int64_t rkey,
    struct store_record **out);
/*
 * store_record_load of each of rkeys[0..n) into out[0..n), inside one read
 * transaction unless the caller has one: one snapshot, and one WAL read
 * lock instead of one per statement.  out[i] is NULL where that record
 * could not be loaded.  Returns 0, SAMEN_ELOCKED, or SAMEN_ESTORE if the
 * read transaction could not start (then every out[i] is NULL).  Each
 * record is new: free with store_record_free().  The records the last
 * transaction created come from what its merge wrote, not from SQL (the
 * first call after it only; docs/design.md, "Reads").
 */
int store_record_load_many(struct store *st, const int64_t *rkeys,
    size_t n, struct store_record **out);
void store_record_free(struct store_record *r);
/*
 * Calls cb for every record, in rkey order, handing it over: cb owns the
 * record (free with store_record_free).  A non-zero return from cb stops
 * the walk and is returned.
 */
int store_record_foreach(struct store *st,
    int (*cb)(void *arg, struct store_record *r), void *arg);
/*
 * Every record of one circle (a members chain: a handful), in (rid, rkey)
 * order as the index has them.  *out is an array of *nout records, all
 * owned by the caller: free with store_record_list_free.
 */
int store_circle_records(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    struct store_record ***out, size_t *nout);
void store_record_list_free(struct store_record **r, size_t n);

/* One operation in a record's history, oldest first. */
struct store_hist {
	uint64_t hlc;
	uint8_t author[32];
	uint64_t seq;
	enum op_type kind;
	char *field;		/* "" for EXIST */
	char *value;		/* NULL for EXIST */
	int alive;		/* EXIST */
	uint32_t nrefs;		/* how many values it replaced / tags removed */
};
/* *out is a new array of *n entries: free with store_history_free(). */
int store_history(struct store *st, int64_t rkey, struct store_hist **out,
    size_t *n);
void store_history_free(struct store_hist *h, size_t n);

struct store_stats {
	uint64_t changesets;	/* stored, audit change sets apart */
	uint64_t audit;		/* audit change sets stored (read audit) */
	uint64_t pending;	/* stored, not merged yet (held apart) */
	uint64_t held;		/* from the future: store_set_hold */
	uint64_t bad;		/* stored but failed to decrypt or decode */
	uint64_t records;	/* live (not deleted) */
	uint64_t flagged;	/* authors flagged for forks */
	uint64_t quarantined;	/* stored past their author's cut */
	uint64_t max_hlc;	/* highest hlc of any stored change set */
	/* chunks that arrived with a purged tag, stored purged, since open */
	uint64_t purged_dropped;
};
/* The highest hlc of any change set held (0 if none): an index lookup,
 * where store_stats counts every table. */
int store_max_hlc(struct store *st, uint64_t *out);
int store_stats(struct store *st, struct store_stats *s);
/*
 * The same without counting live records, which scans the records table
 * (200 ms at a million records): s->records is left as it is, for a caller
 * that counts them in its index.
 */
int store_stats_but_records(struct store *st, struct store_stats *s);

/* The replica digest (merge.h), maintained incrementally. */
int store_digest(struct store *st, uint8_t out[32]);
/*
 * The same over every value outside the private circle: what two devices
 * can have in common.  Equal on two devices that hold the same shared
 * circles exactly when those have converged; sync compares this one.
 */
int store_shared_digest(struct store *st, uint8_t out[32]);

/*
 * Drops the replica tables and merges every change set again from scratch,
 * inside one transaction.  The digest and every record must come out equal.
 */
int store_rebuild(struct store *st);

/*
 * Erasure (docs/design.md, "Erasure"): what a purge, a removal from a
 * circle and a revocation make every device and relay forget.  Each call
 * is one transaction (a savepoint of the caller's, if one is open), whole
 * or not at all, and takes its records' part out of both digests, which
 * then equal what store_rebuild computes.  secure_delete (store_open)
 * overwrites what leaves the database's pages; the WAL keeps copies until
 * store_wal_truncate succeeds, which the caller runs after the commit
 * (store_wal_truncate_owed says one is due).
 */
struct store_erased {
	int64_t *rkeys;		/* records deleted, ascending (free()):
				 * the caller drops them from its index */
	size_t nrkeys;
	uint64_t changesets;	/* rewritten (tags) or deleted (circle) */
	uint64_t chunks;	/* chunks erased from change sets (tags) */
};
/* Frees e's rkeys; e is empty after. */
void store_erased_free(struct store_erased *e);

/*
 * A purge: tags[0..ntags) are record tags (rtags, changeset.h) in circle
 * (a data chain's id), named by the signed op whose change-set id is op.
 * Every held change set of circle (the log's, quarantined ones, forks
 * kept as evidence) with a chunk that carries one of them is rewritten
 * with that chunk purged ([hash]: header, payload hash and chain still
 * verify); the tags go into the purged table, so that such a chunk is
 * stored purged wherever it arrives from, for ever (store_cs_insert*,
 * counted in store_stats' purged_dropped).  With the storage key and the
 * circle's keys, the records the tags name (a record's rtag under any
 * epoch key held is one of them) are deleted from the replica, and their
 * rtags under every key held are purged too: no rebuild brings back a
 * part of them.  A relay, without a key of the circle, only rewrites.
 * A locked store that holds records of circle: SAMEN_ELOCKED, nothing
 * done (call again after unlock).  0 with *out filled (store_erased_free),
 * SAMEN_EINVAL (no tags) or SAMEN_ESTORE.  Calling it again with the same
 * tags is harmless.  Borrows everything.
 */
int store_erase_tags(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t op[CS_IDLEN], const uint8_t (*tags)[CS_RTAGLEN],
    size_t ntags, struct store_erased *out);
/*
 * The rtags of (collection, rid) in circle under every epoch key the store
 * holds, oldest epoch first: what a purge of that record names.  *tags is
 * new (free()), *ntags of them.  0, SAMEN_ENOTFOUND (no key of circle),
 * SAMEN_ELOCKED or SAMEN_ESTORE.
 */
int store_erase_rtags(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const char *collection, const uint8_t rid[RID_LEN],
    uint8_t (**tags)[CS_RTAGLEN], size_t *ntags);
/*
 * This device left circle (a data chain's id): every change set of it and
 * of its members chain (forks and quarantined ones too), their records,
 * their keys of every epoch, cuts and purged tags go, and the names of
 * collections no record is of any more; a departed row (circle, at_ms,
 * revoked) stays.  Needs no key.  0 with *out filled (store_erased_free),
 * or SAMEN_ESTORE.
 */
int store_erase_circle(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    uint64_t at_ms, int revoked, struct store_erased *out);
/*
 * This device was revoked: every change set, record, circle and key,
 * peer, author and purged tag goes; a departed row (revoked) stays for
 * each shared circle.  out->rkeys is NULL: every record went, the caller
 * empties its index (and deletes the key file).  0 or SAMEN_ESTORE.
 */
int store_erase_all(struct store *st, uint64_t at_ms,
    struct store_erased *out);
/*
 * The circles this device departed (store_erase_circle, store_erase_all),
 * by id; *out new (free()), NULL if none.  Never joined again.
 */
struct store_departed {
	uint8_t circle[CS_CIRCLELEN];
	int revoked;
};
int store_departed(struct store *st, struct store_departed **out,
    size_t *n);
/*
 * 1 if every one of tags[0..ntags) is purged in circle (an erase that
 * names them has nothing left to do), 0 if one is not, or SAMEN_ESTORE.
 * From the purged tags in memory: no statement runs once they are read.
 */
int store_erase_done(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t (*tags)[CS_RTAGLEN], size_t ntags);
/*
 * The op that purged rtag in circle (the first to name it) into op: 0,
 * SAMEN_ENOTFOUND or SAMEN_ESTORE.
 */
int store_purged_op(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t rtag[CS_RTAGLEN], uint8_t op[CS_IDLEN]);
/* Chunks that arrived with a purged tag since open (store_stats'). */
uint64_t store_purged_dropped(const struct store *st);
/*
 * Retention: the records of circle in collection whose last change (the
 * highest hlc of any op on them, deleted ones too) is below before,
 * oldest first, at most max of them.  *out is new (free()), *n entries.
 * 0, SAMEN_ELOCKED (the collection's tag needs the key) or SAMEN_ESTORE.
 */
struct store_expired {
	uint8_t rid[RID_LEN];
	uint64_t updated;
};
int store_expired(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const char *collection, uint64_t before, size_t max,
    struct store_expired **out, size_t *n);
/*
 * The read audit's retention (docs/design.md, "Read audit"): every audit
 * change set held (of the audit chain of any circle held, and forks of
 * one kept as evidence) whose header is dated before before (an hlc) is
 * rewritten with all its chunks purged: its header, chain and hashes
 * stay, the events go.  An audit change set's events are all older than
 * its header (they are noted before it is built), so none that is newer
 * goes with it.  The store remembers before (meta "audit_expired"): the
 * next call reads only the change sets dated from there (the hlc index),
 * and one that arrives later dated before it is stored purged (counted in
 * purged_dropped).  A before at or below the last is nothing to do.  One
 * transaction (a savepoint of the caller's); needs no key: a relay
 * expires what it carries.  0 with out's counts (no rkeys), or
 * SAMEN_ESTORE.
 */
int store_erase_expired(struct store *st, uint64_t before,
    struct store_erased *out);
/*
 * The read audit's journal (docs/design.md, "Read audit"): a batch's
 * events of one circle, sealed to its audit key (box: audit.h), one row
 * in the batch's transaction, which the read's reply waits for; shipped
 * later, many rows at once, as one change set of the circle's audit
 * chain (trail.c).  A departed circle's rows go with its chains
 * (store_erase_circle, store_erase_all).
 *
 * store_journal_add writes one row in the open transaction: 0 or
 * SAMEN_ESTORE.
 */
int store_journal_add(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t *box, size_t len);
/* One row of the journal; box is owned by the array (store_journal_free). */
struct store_journal_row {
	int64_t n;			/* the row's key, in order of writing */
	uint8_t circle[CS_CIRCLELEN];
	uint8_t *box;
	size_t len;
};
/*
 * Every row, by circle and then in the order written, into *out (*n of
 * them; NULL and 0 if none): 0 or SAMEN_ESTORE (nothing allocated).
 */
int store_journal_all(struct store *st, struct store_journal_row **out,
    size_t *n);
void store_journal_free(struct store_journal_row *rows, size_t n);
/* Deletes row n (shipped), in the open transaction: 0 or SAMEN_ESTORE. */
int store_journal_del(struct store *st, int64_t n);
/*
 * Copies the whole WAL into the database and truncates it to nothing
 * (PRAGMA wal_checkpoint(TRUNCATE)), so that no file holds a copy of what
 * an erase took out; once, without waiting.  0; -EBUSY if a reader's
 * snapshot (another connection's) or a transaction holds the WAL: try
 * again later; -EIO (a sync failed: as for store_ckpt_run) or SAMEN_ESTORE.
 * Run at every start, before anything writes the WAL (ckpt_open), so
 * that an erase committed just before a crash holds too.
 */
int store_wal_truncate(struct store *st);
/* 1 if an erase committed and the WAL has not been truncated since. */
int store_wal_truncate_owed(const struct store *st);
/*
 * For the tests: fn(arg, where) runs at each named step of an erase:
 * "rewrite" after each change set rewritten, "commit" before its commit.
 * The crash tests kill the process there; samend sets one only under
 * SAMEND_TEST_ERASE_DELAY_MS (testhook.h), to slow an erase down.
 */
void store_set_erase_hook(struct store *st,
    void (*fn)(void *arg, const char *where), void *arg);

#endif
