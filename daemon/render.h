/* render: the bodies of control replies, written from what a request's act found. */
#ifndef SAMEN_RENDER_H
#define SAMEN_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "circle.h"
#include "peer.h"
#include "protocol.h"
#include "store.h"
#include "wire.h"

/*
 * Every reply body the daemon sends is written here, from a result that
 * the request's act filled (ctl.c's table pairs them); docs/api.md says
 * what each looks like, and its keys are stable.  A render function writes
 * one msgpack value to w and frees what the result owns (said per field);
 * everything else in a result is borrowed, and valid until render runs
 * right after the act.  Nothing here reads the store or the clock.
 */

/* put, note, rm: the record written. */
struct render_written {
	const char *collection;
	uint8_t rid[RID_LEN];
	int created;
	char case_id[RID_TEXTLEN + 1];	/* note: the case's id; else "" */
};

/* get: one record (a case with its notes). */
struct render_get {
	const struct store_record *rec;
	int with_notes;
	const struct store_record **notes;	/* owned array, oldest first */
	size_t nnotes;
};

/* find lists at most this many matched fields of a record. */
#define RENDER_MAX_MATCHED 64

/* ls, find, conflicts: records in index order. */
struct render_list {
	const struct store_record **recs;	/* owned array */
	size_t n;
	const char *find;	/* find: its text, to list what matched */
	size_t find_len;
};

/*
 * log: a record's history, oldest first; or, for a purged record
 * (is_purged), one entry: who purged it, when and why.
 */
struct render_log {
	struct store_hist *h;	/* owned (store_history) */
	size_t n;
	int is_purged;
	struct circle_purged purged;	/* owned (circle_purged_free) */
};

struct render_status {
	const uint8_t *device;
	const char *dir;
	uint64_t uptime_s;
	int locked;
	int passphrase;
	int revoked;			/* its data and keys erased */
	struct store_stats stats;
	uint8_t digest[32];
	uint8_t shared[32];
	const char *listen;	/* NULL when not listening */
	uint64_t zap_refused, rejected, handshake_failed, dropped;
	uint64_t held_by, held_by_ahead_ms;	/* peers_held_by */
	uint64_t purges_refused;	/* circle_purges_refused */
	struct store_peer *peers;	/* owned (store_peer_list) */
	size_t npeers;
};

struct render_rebuild {
	uint8_t digest[32];
	uint64_t changesets;
};

/* peer add, peer rm. */
struct render_peer {
	const uint8_t *device;
	const char *addr;	/* NULL: none */
};

/*
 * peer ls: while sync runs, a snapshot of its peers (live); while locked,
 * the stored peers, without live state.  Both owned: the render frees them.
 */
struct render_peers {
	int live;
	struct peers_stat *st;	/* live: peers_snapshot */
	struct store_peer *sp;	/* locked: store_peer_list */
	size_t n;
};

/* circle new, add, role, rm, accept, use. */
struct render_circle {
	uint8_t id[CS_CIRCLELEN];
	const char *name;
	const uint8_t *device;	/* add, role, rm, accept */
	enum roster_role role;	/* add, role */
	uint32_t epoch;		/* new, rm: the epoch it started */
	uint64_t cut;		/* rm, accept */
};

/* circle ls: the private circle (priv), or a shared one (info). */
struct render_circle_item {
	const struct store_circle *priv;
	const struct circle_info *info;
	int is_default;
};

struct render_circles {
	struct render_circle_item *items;	/* owned array */
	size_t n;
};

/* metrics: the text of metrics_render, owned: the render frees it. */
struct render_metrics {
	char *text;
	size_t len;
};

/* circle quarantine. */
struct render_quarantine {
	const struct circle_info *info;
	struct circle_held *held;	/* owned (circle_quarantine) */
	size_t n;
};

/* device revoke. */
struct render_revoke {
	const uint8_t *device;
	size_t ncircles;
};

/* handover: the cases whose lead moved, and those left in conflict. */
struct render_handover {
	const uint8_t *from;		/* 32 bytes */
	const uint8_t *to;
	uint8_t (*moved)[RID_LEN];	/* owned array */
	size_t nmoved;
	uint8_t (*conflicts)[RID_LEN];	/* owned array */
	size_t nconflicts;
};

/* export: a record of a page, with its history if asked. */
struct render_export_item {
	const struct store_record *rec;
	int with_history;
	struct store_hist *h;	/* owned (store_history) */
	size_t nh;
};

/* A field of an export's records: the columns of a table of them. */
struct render_column {
	const char *name;	/* borrowed from a record */
	int is_set;
};

/* An event of the audit trail of a subject export (trail.h). */
struct render_event {
	const struct store_record *rec;	/* the record it names */
	uint64_t hlc;
	uint8_t device[32];
	const char *action;	/* static: "read", "write" */
	const char *what;	/* static */
};

/*
 * export: one page.  A plain export's first page also lists the columns
 * of every record it will send; a subject export's first page carries the
 * subject, and every page the audit events of its records.
 */
struct render_export {
	const uint8_t *device;	/* this device */
	uint64_t now;		/* the time of the page */
	int subject;
	int has_subject;	/* subj is set (the first page) */
	struct render_export_item subj;
	struct render_export_item *items;	/* owned array */
	size_t n;
	struct render_event *events;	/* owned array */
	size_t nevents;
	int has_columns;
	struct render_column *cols;	/* owned array */
	size_t ncols;
	int has_next;
	char next[CTL_EXPORT_CURSOR];
};

/* import: the records written (or, in a dry run, how many would be). */
struct render_import {
	const char *collection;
	uint8_t (*rids)[RID_LEN];	/* owned: the new ids, in row order */
	size_t n;
	int dry_run;
};

/* purge: the records it names, the first the one asked for. */
struct render_purge {
	struct circle_purged_op done;
	struct circle_rec *recs;	/* owned array */
	size_t n;
};

/* circle retention: the policy set, or (due) what it erases now. */
struct render_retention {
	int due;
	uint8_t id[CS_CIRCLELEN];
	const char *name;
	const char *collection;		/* set */
	uint32_t days;			/* set: 0 is none */
	struct circle_due *items;	/* due: owned array */
	size_t n;
};

/*
 * audit: the timeline of reads and writes (trail.h's list, owned: the
 * render frees it).
 */
struct trail_list;
struct render_audit {
	struct trail_list *list;
};

union render_result {
	struct render_written written;
	struct render_get get;
	struct render_list list;
	struct render_log log;
	struct render_status status;
	struct render_rebuild rebuild;
	struct render_peer peer;
	struct render_peers peers;
	struct render_circle circle;
	struct render_circles circles;
	struct render_metrics metrics;
	struct render_quarantine quarantine;
	struct render_revoke revoke;
	struct render_handover handover;
	struct render_export export;
	struct render_import import;
	struct render_purge purge;
	struct render_retention retention;
	struct render_audit audit;
};

typedef void render_fn(struct wbuf *w, union render_result *r);

render_fn render_put;		/* written */
render_fn render_note;		/* written */
render_fn render_rm;		/* written */
render_fn render_get;		/* get */
render_fn render_ls;		/* list */
render_fn render_find;		/* list with find */
render_fn render_conflicts;	/* list */
render_fn render_log;		/* log */
render_fn render_status;	/* status */
render_fn render_rebuild;	/* rebuild */
render_fn render_unlock;	/* nothing */
render_fn render_peer_add;	/* peer */
render_fn render_peer_rm;	/* peer */
render_fn render_peer_ls;	/* peers */
render_fn render_circle_new;	/* circle */
render_fn render_circle_add;	/* circle */
render_fn render_circle_use;	/* circle */
render_fn render_circle_ls;	/* circles */
render_fn render_metrics;	/* metrics */
render_fn render_circle_role;	/* circle */
render_fn render_circle_rm;	/* circle */
render_fn render_circle_accept;	/* circle */
render_fn render_circle_quarantine;	/* quarantine */
render_fn render_device_revoke;	/* revoke */
render_fn render_lock;		/* nothing */
render_fn render_handover;	/* handover */
render_fn render_export;	/* export */
render_fn render_import;	/* import */
render_fn render_purge;		/* purge */
render_fn render_retention;	/* retention */
render_fn render_audit;		/* audit */

/* How many conflicts r shows (fields and existence). */
size_t render_count_conflicts(const struct store_record *r);

#endif
