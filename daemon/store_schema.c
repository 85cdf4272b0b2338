/* store_schema: the store's tables, and bringing a database of an older schema up to date. */
#include "store_int.h"
#include "version.h"

#include <stdlib.h>

#include "util.h"

#define STORE_SCHEMA 7
_Static_assert(STORE_SCHEMA == SAMEN_SCHEMA_VERSION,
    "proto/version.h names the schema this store writes");

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
 * when many devices write to one record at once.  Schema 1 had no shown
 * column; migrate_1 adds and fills it.
 *
 * records_key leads with the circle, so that it also serves the reads by
 * circle (store_circle_records, the members chains'): schema 2 had it as
 * (rid, circle, ctag) and a second index on circle, one more b-tree insert
 * per record created; migrate_2 swaps them.
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
 * the coll box bound before (a capital 'P' leads it: store_vp.c's vp_ad).
 * A record without a pack keeps its name in coll, sealed with (rid,
 * circle), as every record of schema 4 does; readers tell the two by
 * coll's length.
 * That is one box and 40 bytes less per new record, and one seal less.
 * Schema 4 has no colls (migrate_4 adds it).
 *
 * Schema 6 adds what the trust lifecycle keeps (docs/sync.md, "Removal,
 * cuts and quarantine"; docs/design.md, "Erasure"): cs.quarantined marks
 * a change set its author wrote past the cut a removal set (cuts: the
 * last seq of (circle, author) that counts); it is kept, never merged,
 * and offered only to admins and relays until an admin accepts it, so
 * the merge queue (cs_todo) leaves it out.  purged holds the keyed record
 * tags (rtag) of every purge of the circle: a chunk with one is erased
 * where it is held and dropped where it arrives, for ever.  departed
 * holds the circles this device was removed from (revoked: from all),
 * whose data it erased: ids only.
 *
 * Schema 7 adds the read audit's journal (docs/design.md, "Read audit"):
 * a batch's events of one circle, sealed to its audit key (a box), one
 * row, until they are shipped as a change set of its audit chain.
 */
#define RECORDS_DELETED_DDL \
	"CREATE INDEX records_deleted ON records(deleted) WHERE deleted = 1;"
#define CS_TODO_DDL \
	"CREATE INDEX cs_todo ON cs(aid, circle, seq, merged, bad, readable," \
	"  quarantined)" \
	"  WHERE merged = 0 AND bad = 0 AND readable = 1 AND quarantined = 0;"
#define LIFECYCLE_DDL \
	"CREATE TABLE cuts (circle BLOB NOT NULL, aid INTEGER NOT NULL" \
	"  REFERENCES authors(aid), seq INTEGER NOT NULL," \
	"  PRIMARY KEY (circle, aid)) WITHOUT ROWID;" \
	"CREATE INDEX cs_quarantine ON cs(circle, aid, seq, quarantined)" \
	"  WHERE quarantined = 1;" \
	"CREATE TABLE purged (circle BLOB NOT NULL, rtag BLOB NOT NULL," \
	"  op BLOB NOT NULL, PRIMARY KEY (circle, rtag)) WITHOUT ROWID;" \
	"CREATE TABLE departed (circle BLOB PRIMARY KEY," \
	"  at_ms INTEGER NOT NULL, revoked INTEGER NOT NULL) WITHOUT ROWID;"
#define JOURNAL_DDL \
	"CREATE TABLE audit_journal (n INTEGER PRIMARY KEY," \
	"  circle BLOB NOT NULL, box BLOB NOT NULL);"
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
	"  hdr BLOB NOT NULL, payload BLOB NOT NULL,"
	"  quarantined INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX cs_chain ON cs(circle, aid, seq);"
	CS_TODO_DDL
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
	"  rejected INTEGER NOT NULL DEFAULT 0, digest BLOB) WITHOUT ROWID;"
	LIFECYCLE_DDL
	JOURNAL_DDL;

/*
 * Schema 1 to 2: adds records.shown and fills it from the live existence
 * values, in one pass over them in rkey order.  Needs no key: the display
 * order is over (hlc, author, vid), all stored in clear, and deleted (which
 * schema 1 kept up to date) already says whether the shown one is alive.
 * Runs inside migrate()'s transaction.
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

	if (store_sql_exec(st->db, "ALTER TABLE records ADD COLUMN shown BLOB",
	    cause) != 0)
		return SAMEN_ESTORE;
	if ((s = sql_q(st, Q_MIG_EXIST)) == NULL ||
	    (u = sql_q(st, Q_MIG_SHOWN)) == NULL) {
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
			hlc = sql_col_u64(s, 2);
			if (!sql_col_fixed(s, 1, vid, VID_LEN) ||
			    !sql_col_fixed(s, 3, author, 32)) {
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
			sql_bind_blob(u, 2, bvid, VID_LEN);
			if (sql_run(u) != 0) {
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
	return store_sql_exec(st->db, "DROP INDEX IF EXISTS records_circle;"
	    "DROP INDEX records_key;"
	    "CREATE UNIQUE INDEX records_key ON records(circle, rid, ctag);",
	    cause) != 0 ? SAMEN_ESTORE : 0;
}

/* Schema 4 to 5: the collections' names, sealed once each (colls). */
static int
migrate_4(struct store *st, char **cause)
{
	return store_sql_exec(st->db, COLLS_DDL, cause) != 0 ? SAMEN_ESTORE : 0;
}

/*
 * Schema 5 to 6: the lifecycle's tables, cs.quarantined, and the merge
 * queue's index with it (a quarantined change set is never merged).
 */
static int
migrate_5(struct store *st, char **cause)
{
	return store_sql_exec(st->db,
	    "ALTER TABLE cs ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;"
	    "DROP INDEX cs_todo;" CS_TODO_DDL LIFECYCLE_DDL, cause) != 0 ?
	    SAMEN_ESTORE : 0;
}

/* Schema 6 to 7: the read audit's journal. */
static int
migrate_6(struct store *st, char **cause)
{
	return store_sql_exec(st->db, JOURNAL_DDL, cause) != 0 ?
	    SAMEN_ESTORE : 0;
}

/*
 * Schema 3 to 4: the pack columns (NULL: the records of schema 3 keep
 * their values in vals, where every reader still looks) and the index of
 * deleted records.
 */
static int
migrate_3(struct store *st, char **cause)
{
	return store_sql_exec(st->db,
	    "ALTER TABLE records ADD COLUMN paid INTEGER"
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

	if (store_sql_exec(st->db, "BEGIN IMMEDIATE", cause) != 0)
		return SAMEN_ESTORE;
	rc = version < 2 ? migrate_1(st, cause) : 0;
	if (rc == 0 && version < 3)
		rc = migrate_2(st, cause);
	if (rc == 0 && version < 4)
		rc = migrate_3(st, cause);
	if (rc == 0 && version < 5)
		rc = migrate_4(st, cause);
	if (rc == 0 && version < 6)
		rc = migrate_5(st, cause);
	if (rc == 0 && version < 7)
		rc = migrate_6(st, cause);
	if (rc == 0) {
		bump = xasprintf("PRAGMA user_version = %d", STORE_SCHEMA);
		rc = store_sql_exec(st->db, bump, cause);
		free(bump);
	}
	if (rc == 0)
		rc = store_sql_exec(st->db, "COMMIT", cause);
	if (rc != 0)
		store_sql_exec(st->db, "ROLLBACK", NULL);
	return rc;
}

int
store_schema_ensure(struct store *st, const char *path, char **cause)
{
	int version;

	if (store_sql_pragma_int(st->db, "PRAGMA user_version",
	    &version) != 0) {
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
		int rc = store_sql_exec(st->db, ddl, cause);

		free(ddl);
		if (rc != 0) {
			store_sql_exec(st->db, "ROLLBACK", NULL);
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
	return 0;
}
