/* trail: the read audit (NEN 7513) and a record's audit trail: reads noted, sealed to admins, written, opened, expired. */
#ifndef SAMEN_TRAIL_H
#define SAMEN_TRAIL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "audit.h"
#include "ctl.h"
#include "store.h"

/*
 * docs/design.md, "Read audit", tells the whole story.  Every control
 * request that returns record contents (get, ls, find, log, conflicts,
 * export) notes an event before its reply is held (trail_read): its
 * records of each shared circle become one event of that circle's block
 * for the batch.  When the batch commits, each circle's block is sealed
 * to the circle's audit key (proto/audit.h) and written as a row of the
 * audit journal, in the batch's transaction (trail_flush): the replies
 * of the batch wait for its commit to reach the disk, reads as writes,
 * and a read whose event cannot be written is refused.  The journal is
 * shipped, many batches at once, as change sets of the circle's audit
 * chain (sync_audit_circle).  Audit chains sync as any chain (members
 * and relays carry them) and are never merged: the replica and the index
 * never see them.  Reads of the private circle are not audited: they are
 * this device's own notes, and nobody else could ever open their audit.
 *
 * Admins open the events (trail_query, trail_events: they hold the audit
 * secret, which is sealed to admins only); a member writes events it
 * cannot read.  Events older than audit_retention days are erased by
 * every device that holds them, relays too (trail_set_retention: at
 * once, then daily).
 */
struct ckpt;
struct circle;
struct writer;

struct trail_env {
	uv_loop_t *loop;
	struct store *store;
	struct vault *vault;
	struct circle *circle;
	struct writer *writer;
	struct ckpt *ckpt;	/* truncates the WAL after an expiry; may be NULL */
};

struct trail;

/* Everything in env is borrowed and must outlive the trail. */
struct trail *trail_open(const struct trail_env *env);
/* Stops the expiry timer: before the loop's last run. */
void trail_stop(struct trail *t);
/* Wipes and frees; after the loop has run out. */
void trail_close(struct trail *t);
/* Lock, between batches: wipes the sealing keys held. */
void trail_lock(struct trail *t);
/*
 * Events older than days are erased: now, and daily after.  A
 * reload may change it (conf.c holds it to at least 1826: five years).
 */
void trail_set_retention(struct trail *t, int days);

/*
 * A request is about to return the contents of recs[0..n) (action: the
 * request, static text: "get", "ls", "find", "log", "conflicts",
 * "export"; a find is a search, and its text is never kept): noted for
 * the batch, one event per shared circle among the records.  Returns 0,
 * or a negative code and *cause (a circle without an audit key): then
 * the request must be refused.  Borrows everything.
 */
int trail_read(struct ctl_parts *p, const char *action,
    const struct store_record *const *recs, size_t n, char **cause);
/*
 * The batch is done, before its commit: every block noted is sealed and
 * written into its transaction as a row of the journal (store_journal_add),
 * which the batch's replies wait for as for its writes.  Then, if now is
 * set or the journal is due (TRAIL_SHIP_BYTES, TRAIL_SHIP_MS), the
 * journal is shipped in the same transaction: each circle's rows become
 * change sets of its audit chain (writer_sealed, a box per chunk) and
 * leave the journal.  Shipping signs: it waits while the daemon is
 * locked.  0, or a negative code and *cause: the batch was rolled back
 * (or is to be: writer_abort).  Nothing stays noted after.
 */
int trail_flush(struct trail *t, int now, char **cause);
/* How long the journal waits, at most, while reads go on (ctl ships it
 * after as long without them): TRAIL_SHIP_MS, or the tests' own. */
#define TRAIL_SHIP_MS 1000
uint64_t trail_ship_ms(void);
/* 1 if the journal may hold rows not shipped yet. */
int trail_pending(const struct trail *t);
/* The batch was rolled back: what it noted goes with it. */
void trail_drop(struct trail *t);
/* Events noted since open: a count that only grows. */
uint64_t trail_noted(const struct trail *t);

enum trail_action {
	TRAIL_READ = 0,
	TRAIL_WRITE = 1,
};

struct trail_event {
	uint64_t hlc;
	uint8_t device[32];
	enum trail_action action;
	/*
	 * Static text.  A write: "create", "update", "delete", "restore".  A
	 * read: the request that returned the record ("get", "export", ...).
	 */
	const char *what;
};

/*
 * The events of record rec, oldest first, into *out (a new array of *n:
 * free with free()): its writes (one per change set of its history) and,
 * if this device may open its circle's audit, its reads.  Returns 0, or
 * a negative code and *cause (free with free()).  Borrows p and rec.
 */
int trail_events(struct ctl_parts *p, const struct store_record *rec,
    struct trail_event **out, size_t *n, char **cause);

/* What samen audit asks. */
struct trail_query {
	int has_record;
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
	int has_device;
	uint8_t device[32];
	uint64_t since;		/* an hlc: what is at or after it; 0: all */
};

/* One line of the timeline: a read, or a write (a change set). */
struct trail_entry {
	uint64_t hlc;
	uint8_t device[32];
	uint8_t circle[16];
	enum trail_action action;
	const char *what;		/* static, as trail_event's */
	struct audit_rec *recs;		/* owned by the entry */
	size_t nrecs;
};

#define TRAIL_QUERY_MAX 100000	/* entries of one answer */

struct trail_list {
	struct trail_entry *e;
	size_t n, cap;
	int truncated;		/* more than TRAIL_QUERY_MAX: the oldest kept */
};

/*
 * The timeline q asks for, oldest first, into *out (trail_list_free).
 * With a record (rec: the record q names, from the index): the reads
 * that name it and the writes of its history, in its circle; a record no
 * longer held (rec NULL: purged) has its reads looked for in every
 * circle asked about.  Without one: every read and every change set of
 * every circle asked about.  The circles asked about are those this
 * device is a current admin of and holds an audit secret of; none, or
 * the record's circle not among them: SAMEN_EINVAL, "only an admin ...".
 * Else 0, or a negative code; *cause (free()) says why.
 */
int trail_query(struct trail *t, const struct trail_query *q,
    const struct store_record *rec, struct trail_list *out, char **cause);
void trail_list_free(struct trail_list *l);

/* One expiry pass, as at now_ms (wall clock, ms): the tests' clock. */
int trail_expire(struct trail *t, uint64_t now_ms);

#endif
