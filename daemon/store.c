/* store: the SQLite database: change sets as received, and the replica derived from them. */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "error.h"
#include "util.h"

#define STORE_SCHEMA 5
#define STORE_BUSY_MS 5000
#define TAGLEN 16		/* keyed BLAKE2b-128: ctag, ftag */
/* A records_key entry, (circle, rid, ctag), in the index's order. */
#define RK_KEYLEN (CS_CIRCLELEN + RID_LEN + TAGLEN)
#define BOX_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define BOX_ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define BOX_OVERHEAD (BOX_NONCE + BOX_ABYTES)
#define PENDING_BATCH 256

/*
 * Schema.  Every big table grows at its end: change sets get an integer key
 * in arrival order, records an integer rkey in order of first sight, and the
 * value and kill tables are clustered on (rkey, ...) so a record's rows sit
 * together.  The only random keys are in small tables (authors, circles) or
 * behind an rkey prefix.
 *
 * Change sets are a rowid table with a unique index on (circle, aid, seq):
 * a WITHOUT ROWID table keyed so would hold the payload inside the key's
 * B-tree, where rows over ~1 KB spill to overflow pages.  id needs no index
 * of its own: it hashes the header, which holds (circle, author, seq), so it
 * is unique whenever that triple is, and no query looks a change set up by
 * id (an index on it would be the random-key B-tree DESIGN warns about).
 *
 * A circle's kind is enum store_circle_kind; base is the circle a members
 * chain lists, NULL for the other kinds.  Peers are a small table keyed by
 * device: their addresses are where to connect, not record content, so they
 * are stored in clear like the authors' keys.
 *
 * readable says whether the key for (circle, epoch) is known, so the
 * merge queue (cs_todo) holds only what can be merged: a relay carrying
 * circles it cannot read does not scan them on every merge.  The partial
 * indexes repeat their filter's columns so that counting and walking them
 * never reads the table's rows (SQLite does not infer those from WHERE).
 *
 * records.shown is the vid of the record's shown existence value (the live
 * EXIST value with the highest (hlc, author, vid): merge_order's first), or
 * NULL if none is live; deleted says whether that value is a tombstone.
 * Merging compares a new existence value with the shown one alone, and
 * scans the record's live existence values (without decrypting them) only
 * when the shown one is killed.  Without it every write to a record made
 * the merge decrypt and sort all of its live existence values: quadratic
 * when many devices write to one record at once (docs/performance.md, 6).
 * Schema 1 had no shown column; setup() adds and fills it (migrate_1).
 *
 * records_key leads with the circle, so that it also serves the reads by
 * circle (store_circle_records, the members chains'): schema 2 had it as
 * (rid, circle, ctag) and a second index on circle, one more b-tree insert
 * per record created (docs/performance.md, 2); migrate_2 swaps them.
 *
 * A record's row also holds the values of the chunk that created it, its
 * pack: a record's first chunk is most of what is ever written to it (a new
 * case, a bulk import, an initial sync), and one box in the row it needs
 * anyway, in place of a vals row and a box per value, halves what a new
 * record costs (docs/design.md, "Packed values"; schema 4).  The p columns
 * are NULL for a record without one.  In clear they hold what vals holds
 * in clear for those values: the author, seq and hlc they share (one chunk
 * of one change set), pkeys (per value: kind, ftag, vid, nrefs; PACK_KEY
 * bytes each) and pdead (a byte per value, 1 once killed: vals.live).
 * pbox seals, per value: flags, the field and the value; its associated
 * data binds it to the rkey and to the clear columns.  Every value a later
 * chunk writes goes into vals, so a pack is written once and after that
 * only pdead changes.  Schema 3 has no p columns (migrate_3 adds them):
 * its records keep their values in vals, where every reader looks too.
 *
 * records_deleted indexes the few deleted records, so that counting the
 * live ones (all, from records_key, less those) reads neither the rows,
 * which packs made large, nor an index entry per live record.
 *
 * A packed record's collection name is sealed once per collection, in
 * colls under its ctag, not in every row: its coll is the empty blob, and
 * its pack's associated data binds the row's ctag, rid and circle, which
 * the coll box bound before (a capital 'P' leads it: vp_ad).  A record
 * without a pack keeps its name in coll, sealed with (rid, circle), as
 * every record of schema 4 does; readers tell the two by coll's length.
 * That is one box and 40 bytes less per new record, and one seal less
 * (docs/performance.md, fifteenth session).  Schema 4 has no colls
 * (migrate_4 adds it).
 */
#define RECORDS_DELETED_DDL \
	"CREATE INDEX records_deleted ON records(deleted) WHERE deleted = 1;"
#define COLLS_DDL \
	"CREATE TABLE colls (ctag BLOB PRIMARY KEY, name BLOB NOT NULL)" \
	" WITHOUT ROWID;"
static const char schema[] =
	"CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE authors (aid INTEGER PRIMARY KEY,"
	"  pk BLOB NOT NULL UNIQUE);"
	"CREATE TABLE flagged (aid INTEGER PRIMARY KEY"
	"  REFERENCES authors(aid), circle BLOB NOT NULL, seq INTEGER NOT NULL);"
	"CREATE TABLE circles (circle BLOB NOT NULL, epoch INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL DEFAULT 0 CHECK (kind BETWEEN 0 AND 2),"
	"  base BLOB CHECK ((kind = 2) = (base IS NOT NULL)),"
	"  name BLOB NOT NULL, key BLOB NOT NULL,"
	"  PRIMARY KEY (circle, epoch)) WITHOUT ROWID;"
	"CREATE TABLE cs (csn INTEGER PRIMARY KEY, circle BLOB NOT NULL,"
	"  aid INTEGER NOT NULL REFERENCES authors(aid), seq INTEGER NOT NULL,"
	"  epoch INTEGER NOT NULL, hlc INTEGER NOT NULL,"
	"  readable INTEGER NOT NULL, merged INTEGER NOT NULL DEFAULT 0,"
	"  bad INTEGER NOT NULL DEFAULT 0, id BLOB NOT NULL,"
	"  hdr BLOB NOT NULL, payload BLOB NOT NULL);"
	"CREATE UNIQUE INDEX cs_chain ON cs(circle, aid, seq);"
	"CREATE INDEX cs_todo ON cs(aid, circle, seq, merged, bad, readable)"
	"  WHERE merged = 0 AND bad = 0 AND readable = 1;"
	"CREATE INDEX cs_nokey ON cs(circle, epoch, readable)"
	"  WHERE readable = 0;"
	"CREATE INDEX cs_bad ON cs(bad) WHERE bad = 1;"
	"CREATE INDEX cs_hlc ON cs(hlc);"
	"CREATE TABLE forks (circle BLOB NOT NULL, aid INTEGER NOT NULL"
	"  REFERENCES authors(aid), seq INTEGER NOT NULL, id BLOB NOT NULL,"
	"  hdr BLOB NOT NULL, payload BLOB NOT NULL,"
	"  PRIMARY KEY (circle, aid, seq, id)) WITHOUT ROWID;"
	"CREATE TABLE records (rkey INTEGER PRIMARY KEY, rid BLOB NOT NULL,"
	"  circle BLOB NOT NULL, ctag BLOB NOT NULL, coll BLOB NOT NULL,"
	"  created INTEGER, updated INTEGER,"
	"  deleted INTEGER NOT NULL DEFAULT 0, shown BLOB,"
	"  paid INTEGER REFERENCES authors(aid), pseq INTEGER, phlc INTEGER,"
	"  pkeys BLOB, pdead BLOB, pbox BLOB);"
	"CREATE UNIQUE INDEX records_key ON records(circle, rid, ctag);"
	RECORDS_DELETED_DDL
	COLLS_DDL
	"CREATE TABLE vals (rkey INTEGER NOT NULL REFERENCES records(rkey),"
	"  kind INTEGER NOT NULL, ftag BLOB NOT NULL, vid BLOB NOT NULL,"
	"  hlc INTEGER NOT NULL, aid INTEGER NOT NULL REFERENCES authors(aid),"
	"  seq INTEGER NOT NULL, nrefs INTEGER NOT NULL, live INTEGER NOT NULL,"
	"  box BLOB NOT NULL,"
	"  PRIMARY KEY (rkey, kind, ftag, vid)) WITHOUT ROWID;"
	"CREATE TABLE kills (rkey INTEGER NOT NULL REFERENCES records(rkey),"
	"  kind INTEGER NOT NULL, ftag BLOB NOT NULL, vid BLOB NOT NULL,"
	"  PRIMARY KEY (rkey, kind, ftag, vid)) WITHOUT ROWID;"
	"CREATE TABLE peers (device BLOB PRIMARY KEY, addr TEXT,"
	"  added_ms INTEGER NOT NULL, last_sync_ms INTEGER NOT NULL DEFAULT 0,"
	"  sent INTEGER NOT NULL DEFAULT 0,"
	"  received INTEGER NOT NULL DEFAULT 0,"
	"  rejected INTEGER NOT NULL DEFAULT 0, digest BLOB) WITHOUT ROWID;";

/* Prepared once, on first use, and kept until close. */
enum q {
	Q_BEGIN, Q_BEGIN_READ, Q_COMMIT, Q_ROLLBACK,
	Q_SP_CS, Q_SP_CS_RELEASE, Q_SP_CS_ROLLBACK,
	Q_SP_ST, Q_SP_ST_RELEASE, Q_SP_ST_ROLLBACK,
	Q_META_GET, Q_META_PUT,
	Q_AUTHOR_GET, Q_AUTHOR_ADD, Q_FLAGGED, Q_FLAG,
	Q_CIRCLE_PUT, Q_CIRCLE_UNPRIVATE, Q_CIRCLE_GET, Q_CIRCLE_PRIVATE,
	Q_CIRCLE_HAS, Q_CIRCLE_TOP, Q_CIRCLE_LIST, Q_CS_READABLE,
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
	Q_MAX_HLC,
	Q_RB_KILLS, Q_RB_VALS, Q_RB_RECORDS, Q_RB_COLLS, Q_RB_CS,
	Q_COUNT
};

static const char *const sql[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_BEGIN_READ] = "BEGIN",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_SP_CS] = "SAVEPOINT cs",
	[Q_SP_CS_RELEASE] = "RELEASE cs",
	[Q_SP_CS_ROLLBACK] = "ROLLBACK TO cs",
	[Q_SP_ST] = "SAVEPOINT st",
	[Q_SP_ST_RELEASE] = "RELEASE st",
	[Q_SP_ST_ROLLBACK] = "ROLLBACK TO st",
	[Q_META_GET] = "SELECT v FROM meta WHERE k = ?1",
	[Q_META_PUT] = "INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)",
	[Q_AUTHOR_GET] = "SELECT aid FROM authors WHERE pk = ?1",
	[Q_AUTHOR_ADD] = "INSERT INTO authors (pk) VALUES (?1)",
	[Q_FLAGGED] = "SELECT 1 FROM flagged WHERE aid = ?1",
	[Q_FLAG] = "INSERT OR IGNORE INTO flagged (aid, circle, seq)"
	    " VALUES (?1, ?2, ?3)",
	/* Only store_circle_put_private moves the private mark (see there). */
	[Q_CIRCLE_PUT] = "INSERT INTO circles (circle, epoch, kind, base, name,"
	    " key) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (circle, epoch)"
	    " DO UPDATE SET name = excluded.name, key = excluded.key,"
	    " kind = CASE kind WHEN 1 THEN 1 ELSE excluded.kind END,"
	    " base = CASE kind WHEN 1 THEN NULL ELSE excluded.base END",
	[Q_CIRCLE_UNPRIVATE] = "UPDATE circles SET kind = 0"
	    " WHERE kind = 1 AND circle <> ?1",
	[Q_CIRCLE_GET] = "SELECT name, key, kind, base FROM circles"
	    " WHERE circle = ?1 AND epoch = ?2",
	[Q_CIRCLE_PRIVATE] = "SELECT circle, epoch FROM circles"
	    " WHERE kind = 1 ORDER BY epoch DESC LIMIT 1",
	[Q_CIRCLE_HAS] = "SELECT 1 FROM circles WHERE circle = ?1 AND epoch = ?2",
	[Q_CIRCLE_TOP] = "SELECT max(epoch) FROM circles WHERE circle = ?1",
	[Q_CIRCLE_LIST] = "SELECT c.circle, c.epoch, c.name, c.key, c.kind,"
	    " c.base FROM circles c WHERE c.epoch = (SELECT max(epoch)"
	    " FROM circles WHERE circle = c.circle)",
	[Q_CS_READABLE] = "UPDATE cs SET readable = 1"
	    " WHERE circle = ?1 AND epoch = ?2 AND readable = 0",
	[Q_CS_HEAD] = "SELECT cs.seq, cs.id FROM authors a"
	    " JOIN cs ON cs.circle = ?2 AND cs.aid = a.aid WHERE a.pk = ?1"
	    " ORDER BY cs.seq DESC LIMIT 1",
	[Q_CS_HEAD_AID] = "SELECT seq, id FROM cs WHERE circle = ?1"
	    " AND aid = ?2 ORDER BY seq DESC LIMIT 1",
	[Q_CS_AT] = "SELECT id FROM cs WHERE circle = ?1 AND aid = ?2"
	    " AND seq = ?3",
	[Q_CS_INSERT] = "INSERT INTO cs (circle, aid, seq, epoch, hlc,"
	    " readable, id, hdr, payload, merged, bad)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[Q_FORK_INSERT] = "INSERT OR IGNORE INTO forks (circle, aid, seq, id,"
	    " hdr, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* One seek each in cs_chain: a vector costs two per author. */
	[Q_CS_NEXT_AID] = "SELECT aid FROM cs WHERE circle = ?1 AND aid > ?2"
	    " ORDER BY aid LIMIT 1",
	[Q_CS_HEAD_PK] = "SELECT cs.seq, cs.id, a.pk FROM cs"
	    " JOIN authors a ON a.aid = cs.aid"
	    " WHERE cs.circle = ?1 AND cs.aid = ?2"
	    " ORDER BY cs.seq DESC LIMIT 1",
	[Q_CS_RANGE] = "SELECT seq, hdr, payload FROM cs WHERE circle = ?1"
	    " AND aid = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
	[Q_PEER_PUT] = "INSERT INTO peers (device, addr, added_ms)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT (device)"
	    " DO UPDATE SET addr = excluded.addr",
	[Q_PEER_RM] = "DELETE FROM peers WHERE device = ?1",
	[Q_PEER_LIST] = "SELECT device, addr, added_ms, last_sync_ms, sent,"
	    " received, rejected, digest FROM peers ORDER BY added_ms, device",
	[Q_PEER_NOTE] = "UPDATE peers SET last_sync_ms = ?2, digest = ?3,"
	    " sent = sent + ?4, received = received + ?5,"
	    " rejected = rejected + ?6 WHERE device = ?1",
	[Q_CS_TODO] = "SELECT csn FROM cs INDEXED BY cs_todo"
	    " WHERE merged = 0 AND bad = 0 AND readable = 1"
	    " ORDER BY aid, circle, seq LIMIT ?1",
	[Q_CS_LOAD] = "SELECT id, hdr, payload FROM cs WHERE csn = ?1",
	[Q_CS_MERGED] = "UPDATE cs SET merged = 1 WHERE csn = ?1",
	[Q_CS_BAD] = "UPDATE cs SET bad = 1 WHERE csn = ?1",
	[Q_REC_FIND] = "SELECT rkey, created, updated FROM records"
	    " WHERE rid = ?1 AND circle = ?2 AND ctag = ?3",
	/*
	 * The record, its shown existence value unless that is in its pack
	 * (?4: EXIST's ftag), and its pack's clear columns.
	 */
	[Q_REC_MERGE] = "SELECT r.rkey, r.created, r.updated, r.deleted,"
	    " r.shown, v.hlc, a.pk, r.paid, r.pseq, r.phlc, r.pkeys, r.pdead,"
	    " pa.pk FROM records r"
	    " LEFT JOIN vals v ON v.rkey = r.rkey AND v.kind = 2"
	    " AND v.ftag = ?4 AND v.vid = r.shown"
	    " LEFT JOIN authors a ON a.aid = v.aid"
	    " LEFT JOIN authors pa ON pa.aid = r.paid"
	    " WHERE r.rid = ?1 AND r.circle = ?2 AND r.ctag = ?3",
	[Q_REC_ADD] = "INSERT INTO records (rkey, rid, circle, ctag, coll,"
	    " created, updated, deleted, shown, pdead, paid, pseq, phlc, pkeys,"
	    " pbox) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	    " ?13, ?14, ?15)",
	[Q_REC_MAX] = "SELECT coalesce(max(rkey), 0) FROM records",
	[Q_REC_SCAN] = "SELECT circle, rid, ctag FROM records"
	    " INDEXED BY records_key WHERE (circle, rid, ctag) > (?1, ?2, ?3)"
	    " ORDER BY circle, rid, ctag LIMIT ?4",
	[Q_REC_UPDATE] = "UPDATE records SET created = ?2, updated = ?3,"
	    " deleted = ?4, shown = ?5, pdead = ?6 WHERE rkey = ?1",
	/* Its collection's name is coll's box, or colls' if coll is empty. */
	[Q_REC_ROW] = "SELECT r.rid, r.circle, r.coll, r.created, r.updated,"
	    " r.ctag, c.name FROM records r"
	    " LEFT JOIN colls c ON length(r.coll) = 0 AND c.ctag = r.ctag"
	    " WHERE r.rkey = ?1",
	[Q_REC_KEYS] = "SELECT rkey FROM records ORDER BY rkey",
	[Q_REC_CIRCLE] = "SELECT rkey FROM records INDEXED BY records_key"
	    " WHERE circle = ?1",
	[Q_VAL_ADD] = "INSERT OR IGNORE INTO vals (rkey, kind, ftag, vid, hlc,"
	    " aid, seq, nrefs, live, box)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[Q_VAL_KILL] = "UPDATE vals SET live = 0 WHERE rkey = ?1"
	    " AND kind = ?2 AND ftag = ?3 AND vid = ?4 AND live = 1",
	[Q_KILL_ADD] = "INSERT OR IGNORE INTO kills (rkey, kind, ftag, vid)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[Q_KILL_HAS] = "SELECT 1 FROM kills WHERE rkey = ?1 AND kind = ?2"
	    " AND ftag = ?3 AND vid = ?4",
	[Q_VALS_LIVE] = "SELECT v.kind, v.vid, v.hlc, a.pk, v.seq, v.nrefs,"
	    " v.box FROM vals v JOIN authors a ON a.aid = v.aid"
	    " WHERE v.rkey = ?1 AND v.live = 1",
	[Q_VALS_ALL] = "SELECT v.kind, v.vid, v.hlc, a.pk, v.seq, v.nrefs,"
	    " v.box FROM vals v JOIN authors a ON a.aid = v.aid"
	    " WHERE v.rkey = ?1",
	/* The live existence values' order, which needs no decryption. */
	[Q_VALS_EXIST] = "SELECT v.vid, v.hlc, a.pk FROM vals v"
	    " JOIN authors a ON a.aid = v.aid"
	    " WHERE v.rkey = ?1 AND v.kind = 2 AND v.live = 1",
	[Q_VAL_BOX] = "SELECT box FROM vals WHERE rkey = ?1 AND kind = 2"
	    " AND ftag = ?2 AND vid = ?3",
	[Q_PACK_GET] = "SELECT r.paid, r.pseq, r.phlc, r.pkeys, r.pdead, pa.pk,"
	    " r.pbox, length(r.coll) = 0, r.ctag, r.rid, r.circle FROM records r"
	    " LEFT JOIN authors pa ON pa.aid = r.paid WHERE r.rkey = ?1",
	[Q_COLL_ADD] = "INSERT OR IGNORE INTO colls (ctag, name) VALUES (?1, ?2)",
	/* Schema 1 to 2: every record's live existence values, in turn. */
	[Q_MIG_EXIST] = "SELECT v.rkey, v.vid, v.hlc, a.pk FROM vals v"
	    " JOIN authors a ON a.aid = v.aid"
	    " WHERE v.kind = 2 AND v.live = 1 ORDER BY v.rkey",
	[Q_MIG_SHOWN] = "UPDATE records SET shown = ?2 WHERE rkey = ?1",
	[Q_N_CS] = "SELECT count(*) FROM cs",
	[Q_N_TODO] = "SELECT count(*) FROM cs INDEXED BY cs_todo"
	    " WHERE merged = 0 AND bad = 0 AND readable = 1",
	[Q_N_NOKEY] = "SELECT count(*) FROM cs INDEXED BY cs_nokey"
	    " WHERE readable = 0",
	[Q_N_BAD] = "SELECT count(*) FROM cs INDEXED BY cs_bad WHERE bad = 1",
	[Q_N_RECORDS] = "SELECT (SELECT count(*) FROM records) -"
	    " (SELECT count(*) FROM records INDEXED BY records_deleted"
	    " WHERE deleted = 1)",
	[Q_N_FLAGGED] = "SELECT count(*) FROM flagged",
	[Q_MAX_HLC] = "SELECT max(hlc) FROM cs",
	[Q_RB_KILLS] = "DELETE FROM kills",
	[Q_RB_VALS] = "DELETE FROM vals",
	[Q_RB_RECORDS] = "DELETE FROM records",
	/* Written again by the merge: a damaged name does not outlive it. */
	[Q_RB_COLLS] = "DELETE FROM colls",
	[Q_RB_CS] = "UPDATE cs SET merged = 0, bad = 0"
	    " WHERE merged = 1 OR bad = 1",
};

/* How many collections' colls rows struct store remembers writing. */
#define COLLS_MEMO 8

/* struct store's rec.fr when the cached record is not in the fresh cache. */
#define NO_FRESH SIZE_MAX

/* Per value in records.pkeys: kind, ftag, vid, nrefs (little-endian). */
#define PACK_KEY (1 + TAGLEN + VID_LEN + 4)
/*
 * What comes before pkeys in a pack's associated data (vp_ad): PACK_AD_ROW
 * bytes, and the record's ctag, rid and circle after them if it is named
 * in colls; kbuf has room for the longer.
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
 * A record's pack (its row's p columns), in memory: pkeys and pdead,
 * and, once opened, the plaintext of its box: per value flags (VAL_*), the
 * field name's length (one byte), the name, the value's length (four
 * bytes, little-endian) and the value.  Owns its buffers; pt is wiped
 * whenever it is emptied (vp_clear, vp_free).
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

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	int in_txn;
	int lazy;		/* the open transaction's commit skips fsync */
	int broken;		/* a sync or the digest failed: no more writes */
	uint64_t lazy_commits;	/* the last lazy commit's ticket */
	struct held_own *held;
	size_t nheld, capheld;
	int has_key;
	struct store_keys *keys;
	/*
	 * Nonces: 16 random bytes per key setting, then a counter.  Unique
	 * like fully random ones, without a getrandom() call per value.
	 */
	uint8_t nonce_base[BOX_NONCE - 8];
	uint64_t nonce_ctr;
	/*
	 * all: every live value (meta 'digest'); shared: those outside the
	 * private circle (meta 'digest_shared'), the part two devices can
	 * have in common.
	 */
	struct digests {
		struct merge_digest all;
		struct merge_digest shared;
	} digest;
	uint8_t private_id[CS_CIRCLELEN];
	int has_private;

	/* Caches for merging, dropped on every rollback. */
	struct {
		int valid;
		int64_t rkey;
		uint8_t circle[CS_CIRCLELEN];
		uint8_t rid[RID_LEN];
		char coll[OPS_MAX_COLLECTION];
		size_t coll_len;
		int fresh;		/* created in this merge: no kills yet */
		/*
		 * Fresh and its row not written yet: rec_flush inserts it
		 * whole (rkey given, ctag kept), instead of an insert at
		 * resolve and an update at flush.
		 */
		int row_pending;
		uint8_t ctag[TAGLEN];
		int has_range;
		uint64_t created, updated;
		/* records.shown and deleted, as the row has them or will. */
		struct shown {
			int has;	/* a live EXIST value exists */
			uint8_t vid[VID_LEN];
			uint64_t hlc;
			uint8_t author[32];
			int alive;
		} shown;
		int shown_lost;		/* shown was killed: scan at flush */
		int dirty;		/* the row needs writing at flush */
		size_t fr;		/* its entry in fresh, or NO_FRESH */
		/*
		 * Its pack: every rec_resolve that succeeds reads it (or
		 * starts an empty one), so while valid, vp.known holds.
		 */
		struct valpack vp;
	} rec;
	int no_packs;		/* store_set_packing(0): every value in vals */
	int no_colls;		/* store_set_naming(0): names in coll */
	/*
	 * The ctags whose colls row this connection has seen written: the
	 * last COLLS_MEMO.  drop_caches forgets them all, since a rollback
	 * may have taken the row with it.
	 */
	struct {
		uint8_t tag[COLLS_MEMO][TAGLEN];
		size_t n, next;
	} colls;
	struct valpack rdvp;	/* items_pack's, emptied after each read */
	/*
	 * The rkey the next new record gets (max + 1 when read): rows are
	 * written at flush, and their values, which name the rkey, before.
	 */
	struct {
		int valid;
		int64_t next;
	} rkey;
	/*
	 * Which records exist: a Bloom filter over records_key, so that a
	 * new record (most of a sync or a bulk import) is known to be new
	 * without a descent of that index (rk_absent).
	 */
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
		uint32_t asked;		/* rk_absent calls while incomplete */
		uint8_t upto[RK_KEYLEN];	/* else: rows up to this one */
		int has_upto;
	} rk;
	struct {
		int valid;
		int64_t aid;
		uint8_t pk[32];
	} author;
	struct {
		int valid;
		uint8_t id[CS_CIRCLELEN];
		uint32_t epoch;
	} ckey;
	/*
	 * The last change set cs_insert stored: the head of (circle, aid),
	 * whose author was not flagged then.  A batch holds one author's
	 * consecutive seqs, so the next insert needs neither the head query
	 * nor the flag check.  Rows of cs are only ever added by cs_insert
	 * and authors only flagged by keep_fork, which drops it, as does
	 * every rollback.
	 */
	struct {
		int valid;
		uint8_t circle[CS_CIRCLELEN];
		int64_t aid;
		uint64_t seq;
		uint8_t id[CS_IDLEN];
	} head;

	/*
	 * Records the change sets merged by one store_merge_pending touched,
	 * reported once each at its end (want_touched: it has a callback).
	 */
	int64_t *touched;
	size_t ntouched, captouched;
	int want_touched;
	/*
	 * store_cs_insert_merged changed the digest in this transaction:
	 * store_merge_pending or store_commit writes it.
	 */
	int digest_unsaved;
	/* The ftag of every EXIST value (its field is ""). */
	uint8_t exist_ftag[TAGLEN];
	/*
	 * The records this transaction created, with their live values as
	 * the merge wrote them, in plaintext: store_record_load_many builds
	 * them from here instead of reading and decrypting them back.
	 * Cleared by store_begin and by store_record_load_many; off (and
	 * empty) after any rollback, any merge outside a transaction, or
	 * FRESH_MAX values, until the next store_begin.  An entry is stale
	 * (served from SQL) once the record is merged into again or one of
	 * its values is killed.  Sorted by rkey: rowids only grow.
	 */
	struct fresh {
		struct fresh_rec *r;
		size_t n, capr;
		struct fresh_val *v;
		size_t nv, capv;
		char *buf;	/* wiped when emptied */
		size_t len, cap;
		int off;
	} fresh;

	/* Scratch for plaintext; wiped on close. */
	uint8_t *buf;
	size_t bufcap;
	/* WAL frames after the last commit (store_checkpoint_elsewhere). */
	uint64_t wal_frames;
	uint64_t wal_commits;	/* since open */
	/* store_cs_insert_own: the plaintexts of the change set it merges,
	 * and whether one of them failed to decode (it would be stored bad). */
	const struct cs_plain *own;
	size_t nown;
	int own_bad;
	/* store_cs_insert_opened's chunks, for its one call. */
	const struct cs_opened *opened;
	/* store_cs_insert_optimistic's call: no savepoints, and anything
	 * but a clean insert is left for the caller to roll back. */
	int optimistic;
};

/* Statements. */

static sqlite3_stmt *
q(struct store *st, enum q which)
{
	sqlite3_stmt *s = st->q[which];

	if (s == NULL && sqlite3_prepare_v3(st->db, sql[which], -1,
	    SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
		return NULL;
	st->q[which] = s;
	return s;
}

static void
bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n)
{
	/* SQLITE_STATIC: every statement is reset before the data goes. */
	sqlite3_bind_blob(s, i, n ? p : "", (int)n, SQLITE_STATIC);
}

static void
bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	/* SQLite integers are signed; a u64 round-trips through the cast. */
	sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

static uint64_t
col_u64(sqlite3_stmt *s, int i)
{
	return (uint64_t)sqlite3_column_int64(s, i);
}

/* Copies a fixed-size blob column; 0 if its size is wrong. */
static int
col_fixed(sqlite3_stmt *s, int i, void *out, size_t n)
{
	const void *p = sqlite3_column_blob(s, i);

	if (p == NULL || (size_t)sqlite3_column_bytes(s, i) != n)
		return 0;
	memcpy(out, p, n);
	return 1;
}

/* Runs a statement that returns no row. */
static int
run(sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return SAMEN_ESTORE;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : SAMEN_ESTORE;
}

/* Steps to the first row: 1 if there is one, 0 if none, or an error. */
static int
row(sqlite3_stmt *s)
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

static int
run_q(struct store *st, enum q which)
{
	return run(q(st, which));
}

/* A single count(*)-like integer. */
static int
scalar(struct store *st, enum q which, uint64_t *v)
{
	sqlite3_stmt *s = q(st, which);
	int rc;

	*v = 0;
	if ((rc = row(s)) < 0)
		return rc;
	if (rc == 1) {
		*v = col_u64(s, 0);
		sqlite3_reset(s);
	}
	return 0;
}

/* Caches and the digest. */

static void fresh_clear(struct store *st, int off);
static void fresh_free(struct store *st);
static void rk_free(struct store *st);

static void
drop_caches(struct store *st)
{
	st->rec.valid = 0;
	st->rkey.valid = 0;
	fresh_clear(st, 1);
	st->author.valid = 0;
	st->ckey.valid = 0;
	st->head.valid = 0;
	st->colls.n = st->colls.next = 0;
	if (st->keys != NULL)
		sodium_memzero(st->keys->circle, sizeof(st->keys->circle));
}

static void
digests_init(struct digests *d)
{
	merge_digest_init(&d->all);
	merge_digest_init(&d->shared);
}

static int
digest_load_one(struct store *st, const char *k, struct merge_digest *d)
{
	sqlite3_stmt *s = q(st, Q_META_GET);
	int rc;

	merge_digest_init(d);
	if (s == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	if ((rc = row(s)) <= 0)
		return rc;
	rc = col_fixed(s, 0, d->sum, sizeof(d->sum));
	sqlite3_reset(s);
	return rc ? 0 : SAMEN_ESTORE;
}

static int
digest_load(struct store *st)
{
	int rc;

	if ((rc = digest_load_one(st, "digest", &st->digest.all)) != 0)
		return rc;
	return digest_load_one(st, "digest_shared", &st->digest.shared);
}

static int
digest_save_one(struct store *st, const char *k, const struct merge_digest *d)
{
	sqlite3_stmt *s = q(st, Q_META_PUT);

	if (s == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	bind_blob(s, 2, d->sum, sizeof(d->sum));
	return run(s);
}

static int
digest_save(struct store *st)
{
	int rc;

	if ((rc = digest_save_one(st, "digest", &st->digest.all)) != 0)
		return rc;
	return digest_save_one(st, "digest_shared", &st->digest.shared);
}

/* Which circle is private: its values stay out of the shared digest. */
static int
private_load(struct store *st)
{
	sqlite3_stmt *s = q(st, Q_CIRCLE_PRIVATE);
	int rc;

	st->has_private = 0;
	if (s == NULL)
		return SAMEN_ESTORE;
	if ((rc = row(s)) < 0)
		return rc;
	if (rc > 0)
		st->has_private = col_fixed(s, 0, st->private_id,
		    CS_CIRCLELEN);
	sqlite3_reset(s);
	return 0;
}

static int
is_private(const struct store *st, const uint8_t circle[CS_CIRCLELEN])
{
	return st->has_private &&
	    memcmp(st->private_id, circle, CS_CIRCLELEN) == 0;
}

/* Savepoint "st": makes a multi-statement write atomic, in or out of a txn. */
static int
sp_begin(struct store *st)
{
	return run_q(st, Q_SP_ST);
}

static int
sp_end(struct store *st, int keep)
{
	int rc = 0;

	if (!keep) {
		rc = run_q(st, Q_SP_ST_ROLLBACK);
		drop_caches(st);
	}
	if (run_q(st, Q_SP_ST_RELEASE) != 0)
		rc = SAMEN_ESTORE;
	return rc;
}

/* Encryption at rest. */

static uint8_t *
scratch(struct store *st, size_t n)
{
	if (n > st->bufcap) {
		if (st->buf != NULL)
			sodium_memzero(st->buf, st->bufcap);
		free(st->buf);
		st->bufcap = n < 256 ? 256 : n;
		st->buf = xmalloc(st->bufcap);
	}
	return st->buf;
}

_Static_assert(BOX_NONCE == crypto_core_hchacha20_INPUTBYTES +
    crypto_aead_chacha20poly1305_ietf_NPUBBYTES - 4 &&
    BOX_NONCE - 8 == crypto_core_hchacha20_INPUTBYTES,
    "a box nonce is a subkey's 16 bytes and the counter's 8");

/* The IETF nonce that goes with a subkey: 4 zero bytes, then the box
 * nonce's last 8 (struct store_keys). */
static void
box_npub(uint8_t npub[crypto_aead_chacha20poly1305_ietf_NPUBBYTES],
    const uint8_t *nonce)
{
	memset(npub, 0, 4);
	memcpy(npub + 4, nonce + crypto_core_hchacha20_INPUTBYTES,
	    crypto_aead_chacha20poly1305_ietf_NPUBBYTES - 4);
}

/* out gets nonce || ciphertext: n + BOX_OVERHEAD bytes. */
static void
seal(struct store *st, uint8_t *out, const uint8_t *pt, size_t n,
    const uint8_t *ad, size_t adlen)
{
	uint8_t npub[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	memcpy(out, st->nonce_base, sizeof(st->nonce_base));
	put_le64(out + sizeof(st->nonce_base), st->nonce_ctr++);
	box_npub(npub, out);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + BOX_NONCE, NULL, pt,
	    n, ad, adlen, NULL, npub, st->keys->seal_key);
}

/* pt gets n - BOX_OVERHEAD bytes; SAMEN_EDECRYPT if forged or damaged.
 * Keeps the subkey of box's nonce prefix (struct store_keys). */
static int
unseal(struct store *st, uint8_t *pt, const uint8_t *box, size_t n,
    const uint8_t *ad, size_t adlen)
{
	struct store_keys *k = st->keys;
	uint8_t npub[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	if (n < BOX_OVERHEAD)
		return SAMEN_EDECRYPT;
	if (!k->open_valid ||
	    memcmp(k->open_prefix, box, sizeof(k->open_prefix)) != 0) {
		crypto_core_hchacha20(k->open_key, box, k->storage, NULL);
		memcpy(k->open_prefix, box, sizeof(k->open_prefix));
		k->open_valid = 1;
	}
	box_npub(npub, box);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL,
	    box + BOX_NONCE, n - BOX_NONCE, ad, adlen, npub, k->open_key) != 0)
		return SAMEN_EDECRYPT;
	return 0;
}

/*
 * The keyed tags SQLite indexes instead of names: a leading byte keeps the
 * domains apart (0 for a collection, the op kind for a field).
 */
static void
tag(const struct store *st, uint8_t out[TAGLEN], uint8_t domain,
    const char *name, size_t n)
{
	crypto_generichash_state h;
	struct tag_memo *m = NULL;
	uint32_t x = 2166136261u ^ domain;	/* FNV-1a */
	size_t i;

	if (n <= OPS_MAX_FIELD) {
		for (i = 0; i < n; i++)
			x = (x ^ (uint8_t)name[i]) * 16777619u;
		m = &st->keys->memo[x & (TAG_MEMO - 1)];
		if (m->used && m->domain == domain && m->len == n &&
		    memcmp(m->name, name, n) == 0) {
			memcpy(out, m->tag, TAGLEN);
			return;
		}
	}
	crypto_generichash_init(&h, st->keys->index, 32, TAGLEN);
	crypto_generichash_update(&h, &domain, 1);
	crypto_generichash_update(&h, (const uint8_t *)name, n);
	crypto_generichash_final(&h, out, TAGLEN);
	if (m != NULL) {
		m->used = 1;
		m->domain = domain;
		m->len = (uint8_t)n;
		if (n > 0)
			memcpy(m->name, name, n);
		memcpy(m->tag, out, TAGLEN);
	}
}

/* Associated data of a record's collection name: where it belongs. */
static void
coll_ad(uint8_t ad[1 + RID_LEN + CS_CIRCLELEN], const uint8_t rid[RID_LEN],
    const uint8_t circle[CS_CIRCLELEN])
{
	ad[0] = 'c';
	memcpy(ad + 1, rid, RID_LEN);
	memcpy(ad + 1 + RID_LEN, circle, CS_CIRCLELEN);
}

/* Associated data of a collection's name in colls: its tag. */
static void
colls_ad(uint8_t ad[1 + TAGLEN], const uint8_t ctag[TAGLEN])
{
	ad[0] = 'C';
	memcpy(ad + 1, ctag, TAGLEN);
}

/* Associated data of a circle's name ('n') or key ('k'). */
static void
circle_ad(uint8_t ad[1 + CS_CIRCLELEN + 4], uint8_t what,
    const uint8_t circle[CS_CIRCLELEN], uint32_t epoch)
{
	ad[0] = what;
	memcpy(ad + 1, circle, CS_CIRCLELEN);
	put_le32(ad + 1 + CS_CIRCLELEN, epoch);
}

/*
 * A value's plaintext: flags (1: alive, 2: has a value), the field name's
 * length (at most OPS_MAX_FIELD, so one byte), the name, then the value.
 * The box is bound to the vid, which names the op for good.
 */
#define VAL_ALIVE 1
#define VAL_HASVALUE 2

struct plainval {
	int alive;
	const char *field;	/* point into the scratch buffer */
	size_t field_len;
	const char *value;	/* NULL for EXIST */
	size_t value_len;
};

static int
val_open(struct store *st, struct plainval *pv, const uint8_t vid[VID_LEN],
    const uint8_t *box, size_t n)
{
	uint8_t *pt;
	size_t len;
	int rc;

	if (n < BOX_OVERHEAD + 2)
		return SAMEN_EDECRYPT;
	len = n - BOX_OVERHEAD;
	pt = scratch(st, len);
	if ((rc = unseal(st, pt, box, n, vid, VID_LEN)) != 0)
		return rc;
	if (pt[1] > len - 2)
		return SAMEN_EDECRYPT;
	pv->alive = (pt[0] & VAL_ALIVE) != 0;
	pv->field = (const char *)pt + 2;
	pv->field_len = pt[1];
	pv->value = pt[0] & VAL_HASVALUE ? pv->field + pv->field_len : NULL;
	pv->value_len = len - 2 - pv->field_len;
	return 0;
}

/* Authors. */

/* The author's integer id; adds the author if add, else ENOTFOUND. */
static int
author_id(struct store *st, const uint8_t pk[32], int add, int64_t *aid)
{
	sqlite3_stmt *s;
	int rc;

	if (st->author.valid && memcmp(st->author.pk, pk, 32) == 0) {
		*aid = st->author.aid;
		return 0;
	}
	if ((s = q(st, Q_AUTHOR_GET)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, pk, 32);
	if ((rc = row(s)) < 0)
		return rc;
	if (rc == 1) {
		*aid = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	} else if (!add)
		return SAMEN_ENOTFOUND;
	else {
		if ((s = q(st, Q_AUTHOR_ADD)) == NULL)
			return SAMEN_ESTORE;
		bind_blob(s, 1, pk, 32);
		if (run(s) != 0)
			return SAMEN_ESTORE;
		*aid = sqlite3_last_insert_rowid(st->db);
	}
	st->author.valid = 1;
	st->author.aid = *aid;
	memcpy(st->author.pk, pk, 32);
	return 0;
}

/*
 * Packs: the values of a record's first chunk, in its row (the p columns).
 */

/* What vp_clear keeps for the next pack: a case's, many times over. */
#define PACK_KEEP_N 64
#define PACK_KEEP_PT 16384

static void
vp_release(struct valpack *p)
{
	free(p->kbuf);
	free(p->dead);
	free(p->pt);
	p->kbuf = p->keys = p->dead = p->pt = NULL;
	p->cap = p->ptcap = 0;
}

/*
 * Empties p (and wipes its plaintext); its buffers stay for reuse unless
 * a large pack left them large.
 */
static void
vp_clear(struct valpack *p)
{
	if (p->ptlen > 0)
		sodium_memzero(p->pt, p->ptlen);
	p->known = p->pending = p->opened = 0;
	p->n = p->ptlen = 0;
	if (p->cap > PACK_KEEP_N || p->ptcap > PACK_KEEP_PT)
		vp_release(p);
}

static void
vp_free(struct valpack *p)
{
	vp_clear(p);
	vp_release(p);
}

/* Room for n values. */
static void
vp_room(struct valpack *p, size_t n)
{
	if (n <= p->cap)
		return;
	p->cap = p->cap ? p->cap : 8;
	while (p->cap < n)
		p->cap *= 2;
	p->kbuf = xrealloc(p->kbuf, PACK_AD + p->cap * PACK_KEY);
	p->keys = p->kbuf + PACK_AD;
	p->dead = xreallocarray(p->dead, p->cap, 1);
}

/* Room for n bytes of plaintext; moved by hand, so the old copy is wiped. */
static void
vp_ptroom(struct valpack *p, size_t n)
{
	size_t cap = p->ptcap ? p->ptcap : 256;
	uint8_t *nb;

	if (n <= p->ptcap)
		return;
	while (cap < n)
		cap *= 2;
	nb = xmalloc(cap);
	if (p->ptlen > 0) {
		memcpy(nb, p->pt, p->ptlen);
		sodium_memzero(p->pt, p->ptlen);
	}
	free(p->pt);
	p->pt = nb;
	p->ptcap = cap;
}

/* The index of (kind, ftag, vid) in p, or -1. */
static ptrdiff_t
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

/*
 * The box's associated data: what the row says in clear, so that neither
 * its values nor their keys can be moved to another record or changed,
 * and for a record named in colls (ctag not NULL), its ctag, rid and
 * circle: which collection it is in, and where.  Written in front of the
 * keys, so that it ends where they do; returns where it starts, and its
 * length in *n.
 */
static const uint8_t *
vp_ad(struct valpack *p, int64_t rkey, const uint8_t *ctag,
    const uint8_t *rid, const uint8_t *circle, size_t *n)
{
	size_t len = ctag != NULL ? PACK_AD : PACK_AD_ROW;
	uint8_t *ad = p->keys - len;

	ad[0] = ctag != NULL ? 'P' : 'p';
	put_le64(ad + 1, (uint64_t)rkey);
	put_le64(ad + 9, (uint64_t)p->aid);
	put_le64(ad + 17, p->seq);
	put_le64(ad + 25, p->hlc);
	if (ctag != NULL) {
		memcpy(ad + PACK_AD_ROW, ctag, TAGLEN);
		memcpy(ad + PACK_AD_ROW + TAGLEN, rid, RID_LEN);
		memcpy(ad + PACK_AD_ROW + TAGLEN + RID_LEN, circle,
		    CS_CIRCLELEN);
	}
	*n = len + p->n * PACK_KEY;
	return ad;
}

/*
 * p (emptied first) from the pack's clear columns of row s, (paid, pseq,
 * phlc, pkeys, pdead) from column i on, then its author's key (joined):
 * known, and empty if they are NULL.
 */
static int
vp_cols(struct valpack *p, sqlite3_stmt *s, int i)
{
	size_t nk, nd;

	vp_clear(p);
	p->known = 1;
	if (sqlite3_column_type(s, i + 3) == SQLITE_NULL)
		return 0;
	p->aid = sqlite3_column_int64(s, i);
	p->seq = col_u64(s, i + 1);
	p->hlc = col_u64(s, i + 2);
	nk = (size_t)sqlite3_column_bytes(s, i + 3);
	nd = (size_t)sqlite3_column_bytes(s, i + 4);
	if (nk == 0 || nk % PACK_KEY != 0 || nd != nk / PACK_KEY ||
	    nd > PACK_MAX || !col_fixed(s, i + 5, p->author, 32)) {
		p->known = 0;
		return SAMEN_ESTORE;
	}
	vp_room(p, nd);
	memcpy(p->keys, sqlite3_column_blob(s, i + 3), nk);
	memcpy(p->dead, sqlite3_column_blob(s, i + 4), nd);
	p->n = nd;
	return 0;
}

/*
 * Reads rkey's pack into p (emptied first) and decrypts its box.  No pack,
 * or no record, is not an error: p is known and empty.
 */
static int
vp_read(struct store *st, int64_t rkey, struct valpack *p)
{
	uint8_t ctag[TAGLEN], rid[RID_LEN], circle[CS_CIRCLELEN];
	const uint8_t *box, *ad;
	size_t nb, adlen;
	sqlite3_stmt *s;
	int rc, named;

	vp_clear(p);
	if ((s = q(st, Q_PACK_GET)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, rkey);
	if ((rc = row(s)) < 0)
		return rc;
	if (rc == 0) {
		p->known = 1;
		return 0;
	}
	if ((rc = vp_cols(p, s, 0)) != 0 || p->n == 0)
		goto out;
	box = sqlite3_column_blob(s, 6);
	nb = (size_t)sqlite3_column_bytes(s, 6);
	if (box == NULL || nb < BOX_OVERHEAD) {
		rc = SAMEN_EDECRYPT;
		goto out;
	}
	/* Named in colls (an empty coll): its AD binds ctag, rid, circle. */
	named = sqlite3_column_int(s, 7);
	if (named &&
	    (!col_fixed(s, 8, ctag, TAGLEN) ||
	    !col_fixed(s, 9, rid, RID_LEN) ||
	    !col_fixed(s, 10, circle, CS_CIRCLELEN))) {
		rc = SAMEN_ESTORE;
		goto out;
	}
	vp_ptroom(p, nb - BOX_OVERHEAD);
	ad = named ? vp_ad(p, rkey, ctag, rid, circle, &adlen) :
	    vp_ad(p, rkey, NULL, NULL, NULL, &adlen);
	if ((rc = unseal(st, p->pt, box, nb, ad, adlen)) == 0) {
		p->ptlen = nb - BOX_OVERHEAD;
		p->opened = 1;
	}
out:
	sqlite3_reset(s);
	if (rc != 0)
		vp_clear(p);
	return rc;
}

/*
 * The cached record's pack (known: rec_resolve read it) with its
 * plaintext, read back from the row once sealed.
 */
static int
vp_open(struct store *st)
{
	struct valpack *p = &st->rec.vp;
	uint8_t dead[PACK_MAX];
	size_t n = p->n;
	int rc;

	if (p->opened || n == 0)
		return 0;
	/* Kills not written yet are the cache's, not the row's. */
	memcpy(dead, p->dead, n);
	if ((rc = vp_read(st, st->rec.rkey, p)) != 0)
		return rc;
	if (p->n != n)
		return SAMEN_ESTORE;
	memcpy(p->dead, dead, n);
	return 0;
}

/* One value of an opened pack's plaintext, the one at *off (moved on). */
struct packval {
	int flags;
	const char *field;
	size_t field_len;
	const char *value;
	size_t value_len;
};

static int
vp_next(const struct valpack *p, size_t *off, struct packval *v)
{
	const uint8_t *x = p->pt + *off;
	size_t left = p->ptlen - *off;
	uint32_t vlen;

	if (left < 2 || left - 2 < (size_t)x[1] + 4)
		return SAMEN_EDECRYPT;
	v->flags = x[0];
	v->field = (const char *)x + 2;
	v->field_len = x[1];
	vlen = get_le32(x + 2 + x[1]);
	if (vlen > left - 6 - x[1])
		return SAMEN_EDECRYPT;
	v->value = v->field + v->field_len + 4;
	v->value_len = vlen;
	if (!(v->flags & VAL_HASVALUE))
		v->value = NULL;
	*off += 6 + (size_t)x[1] + vlen;
	return 0;
}

/* 1 if the pending pack of the cached record can take v (author aid). */
static int
vp_takes(const struct store *st, const struct merge_value *v, int64_t aid)
{
	const struct valpack *p = &st->rec.vp;

	if (!p->pending || p->n >= PACK_MAX || p->ptlen + 6 + v->field_len +
	    v->value_len > PACK_PT_MAX)
		return 0;
	return p->n == 0 ||
	    (p->aid == aid && p->seq == v->seq && p->hlc == v->hlc);
}

static void
vp_append(struct store *st, const struct merge_value *v, int64_t aid,
    const uint8_t ftag[TAGLEN], int live)
{
	struct valpack *p = &st->rec.vp;
	uint8_t *k, *x;

	if (p->n == 0) {
		p->aid = aid;
		p->seq = v->seq;
		p->hlc = v->hlc;
		memcpy(p->author, v->author, 32);
	}
	vp_room(p, p->n + 1);
	k = p->keys + p->n * PACK_KEY;
	k[0] = (uint8_t)v->kind;
	memcpy(k + 1, ftag, TAGLEN);
	memcpy(k + 1 + TAGLEN, v->vid, VID_LEN);
	put_le32(k + 1 + TAGLEN + VID_LEN, v->nrefs);
	p->dead[p->n++] = !live;
	vp_ptroom(p, p->ptlen + 6 + v->field_len + v->value_len);
	x = p->pt + p->ptlen;
	x[0] = (uint8_t)((v->alive ? VAL_ALIVE : 0) |
	    (v->kind != OP_EXIST ? VAL_HASVALUE : 0));
	x[1] = (uint8_t)v->field_len;
	if (v->field_len > 0)
		memcpy(x + 2, v->field, v->field_len);
	put_le32(x + 2 + v->field_len, (uint32_t)v->value_len);
	if (v->value_len > 0)
		memcpy(x + 6 + v->field_len, v->value, v->value_len);
	p->ptlen += 6 + v->field_len + v->value_len;
	p->opened = 1;
}

/*
 * Binds the cached new record's pack to Q_REC_ADD's (paid, pseq, phlc,
 * pkeys, pbox), sealed into box (room for ptlen + BOX_OVERHEAD), or NULLs
 * if its first chunk filled none.  Its pdead goes with run_rec_state.
 * The record is named in colls if it has a pack, unless
 * store_set_naming(0) (rec_insert).
 */
static void
vp_bind(struct store *st, sqlite3_stmt *s, uint8_t *box)
{
	struct valpack *p = &st->rec.vp;
	const uint8_t *ad;
	size_t adlen;

	p->pending = 0;
	if (p->n == 0)
		return;
	ad = st->no_colls ? vp_ad(p, st->rec.rkey, NULL, NULL, NULL, &adlen) :
	    vp_ad(p, st->rec.rkey, st->rec.ctag, st->rec.rid, st->rec.circle,
	    &adlen);
	seal(st, box, p->pt, p->ptlen, ad, adlen);
	sqlite3_bind_int64(s, 11, p->aid);
	bind_u64(s, 12, p->seq);
	bind_u64(s, 13, p->hlc);
	bind_blob(s, 14, p->keys, p->n * PACK_KEY);
	bind_blob(s, 15, box, p->ptlen + BOX_OVERHEAD);
	/* Wiped once sealed, as a value's; vp_open reads it back. */
	sodium_memzero(p->pt, p->ptlen);
	p->ptlen = 0;
	p->opened = 0;
}

/* Open and close. */

static int
exec(sqlite3 *db, const char *s, char **cause)
{
	char *err = NULL;

	if (sqlite3_exec(db, s, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	if (cause != NULL)
		*cause = xasprintf("%s", err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return SAMEN_ESTORE;
}

static int
pragma_int(sqlite3 *db, const char *s, int *v)
{
	sqlite3_stmt *st;
	int rc = SAMEN_ESTORE;

	if (sqlite3_prepare_v2(db, s, -1, &st, NULL) != SQLITE_OK)
		return SAMEN_ESTORE;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Schema 1 to 2: adds records.shown and fills it from the live existence
 * values, in one pass over them in rkey order.  Needs no key: the display
 * order is over (hlc, author, vid), all stored in clear, and deleted (which
 * schema 1 kept up to date) already says whether the shown one is alive.
 * Runs inside setup()'s transaction.
 */
static int
migrate_1(struct store *st, char **cause)
{
	struct merge_survivor best, cand;
	uint8_t bvid[VID_LEN], bauthor[32], vid[VID_LEN], author[32];
	sqlite3_stmt *s, *u;
	int64_t rkey = 0, brkey = 0;
	uint64_t hlc;
	int rc, have = 0;

	if (exec(st->db, "ALTER TABLE records ADD COLUMN shown BLOB", cause)
	    != 0)
		return SAMEN_ESTORE;
	if ((s = q(st, Q_MIG_EXIST)) == NULL ||
	    (u = q(st, Q_MIG_SHOWN)) == NULL) {
		*cause = xasprintf("%s", sqlite3_errmsg(st->db));
		return SAMEN_ESTORE;
	}
	memset(&best, 0, sizeof(best));
	memset(&cand, 0, sizeof(cand));
	best.vid = bvid;
	best.author = bauthor;
	cand.vid = vid;
	cand.author = author;
	for (;;) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			rkey = sqlite3_column_int64(s, 0);
			hlc = col_u64(s, 2);
			if (!col_fixed(s, 1, vid, VID_LEN) ||
			    !col_fixed(s, 3, author, 32)) {
				rc = SAMEN_ESTORE;
				break;
			}
			cand.hlc = hlc;
			if (have && rkey == brkey) {
				if (merge_cmp(&cand, &best) < 0) {
					memcpy(bvid, vid, VID_LEN);
					memcpy(bauthor, author, 32);
					best.hlc = hlc;
				}
				continue;
			}
		} else if (rc != SQLITE_DONE) {
			rc = SAMEN_ESTORE;
			break;
		}
		/* A record's values are done: write its shown one. */
		if (have) {
			sqlite3_bind_int64(u, 1, brkey);
			bind_blob(u, 2, bvid, VID_LEN);
			if (run(u) != 0) {
				rc = SAMEN_ESTORE;
				break;
			}
		}
		if (rc == SQLITE_DONE) {
			rc = 0;
			break;
		}
		have = 1;
		brkey = rkey;
		memcpy(bvid, vid, VID_LEN);
		memcpy(bauthor, author, 32);
		best.hlc = hlc;
	}
	sqlite3_reset(s);
	if (rc != 0 && *cause == NULL)
		*cause = xasprintf("%s", sqlite3_errmsg(st->db));
	return rc;
}

/*
 * Schema 2 to 3: records_key becomes (circle, rid, ctag) and replaces the
 * index on circle alone, which schema 2 databases got at open.
 */
static int
migrate_2(struct store *st, char **cause)
{
	return exec(st->db, "DROP INDEX IF EXISTS records_circle;"
	    "DROP INDEX records_key;"
	    "CREATE UNIQUE INDEX records_key ON records(circle, rid, ctag);",
	    cause) != 0 ? SAMEN_ESTORE : 0;
}

/* Schema 4 to 5: the collections' names, sealed once each (colls). */
static int
migrate_4(struct store *st, char **cause)
{
	return exec(st->db, COLLS_DDL, cause) != 0 ? SAMEN_ESTORE : 0;
}

/*
 * Schema 3 to 4: the pack columns (NULL: the records of schema 3 keep
 * their values in vals, where every reader still looks) and the index of
 * deleted records.
 */
static int
migrate_3(struct store *st, char **cause)
{
	return exec(st->db, "ALTER TABLE records ADD COLUMN paid INTEGER"
	    " REFERENCES authors(aid);"
	    "ALTER TABLE records ADD COLUMN pseq INTEGER;"
	    "ALTER TABLE records ADD COLUMN phlc INTEGER;"
	    "ALTER TABLE records ADD COLUMN pkeys BLOB;"
	    "ALTER TABLE records ADD COLUMN pdead BLOB;"
	    "ALTER TABLE records ADD COLUMN pbox BLOB;"
	    RECORDS_DELETED_DDL, cause) != 0 ? SAMEN_ESTORE : 0;
}

/* Brings a database of an older schema up to STORE_SCHEMA, atomically. */
static int
migrate(struct store *st, int version, char **cause)
{
	char *bump;
	int rc;

	if (exec(st->db, "BEGIN IMMEDIATE", cause) != 0)
		return SAMEN_ESTORE;
	rc = version < 2 ? migrate_1(st, cause) : 0;
	if (rc == 0 && version < 3)
		rc = migrate_2(st, cause);
	if (rc == 0 && version < 4)
		rc = migrate_3(st, cause);
	if (rc == 0 && version < 5)
		rc = migrate_4(st, cause);
	if (rc == 0) {
		bump = xasprintf("PRAGMA user_version = %d", STORE_SCHEMA);
		rc = exec(st->db, bump, cause);
		free(bump);
	}
	if (rc == 0)
		rc = exec(st->db, "COMMIT", cause);
	if (rc != 0)
		exec(st->db, "ROLLBACK", NULL);
	return rc;
}

int
store_global_init(void)
{
	return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK ? 0 :
	    SAMEN_ESTORE;
}

static int
setup(struct store *st, const char *path, char **cause)
{
	sqlite3_stmt *s;
	const char *mode;
	int version, ok;

	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*cause = xasprintf("cannot open %s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		return SAMEN_ESTORE;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	/*
	 * Only synchronous=FULL survives power loss in WAL mode; secure_delete
	 * overwrites what a purge removes instead of leaving it in free pages;
	 * temp_store keeps sorts off the disk.  The schema's REFERENCES say
	 * what must hold, and the tests check it (PRAGMA foreign_key_check
	 * after every unit test of the store and on every system test's
	 * databases), but SQLite does not enforce them row by row: that was
	 * two parent lookups per value written, 8-10 % of a merge
	 * (docs/performance.md §1), for what only this file writes, always
	 * parent first in one transaction.
	 */
	if (exec(st->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA secure_delete = ON;"
	    "PRAGMA foreign_keys = OFF;"
	    "PRAGMA temp_store = MEMORY;"
	    "PRAGMA cache_size = -16384;", cause) != 0)
		return SAMEN_ESTORE;
	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", path, sqlite3_errmsg(st->db));
		return SAMEN_ESTORE;
	}
	ok = sqlite3_step(s) == SQLITE_ROW &&
	    (mode = (const char *)sqlite3_column_text(s, 0)) != NULL &&
	    strcmp(mode, "wal") == 0;
	sqlite3_finalize(s);
	if (!ok) {
		*cause = xasprintf("%s: cannot switch to WAL mode", path);
		return SAMEN_ESTORE;
	}
	if (pragma_int(st->db, "PRAGMA user_version", &version) != 0) {
		*cause = xasprintf("%s: %s", path, sqlite3_errmsg(st->db));
		return SAMEN_ESTORE;
	}
	if (version > STORE_SCHEMA) {
		*cause = xasprintf("%s: schema version %d is newer than this "
		    "samend (%d)", path, version, STORE_SCHEMA);
		return SAMEN_EVERSION;
	}
	if (version == 0) {
		char *ddl = xasprintf("BEGIN IMMEDIATE;%sPRAGMA user_version = "
		    "%d;COMMIT;", schema, STORE_SCHEMA);
		int rc = exec(st->db, ddl, cause);

		free(ddl);
		if (rc != 0) {
			exec(st->db, "ROLLBACK", NULL);
			return rc;
		}
	} else if (version < STORE_SCHEMA) {
		char *why = NULL;
		int rc = migrate(st, version, &why);

		if (rc != 0) {
			*cause = xasprintf("%s: cannot upgrade schema %d to "
			    "%d: %s", path, version, STORE_SCHEMA,
			    why ? why : "?");
			free(why);
			return rc;
		}
	}
	if (digest_load(st) != 0 || private_load(st) != 0) {
		*cause = xasprintf("%s: cannot read the replica digest", path);
		return SAMEN_ESTORE;
	}
	return 0;
}

int
store_open(struct store **stp, const char *path, char **cause)
{
	struct store *st;
	int rc;

	*stp = NULL;
	*cause = NULL;
	st = xcalloc(1, sizeof(*st));
	st->rec.fr = NO_FRESH;
	if ((st->keys = sodium_malloc(sizeof(*st->keys))) == NULL)
		die_oom(sizeof(*st->keys));
	sodium_memzero(st->keys, sizeof(*st->keys));
	if ((rc = setup(st, path, cause)) != 0) {
		store_close(st);
		return rc;
	}
	*stp = st;
	return 0;
}

void
store_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	if (st->db != NULL && !sqlite3_get_autocommit(st->db))
		exec(st->db, "ROLLBACK", NULL);
	sqlite3_close(st->db);
	sodium_free(st->keys);	/* wipes */
	if (st->buf != NULL)
		sodium_memzero(st->buf, st->bufcap);
	vp_free(&st->rec.vp);
	vp_free(&st->rdvp);
	free(st->buf);
	free(st->touched);
	free(st->held);
	fresh_free(st);
	rk_free(st);
	free(st);
}

void
store_set_packing(struct store *st, int on)
{
	st->no_packs = !on;
}

void
store_set_naming(struct store *st, int on)
{
	st->no_colls = !on;
}

void
store_set_key(struct store *st, const uint8_t key[32])
{
	memcpy(st->keys->storage, key, 32);
	/* Tags of the old key must not answer for the new one. */
	sodium_memzero(st->keys->memo, sizeof(st->keys->memo));
	sodium_memzero(st->keys->names, sizeof(st->keys->names));
	crypto_kdf_derive_from_key(st->keys->index, sizeof(st->keys->index),
	    1, "samenidx", st->keys->storage);
	tag(st, st->exist_ftag, OP_EXIST, "", 0);
	randombytes_buf(st->nonce_base, sizeof(st->nonce_base));
	st->nonce_ctr = 0;
	crypto_core_hchacha20(st->keys->seal_key, st->nonce_base,
	    st->keys->storage, NULL);
	sodium_memzero(st->keys->open_key, sizeof(st->keys->open_key));
	st->keys->open_valid = 0;
	st->has_key = 1;
	drop_caches(st);
}

/* After every commit: how many frames the WAL holds now. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *st = arg;

	(void)db;
	(void)name;
	st->wal_frames = frames > 0 ? (uint64_t)frames : 0;
	st->wal_commits++;
	return SQLITE_OK;
}

uint64_t
store_wal_bytes(struct store *st, uint64_t frames)
{
	int page = 0;

	/* The WAL's header is 32 bytes; each frame's, 24 (SQLite's wal.c). */
	if (pragma_int(st->db, "PRAGMA page_size", &page) != 0 || page <= 0)
		page = 4096;
	return 32 + frames * (24 + (uint64_t)page);
}

void
store_checkpoint_elsewhere(struct store *st)
{
	/* Replaces SQLite's own hook, which checkpointed in the commit. */
	sqlite3_wal_hook(st->db, wal_hook, st);
}

uint64_t
store_wal_frames(const struct store *st)
{
	return st->wal_frames;
}

uint64_t
store_wal_commits(const struct store *st)
{
	return st->wal_commits;
}

/* SQLite's page cache of st's connection now, in bytes. */
static size_t
cache_bytes(struct store *st)
{
	int cur = 0, hi = 0;

	sqlite3_db_status(st->db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0);
	return cur > 0 ? (size_t)cur : 0;
}

size_t
store_release_memory(struct store *st)
{
	size_t before = cache_bytes(st), after;

	sqlite3_db_release_memory(st->db);
	after = cache_bytes(st);
	return after < before ? before - after : 0;
}

/*
 * A checkpoint's failure: -EIO if a sync failed (what it was to write may
 * be lost, and a later sync of the same file may succeed all the same: a
 * writeback error is reported once per open file), else SAMEN_ESTORE.
 */
static int
ckpt_error(sqlite3 *db)
{
	return sqlite3_extended_errcode(db) == SQLITE_IOERR_FSYNC ? -EIO :
	    SAMEN_ESTORE;
}

int
store_checkpoint_here(struct store *st, uint64_t *copied)
{
	int log = 0, ckpt = 0;

	*copied = 0;
	/* The store's connection has read the database: it knows its WAL. */
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &ckpt) != SQLITE_OK)
		return ckpt_error(st->db);
	*copied = ckpt > 0 ? (uint64_t)ckpt : 0;
	return 0;
}

/*
 * A connection of its own, opened at its first run (on the thread that
 * runs it, not the caller's) and kept: opening reads the whole schema,
 * which cost more than a small checkpoint.  Idle between runs it holds no
 * lock and no snapshot, so it never keeps the WAL from starting over.
 */
struct store_ckpt {
	char *path;
	sqlite3 *db;
	sqlite3_stmt *s;
};

struct store_ckpt *
store_ckpt_new(const char *path)
{
	struct store_ckpt *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	return c;
}

static int
ckpt_open(struct store_ckpt *c)
{
	if (sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(c->db, STORE_BUSY_MS);
	/*
	 * PASSIVE: copies what it can, never waits for the writer or a
	 * reader; the database file is synced (synchronous is FULL).  As a
	 * statement: sqlite3_wal_checkpoint_v2 on a connection that has not
	 * read the database yet does not know it is in WAL mode, and does
	 * nothing.  Its row: (busy, frames in the WAL, frames copied).
	 */
	if (sqlite3_prepare_v2(c->db, "PRAGMA wal_checkpoint(PASSIVE)", -1,
	    &c->s, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	sqlite3_finalize(c->s);
	sqlite3_close(c->db);
	c->s = NULL;
	c->db = NULL;
	return SAMEN_ESTORE;
}

int
store_ckpt_run(struct store_ckpt *c, uint64_t *log, uint64_t *copied)
{
	int64_t nlog = -1, ncopied = -1;
	int rc;

	*log = *copied = 0;
	if (c->db == NULL && ckpt_open(c) != 0)
		return SAMEN_ESTORE;
	if ((rc = sqlite3_step(c->s)) == SQLITE_ROW) {
		nlog = sqlite3_column_int64(c->s, 1);
		ncopied = sqlite3_column_int64(c->s, 2);
		rc = sqlite3_step(c->s);
	}
	if (rc != SQLITE_DONE) {
		rc = ckpt_error(c->db);
		sqlite3_reset(c->s);
		return rc;
	}
	/* Reset at once: no snapshot or lock is kept until the next run. */
	if (sqlite3_reset(c->s) != SQLITE_OK || nlog < 0 || ncopied < 0)
		return SAMEN_ESTORE;	/* -1: not in WAL mode */
	/*
	 * SQLite syncs the database only when it copied up to the WAL's end
	 * as it is when the copy is done: beside a writer, never.  The pages
	 * then wait in the page cache until the checkpoint that does reach
	 * the end (the loop's, store_checkpoint_here), which paid for all of
	 * them: 40-70 ms.  Synced here, that one syncs only its own (and
	 * when SQLite has synced, this finds nothing to write).  Through
	 * SQLite's own handle: closing a descriptor of our own would drop
	 * every POSIX lock this process holds on the file.
	 */
	if (ncopied > 0) {
		sqlite3_file *f = NULL;

		if (sqlite3_file_control(c->db, "main",
		    SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || f == NULL ||
		    f->pMethods == NULL)
			return SAMEN_ESTORE;
		if (f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) != SQLITE_OK)
			return -EIO;
	}
	*log = (uint64_t)nlog;
	*copied = (uint64_t)ncopied;
	return 0;
}

void
store_ckpt_free(struct store_ckpt *c)
{
	if (c == NULL)
		return;
	sqlite3_finalize(c->s);
	sqlite3_close(c->db);
	free(c->path);
	free(c);
}

int
store_has_key(const struct store *st)
{
	return st->has_key;
}

/* Transactions. */

int
store_begin(struct store *st)
{
	assert(!st->in_txn);
	if (st->broken)
		return SAMEN_ESTORE;
	if (run_q(st, Q_BEGIN) != 0)
		return SAMEN_ESTORE;
	st->in_txn = 1;
	st->rkey.valid = 0;	/* read again: nobody else writes, but cheap */
	fresh_clear(st, 0);
	return 0;
}

/*
 * The safety level applies when the statement is prepared, and SQLite
 * refuses it inside a transaction: set between transactions, by exec.
 */
static int
set_synchronous(struct store *st, int full)
{
	if (exec(st->db, full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", NULL) == 0)
		return 0;
	/* Back at FULL or not: nothing more is written (store_begin). */
	st->broken = 1;
	return SAMEN_ESTORE;
}

int
store_begin_lazy(struct store *st)
{
	int rc;

	assert(!st->in_txn);
	if (st->broken)
		return SAMEN_ESTORE;
	if (set_synchronous(st, 0) != 0)
		return SAMEN_ESTORE;
	if ((rc = store_begin(st)) != 0) {
		(void)set_synchronous(st, 1);
		return rc;
	}
	st->lazy = 1;
	return 0;
}

/* Drops the holds of tickets up to upto (UINT64_MAX: all); 0: the open
 * transaction's. */
static void
held_drop(struct store *st, uint64_t upto, int open)
{
	size_t i, n = 0;

	for (i = 0; i < st->nheld; i++) {
		uint64_t t = st->held[i].ticket;

		if (t == 0 ? open : t <= upto)
			continue;
		st->held[n++] = st->held[i];
	}
	st->nheld = n;
}

/*
 * The first hold on (chain, author), if its change sets are not all
 * synced: one per lazy commit that stored some, oldest (lowest seq) first.
 */
static const struct held_own *
held_find(const struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32])
{
	for (size_t i = 0; i < st->nheld; i++)
		if (memcmp(st->held[i].chain, chain, CS_CIRCLELEN) == 0 &&
		    memcmp(st->held[i].author, author, 32) == 0)
			return &st->held[i];
	return NULL;
}

/* Holds own change set h back from peers until its commit is synced. */
static void
held_add(struct store *st, const struct cs_header *h)
{
	struct held_own *o;

	for (size_t i = 0; i < st->nheld; i++)
		if (st->held[i].ticket == 0 && memcmp(st->held[i].chain,
		    h->circle, CS_CIRCLELEN) == 0 &&
		    memcmp(st->held[i].author, h->author, 32) == 0)
			return;	/* this transaction's lower seq holds it */
	if (st->nheld == st->capheld) {
		st->capheld = st->capheld ? st->capheld * 2 : 8;
		st->held = xreallocarray(st->held, st->capheld,
		    sizeof(*st->held));
	}
	o = &st->held[st->nheld++];
	memcpy(o->chain, h->circle, CS_CIRCLELEN);
	memcpy(o->author, h->author, 32);
	o->seq = h->seq;
	o->ticket = 0;
}

static int
commit(struct store *st)
{
	if (!st->in_txn)
		return SAMEN_EINVAL;
	/* Merged at insert and no store_merge_pending since: written now. */
	if (st->digest_unsaved && digest_save(st) != 0)
		return SAMEN_ESTORE;	/* the caller rolls back */
	if (run_q(st, Q_COMMIT) != 0)
		return SAMEN_ESTORE;	/* still open: the caller rolls back */
	st->in_txn = 0;
	st->digest_unsaved = 0;
	return 0;
}

int
store_commit(struct store *st)
{
	int rc;

	assert(!st->lazy);
	if ((rc = commit(st)) != 0)
		return rc;
	/* The WAL is synced up to here: every lazy commit with it. */
	held_drop(st, UINT64_MAX, 1);
	return 0;
}

int
store_commit_lazy(struct store *st, uint64_t *ticket)
{
	int rc;

	assert(st->lazy);
	if ((rc = commit(st)) != 0)
		return rc;	/* still lazy: store_rollback ends it */
	st->lazy = 0;
	*ticket = ++st->lazy_commits;
	for (size_t i = 0; i < st->nheld; i++)
		if (st->held[i].ticket == 0)
			st->held[i].ticket = *ticket;
	/* Committed either way; if this fails, nothing more is. */
	(void)set_synchronous(st, 1);
	return 0;
}

void
store_durable(struct store *st, uint64_t ticket)
{
	held_drop(st, ticket, 0);
}

void
store_fail(struct store *st)
{
	st->broken = 1;
}

int
store_records_filter_complete(const struct store *st)
{
	return !st->rk.failed && st->rk.complete;
}

int
store_safety_level(struct store *st)
{
	int level;

	return pragma_int(st->db, "PRAGMA synchronous", &level) == 0 ?
	    level : -1;
}

void
store_rollback(struct store *st)
{
	/* After a failed COMMIT SQLite may already have rolled back. */
	if (!sqlite3_get_autocommit(st->db))
		run_q(st, Q_ROLLBACK);
	st->in_txn = 0;
	held_drop(st, 0, 1);
	if (st->lazy) {
		st->lazy = 0;
		(void)set_synchronous(st, 1);
	}
	drop_caches(st);
	/* What store_cs_insert_merged touched is gone with it. */
	st->ntouched = 0;
	st->want_touched = 0;
	st->digest_unsaved = 0;
	/*
	 * What memory held may include rolled-back merges.  Unread, the
	 * digest in memory is not the replica's, and a commit would write it
	 * over the right one: no more writes (store_begin refuses them).
	 */
	if (digest_load(st) != 0)
		st->broken = 1;
}

/* Circles. */

static int
circle_put(struct store *st, const struct store_circle *c, int kind)
{
	uint8_t ad[1 + CS_CIRCLELEN + 4];
	uint8_t kbox[CS_KEYLEN + BOX_OVERHEAD], *nbox;
	size_t nlen = c->name ? strlen(c->name) : 0;
	sqlite3_stmt *s;
	int rc;

	if (kind < STORE_CIRCLE_SHARED || kind > STORE_CIRCLE_MEMBERS)
		return SAMEN_EINVAL;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((rc = sp_begin(st)) != 0)
		return rc;
	/* One private circle: the mark moves to this one. */
	if (kind == STORE_CIRCLE_PRIVATE) {
		if ((s = q(st, Q_CIRCLE_UNPRIVATE)) == NULL) {
			sp_end(st, 0);
			return SAMEN_ESTORE;
		}
		bind_blob(s, 1, c->id, CS_CIRCLELEN);
		if ((rc = run(s)) != 0) {
			sp_end(st, 0);
			return rc;
		}
	}
	nbox = xmalloc(nlen + BOX_OVERHEAD);
	circle_ad(ad, 'n', c->id, c->epoch);
	seal(st, nbox, (const uint8_t *)(c->name ? c->name : ""), nlen, ad,
	    sizeof(ad));
	circle_ad(ad, 'k', c->id, c->epoch);
	seal(st, kbox, c->key, CS_KEYLEN, ad, sizeof(ad));
	if ((s = q(st, Q_CIRCLE_PUT)) == NULL)
		rc = SAMEN_ESTORE;
	else {
		bind_blob(s, 1, c->id, CS_CIRCLELEN);
		sqlite3_bind_int64(s, 2, c->epoch);
		sqlite3_bind_int(s, 3, kind);
		if (kind == STORE_CIRCLE_MEMBERS)
			bind_blob(s, 4, c->base, CS_CIRCLELEN);
		else
			sqlite3_bind_null(s, 4);
		bind_blob(s, 5, nbox, nlen + BOX_OVERHEAD);
		bind_blob(s, 6, kbox, sizeof(kbox));
		rc = run(s);
	}
	free(nbox);
	/* Change sets that waited for this key can now be merged. */
	if (rc == 0 && (s = q(st, Q_CS_READABLE)) == NULL)
		rc = SAMEN_ESTORE;
	else if (rc == 0) {
		bind_blob(s, 1, c->id, CS_CIRCLELEN);
		sqlite3_bind_int64(s, 2, c->epoch);
		rc = run(s);
	}
	/* A merge may have cached the old key of this epoch. */
	st->ckey.valid = 0;
	if (rc == 0 && kind == STORE_CIRCLE_PRIVATE)
		rc = private_load(st);
	return sp_end(st, rc == 0) ? SAMEN_ESTORE : rc;
}

/*
 * A plain put never takes the private mark away (the query keeps kind 1):
 * losing it would make the next unlock create a second private circle.
 * Only store_circle_put_private of another circle moves it.
 */
int
store_circle_put(struct store *st, const struct store_circle *c)
{
	return circle_put(st, c, c->kind);
}

int
store_circle_put_private(struct store *st, const struct store_circle *c)
{
	return circle_put(st, c, STORE_CIRCLE_PRIVATE);
}

/*
 * Decrypts a circle row's key box into key and, if name != NULL, its name
 * box into a new string.  On error key is wiped and *name untouched.
 */
static int
circle_open(struct store *st, const uint8_t id[CS_CIRCLELEN], uint32_t epoch,
    const uint8_t *kbox, size_t klen, const uint8_t *nbox, size_t nlen,
    uint8_t key[CS_KEYLEN], char **name)
{
	uint8_t ad[1 + CS_CIRCLELEN + 4];
	char *nm;

	circle_ad(ad, 'k', id, epoch);
	if (kbox == NULL || klen != CS_KEYLEN + BOX_OVERHEAD ||
	    unseal(st, key, kbox, klen, ad, sizeof(ad)) != 0)
		goto fail;
	if (name == NULL)
		return 0;
	circle_ad(ad, 'n', id, epoch);
	if (nbox == NULL || nlen < BOX_OVERHEAD)
		goto fail;
	nm = xmalloc(nlen - BOX_OVERHEAD + 1);
	if (unseal(st, (uint8_t *)nm, nbox, nlen, ad, sizeof(ad)) != 0) {
		free(nm);
		goto fail;
	}
	nm[nlen - BOX_OVERHEAD] = '\0';
	*name = nm;
	return 0;
fail:
	sodium_memzero(key, CS_KEYLEN);
	return SAMEN_EDECRYPT;
}

/* Kind and base of a circle row (columns i, i + 1). */
static int
circle_kind(sqlite3_stmt *s, int i, int *kind, uint8_t base[CS_CIRCLELEN])
{
	*kind = sqlite3_column_int(s, i);
	memset(base, 0, CS_CIRCLELEN);
	if (*kind == STORE_CIRCLE_MEMBERS)
		return col_fixed(s, i + 1, base, CS_CIRCLELEN);
	return 1;
}

/*
 * Decrypts the key of (id, epoch) into key; the name too if name != NULL,
 * kind and base if kind != NULL.
 */
static int
circle_load(struct store *st, const uint8_t id[CS_CIRCLELEN], uint32_t epoch,
    uint8_t key[CS_KEYLEN], char **name, int *kind,
    uint8_t base[CS_CIRCLELEN])
{
	sqlite3_stmt *s;
	int rc;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((s = q(st, Q_CIRCLE_GET)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, id, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, epoch);
	if ((rc = row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	if (kind != NULL && !circle_kind(s, 2, kind, base))
		rc = SAMEN_ESTORE;
	else
		rc = circle_open(st, id, epoch, sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1),
		    sqlite3_column_blob(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0), key, name);
	sqlite3_reset(s);
	return rc;
}

int
store_circle_get(struct store *st, const uint8_t id[CS_CIRCLELEN],
    uint32_t epoch, struct store_circle *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, CS_CIRCLELEN);
	c->epoch = epoch;
	return circle_load(st, id, epoch, c->key, &c->name, &c->kind, c->base);
}

int
store_chain_key(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    uint32_t *epoch, uint8_t key[CS_KEYLEN])
{
	sqlite3_stmt *s;
	int rc;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((s = q(st, Q_CIRCLE_TOP)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, chain, CS_CIRCLELEN);
	if ((rc = row(s)) <= 0)
		return rc == 0 ? SAMEN_ESTORE : rc;
	rc = sqlite3_column_type(s, 0) == SQLITE_NULL ? SAMEN_ENOTFOUND : 0;
	*epoch = (uint32_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != 0)
		return rc;
	return circle_load(st, chain, *epoch, key, NULL, NULL, NULL);
}

int
store_circle_private(struct store *st, struct store_circle *c)
{
	uint8_t id[CS_CIRCLELEN];
	uint32_t epoch;
	sqlite3_stmt *s;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((s = q(st, Q_CIRCLE_PRIVATE)) == NULL)
		return SAMEN_ESTORE;
	if ((rc = row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	rc = col_fixed(s, 0, id, sizeof(id));
	epoch = (uint32_t)sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	if (!rc)
		return SAMEN_ESTORE;
	return store_circle_get(st, id, epoch, c);
}

/* By (kind, name, id); names hold no NUL, so strcmp is byte order. */
static int
cmp_circle(const struct store_circle *a, const struct store_circle *b)
{
	int d;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((d = strcmp(a->name, b->name)) != 0)
		return d;
	return memcmp(a->id, b->id, CS_CIRCLELEN);
}

/*
 * The array of a circle list holds keys: it grows and is sorted without
 * leaving copies of them in freed memory (realloc and qsort may).
 */
static struct store_circle *
circles_grow(struct store_circle *c, size_t n, size_t *cap)
{
	struct store_circle *nc;

	*cap = *cap ? *cap * 2 : 8;
	nc = xcalloc(*cap, sizeof(*nc));
	if (n > 0) {
		memcpy(nc, c, n * sizeof(*c));
		sodium_memzero(c, n * sizeof(*c));
	}
	free(c);
	return nc;
}

static int
cmp_circle_p(const void *pa, const void *pb)
{
	return cmp_circle(*(const struct store_circle *const *)pa,
	    *(const struct store_circle *const *)pb);
}

static struct store_circle *
circles_sort(struct store_circle *c, size_t n)
{
	struct store_circle **p, *sorted;
	size_t i;

	if (n == 0)
		return c;
	p = xcalloc(n, sizeof(*p));
	for (i = 0; i < n; i++)
		p[i] = &c[i];
	qsort(p, n, sizeof(*p), cmp_circle_p);
	sorted = xcalloc(n, sizeof(*sorted));
	for (i = 0; i < n; i++)
		sorted[i] = *p[i];
	free(p);
	sodium_memzero(c, n * sizeof(*c));
	free(c);
	return sorted;
}

int
store_circle_list(struct store *st, struct store_circle **out, size_t *nout)
{
	struct store_circle *c = NULL, *x;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*nout = 0;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((s = q(st, Q_CIRCLE_LIST)) == NULL)
		return SAMEN_ESTORE;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap)
			c = circles_grow(c, n, &cap);
		x = &c[n];
		memset(x, 0, sizeof(*x));
		x->epoch = (uint32_t)sqlite3_column_int64(s, 1);
		if (!col_fixed(s, 0, x->id, CS_CIRCLELEN) ||
		    !circle_kind(s, 4, &x->kind, x->base)) {
			rc = SAMEN_ESTORE;
			goto fail;
		}
		if ((rc = circle_open(st, x->id, x->epoch,
		    sqlite3_column_blob(s, 3), (size_t)sqlite3_column_bytes(s, 3),
		    sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
		    x->key, &x->name)) != 0)
			goto fail;
		n++;
	}
	if (rc != SQLITE_DONE) {
		rc = SAMEN_ESTORE;
		goto fail;
	}
	sqlite3_reset(s);
	*out = circles_sort(c, n);
	*nout = n;
	return 0;
fail:
	sqlite3_reset(s);
	store_circle_list_free(c, n);
	return rc;
}

void
store_circle_list_free(struct store_circle *c, size_t n)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < n; i++)
		store_circle_clear(&c[i]);
	free(c);
}

void
store_circle_clear(struct store_circle *c)
{
	sodium_memzero(c->key, sizeof(c->key));
	free(c->name);
	c->name = NULL;
}

/* Change sets. */

int
store_cs_head(struct store *st, const uint8_t author[32],
    const uint8_t circle[CS_CIRCLELEN], uint64_t *seq, uint8_t id[CS_IDLEN])
{
	sqlite3_stmt *s;
	int rc;

	*seq = 0;
	memset(id, 0, CS_IDLEN);
	if ((s = q(st, Q_CS_HEAD)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, author, 32);
	bind_blob(s, 2, circle, CS_CIRCLELEN);
	if ((rc = row(s)) <= 0)
		return rc;
	*seq = col_u64(s, 0);
	rc = col_fixed(s, 1, id, CS_IDLEN);
	sqlite3_reset(s);
	return rc ? 0 : SAMEN_ESTORE;
}

/* The head of (circle, aid): seq 0 and a zero id if none. */
static int
cs_head(struct store *st, const uint8_t circle[CS_CIRCLELEN], int64_t aid,
    uint64_t *seq, uint8_t id[CS_IDLEN])
{
	sqlite3_stmt *s;
	int rc;

	*seq = 0;
	memset(id, 0, CS_IDLEN);
	if ((s = q(st, Q_CS_HEAD_AID)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	if ((rc = row(s)) <= 0)
		return rc;
	*seq = col_u64(s, 0);
	rc = col_fixed(s, 1, id, CS_IDLEN);
	sqlite3_reset(s);
	return rc ? 0 : SAMEN_ESTORE;
}

static int
is_flagged(struct store *st, int64_t aid)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = q(st, Q_FLAGGED)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, aid);
	if ((rc = row(s)) == 1)
		sqlite3_reset(s);
	return rc;
}

/*
 * Keeps the second header as evidence and flags its author.  The first one
 * is the change set already stored.
 */
static int
keep_fork(struct store *st, const struct cs_header *h, int64_t aid,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	sqlite3_stmt *s;
	int rc;

	st->head.valid = 0;
	if ((s = q(st, Q_FORK_INSERT)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, h->circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	bind_u64(s, 3, h->seq);
	bind_blob(s, 4, id, CS_IDLEN);
	bind_blob(s, 5, hdr, hdr_len);
	bind_blob(s, 6, payload, payload_len);
	if ((rc = run(s)) != 0)
		return rc;
	if ((s = q(st, Q_FLAG)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, aid);
	bind_blob(s, 2, h->circle, CS_CIRCLELEN);
	bind_u64(s, 3, h->seq);
	return run(s);
}

/* 1 if (circle, epoch)'s key is stored, 0 if not, or an error. */
static int
circle_known(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    uint32_t epoch)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = q(st, Q_CIRCLE_HAS)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, epoch);
	if ((rc = row(s)) == 1)
		sqlite3_reset(s);
	return rc;
}

/*
 * A change set at or below the head: the stored one again (a replay), or
 * a second one for the same seq (a fork).
 */
static int
replay_or_fork(struct store *st, const struct cs_header *h, int64_t aid,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len, int *keep)
{
	uint8_t old[CS_IDLEN];
	sqlite3_stmt *s;
	int rc;

	if ((s = q(st, Q_CS_AT)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, h->circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	bind_u64(s, 3, h->seq);
	if ((rc = row(s)) <= 0)
		return rc == 0 ? SAMEN_ECHAIN : rc;	/* seq 0 */
	rc = col_fixed(s, 0, old, CS_IDLEN);
	sqlite3_reset(s);
	if (!rc)
		return SAMEN_ESTORE;
	if (memcmp(old, id, CS_IDLEN) == 0)
		return SAMEN_EEXIST;
	if ((rc = keep_fork(st, h, aid, id, hdr, hdr_len, payload,
	    payload_len)) != 0)
		return rc;
	*keep = 1;
	return SAMEN_EFORK;
}

static int merge_bytes(struct store *st, const uint8_t id[CS_IDLEN],
    const uint8_t *hdr, size_t hdr_len, const uint8_t *payload,
    size_t payload_len, const struct digests *saved, size_t ntouched);

/*
 * The body of store_cs_insert; *keep says whether to keep what it wrote.
 * With merge, a change set it can merge now is merged before its row is
 * written, and the row says so (see store_cs_insert_merged).
 */
static int
cs_insert(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len, int merge, int *keep)
{
	struct digests saved = st->digest;
	uint8_t head_id[CS_IDLEN];
	uint64_t head;
	size_t ntouched = st->ntouched;
	int64_t aid;
	sqlite3_stmt *s;
	int rc, readable, merged = 0, bad = 0;

	*keep = 0;
	if ((rc = author_id(st, h->author, 1, &aid)) != 0)
		return rc;
	if (st->head.valid && st->head.aid == aid &&
	    memcmp(st->head.circle, h->circle, CS_CIRCLELEN) == 0) {
		head = st->head.seq;
		memcpy(head_id, st->head.id, CS_IDLEN);
	} else {
		if ((rc = is_flagged(st, aid)) != 0)
			return rc == 1 ? SAMEN_EFORK : rc;
		if ((rc = cs_head(st, h->circle, aid, &head, head_id)) != 0)
			return rc;
	}
	if (h->seq <= head)
		return st->optimistic ? SAMEN_EEXIST :
		    replay_or_fork(st, h, aid, id, hdr, hdr_len, payload,
		    payload_len, keep);
	if (h->seq != head + 1 || memcmp(h->prev, head_id, CS_IDLEN) != 0)
		return SAMEN_ECHAIN;
	if ((readable = circle_known(st, h->circle, h->epoch)) < 0)
		return readable;

	if (merge && readable && st->has_key && st->in_txn) {
		/*
		 * Inside savepoint "cs", nested in store_cs_insert's "st":
		 * a bad change set or a store error takes back its merge
		 * alone; then it is stored bad, or pending for a retry.
		 * Optimistic there is no savepoint, and either is the
		 * caller's to roll back with the whole transaction.
		 */
		st->want_touched = 1;
		if (!st->optimistic && run_q(st, Q_SP_CS) != 0)
			return SAMEN_ESTORE;
		rc = merge_bytes(st, id, hdr, hdr_len, payload, payload_len,
		    &saved, ntouched);
		if (st->optimistic && rc != 0)
			goto undo;
		merged = rc == 0;
		bad = rc == 1;
		if (!st->optimistic && run_q(st, Q_SP_CS_RELEASE) != 0) {
			rc = SAMEN_ESTORE;
			goto undo;
		}
	}
	if ((s = q(st, Q_CS_INSERT)) == NULL) {
		rc = SAMEN_ESTORE;
		goto undo;
	}
	bind_blob(s, 1, h->circle, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	bind_u64(s, 3, h->seq);
	sqlite3_bind_int64(s, 4, h->epoch);
	bind_u64(s, 5, h->hlc);
	sqlite3_bind_int(s, 6, readable);
	bind_blob(s, 7, id, CS_IDLEN);
	bind_blob(s, 8, hdr, hdr_len);
	bind_blob(s, 9, payload, payload_len);
	sqlite3_bind_int(s, 10, merged);
	sqlite3_bind_int(s, 11, bad);
	if ((rc = run(s)) != 0)
		goto undo;
	*keep = 1;
	if (merged && memcmp(&saved, &st->digest, sizeof(saved)) != 0)
		st->digest_unsaved = 1;
	st->head.valid = 1;
	memcpy(st->head.circle, h->circle, CS_CIRCLELEN);
	st->head.aid = aid;
	st->head.seq = h->seq;
	memcpy(st->head.id, id, CS_IDLEN);
	return 0;
undo:
	/* store_cs_insert rolls back to "st" (optimistic, the caller rolls
	 * the transaction back): the merge goes with it. */
	st->digest = saved;
	st->ntouched = ntouched;
	return rc;
}

int
store_cs_insert(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	int rc, keep;

	if ((rc = sp_begin(st)) != 0)
		return rc;
	rc = cs_insert(st, h, id, hdr, hdr_len, payload, payload_len, 0,
	    &keep);
	/* A refused change set leaves nothing, not even a new author. */
	if (sp_end(st, keep) != 0)
		return SAMEN_ESTORE;
	return rc;
}

int
store_cs_insert_merged(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct digests saved = st->digest;
	size_t ntouched = st->ntouched;
	int rc, keep;

	if ((rc = sp_begin(st)) != 0)
		return rc;
	rc = cs_insert(st, h, id, hdr, hdr_len, payload, payload_len, 1,
	    &keep);
	if (sp_end(st, keep) != 0) {
		/* Rolled back or not, what it merged is not to be trusted. */
		st->digest = saved;
		st->ntouched = ntouched;
		return SAMEN_ESTORE;
	}
	return rc;
}

int
store_cs_insert_optimistic(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len, const struct cs_opened *op)
{
	int rc, keep;

	assert(st->in_txn);
	st->optimistic = 1;
	st->opened = op;
	rc = cs_insert(st, h, id, hdr, hdr_len, payload, payload_len, 1,
	    &keep);
	st->opened = NULL;
	st->optimistic = 0;
	return rc == 0 ? 0 : 1;
}

int
store_cs_insert_own(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len,
    const struct cs_plain *plain, size_t nplain)
{
	int rc;

	st->own = plain;
	st->nown = nplain;
	st->own_bad = 0;
	rc = store_cs_insert_merged(st, h, id, hdr, hdr_len, payload,
	    payload_len);
	st->own = NULL;
	st->nown = 0;
	/* Stored bad, it would apply nothing: the caller rolls back. */
	if (rc == 0 && st->own_bad)
		return SAMEN_EINVAL;
	if (rc == 0 && st->lazy)
		held_add(st, h);
	return rc;
}

int
store_cs_insert_opened(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN], const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len, const struct cs_opened *op)
{
	int rc;

	st->opened = op;
	rc = store_cs_insert_merged(st, h, id, hdr, hdr_len, payload,
	    payload_len);
	st->opened = NULL;
	return rc;
}

/* Sync support: none of it needs the storage key. */

static int
cmp_head(const void *pa, const void *pb)
{
	const struct sync_head *a = pa, *b = pb;

	return memcmp(a->author, b->author, 32);
}

static int cs_id_at(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, uint8_t id[CS_IDLEN]);

/*
 * A skip scan over cs_chain: the next author of the chain, then that
 * author's last entry, two index seeks per author whatever the chain's
 * length.  Forks live in their own table, so only the first change set of a
 * forked seq counts, as it does for store_cs_head().
 */
int
store_vector(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    struct sync_head **out, size_t *nout)
{
	struct sync_head *h = NULL, *x;
	sqlite3_stmt *next, *head;
	size_t n = 0, cap = 0;
	int64_t aid = INT64_MIN;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((next = q(st, Q_CS_NEXT_AID)) == NULL ||
	    (head = q(st, Q_CS_HEAD_PK)) == NULL)
		return SAMEN_ESTORE;
	for (;;) {
		bind_blob(next, 1, chain, CS_CIRCLELEN);
		sqlite3_bind_int64(next, 2, aid);
		if ((rc = row(next)) < 0)
			goto fail;
		if (rc == 0)
			break;
		aid = sqlite3_column_int64(next, 0);
		sqlite3_reset(next);

		bind_blob(head, 1, chain, CS_CIRCLELEN);
		sqlite3_bind_int64(head, 2, aid);
		if ((rc = row(head)) <= 0) {
			rc = SAMEN_ESTORE;	/* it was there a moment ago */
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			h = xreallocarray(h, cap, sizeof(*h));
		}
		x = &h[n];
		x->seq = col_u64(head, 0);
		rc = col_fixed(head, 1, x->head, CS_IDLEN) &&
		    col_fixed(head, 2, x->author, 32);
		sqlite3_reset(head);
		if (!rc) {
			rc = SAMEN_ESTORE;
			goto fail;
		}
		n++;
	}
	/* What is not synced yet is not there for peers (held_own). */
	for (size_t i = 0; i < n; i++) {
		const struct held_own *o = held_find(st, chain, h[i].author);

		if (o == NULL || h[i].seq < o->seq)
			continue;
		if (o->seq <= 1) {
			h[i--] = h[--n];
			continue;
		}
		h[i].seq = o->seq - 1;
		if ((rc = cs_id_at(st, chain, h[i].author, h[i].seq,
		    h[i].head)) != 0)
			goto fail;
	}
	/* By author bytes, as VECTOR wants; aids are in arrival order. */
	if (n > 1)
		qsort(h, n, sizeof(*h), cmp_head);
	*out = h;
	*nout = n;
	return 0;
fail:
	free(h);
	return rc;
}

int
store_cs_id_at(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, uint8_t id[CS_IDLEN])
{
	const struct held_own *o = held_find(st, chain, author);

	if (o != NULL && seq >= o->seq) {
		memset(id, 0, CS_IDLEN);
		return SAMEN_ENOTFOUND;
	}
	return cs_id_at(st, chain, author, seq, id);
}

static int
cs_id_at(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t seq, uint8_t id[CS_IDLEN])
{
	sqlite3_stmt *s;
	int64_t aid;
	int rc;

	memset(id, 0, CS_IDLEN);
	if ((rc = author_id(st, author, 0, &aid)) != 0)
		return rc;
	if ((s = q(st, Q_CS_AT)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, chain, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	bind_u64(s, 3, seq);
	if ((rc = row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	rc = col_fixed(s, 0, id, CS_IDLEN);
	sqlite3_reset(s);
	return rc ? 0 : SAMEN_ESTORE;
}

/*
 * cb runs while the statement is stepped, so the blobs need no copy; it must
 * not call store_cs_range() itself.
 */
int
store_cs_range(struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32], uint64_t after, uint64_t limit,
    int (*cb)(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len), void *arg)
{
	const struct held_own *o = held_find(st, chain, author);
	uint64_t end = o != NULL ? o->seq : UINT64_MAX;	/* not sent */
	sqlite3_stmt *s;
	int64_t aid;
	int rc;

	/* Seqs are stored as SQLite's signed integers. */
	if (limit == 0 || after >= INT64_MAX || after + 1 >= end)
		return 0;
	if ((rc = author_id(st, author, 0, &aid)) != 0)
		return rc == SAMEN_ENOTFOUND ? 0 : rc;
	if ((s = q(st, Q_CS_RANGE)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, chain, CS_CIRCLELEN);
	sqlite3_bind_int64(s, 2, aid);
	bind_u64(s, 3, after);
	sqlite3_bind_int64(s, 4, limit > INT64_MAX ? -1 : (int64_t)limit);
	for (;;) {
		const uint8_t *hdr, *payload;
		size_t hdr_len, payload_len;

		if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : SAMEN_ESTORE;
			break;
		}
		hdr = sqlite3_column_blob(s, 1);
		hdr_len = (size_t)sqlite3_column_bytes(s, 1);
		payload = sqlite3_column_blob(s, 2);
		payload_len = (size_t)sqlite3_column_bytes(s, 2);
		if (hdr == NULL || hdr_len == 0) {
			rc = SAMEN_ESTORE;
			break;
		}
		if (col_u64(s, 0) >= end) {
			rc = 0;
			break;
		}
		if ((rc = cb(arg, col_u64(s, 0), hdr, hdr_len, payload,
		    payload_len)) != 0)
			break;
	}
	sqlite3_reset(s);
	return rc;
}

int
store_author_flagged(struct store *st, const uint8_t author[32])
{
	int64_t aid;
	int rc;

	if ((rc = author_id(st, author, 0, &aid)) != 0)
		return rc == SAMEN_ENOTFOUND ? 0 : rc;
	return is_flagged(st, aid);
}

/* The replica, as merge.h's replica_ops over SQLite. */

static void
touch(struct store *st, int64_t rkey)
{
	if (!st->want_touched ||
	    (st->ntouched > 0 && st->touched[st->ntouched - 1] == rkey))
		return;
	if (st->ntouched == st->captouched) {
		st->captouched = st->captouched ? st->captouched * 2 : 16;
		st->touched = xreallocarray(st->touched, st->captouched,
		    sizeof(*st->touched));
	}
	st->touched[st->ntouched++] = rkey;
}

/* An item of a record: one decrypted value row. */
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

static void
items_free(struct item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(it[i].field);
		free(it[i].value);
	}
	free(it);
}

/*
 * The fresh cache (struct store's fresh) lives in three arrays that only
 * grow within a transaction: its records, their values (a record's are
 * contiguous: all come from the chunk that created it) and the bytes of
 * their strings.  Per-value allocations made during the merge and freed at
 * the index refresh left the packed records built in between scattered
 * over a heap full of holes: 14 MiB more resident after an initial sync
 * of 100k cases.  A record is built from the buffer's strings in place
 * (each is followed by a NUL): only its packed copy is allocated.
 */
struct fresh_val {
	struct item it;			/* its field and value NULL */
	size_t field, value;		/* their offsets in fresh.buf */
};

struct fresh_rec {
	int64_t rkey;
	uint8_t rid[RID_LEN];
	uint8_t circle[CS_CIRCLELEN];
	size_t coll, coll_len;		/* offset into fresh.buf */
	int has_range;
	uint64_t created, updated;	/* of every value added */
	size_t first, n;		/* its live values in fresh.v */
	int stale;
};

/* Enough for a batch of sync or of local writes, not for a rebuild. */
#define FRESH_MAX 65536
/* Values' room kept between transactions (a group of sync batches). */
#define FRESH_KEEP 8192

static void
fresh_release(struct store *st)
{
	free(st->fresh.r);
	free(st->fresh.v);
	free(st->fresh.buf);
	st->fresh.r = NULL;
	st->fresh.v = NULL;
	st->fresh.buf = NULL;
	st->fresh.capr = st->fresh.capv = st->fresh.cap = 0;
}

/*
 * Empties the cache; off: and keeps it off until the next store_begin.
 * Its arrays are kept for the next transaction, unless a big one (a merge
 * at unlock, a rebuild) left them large.
 */
static void
fresh_clear(struct store *st, int off)
{
	if (st->fresh.len > 0)
		sodium_memzero(st->fresh.buf, st->fresh.len);
	st->fresh.n = st->fresh.nv = st->fresh.len = 0;
	st->fresh.off = off;
	st->rec.fr = NO_FRESH;
	if (st->fresh.capv > FRESH_KEEP)
		fresh_release(st);
}

/* Frees what fresh_clear keeps for the next transaction. */
static void
fresh_free(struct store *st)
{
	fresh_clear(st, 1);
	fresh_release(st);
}

/*
 * Copies n bytes of s into fresh.buf, and a NUL after them (fresh_take
 * builds from the buffer's strings in place); returns their offset.
 */
static size_t
fresh_bytes(struct store *st, const char *s, size_t n)
{
	size_t at = st->fresh.len;

	if (at + n + 1 > st->fresh.cap) {
		size_t cap = st->fresh.cap ? st->fresh.cap : 4096;
		char *nb;

		while (cap < at + n + 1)
			cap *= 2;
		/* Moved by hand, so that the old copy is wiped. */
		nb = xmalloc(cap);
		if (at > 0) {
			memcpy(nb, st->fresh.buf, at);
			sodium_memzero(st->fresh.buf, at);
		}
		free(st->fresh.buf);
		st->fresh.buf = nb;
		st->fresh.cap = cap;
	}
	if (n > 0)
		memcpy(st->fresh.buf + at, s, n);
	st->fresh.buf[at + n] = '\0';
	st->fresh.len += n + 1;
	return at;
}

static struct fresh_rec *
fresh_find(struct store *st, int64_t rkey)
{
	size_t lo = 0, hi = st->fresh.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->fresh.r[mid].rkey == rkey)
			return &st->fresh.r[mid];
		if (st->fresh.r[mid].rkey < rkey)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Notes that the merge resolved the cached record st->rec (created: as a
 * new record, given the next rkey), and where its values go: into the
 * cache for a record this transaction created, nowhere for others.
 */
static void
fresh_resolved(struct store *st, const struct merge_rec *rec, int created)
{
	struct fresh_rec *f;

	st->rec.fr = NO_FRESH;
	if (st->fresh.off)
		return;
	if (!st->in_txn) {
		/* Nothing may be served that a later write could outdate. */
		fresh_clear(st, 1);
		return;
	}
	if (!created) {
		if ((f = fresh_find(st, st->rec.rkey)) != NULL)
			f->stale = 1;
		return;
	}
	if (st->fresh.n > 0 &&
	    st->fresh.r[st->fresh.n - 1].rkey >= st->rec.rkey) {
		fresh_clear(st, 1);	/* not in order: do without */
		return;
	}
	if (st->fresh.n == st->fresh.capr) {
		st->fresh.capr = st->fresh.capr ? st->fresh.capr * 2 : 64;
		st->fresh.r = xreallocarray(st->fresh.r, st->fresh.capr,
		    sizeof(*st->fresh.r));
	}
	f = &st->fresh.r[st->fresh.n];
	memset(f, 0, sizeof(*f));
	f->rkey = st->rec.rkey;
	memcpy(f->rid, rec->rid, RID_LEN);
	memcpy(f->circle, rec->circle, CS_CIRCLELEN);
	f->coll = fresh_bytes(st, rec->collection, rec->collection_len);
	f->coll_len = rec->collection_len;
	f->first = st->fresh.nv;
	st->rec.fr = st->fresh.n++;
}

/* Notes value v, just added to the cached record (live: as a live row). */
static void
fresh_added(struct store *st, const struct merge_value *v, int live)
{
	struct fresh_rec *f;
	struct fresh_val *x;

	if (st->rec.fr == NO_FRESH)
		return;
	f = &st->fresh.r[st->rec.fr];
	if (f->stale)
		return;
	if (!f->has_range) {
		f->created = f->updated = v->hlc;
		f->has_range = 1;
	} else if (v->hlc < f->created)
		f->created = v->hlc;
	else if (v->hlc > f->updated)
		f->updated = v->hlc;
	if (!live)
		return;
	/* Its values must stay contiguous: it was the last one added. */
	if (st->fresh.nv >= FRESH_MAX || st->rec.fr != st->fresh.n - 1 ||
	    f->first + f->n != st->fresh.nv) {
		fresh_clear(st, 1);
		return;
	}
	if (st->fresh.nv == st->fresh.capv) {
		st->fresh.capv = st->fresh.capv ? st->fresh.capv * 2 : 256;
		st->fresh.v = xreallocarray(st->fresh.v, st->fresh.capv,
		    sizeof(*st->fresh.v));
	}
	x = &st->fresh.v[st->fresh.nv++];
	f->n++;
	memset(x, 0, sizeof(*x));
	x->it.kind = v->kind;
	memcpy(x->it.vid, v->vid, VID_LEN);
	x->it.hlc = v->hlc;
	memcpy(x->it.author, v->author, 32);
	x->it.seq = v->seq;
	x->it.nrefs = v->nrefs;
	x->it.alive = v->alive != 0;
	x->field = fresh_bytes(st, v->field, v->field_len);
	x->it.field_len = v->field_len;
	if (v->kind != OP_EXIST) {
		x->value = fresh_bytes(st, v->value, v->value_len);
		x->it.value_len = v->value_len;
	}
}

/* 1 if kind, read back from the replica, is an op's. */
static int
kind_ok(int kind)
{
	return kind == OP_SET || kind == OP_EXIST || kind == OP_ADD ||
	    kind == OP_REM;
}

/*
 * Appends the values of rkey's pack to it[0..*n) (those not dead unless
 * all), decrypted.
 */
static int
items_pack(struct store *st, int64_t rkey, int all, struct item **it,
    size_t *n, size_t *cap)
{
	struct valpack *p = &st->rdvp;
	struct packval v;
	struct item *x;
	const uint8_t *k;
	size_t i, off = 0;
	int rc;

	if ((rc = vp_read(st, rkey, p)) != 0 || p->n == 0)
		goto out;
	for (i = 0, k = p->keys; i < p->n; i++, k += PACK_KEY) {
		if ((rc = vp_next(p, &off, &v)) != 0)
			goto out;
		if (p->dead[i] && !all)
			continue;
		if (!kind_ok(k[0])) {
			rc = SAMEN_ESTORE;
			goto out;
		}
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*it = xreallocarray(*it, *cap, sizeof(**it));
		}
		x = &(*it)[(*n)++];
		memset(x, 0, sizeof(*x));
		x->kind = (enum op_type)k[0];
		memcpy(x->vid, k + 1 + TAGLEN, VID_LEN);
		x->hlc = p->hlc;
		memcpy(x->author, p->author, 32);
		x->seq = p->seq;
		x->nrefs = get_le32(k + 1 + TAGLEN + VID_LEN);
		x->alive = (v.flags & VAL_ALIVE) != 0;
		x->field = xstrndup(v.field, v.field_len);
		x->field_len = v.field_len;
		if (v.value != NULL) {
			x->value = xstrndup(v.value, v.value_len);
			x->value_len = v.value_len;
		}
	}
out:
	vp_clear(p);	/* wipes the plaintext */
	return rc;
}

/*
 * Reads and decrypts rkey's values: the rows of a Q_VALS_* query bound to
 * rkey, then its pack's (Q_VALS_ALL: all of them; else the live ones).
 */
static int
items_load(struct store *st, enum q which, int64_t rkey, struct item **out,
    size_t *nout)
{
	struct item *it = NULL, *x;
	struct plainval pv;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((s = q(st, which)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, rkey);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			it = xreallocarray(it, cap, sizeof(*it));
		}
		x = &it[n];
		memset(x, 0, sizeof(*x));
		x->kind = (enum op_type)sqlite3_column_int(s, 0);
		if (!kind_ok(x->kind)) {
			rc = SAMEN_ESTORE;	/* a damaged row */
			goto fail;
		}
		x->hlc = col_u64(s, 2);
		x->seq = col_u64(s, 4);
		x->nrefs = (uint32_t)sqlite3_column_int64(s, 5);
		if (!col_fixed(s, 1, x->vid, VID_LEN) ||
		    !col_fixed(s, 3, x->author, 32)) {
			rc = SAMEN_ESTORE;
			goto fail;
		}
		if ((rc = val_open(st, &pv, x->vid, sqlite3_column_blob(s, 6),
		    (size_t)sqlite3_column_bytes(s, 6))) != 0)
			goto fail;
		n++;
		x->alive = pv.alive;
		x->field = xstrndup(pv.field, pv.field_len);
		x->field_len = pv.field_len;
		if (pv.value != NULL) {
			x->value = xstrndup(pv.value, pv.value_len);
			x->value_len = pv.value_len;
		}
		sodium_memzero(st->buf, 2 + pv.field_len + pv.value_len);
	}
	if (rc != SQLITE_DONE) {
		rc = SAMEN_ESTORE;
		goto fail;
	}
	sqlite3_reset(s);
	if ((rc = items_pack(st, rkey, which == Q_VALS_ALL, &it, &n,
	    &cap)) != 0) {
		items_free(it, n);
		return rc;
	}
	*out = it;
	*nout = n;
	return 0;
fail:
	sqlite3_reset(s);
	items_free(it, n);
	return rc;
}

/* A survivor of the existence register, for merge_cmp(). */
static struct merge_survivor
shown_survivor(const struct shown *x)
{
	struct merge_survivor sv;

	memset(&sv, 0, sizeof(sv));
	sv.vid = x->vid;
	sv.hlc = x->hlc;
	sv.author = x->author;
	return sv;
}

/* 1 if (vid, hlc, author) comes before the cached shown value. */
static int
shown_beaten(const struct store *st, const uint8_t vid[VID_LEN],
    uint64_t hlc, const uint8_t author[32])
{
	struct merge_survivor a, b;

	if (!st->rec.shown.has)
		return 1;
	memset(&a, 0, sizeof(a));
	a.vid = vid;
	a.hlc = hlc;
	a.author = author;
	b = shown_survivor(&st->rec.shown);
	return merge_cmp(&a, &b) < 0;
}

/*
 * Finds the cached record's shown existence value again, after the shown
 * one was killed: the order needs no decryption, only the winner's box is
 * opened (for alive).  Costs one read per live existence value; it runs
 * only when the shown value dies, which a writer that saw it and whose
 * clock is sound never causes (its own value comes first, then its kills).
 */
static int
shown_scan(struct store *st)
{
	struct shown *x = &st->rec.shown;
	struct valpack *p = &st->rec.vp;
	struct plainval pv;
	struct packval v;
	uint8_t vid[VID_LEN], author[32];
	const uint8_t *k;
	ptrdiff_t from_pack = -1;
	uint64_t hlc;
	sqlite3_stmt *s;
	size_t i, off;
	int rc;

	x->has = 0;
	if ((s = q(st, Q_VALS_EXIST)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		hlc = col_u64(s, 1);
		if (!col_fixed(s, 0, vid, VID_LEN) ||
		    !col_fixed(s, 2, author, 32)) {
			sqlite3_reset(s);
			return SAMEN_ESTORE;
		}
		if (shown_beaten(st, vid, hlc, author)) {
			memcpy(x->vid, vid, VID_LEN);
			x->hlc = hlc;
			memcpy(x->author, author, 32);
			x->has = 1;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return SAMEN_ESTORE;
	/* And the pack's: one author, one hlc. */
	for (i = 0, k = p->keys; i < p->n; i++, k += PACK_KEY) {
		if (k[0] != OP_EXIST || p->dead[i])
			continue;
		if (shown_beaten(st, k + 1 + TAGLEN, p->hlc, p->author)) {
			memcpy(x->vid, k + 1 + TAGLEN, VID_LEN);
			x->hlc = p->hlc;
			memcpy(x->author, p->author, 32);
			x->has = 1;
			from_pack = (ptrdiff_t)i;
		}
	}
	st->rec.shown_lost = 0;
	if (!x->has)
		return 0;
	if (from_pack >= 0) {
		if ((rc = vp_open(st)) != 0)
			return rc;
		for (i = 0, off = 0; i <= (size_t)from_pack; i++)
			if ((rc = vp_next(p, &off, &v)) != 0)
				return rc;
		x->alive = (v.flags & VAL_ALIVE) != 0;
		return 0;
	}
	if ((s = q(st, Q_VAL_BOX)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	bind_blob(s, 2, st->exist_ftag, TAGLEN);
	bind_blob(s, 3, x->vid, VID_LEN);
	if ((rc = row(s)) <= 0)
		return rc == 0 ? SAMEN_ESTORE : rc;
	rc = val_open(st, &pv, x->vid, sqlite3_column_blob(s, 0),
	    (size_t)sqlite3_column_bytes(s, 0));
	sqlite3_reset(s);
	if (rc != 0)
		return rc;
	x->alive = pv.alive;
	sodium_memzero(st->buf, 2 + pv.field_len + pv.value_len);
	return 0;
}

/*
 * The cached record's shown existence value from its pack: records.shown
 * names a vid that vals does not hold.  A shown vid found nowhere live
 * cannot happen; should it, the scan at flush finds the right one.
 */
static void
shown_in_pack(struct store *st)
{
	struct shown *x = &st->rec.shown;
	struct valpack *p = &st->rec.vp;
	ptrdiff_t i;

	if ((i = vp_find(p, OP_EXIST, st->exist_ftag, x->vid)) < 0 ||
	    p->dead[i])
		return;
	x->hlc = p->hlc;
	memcpy(x->author, p->author, 32);
	x->has = 1;
	st->rec.shown_lost = 0;
}

/*
 * Runs s with the cached record's (created, updated, deleted, shown, pdead)
 * bound from parameter first on.
 */
static int
run_rec_state(struct store *st, sqlite3_stmt *s, int first)
{
	const struct shown *x = &st->rec.shown;
	int rc;

	if (st->rec.has_range) {
		bind_u64(s, first, st->rec.created);
		bind_u64(s, first + 1, st->rec.updated);
	}
	sqlite3_bind_int(s, first + 2, x->has && !x->alive);
	if (x->has)
		bind_blob(s, first + 3, x->vid, VID_LEN);
	if (st->rec.vp.n > 0)
		bind_blob(s, first + 4, st->rec.vp.dead, st->rec.vp.n);
	rc = run(s);
	sqlite3_clear_bindings(s);
	return rc;
}

/* The rkey for a new record: one more than any, read once per run. */
static int
next_rkey(struct store *st, int64_t *rkey)
{
	uint64_t max;

	if (!st->rkey.valid) {
		if (scalar(st, Q_REC_MAX, &max) != 0)
			return SAMEN_ESTORE;
		st->rkey.next = (int64_t)max + 1;
		st->rkey.valid = 1;
	}
	*rkey = st->rkey.next++;
	return 0;
}

/*
 * The filter of which records exist (struct store's rk).  It never forgets
 * a row: every row of records is added, by rk_step's scan of records_key
 * or by rec_insert as it writes it, and nothing is taken out (a row rolled
 * back or deleted only leaves a false "maybe").  So when it says absent,
 * the row is absent; when it says maybe, rec_resolve asks SQLite.  Should
 * that ever fail, records_key is UNIQUE: the insert fails, loudly.
 *
 * It fills in steps of RK_STEP rows of records_key in its order (about
 * 0.3 ms), one each time RK_BUSY more records were asked about, in one
 * transaction or over many: so that none stalls (steps of 16,384 rows
 * once held a batch of 64 puts for 5 ms), and so that a device that only
 * puts gets there too (counted per transaction, a batch of puts seldom
 * reached a step, and nearly every put asked SQLite).  Until it is
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

static void
rk_free(struct store *st)
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

static void
rk_add(struct store *st, const uint8_t *key)
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

	if ((s = q(st, Q_REC_SCAN)) == NULL)
		return;		/* incomplete: rec_resolve asks SQLite */
	if (st->rk.has_upto) {
		bind_blob(s, 1, st->rk.upto, CS_CIRCLELEN);
		bind_blob(s, 2, st->rk.upto + CS_CIRCLELEN, RID_LEN);
		bind_blob(s, 3, st->rk.upto + CS_CIRCLELEN + RID_LEN, TAGLEN);
	} else {
		/* A zero-length blob sorts before every other. */
		for (int i = 1; i <= 3; i++)
			sqlite3_bind_blob(s, i, none, 0, SQLITE_STATIC);
	}
	sqlite3_bind_int64(s, 4, RK_STEP);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint8_t key[RK_KEYLEN];

		/* A row of another shape cannot be placed: stay incomplete. */
		if (!col_fixed(s, 0, key, CS_CIRCLELEN) ||
		    !col_fixed(s, 1, key + CS_CIRCLELEN, RID_LEN) ||
		    !col_fixed(s, 2, key + CS_CIRCLELEN + RID_LEN, TAGLEN)) {
			sqlite3_reset(s);
			rk_free(st);
			st->rk.failed = 1;
			return;
		}
		rk_add(st, key);
		memcpy(st->rk.upto, key, RK_KEYLEN);
		st->rk.has_upto = 1;
		n++;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_DONE && n < RK_STEP)
		st->rk.complete = 1;
}

/* 1 if no row of records has key (RK_KEYLEN bytes), 0 if there may be. */
static int
rk_absent(struct store *st, const uint8_t *key)
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

static void
rk_key(uint8_t key[RK_KEYLEN], const uint8_t circle[CS_CIRCLELEN],
    const uint8_t rid[RID_LEN], const uint8_t ctag[TAGLEN])
{
	memcpy(key, circle, CS_CIRCLELEN);
	memcpy(key + CS_CIRCLELEN, rid, RID_LEN);
	memcpy(key + CS_CIRCLELEN + RID_LEN, ctag, TAGLEN);
}

/* The colls row of the cached record's collection, written if new. */
static int
colls_ensure(struct store *st)
{
	uint8_t ad[1 + TAGLEN];
	uint8_t box[OPS_MAX_COLLECTION + BOX_OVERHEAD];
	sqlite3_stmt *s;
	size_t i;
	int rc;

	for (i = 0; i < st->colls.n; i++)
		if (memcmp(st->colls.tag[i], st->rec.ctag, TAGLEN) == 0)
			return 0;
	colls_ad(ad, st->rec.ctag);
	seal(st, box, (const uint8_t *)st->rec.coll, st->rec.coll_len, ad,
	    sizeof(ad));
	if ((s = q(st, Q_COLL_ADD)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, st->rec.ctag, TAGLEN);
	bind_blob(s, 2, box, st->rec.coll_len + BOX_OVERHEAD);
	if ((rc = run(s)) != 0)
		return rc;
	memcpy(st->colls.tag[st->colls.next], st->rec.ctag, TAGLEN);
	st->colls.next = (st->colls.next + 1) % COLLS_MEMO;
	if (st->colls.n < COLLS_MEMO)
		st->colls.n++;
	return 0;
}

/*
 * Writes the cached new record's row, whole.  With a pack, its collection
 * is named in colls and coll is empty; without, coll seals the name.
 */
static int
rec_insert(struct store *st)
{
	uint8_t ad[1 + RID_LEN + CS_CIRCLELEN];
	uint8_t box[OPS_MAX_COLLECTION + BOX_OVERHEAD];
	size_t boxlen = 0;
	sqlite3_stmt *s;
	int rc;

	/* The rest of the row is known: written whole, pack and all. */
	if (!st->rec.vp.known)
		return SAMEN_ESTORE;
	if (st->rec.vp.n > 0 && !st->no_colls) {
		if ((rc = colls_ensure(st)) != 0)
			return rc;
	} else {
		coll_ad(ad, st->rec.rid, st->rec.circle);
		seal(st, box, (const uint8_t *)st->rec.coll, st->rec.coll_len,
		    ad, sizeof(ad));
		boxlen = st->rec.coll_len + BOX_OVERHEAD;
	}
	if ((s = q(st, Q_REC_ADD)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	bind_blob(s, 2, st->rec.rid, RID_LEN);
	bind_blob(s, 3, st->rec.circle, CS_CIRCLELEN);
	bind_blob(s, 4, st->rec.ctag, TAGLEN);
	bind_blob(s, 5, box, boxlen);
	vp_bind(st, s, scratch(st, st->rec.vp.ptlen + BOX_OVERHEAD));
	if ((rc = run_rec_state(st, s, 6)) == 0) {
		uint8_t key[RK_KEYLEN];

		rk_key(key, st->rec.circle, st->rec.rid, st->rec.ctag);
		rk_add(st, key);
		st->rec.row_pending = 0;
		st->rec.dirty = 0;
	}
	return rc;
}

/*
 * Writes what changed of the cached record's row: its (created, updated)
 * range and its shown existence value with deleted, which lets counting
 * live records do without decryption.  One write per chunk at most.
 */
static int
rec_flush(struct store *st)
{
	sqlite3_stmt *s;
	int rc;

	if (!st->rec.valid)
		return 0;
	if (st->rec.shown_lost && (rc = shown_scan(st)) != 0)
		return rc;
	if (st->rec.row_pending)
		return rec_insert(st);
	if (!st->rec.dirty)
		return 0;
	st->rec.dirty = 0;
	/* pdead is written whole: it must be the row's, or NULL. */
	if (!st->rec.vp.known)
		return SAMEN_ESTORE;
	if ((s = q(st, Q_REC_UPDATE)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	return run_rec_state(st, s, 2);
}

/*
 * The rkey of rec, which gets one if new (its row is written at flush);
 * cached while one chunk is merged.
 */
static int
rec_resolve(struct store *st, const struct merge_rec *rec)
{
	uint8_t ctag[TAGLEN], key[RK_KEYLEN];
	sqlite3_stmt *s;
	int rc;

	if (st->rec.valid && st->rec.coll_len == rec->collection_len &&
	    memcmp(st->rec.rid, rec->rid, RID_LEN) == 0 &&
	    memcmp(st->rec.circle, rec->circle, CS_CIRCLELEN) == 0 &&
	    memcmp(st->rec.coll, rec->collection, rec->collection_len) == 0)
		return 0;
	if ((rc = rec_flush(st)) != 0)
		return rc;
	st->rec.valid = 0;
	st->rec.fr = NO_FRESH;
	vp_clear(&st->rec.vp);
	if (rec->collection_len == 0 ||
	    rec->collection_len > OPS_MAX_COLLECTION)
		return SAMEN_EINVAL;
	tag(st, ctag, 0, rec->collection, rec->collection_len);
	rk_key(key, rec->circle, rec->rid, ctag);
	if (rk_absent(st, key))
		rc = 0;		/* new: no need to ask */
	else {
		if ((s = q(st, Q_REC_MERGE)) == NULL)
			return SAMEN_ESTORE;
		bind_blob(s, 1, rec->rid, RID_LEN);
		bind_blob(s, 2, rec->circle, CS_CIRCLELEN);
		bind_blob(s, 3, ctag, TAGLEN);
		bind_blob(s, 4, st->exist_ftag, TAGLEN);
		if ((rc = row(s)) < 0)
			return rc;
	}
	memset(&st->rec.shown, 0, sizeof(st->rec.shown));
	st->rec.shown_lost = 0;
	st->rec.row_pending = 0;
	if (rc == 1) {
		int in_pack = 0;

		st->rec.rkey = sqlite3_column_int64(s, 0);
		st->rec.has_range = sqlite3_column_type(s, 1) != SQLITE_NULL;
		st->rec.created = col_u64(s, 1);
		st->rec.updated = col_u64(s, 2);
		st->rec.fresh = 0;
		if (sqlite3_column_type(s, 4) != SQLITE_NULL) {
			struct shown *x = &st->rec.shown;

			x->alive = sqlite3_column_int(s, 3) == 0;
			x->hlc = col_u64(s, 5);
			x->has = col_fixed(s, 4, x->vid, VID_LEN) &&
			    col_fixed(s, 6, x->author, 32);
			/* Not in vals: in the pack, or lost. */
			in_pack = !x->has && col_fixed(s, 4, x->vid, VID_LEN);
			st->rec.shown_lost = !x->has;
		}
		rc = vp_cols(&st->rec.vp, s, 7);
		sqlite3_reset(s);
		if (rc != 0)
			return rc;
		if (in_pack)
			shown_in_pack(st);
	} else {
		if ((rc = next_rkey(st, &st->rec.rkey)) != 0)
			return rc;
		memcpy(st->rec.ctag, ctag, TAGLEN);
		st->rec.has_range = 0;
		st->rec.fresh = 1;
		st->rec.row_pending = 1;
		st->rec.vp.known = 1;
		st->rec.vp.pending = !st->no_packs;
	}
	memcpy(st->rec.rid, rec->rid, RID_LEN);
	memcpy(st->rec.circle, rec->circle, CS_CIRCLELEN);
	memcpy(st->rec.coll, rec->collection, rec->collection_len);
	st->rec.coll_len = rec->collection_len;
	st->rec.dirty = 0;
	st->rec.valid = 1;
	fresh_resolved(st, rec, st->rec.fresh);
	touch(st, st->rec.rkey);
	return 0;
}

/* Widens the record's (created, updated) to hlc; rec_flush writes it. */
static void
rec_range(struct store *st, uint64_t hlc)
{
	if (st->rec.has_range && hlc >= st->rec.created &&
	    hlc <= st->rec.updated)
		return;
	if (!st->rec.has_range) {
		st->rec.created = st->rec.updated = hlc;
		st->rec.has_range = 1;
	} else if (hlc < st->rec.created)
		st->rec.created = hlc;
	else
		st->rec.updated = hlc;
	st->rec.dirty = 1;
}

/* 1 if a kill names (rkey, kind, ftag, vid), 0 if not, or an error. */
static int
killed(struct store *st, int kind, const uint8_t ftag[TAGLEN],
    const uint8_t vid[VID_LEN])
{
	sqlite3_stmt *s;
	int rc;

	if ((s = q(st, Q_KILL_HAS)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sqlite3_bind_int(s, 2, kind);
	bind_blob(s, 3, ftag, TAGLEN);
	bind_blob(s, 4, vid, VID_LEN);
	if ((rc = row(s)) == 1)
		sqlite3_reset(s);
	return rc;
}

static int rep_added(struct store *, const struct merge_value *, int);

static int
rep_add(void *ctx, const struct merge_value *v)
{
	struct store *st = ctx;
	uint8_t ftag[TAGLEN], *pt, *box;
	size_t ptlen;
	int64_t aid;
	sqlite3_stmt *s;
	int rc, live;

	if (v->field_len > OPS_MAX_FIELD || v->value_len > OPS_MAX_VALUE)
		return SAMEN_EINVAL;
	if ((rc = rec_resolve(st, v->rec)) != 0 ||
	    (rc = author_id(st, v->author, 1, &aid)) != 0)
		return rc;
	tag(st, ftag, (uint8_t)v->kind, v->field, v->field_len);
	live = v->kind != OP_REM;
	/*
	 * A kill can come before the value it names (another author saw it
	 * first).  A record created in this merge has no kills but its own
	 * chunk's, and those cannot name its own values (a vid depends on the
	 * change set's id, which depends on the preds).
	 */
	if (live && !st->rec.fresh) {
		if ((rc = killed(st, v->kind, ftag, v->vid)) < 0)
			return rc;
		live = !rc;
	}
	/* In the pack already: idempotent, as vals' INSERT OR IGNORE. */
	if (vp_find(&st->rec.vp, v->kind, ftag, v->vid) >= 0)
		return 0;
	if (vp_takes(st, v, aid)) {
		vp_append(st, v, aid, ftag, live);
		return rep_added(st, v, live);
	}

	/* The plaintext, then the box, share the scratch buffer. */
	ptlen = 2 + v->field_len + v->value_len;
	pt = scratch(st, 2 * ptlen + BOX_OVERHEAD);
	box = pt + ptlen;
	pt[0] = (v->alive ? VAL_ALIVE : 0) |
	    (v->kind != OP_EXIST ? VAL_HASVALUE : 0);
	pt[1] = (uint8_t)v->field_len;
	if (v->field_len > 0)
		memcpy(pt + 2, v->field, v->field_len);
	if (v->value_len > 0)
		memcpy(pt + 2 + v->field_len, v->value, v->value_len);
	seal(st, box, pt, ptlen, v->vid, VID_LEN);
	sodium_memzero(pt, ptlen);

	if ((s = q(st, Q_VAL_ADD)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sqlite3_bind_int(s, 2, v->kind);
	bind_blob(s, 3, ftag, TAGLEN);
	bind_blob(s, 4, v->vid, VID_LEN);
	bind_u64(s, 5, v->hlc);
	sqlite3_bind_int64(s, 6, aid);
	bind_u64(s, 7, v->seq);
	sqlite3_bind_int64(s, 8, v->nrefs);
	sqlite3_bind_int(s, 9, live);
	bind_blob(s, 10, box, ptlen + BOX_OVERHEAD);
	if ((rc = run(s)) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return 0;	/* had it already: idempotent */
	return rep_added(st, v, live);
}

/* What follows a new value v of the cached record, in vals or its pack. */
static int
rep_added(struct store *st, const struct merge_value *v, int live)
{
	fresh_added(st, v, live);
	if (live) {
		uint8_t own[MERGE_VID_HASHLEN];
		const uint8_t *vh = v->vid_hash;

		if (vh == NULL) {
			merge_vid_hash(own, v->vid);
			vh = own;
		}
		merge_digest_add_hash(&st->digest.all, vh);
		if (!is_private(st, v->rec->circle))
			merge_digest_add_hash(&st->digest.shared, vh);
		/*
		 * A new live existence value is compared with the shown one
		 * alone.  Once the shown one is lost the scan at flush sees
		 * this one too.
		 */
		if (v->kind == OP_EXIST && !st->rec.shown_lost &&
		    shown_beaten(st, v->vid, v->hlc, v->author)) {
			struct shown *x = &st->rec.shown;

			memcpy(x->vid, v->vid, VID_LEN);
			x->hlc = v->hlc;
			memcpy(x->author, v->author, 32);
			x->alive = v->alive != 0;
			x->has = 1;
			st->rec.dirty = 1;
		}
	}
	rec_range(st, v->hlc);
	return 0;
}

static int
rep_kill(void *ctx, const struct merge_rec *rec, enum op_type kind,
    const char *field, size_t field_len, const uint8_t vid[VID_LEN])
{
	struct store *st = ctx;
	uint8_t ftag[TAGLEN];
	sqlite3_stmt *s;
	int rc, dead;

	if ((rc = rec_resolve(st, rec)) != 0)
		return rc;
	tag(st, ftag, (uint8_t)kind, field, field_len);
	if ((s = q(st, Q_KILL_ADD)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sqlite3_bind_int(s, 2, kind);
	bind_blob(s, 3, ftag, TAGLEN);
	bind_blob(s, 4, vid, VID_LEN);
	if ((rc = run(s)) != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return 0;
	if ((s = q(st, Q_VAL_KILL)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, st->rec.rkey);
	sqlite3_bind_int(s, 2, kind);
	bind_blob(s, 3, ftag, TAGLEN);
	bind_blob(s, 4, vid, VID_LEN);
	if ((rc = run(s)) != 0)
		return rc;
	if ((dead = sqlite3_changes(st->db) == 1) == 0) {
		struct valpack *p = &st->rec.vp;
		ptrdiff_t i;

		if ((i = vp_find(p, kind, ftag, vid)) >= 0 && !p->dead[i]) {
			p->dead[i] = 1;
			st->rec.dirty = 1;	/* pdead, at flush */
			dead = 1;
		}
	}
	if (dead) {
		uint8_t vh[MERGE_VID_HASHLEN];

		merge_vid_hash(vh, vid);
		merge_digest_sub_hash(&st->digest.all, vh);
		if (!is_private(st, rec->circle))
			merge_digest_sub_hash(&st->digest.shared, vh);
		if (st->rec.fr != NO_FRESH)
			st->fresh.r[st->rec.fr].stale = 1;
		/* Only the death of the shown value needs a scan. */
		if (kind == OP_EXIST && st->rec.shown.has &&
		    memcmp(st->rec.shown.vid, vid, VID_LEN) == 0) {
			st->rec.shown_lost = 1;
			st->rec.dirty = 1;
		}
	}
	return 0;
}

static const struct replica_ops store_replica = { rep_add, rep_kill };

/* Merging. */

/* The circle key of (circle, epoch) into st->keys->circle. */
static int
circle_key(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    uint32_t epoch)
{
	int rc;

	if (st->ckey.valid && st->ckey.epoch == epoch &&
	    memcmp(st->ckey.id, circle, CS_CIRCLELEN) == 0)
		return 0;
	st->ckey.valid = 0;
	if ((rc = circle_load(st, circle, epoch, st->keys->circle, NULL,
	    NULL, NULL)) != 0)
		return rc;
	memcpy(st->ckey.id, circle, CS_CIRCLELEN);
	st->ckey.epoch = epoch;
	st->ckey.valid = 1;
	return 0;
}

/* merge_chunks from the plaintexts in hand (store_cs_insert_own). */
static int
merge_own(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN])
{
	struct ops_chunk oc;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < st->nown; i++) {
		if (ops_decode(&oc, st->own[i].data, st->own[i].len) != 0) {
			st->own_bad = 1;
			return 1;
		}
		if ((rc = merge_chunk(&store_replica, st, h, id, (uint32_t)i,
		    &oc)) == 0)
			rc = rec_flush(st);
		ops_chunk_free(&oc);
	}
	return rc;
}

/* merge_chunks from the chunks read ahead (store_cs_insert_opened). */
static int
merge_opened(struct store *st, const struct cs_header *h,
    const uint8_t id[CS_IDLEN])
{
	const struct cs_opened *op = st->opened;
	/* Vids worked out ahead are used only for the change set they are
	 * of. */
	int ahead = op->has_vids && memcmp(op->csid, id, CS_IDLEN) == 0;
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < op->n; i++) {
		/* A purged chunk's record is gone: nothing to apply. */
		if (op->chunks[i].plain == NULL)
			continue;
		if ((rc = merge_chunk_vids(&store_replica, st, h, id, i,
		    &op->chunks[i].oc, ahead ? op->chunks[i].vids : NULL)) == 0)
			rc = rec_flush(st);
	}
	return rc;
}

/*
 * Applies the chunks of one change set.  Returns 0, 1 if the change set is
 * bad (its author's fault: nothing of it may stay), or a store error.
 */
static int
merge_chunks(struct store *st, const uint8_t id[CS_IDLEN],
    const uint8_t *hdr, size_t hdr_len, const uint8_t *payload,
    size_t payload_len)
{
	struct cs_header h;
	struct cs_payload pl;
	struct ops_chunk oc;
	uint8_t *plain;
	size_t plen;
	uint32_t i;
	int rc;

	if (changeset_header_decode(&h, hdr, hdr_len) != 0)
		return 1;
	if (st->own != NULL)
		return merge_own(st, &h, id);
	if (st->opened != NULL)
		return merge_opened(st, &h, id);
	/* A circle key we cannot read is our fault, not the author's. */
	if ((rc = circle_key(st, h.circle, h.epoch)) != 0)
		return rc;
	if (changeset_payload_decode(&pl, payload, payload_len) != 0)
		return 1;
	rc = 0;
	for (i = 0; rc == 0 && i < pl.nchunks; i++) {
		/* A purged chunk's record is gone: nothing to apply. */
		if (pl.chunks[i].purged)
			continue;
		if (changeset_chunk_read(&plain, &plen, &oc, &h, &pl.chunks[i],
		    st->keys->circle) != 0) {
			rc = 1;
			break;
		}
		if ((rc = merge_chunk(&store_replica, st, &h, id, i,
		    &oc)) == 0)
			rc = rec_flush(st);
		ops_chunk_free(&oc);
		sodium_memzero(plain, plen);
		free(plain);
	}
	changeset_payload_free(&pl);
	return rc;
}

static int
cmp_i64(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return (a > b) - (a < b);
}

/*
 * Merges one change set inside the caller's savepoint "cs": 0, 1 if it is
 * bad, or a store error; either of those last two rolls back to "cs" and
 * restores the digests (to saved) and the touched records (to ntouched).
 */
static int
merge_bytes(struct store *st, const uint8_t id[CS_IDLEN],
    const uint8_t *hdr, size_t hdr_len, const uint8_t *payload,
    size_t payload_len, const struct digests *saved, size_t ntouched)
{
	int rc;

	/* A chunk's record cache must not outlive its savepoint. */
	st->rec.valid = 0;
	vp_clear(&st->rec.vp);
	rc = merge_chunks(st, id, hdr, hdr_len, payload, payload_len);
	if (rc != 0) {
		/* All chunks or none; optimistic, the caller rolls back. */
		if (!st->optimistic)
			run_q(st, Q_SP_CS_ROLLBACK);
		st->digest = *saved;
		st->author.valid = 0;
		st->ntouched = ntouched;
		/* It may hold records whose creation was just undone. */
		fresh_clear(st, 1);
		st->colls.n = st->colls.next = 0;
	}
	st->rec.valid = 0;
	vp_clear(&st->rec.vp);	/* no plaintext outlives the merge */
	return rc;
}

/* Loads change set csn and merges it inside savepoint "cs". */
static int
merge_one(struct store *st, int64_t csn, int digest_each)
{
	struct digests saved = st->digest;
	uint8_t id[CS_IDLEN], *hdr = NULL, *payload = NULL;
	size_t hdr_len, payload_len, ntouched = st->ntouched;
	sqlite3_stmt *s;
	int rc, bad;

	if ((s = q(st, Q_CS_LOAD)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, csn);
	if ((rc = row(s)) <= 0)
		return rc == 0 ? SAMEN_ESTORE : rc;
	/* Copied out: the statement is reset before the replica changes. */
	hdr_len = (size_t)sqlite3_column_bytes(s, 1);
	payload_len = (size_t)sqlite3_column_bytes(s, 2);
	if (col_fixed(s, 0, id, CS_IDLEN) && hdr_len > 0) {
		hdr = xmalloc(hdr_len);
		memcpy(hdr, sqlite3_column_blob(s, 1), hdr_len);
		payload = xmalloc(payload_len);
		if (payload_len > 0)
			memcpy(payload, sqlite3_column_blob(s, 2), payload_len);
	}
	sqlite3_reset(s);
	if (hdr == NULL)
		return SAMEN_ESTORE;

	if ((rc = run_q(st, Q_SP_CS)) != 0)
		goto out;
	rc = merge_bytes(st, id, hdr, hdr_len, payload, payload_len, &saved,
	    ntouched);
	bad = rc == 1;
	if (rc == 0 || bad) {
		if ((s = q(st, bad ? Q_CS_BAD : Q_CS_MERGED)) == NULL)
			rc = SAMEN_ESTORE;
		else {
			sqlite3_bind_int64(s, 1, csn);
			rc = run(s);
		}
		if (rc == 0 && digest_each)
			rc = digest_save(st);
		if (rc != 0) {
			run_q(st, Q_SP_CS_ROLLBACK);
			st->digest = saved;
			drop_caches(st);
			st->ntouched = ntouched;
		}
	}
	if (run_q(st, Q_SP_CS_RELEASE) != 0 && rc == 0) {
		rc = SAMEN_ESTORE;
		st->ntouched = ntouched;
	}
	st->rec.valid = 0;
out:
	free(hdr);
	free(payload);
	return rc;
}

/*
 * Merges in batches of the queue's head: each change set leaves the queue
 * (merged or bad) before the next batch is read, and no read statement is
 * open while the replica changes.
 */
static int
merge_all(struct store *st, int digest_each)
{
	int64_t batch[PENDING_BATCH];
	sqlite3_stmt *s;
	size_t i, n;
	int rc;

	for (;;) {
		if ((s = q(st, Q_CS_TODO)) == NULL)
			return SAMEN_ESTORE;
		sqlite3_bind_int(s, 1, PENDING_BATCH);
		n = 0;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			batch[n++] = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			return SAMEN_ESTORE;
		if (n == 0)
			return 0;
		for (i = 0; i < n; i++)
			if ((rc = merge_one(st, batch[i], digest_each)) != 0)
				return rc;
	}
}

int
store_merge_pending(struct store *st,
    void (*touched)(void *arg, int64_t rkey), void *arg)
{
	struct digests before = st->digest;
	size_t i, n;
	int rc, rc2;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	/* What store_cs_insert_merged touched before is reported too. */
	st->want_touched = touched != NULL || st->ntouched > 0;
	/*
	 * Inside the caller's transaction the digest is written once at the
	 * end; on its own, each change set commits with its digest.
	 */
	rc = merge_all(st, !st->in_txn);
	if (st->in_txn && (st->digest_unsaved ||
	    memcmp(&before, &st->digest, sizeof(before)) != 0)) {
		if ((rc2 = digest_save(st)) != 0 && rc == 0)
			rc = rc2;
		else if (rc2 == 0)
			st->digest_unsaved = 0;
	}
	sodium_memzero(st->keys->circle, sizeof(st->keys->circle));
	st->ckey.valid = 0;
	/*
	 * Once per record, however many of the change sets touched it: the
	 * caller reloads each (1,500 writers to one record would otherwise
	 * make it decrypt that record 1,500 times).  After an error too, for
	 * what was merged before it: outside a transaction that is kept.
	 */
	if (st->ntouched > 1)
		qsort(st->touched, st->ntouched, sizeof(*st->touched),
		    cmp_i64);
	for (i = 0, n = 0; i < st->ntouched; i++)
		if (i == 0 || st->touched[i] != st->touched[i - 1])
			st->touched[n++] = st->touched[i];
	st->ntouched = 0;
	st->want_touched = 0;
	for (i = 0; touched != NULL && i < n; i++)
		touched(arg, st->touched[i]);
	return rc;
}

/* Records. */

int
store_record_find(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    const char *collection, const uint8_t rid[RID_LEN], int64_t *rkey)
{
	uint8_t ctag[TAGLEN];
	sqlite3_stmt *s;
	int rc;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	tag(st, ctag, 0, collection, strlen(collection));
	if ((s = q(st, Q_REC_FIND)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, rid, RID_LEN);
	bind_blob(s, 2, circle, CS_CIRCLELEN);
	bind_blob(s, 3, ctag, TAGLEN);
	if ((rc = row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	*rkey = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

static void
value_take(struct store_value *sv, struct item *it)
{
	memcpy(sv->vid, it->vid, VID_LEN);
	sv->hlc = it->hlc;
	sv->author = it->author;	/* until record_pack copies it */
	sv->value = it->value;
	sv->value_len = (uint32_t)it->value_len;
	sv->alive = it->alive != 0;
	it->value = NULL;
}

/* By (field bytes, is_set); strcmp order, as names hold no NUL. */
static int
cmp_group(const struct item *a, const struct item *b)
{
	int d, sa = a->kind == OP_ADD, sb = b->kind == OP_ADD;

	if ((d = strcmp(a->field, b->field)) != 0)
		return d;
	return sa - sb;
}

static int
cmp_item_group(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int d;

	if ((d = cmp_group(a, b)) != 0)
		return d;
	/* A set's tags by (element bytes, vid). */
	if (a->kind == OP_ADD) {
		size_t n = a->value_len < b->value_len ? a->value_len :
		    b->value_len;

		if (n > 0 && (d = memcmp(a->value, b->value, n)) != 0)
			return d;
		if (a->value_len != b->value_len)
			return a->value_len < b->value_len ? -1 : 1;
	}
	return memcmp(a->vid, b->vid, VID_LEN);
}

/* Register survivors it[0..n) into out, display order first. */
static size_t
register_take(struct store_value *out, struct item *it, size_t n)
{
	struct merge_survivor few[8], *sv = few;
	size_t i, distinct;

	/* A register has a survivor or two, but for conflicts.  Every
	 * member is set below. */
	if (n > sizeof(few) / sizeof(few[0]))
		sv = xreallocarray(NULL, n, sizeof(*sv));
	for (i = 0; i < n; i++) {
		sv[i].vid = it[i].vid;
		sv[i].hlc = it[i].hlc;
		sv[i].author = it[i].author;
		sv[i].value = it[i].value;
		sv[i].value_len = it[i].value_len;
		sv[i].alive = it[i].kind == OP_EXIST ? it[i].alive : 0;
		sv[i].user = &it[i];
	}
	distinct = merge_order(sv, n);
	for (i = 0; i < n; i++)
		value_take(&out[i], sv[i].user);
	if (sv != few)
		free(sv);
	return distinct;
}

/*
 * The collection's name of row s of Q_REC_ROW, named in colls: from the
 * names read last (struct store_keys), else from its box.
 */
static int
colls_name(struct store *st, sqlite3_stmt *s, struct store_record *r)
{
	uint8_t ctag[TAGLEN], ad[1 + TAGLEN];
	const uint8_t *box = sqlite3_column_blob(s, 6);
	size_t n = (size_t)sqlite3_column_bytes(s, 6);
	struct name_memo *m;
	int rc;

	if (!col_fixed(s, 5, ctag, TAGLEN))
		return SAMEN_ESTORE;
	m = &st->keys->names[ctag[0] & (NAME_MEMO - 1)];
	if (m->used && memcmp(m->ctag, ctag, TAGLEN) == 0) {
		r->collection = xstrndup(m->name, m->len);
		return 0;
	}
	if (box == NULL || n < BOX_OVERHEAD ||
	    n - BOX_OVERHEAD > OPS_MAX_COLLECTION)
		return SAMEN_ESTORE;
	n -= BOX_OVERHEAD;
	colls_ad(ad, ctag);
	r->collection = xmalloc(n + 1);
	rc = unseal(st, (uint8_t *)r->collection, box, n + BOX_OVERHEAD, ad,
	    sizeof(ad));
	r->collection[n] = '\0';
	if (rc == 0) {
		m->used = 1;
		m->len = (uint8_t)n;
		memcpy(m->ctag, ctag, TAGLEN);
		memcpy(m->name, r->collection, n);
	}
	return rc;
}

/*
 * r's row: its collection's name from coll's box, or from colls if coll
 * is empty (a packed record: items_pack opens its pack, whose associated
 * data binds the row's ctag, rid and circle).
 */
static int
record_row(struct store *st, int64_t rkey, struct store_record *r)
{
	uint8_t ad[1 + RID_LEN + CS_CIRCLELEN];
	const uint8_t *box;
	sqlite3_stmt *s;
	size_t n;
	int rc;

	if ((s = q(st, Q_REC_ROW)) == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_int64(s, 1, rkey);
	if ((rc = row(s)) <= 0)
		return rc == 0 ? SAMEN_ENOTFOUND : rc;
	r->rkey = rkey;
	r->created = col_u64(s, 3);
	r->updated = col_u64(s, 4);
	if (!col_fixed(s, 0, r->rid, RID_LEN) ||
	    !col_fixed(s, 1, r->circle, CS_CIRCLELEN)) {
		rc = SAMEN_ESTORE;
		goto out;
	}
	if (sqlite3_column_bytes(s, 2) == 0) {
		rc = colls_name(st, s, r);
		goto out;
	}
	box = sqlite3_column_blob(s, 2);
	n = (size_t)sqlite3_column_bytes(s, 2);
	if (box == NULL || n < BOX_OVERHEAD) {
		rc = SAMEN_ESTORE;
		goto out;
	}
	coll_ad(ad, r->rid, r->circle);
	r->collection = xmalloc(n - BOX_OVERHEAD + 1);
	rc = unseal(st, (uint8_t *)r->collection, box, n, ad, sizeof(ad));
	r->collection[n - BOX_OVERHEAD] = '\0';
out:
	sqlite3_reset(s);
	return rc;
}

/* The distinct authors of a record being packed, and where they go. */
struct pack {
	const uint8_t **authors;
	size_t na;
	uint8_t *pa;		/* the authors' 32-byte slots in the block */
	char *ps;		/* the next string's place in the block */
};

/* The slot of author a, which is added if it is new. */
static size_t
pack_author(struct pack *k, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < k->na && memcmp(k->authors[i], a, 32) != 0; i++)
		;
	if (i == k->na)
		k->authors[k->na++] = a;
	return i;
}

static char *
pack_str(struct pack *k, const char *src, size_t len)
{
	char *d = k->ps;

	memcpy(d, src, len);
	d[len] = '\0';
	k->ps += len + 1;
	return d;
}

static void
pack_val(struct pack *k, struct store_value *d, const struct store_value *v)
{
	*d = *v;
	d->author = k->pa + 32 * pack_author(k, v->author);
	if (v->value != NULL)
		d->value = pack_str(k, v->value, v->value_len);
}

/*
 * One allocation for what r holds, laid out as: the record, the existence
 * values, the fields, every field's values, the distinct authors (32 bytes
 * each), then the strings.  The sizes of the structs are multiples of 8, so
 * each array stays aligned.  r is left as it was (the caller frees it).
 */
static struct store_record *
record_pack(const struct store_record *r)
{
	const uint8_t *few[8];	/* the distinct authors, most of the time */
	struct pack k;
	size_t i, j, nv = r->nexist, strs, size;
	struct store_record *p;
	struct store_value *pv;

	strs = strlen(r->collection) + 1;
	for (i = 0; i < r->nfields; i++) {
		strs += strlen(r->fields[i].name) + 1;
		nv += r->fields[i].nvals;
		for (j = 0; j < r->fields[i].nvals; j++)
			strs += r->fields[i].vals[j].value_len + 1;
	}
	memset(&k, 0, sizeof(k));
	k.authors = nv <= sizeof(few) / sizeof(few[0]) ? few :
	    xcalloc(nv, sizeof(*k.authors));
	for (i = 0; i < r->nexist; i++)
		(void)pack_author(&k, r->exist[i].author);
	for (i = 0; i < r->nfields; i++)
		for (j = 0; j < r->fields[i].nvals; j++)
			(void)pack_author(&k, r->fields[i].vals[j].author);
	size = sizeof(*p) + nv * sizeof(*pv) +
	    r->nfields * sizeof(*p->fields) + k.na * 32 + strs;
	p = xmalloc(size);
	*p = *r;
	p->packed = 1;
	pv = (struct store_value *)(p + 1);
	p->exist = r->nexist ? pv : NULL;
	pv += r->nexist;
	p->fields = r->nfields ? (struct store_field *)pv : NULL;
	pv = (struct store_value *)((struct store_field *)pv + r->nfields);
	k.pa = (uint8_t *)(pv + (nv - r->nexist));
	for (i = 0; i < k.na; i++)
		memcpy(k.pa + 32 * i, k.authors[i], 32);
	k.ps = (char *)(k.pa + 32 * k.na);

	p->collection = pack_str(&k, r->collection, strlen(r->collection));
	for (i = 0; i < r->nexist; i++)
		pack_val(&k, &p->exist[i], &r->exist[i]);
	for (i = 0; i < r->nfields; i++) {
		const struct store_field *f = &r->fields[i];

		p->fields[i] = *f;
		p->fields[i].name = pack_str(&k, f->name, strlen(f->name));
		p->fields[i].vals = f->nvals ? pv : NULL;
		for (j = 0; j < f->nvals; j++)
			pack_val(&k, &pv[j], &f->vals[j]);
		pv += f->nvals;
	}
	assert((size_t)(k.ps - (char *)p) == size);
	if (k.authors != few)
		free(k.authors);
	return p;
}

/* Frees r's arrays and r, not its strings (record_build's, borrowed). */
static void
record_free_arrays(struct store_record *r)
{
	free(r->exist);
	for (size_t i = 0; i < r->nfields; i++)
		free(r->fields[i].vals);
	free(r->fields);
	free(r);
}

/*
 * Fills r (its row already in) from its live values it[0..n), which it
 * consumes, and returns it packed; r is freed.  borrowed: the strings of
 * r and it are not theirs (fresh_take's): only the arrays are freed.
 */
static struct store_record *
record_build(struct store_record *r, struct item *it, size_t n,
    int borrowed)
{
	struct store_record *packed;
	struct store_field *f;
	size_t i, j, k, nex = 0;

	/* EXIST first, then the fields' groups in (name, is_set) order. */
	for (i = 0; i < n; i++)
		if (it[i].kind == OP_EXIST) {
			struct item t = it[nex];

			it[nex++] = it[i];
			it[i] = t;
		}
	if (nex > 0) {
		r->exist = xcalloc(nex, sizeof(*r->exist));
		r->nexist = nex;
		r->exist_conflict = register_take(r->exist, it, nex) > 1;
		r->deleted = !r->exist[0].alive;
	}
	if (n > nex)
		qsort(it + nex, n - nex, sizeof(*it), cmp_item_group);
	r->fields = xcalloc(n - nex, sizeof(*r->fields));
	for (i = nex; i < n; i = j) {
		for (j = i + 1; j < n && cmp_group(&it[i], &it[j]) == 0; j++)
			;
		f = &r->fields[r->nfields++];
		f->name = it[i].field;
		it[i].field = NULL;
		f->is_set = it[i].kind == OP_ADD;
		f->nvals = j - i;
		f->vals = xcalloc(f->nvals, sizeof(*f->vals));
		if (!f->is_set) {
			f->ndistinct = register_take(f->vals, it + i, j - i);
			continue;
		}
		for (k = 0; k < f->nvals; k++) {
			value_take(&f->vals[k], &it[i + k]);
			if (k == 0 || f->vals[k].value_len !=
			    f->vals[k - 1].value_len || memcmp(f->vals[k].value,
			    f->vals[k - 1].value, f->vals[k].value_len) != 0)
				f->ndistinct++;
		}
	}
	/* The values point at the items' authors until packed. */
	packed = record_pack(r);
	if (borrowed) {
		record_free_arrays(r);
		free(it);
	} else {
		store_record_free(r);
		items_free(it, n);
	}
	return packed;
}

int
store_record_load(struct store *st, int64_t rkey, struct store_record **out)
{
	struct store_record *r;
	struct item *it;
	size_t n;
	int rc;

	*out = NULL;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	r = xcalloc(1, sizeof(*r));
	if ((rc = record_row(st, rkey, r)) != 0 ||
	    (rc = items_load(st, Q_VALS_LIVE, rkey, &it, &n)) != 0) {
		store_record_free(r);
		return rc;
	}
	*out = record_build(r, it, n, 0);
	return 0;
}

/* The record f caches (which goes stale: it is handed out once). */
static struct store_record *
fresh_take(struct store *st, struct fresh_rec *f)
{
	struct store_record *r = xcalloc(1, sizeof(*r));
	struct item *it = xcalloc(f->n ? f->n : 1, sizeof(*it));
	char *buf = st->fresh.buf;

	/* Its strings are the buffer's (NUL-terminated), borrowed. */
	r->rkey = f->rkey;
	memcpy(r->rid, f->rid, RID_LEN);
	memcpy(r->circle, f->circle, CS_CIRCLELEN);
	r->collection = buf + f->coll;
	r->created = f->created;
	r->updated = f->updated;
	for (size_t i = 0; i < f->n; i++) {
		const struct fresh_val *x = &st->fresh.v[f->first + i];

		it[i] = x->it;
		it[i].field = buf + x->field;
		if (x->it.kind != OP_EXIST)
			it[i].value = buf + x->value;
	}
	f->stale = 1;
	return record_build(r, it, f->n, 1);
}

/*
 * A read transaction unless the caller is in one: one snapshot, and SQLite
 * takes the WAL read lock once instead of for every statement.  Returns 1
 * if it began one (read_end ends it), 0 if not, or SAMEN_ESTORE.
 */
static int
read_begin(struct store *st)
{
	if (st->in_txn || !sqlite3_get_autocommit(st->db))
		return 0;
	return run_q(st, Q_BEGIN_READ) != 0 ? SAMEN_ESTORE : 1;
}

/* Ends what read_begin began (own = its return).  Nothing was written:
 * ending the read is all COMMIT does here. */
static int
read_end(struct store *st, int own)
{
	if (own > 0 && !sqlite3_get_autocommit(st->db) &&
	    run_q(st, Q_COMMIT) != 0)
		return SAMEN_ESTORE;
	return 0;
}

/* The rkeys s yields in its first column, all of them (s is reset). */
static int
rkeys_of(sqlite3_stmt *s, int64_t **out, size_t *nout)
{
	int64_t *keys = NULL;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			keys = xreallocarray(keys, cap, sizeof(*keys));
		}
		keys[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(keys);
		return SAMEN_ESTORE;
	}
	*out = keys;
	*nout = n;
	return 0;
}

int
store_record_load_many(struct store *st, const int64_t *rkeys, size_t n,
    struct store_record **out)
{
	size_t i;
	int own;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	/* What this transaction created needs no reading back. */
	for (i = 0; i < n; i++) {
		struct fresh_rec *f = fresh_find(st, rkeys[i]);

		if (f != NULL && !f->stale)
			out[i] = fresh_take(st, f);
	}
	fresh_clear(st, 1);
	if ((own = read_begin(st)) < 0)
		return own;
	for (i = 0; i < n; i++)
		if (out[i] == NULL &&
		    store_record_load(st, rkeys[i], &out[i]) != 0)
			out[i] = NULL;
	(void)read_end(st, own);
	return 0;
}

static void
values_free(struct store_value *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].value);
	free(v);
}

void
store_record_free(struct store_record *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->packed) {
		free(r);
		return;
	}
	free(r->collection);
	values_free(r->exist, r->nexist);
	for (i = 0; i < r->nfields; i++) {
		free(r->fields[i].name);
		values_free(r->fields[i].vals, r->fields[i].nvals);
	}
	free(r->fields);
	free(r);
}

int
store_record_foreach(struct store *st,
    int (*cb)(void *arg, struct store_record *r), void *arg)
{
	struct store_record *r;
	int64_t *keys = NULL;
	size_t i, n = 0;
	sqlite3_stmt *s;
	int rc, own;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	/* One snapshot for the whole walk (the per-statement read lock was
	 * a fifth of a start-up).  The keys first: cb may use the store. */
	if ((own = read_begin(st)) < 0)
		return own;
	if ((s = q(st, Q_REC_KEYS)) == NULL)
		rc = SAMEN_ESTORE;
	else
		rc = rkeys_of(s, &keys, &n);
	for (i = 0; rc == 0 && i < n; i++)
		if ((rc = store_record_load(st, keys[i], &r)) == 0)
			rc = cb(arg, r);
	free(keys);
	if (read_end(st, own) != 0 && rc == 0)
		rc = SAMEN_ESTORE;
	return rc;
}

static int
cmp_rec_rid(const void *pa, const void *pb)
{
	const struct store_record *a = *(struct store_record *const *)pa;
	const struct store_record *b = *(struct store_record *const *)pb;
	int c = memcmp(a->rid, b->rid, RID_LEN);

	if (c)
		return c;
	return a->rkey < b->rkey ? -1 : a->rkey > b->rkey;
}

int
store_circle_records(struct store *st, const uint8_t circle[CS_CIRCLELEN],
    struct store_record ***out, size_t *nout)
{
	struct store_record **r = NULL;
	int64_t *keys = NULL;
	size_t i, n = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*nout = 0;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((s = q(st, Q_REC_CIRCLE)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, circle, CS_CIRCLELEN);
	if ((rc = rkeys_of(s, &keys, &n)) != 0)
		return rc;
	r = xcalloc(n ? n : 1, sizeof(*r));
	for (i = 0, rc = 0; rc == 0 && i < n; i++)
		rc = store_record_load(st, keys[i], &r[i]);
	free(keys);
	if (rc != 0) {
		store_record_list_free(r, i);
		return rc;
	}
	qsort(r, n, sizeof(*r), cmp_rec_rid);
	*out = r;
	*nout = n;
	return 0;
}

void
store_record_list_free(struct store_record **r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_record_free(r[i]);
	free(r);
}

static int
cmp_hist(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int d;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	if ((d = memcmp(a->author, b->author, 32)) != 0)
		return d;
	return memcmp(a->vid, b->vid, VID_LEN);
}

int
store_history(struct store *st, int64_t rkey, struct store_hist **out,
    size_t *nout)
{
	struct store_hist *h;
	struct item *it;
	size_t i, n;
	int rc;

	*out = NULL;
	*nout = 0;
	if (!st->has_key)
		return SAMEN_ELOCKED;
	if ((rc = items_load(st, Q_VALS_ALL, rkey, &it, &n)) != 0)
		return rc;
	if (n == 0) {
		free(it);
		return SAMEN_ENOTFOUND;
	}
	qsort(it, n, sizeof(*it), cmp_hist);
	h = xcalloc(n, sizeof(*h));
	for (i = 0; i < n; i++) {
		h[i].hlc = it[i].hlc;
		memcpy(h[i].author, it[i].author, 32);
		h[i].seq = it[i].seq;
		h[i].kind = it[i].kind;
		h[i].field = it[i].field;
		h[i].value = it[i].value;
		h[i].alive = it[i].alive;
		h[i].nrefs = it[i].nrefs;
		it[i].field = it[i].value = NULL;
	}
	items_free(it, n);
	*out = h;
	*nout = n;
	return 0;
}

void
store_history_free(struct store_hist *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].field);
		free(h[i].value);
	}
	free(h);
}

/* Stats, digest, rebuild. */

int
store_stats(struct store *st, struct store_stats *s)
{
	memset(s, 0, sizeof(*s));
	if (scalar(st, Q_N_RECORDS, &s->records) != 0)
		return SAMEN_ESTORE;
	return store_stats_but_records(st, s);
}

int
store_stats_but_records(struct store *st, struct store_stats *s)
{
	uint64_t todo, nokey;

	if (scalar(st, Q_N_CS, &s->changesets) != 0 ||
	    scalar(st, Q_N_TODO, &todo) != 0 ||
	    scalar(st, Q_N_NOKEY, &nokey) != 0 ||
	    scalar(st, Q_N_BAD, &s->bad) != 0 ||
	    scalar(st, Q_N_FLAGGED, &s->flagged) != 0 ||
	    scalar(st, Q_MAX_HLC, &s->max_hlc) != 0)
		return SAMEN_ESTORE;
	/* What cannot be read yet (no circle key) waits too. */
	s->pending = todo + nokey;
	return 0;
}

int
store_max_hlc(struct store *st, uint64_t *out)
{
	return scalar(st, Q_MAX_HLC, out) != 0 ? SAMEN_ESTORE : 0;
}

int
store_digest(struct store *st, uint8_t out[32])
{
	merge_digest_final(out, &st->digest.all);
	return 0;
}

int
store_shared_digest(struct store *st, uint8_t out[32])
{
	merge_digest_final(out, &st->digest.shared);
	return 0;
}

static int
rebuild(struct store *st)
{
	int rc;

	if ((rc = run_q(st, Q_RB_KILLS)) != 0 ||
	    (rc = run_q(st, Q_RB_VALS)) != 0 ||
	    (rc = run_q(st, Q_RB_RECORDS)) != 0 ||
	    (rc = run_q(st, Q_RB_COLLS)) != 0 ||
	    (rc = run_q(st, Q_RB_CS)) != 0)
		return rc;
	drop_caches(st);
	digests_init(&st->digest);
	if ((rc = merge_all(st, 0)) != 0)
		return rc;
	return digest_save(st);
}

int
store_rebuild(struct store *st)
{
	int rc;

	if (!st->has_key)
		return SAMEN_ELOCKED;
	/* A savepoint: its own transaction, or part of the caller's. */
	if ((rc = sp_begin(st)) != 0)
		return rc;
	rc = rebuild(st);
	sodium_memzero(st->keys->circle, sizeof(st->keys->circle));
	st->ckey.valid = 0;
	if (sp_end(st, rc == 0) != 0 && rc == 0)
		rc = SAMEN_ESTORE;
	if (rc != 0 && digest_load(st) != 0)
		digests_init(&st->digest);
	return rc;
}

/* Peers.  Each call is one statement: atomic in or out of a transaction. */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
store_peer_put(struct store *st, const uint8_t device[32], const char *addr)
{
	sqlite3_stmt *s;

	if ((s = q(st, Q_PEER_PUT)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, device, 32);
	if (addr != NULL)
		sqlite3_bind_text(s, 2, addr, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	bind_u64(s, 3, now_ms());
	return run(s);
}

int
store_peer_rm(struct store *st, const uint8_t device[32])
{
	sqlite3_stmt *s;
	int rc;

	if ((s = q(st, Q_PEER_RM)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, device, 32);
	if ((rc = run(s)) != 0)
		return rc;
	return sqlite3_changes(st->db) == 0 ? SAMEN_ENOTFOUND : 0;
}

int
store_peer_list(struct store *st, struct store_peer **out, size_t *nout)
{
	struct store_peer *p = NULL, *x;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	const char *addr;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((s = q(st, Q_PEER_LIST)) == NULL)
		return SAMEN_ESTORE;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			p = xreallocarray(p, cap, sizeof(*p));
		}
		x = &p[n];
		memset(x, 0, sizeof(*x));
		if (!col_fixed(s, 0, x->device, 32)) {
			rc = SAMEN_ESTORE;
			goto fail;
		}
		if ((addr = (const char *)sqlite3_column_text(s, 1)) != NULL)
			x->addr = xstrdup(addr);
		x->added_ms = col_u64(s, 2);
		x->last_sync_ms = col_u64(s, 3);
		x->sent = col_u64(s, 4);
		x->received = col_u64(s, 5);
		x->rejected = col_u64(s, 6);
		/* NULL until the first sync: an all-zero digest. */
		if (sqlite3_column_type(s, 7) != SQLITE_NULL &&
		    !col_fixed(s, 7, x->digest, 32)) {
			free(x->addr);
			rc = SAMEN_ESTORE;
			goto fail;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		rc = SAMEN_ESTORE;
		goto fail;
	}
	sqlite3_reset(s);
	*out = p;
	*nout = n;
	return 0;
fail:
	sqlite3_reset(s);
	store_peer_list_free(p, n);
	return rc;
}

void
store_peer_list_free(struct store_peer *p, size_t n)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++)
		free(p[i].addr);
	free(p);
}

int
store_peer_note(struct store *st, const uint8_t device[32],
    uint64_t when_ms, const uint8_t digest[32], uint64_t sent,
    uint64_t received, uint64_t rejected)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = q(st, Q_PEER_NOTE)) == NULL)
		return SAMEN_ESTORE;
	bind_blob(s, 1, device, 32);
	bind_u64(s, 2, when_ms);
	bind_blob(s, 3, digest, 32);
	bind_u64(s, 4, sent);
	bind_u64(s, 5, received);
	bind_u64(s, 6, rejected);
	if ((rc = run(s)) != 0)
		return rc;
	return sqlite3_changes(st->db) == 0 ? SAMEN_ENOTFOUND : 0;
}
