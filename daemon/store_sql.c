/* store_sql: every statement the store prepares, by name, and the helpers that prepare and run SQL. */
#include "store_int.h"

#include "util.h"

/*
 * The text of each statement of enum store_q.  Which index each query
 * uses, and why the tables are shaped for it, is store_schema.c's to say.
 */
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
	/* Only store_circle_put_private moves the private mark (store_circle.c
	 * says why). */
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
	[Q_CIRCLE_LIST] = "SELECT circle, epoch, name, key, kind, base"
	    " FROM circles",
	/* Epoch 0 is a circle's audit secret, not a key of its change sets. */
	[Q_CIRCLE_EPOCHS] = "SELECT epoch FROM circles WHERE circle = ?1"
	    " AND epoch <> 0 ORDER BY epoch LIMIT ?2",
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
	    " readable, id, hdr, payload, merged, bad, quarantined)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
	    " WHERE merged = 0 AND bad = 0 AND readable = 1 AND quarantined = 0"
	    " AND hlc <= ?2 ORDER BY aid, circle, seq LIMIT ?1",
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
	    " WHERE merged = 0 AND bad = 0 AND readable = 1 AND quarantined = 0",
	[Q_N_NOKEY] = "SELECT count(*) FROM cs INDEXED BY cs_nokey"
	    " WHERE readable = 0",
	[Q_N_BAD] = "SELECT count(*) FROM cs INDEXED BY cs_bad WHERE bad = 1",
	[Q_N_RECORDS] = "SELECT (SELECT count(*) FROM records) -"
	    " (SELECT count(*) FROM records INDEXED BY records_deleted"
	    " WHERE deleted = 1)",
	[Q_N_FLAGGED] = "SELECT count(*) FROM flagged",
	[Q_MAX_HLC] = "SELECT max(hlc) FROM cs",
	/* Held (from the future, past the horizon ?1): few, by cs_hlc. */
	[Q_N_HELD] = "SELECT count(*) FROM cs INDEXED BY cs_hlc WHERE hlc > ?1"
	    " AND merged = 0 AND bad = 0 AND readable = 1 AND quarantined = 0",
	[Q_HELD_NEXT] = "SELECT min(hlc) FROM cs INDEXED BY cs_hlc"
	    " WHERE hlc > ?1 AND merged = 0 AND bad = 0 AND readable = 1"
	    " AND quarantined = 0",
	[Q_RB_KILLS] = "DELETE FROM kills",
	[Q_RB_VALS] = "DELETE FROM vals",
	[Q_RB_RECORDS] = "DELETE FROM records",
	/* Written again by the merge: a damaged name does not outlive it. */
	[Q_RB_COLLS] = "DELETE FROM colls",
	[Q_RB_CS] = "UPDATE cs SET merged = 0, bad = 0"
	    " WHERE merged = 1 OR bad = 1",
	[Q_CUT_ANY] = "SELECT 1 FROM cuts LIMIT 1",
	[Q_CUT_GET] = "SELECT seq FROM cuts WHERE circle = ?1 AND aid = ?2",
	[Q_CUT_PUT] = "INSERT INTO cuts (circle, aid, seq) VALUES (?1, ?2, ?3)"
	    " ON CONFLICT (circle, aid) DO UPDATE SET seq = excluded.seq",
	[Q_CUT_DEL] = "DELETE FROM cuts WHERE circle = ?1 AND aid = ?2",
	[Q_CUT_LIST] = "SELECT a.pk, c.seq FROM cuts c"
	    " JOIN authors a ON a.aid = c.aid WHERE c.circle = ?1"
	    " ORDER BY a.pk",
	/* Merged past the cut: the replica holds what it must not. */
	[Q_CUT_STALE] = "SELECT 1 FROM cs WHERE circle = ?1 AND aid = ?2"
	    " AND seq > ?3 AND merged = 1 AND quarantined = 0 LIMIT 1",
	[Q_CUT_MARK] = "UPDATE cs SET quarantined = (seq > ?3)"
	    " WHERE circle = ?1 AND aid = ?2 AND quarantined <> (seq > ?3)",
	[Q_CUT_UNMARK] = "UPDATE cs SET quarantined = 0"
	    " WHERE circle = ?1 AND aid = ?2 AND quarantined = 1",
	[Q_QUAR_LIST] = "SELECT a.pk, cs.seq, cs.hlc, cs.epoch, cs.hdr,"
	    " cs.payload FROM cs INDEXED BY cs_quarantine"
	    " JOIN authors a ON a.aid = cs.aid"
	    " WHERE cs.circle = ?1 AND cs.quarantined = 1"
	    " ORDER BY cs.aid, cs.seq",
	[Q_QUAR_COUNT] = "SELECT count(*) FROM cs INDEXED BY cs_quarantine"
	    " WHERE circle = ?1 AND quarantined = 1",
	[Q_N_QUAR] = "SELECT count(*) FROM cs INDEXED BY cs_quarantine"
	    " WHERE quarantined = 1",
	/* Every change set of a chain, whoever wrote it (a members chain). */
	[Q_CHAIN_ALL] = "SELECT hdr, payload FROM cs WHERE circle = ?1"
	    " ORDER BY aid, seq",
	/* Erasure (store_erase.c). */
	[Q_PURGED_LIST] = "SELECT circle, rtag FROM purged"
	    " ORDER BY circle, rtag",
	[Q_PURGED_ADD] = "INSERT OR IGNORE INTO purged (circle, rtag, op)"
	    " VALUES (?1, ?2, ?3)",
	[Q_ER_EPOCHS] = "SELECT epoch FROM circles WHERE circle = ?1"
	    " ORDER BY epoch",
	/* From the index alone: rkey is the rowid every entry carries. */
	[Q_ER_RECS] = "SELECT rkey, rid, ctag FROM records"
	    " INDEXED BY records_key WHERE circle = ?1",
	[Q_ER_HAS_RECS] = "SELECT 1 FROM records INDEXED BY records_key"
	    " WHERE circle = ?1 LIMIT 1",
	[Q_ER_CS_SCAN] = "SELECT csn, payload FROM cs WHERE circle = ?1",
	[Q_ER_CS_PUT] = "UPDATE cs SET payload = ?2 WHERE csn = ?1",
	[Q_ER_FORK_SCAN] = "SELECT aid, seq, id, hdr, payload FROM forks"
	    " WHERE circle = ?1",
	[Q_ER_FORK_PUT] = "UPDATE forks SET payload = ?5 WHERE circle = ?1"
	    " AND aid = ?2 AND seq = ?3 AND id = ?4",
	[Q_ER_LIVE_VALS] = "SELECT vid FROM vals WHERE rkey = ?1 AND live = 1",
	[Q_ER_PACK] = "SELECT pkeys, pdead FROM records WHERE rkey = ?1",
	[Q_ER_DEL_VALS] = "DELETE FROM vals WHERE rkey = ?1",
	[Q_ER_DEL_KILLS] = "DELETE FROM kills WHERE rkey = ?1",
	[Q_ER_DEL_REC] = "DELETE FROM records WHERE rkey = ?1",
	[Q_ER_DEL_CS] = "DELETE FROM cs WHERE circle = ?1",
	[Q_ER_DEL_FORKS] = "DELETE FROM forks WHERE circle = ?1",
	[Q_ER_DEL_CUTS] = "DELETE FROM cuts WHERE circle = ?1",
	[Q_ER_DEL_PURGED] = "DELETE FROM purged WHERE circle = ?1",
	[Q_ER_DEL_CIRCLE] = "DELETE FROM circles WHERE circle = ?1",
	[Q_ER_DEPARTED] = "INSERT OR REPLACE INTO departed (circle, at_ms,"
	    " revoked) VALUES (?1, ?2, ?3)",
	/* The names no record is of any more (from records_key alone). */
	[Q_ER_COLLS_GC] = "DELETE FROM colls WHERE ctag NOT IN"
	    " (SELECT ctag FROM records INDEXED BY records_key)",
	[Q_ER_DEPART_ALL] = "INSERT OR REPLACE INTO departed (circle, at_ms,"
	    " revoked) SELECT DISTINCT circle, ?1, 1 FROM circles"
	    " WHERE kind = 0",
	[Q_DEPARTED_LIST] = "SELECT circle, revoked FROM departed"
	    " ORDER BY circle",
	[Q_PURGED_OP] = "SELECT op FROM purged WHERE circle = ?1 AND rtag = ?2",
	/* Retention: a circle's records of one collection, oldest first. */
	[Q_ER_EXPIRED] = "SELECT rid, updated FROM records"
	    " WHERE circle = ?1 AND ctag = ?2 AND updated < ?3"
	    " ORDER BY updated, rid LIMIT ?4",
	/* The read audit (store_circle.c, store_erase.c). */
	[Q_AUDIT_BASES] = "SELECT DISTINCT base FROM circles WHERE kind = 2",
	[Q_CS_AUDIT] = "UPDATE cs SET readable = 2"
	    " WHERE circle = ?1 AND readable = 0",
	/* From the hlc index: the rows of an expiry's window only. */
	[Q_AUDIT_OLD] = "SELECT csn FROM cs INDEXED BY cs_hlc"
	    " WHERE hlc >= ?1 AND hlc < ?2 AND readable = 2",
	/* The read audit's journal (store_journal.c). */
	[Q_JNL_ADD] = "INSERT INTO audit_journal (circle, box) VALUES (?1, ?2)",
	[Q_JNL_ALL] = "SELECT n, circle, box FROM audit_journal"
	    " ORDER BY circle, n",
	[Q_JNL_DEL] = "DELETE FROM audit_journal WHERE n = ?1",
	[Q_ER_DEL_JNL] = "DELETE FROM audit_journal WHERE circle = ?1",
};

/* sql_q's first call for a statement: it stays prepared until close. */
sqlite3_stmt *
store_sql_prepare(struct store *st, enum store_q which)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v3(st->db, sql[which], -1,
	    SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
		return NULL;
	st->q[which] = s;
	return s;
}

int
store_sql_exec(sqlite3 *db, const char *s, char **cause)
{
	char *err = NULL;

	if (sqlite3_exec(db, s, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	if (cause != NULL)
		*cause = xasprintf("%s", err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return SAMEN_ESTORE;
}

int
store_sql_pragma_int(sqlite3 *db, const char *s, int *v)
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
