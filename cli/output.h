/* output: every format samen prints: JSON of a reply body, and the human forms. */
#ifndef SAMEN_OUTPUT_H
#define SAMEN_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include "reply.h"

/*
 * All functions borrow their arguments and write to the FILE they are given
 * (tests print to a memory stream).  The human forms take the bodies of
 * docs/api.md; a body of another shape is printed as JSON rather than
 * dropped, so that a newer daemon's reply is never lost.  Text that came
 * from a reply is sanitised for the terminal (control characters replaced)
 * because other devices wrote it; JSON escapes it instead.
 */

/* One JSON document and a newline. */
void output_json(FILE *fp, const struct reply_node *n);
/* One JSON value, without the newline. */
void output_json_value(FILE *fp, const struct reply_node *n);
/* s[0..len) as a JSON string, quotes included. */
void output_json_str(FILE *fp, const char *s, size_t len);

/* init, id: the device id, or {"device": "..."}. */
void output_device(FILE *fp, const char *devid, int json);
/* put, note: "id"; rebuild: "replica_digest": one string of the body. */
void output_field(FILE *fp, const struct reply_node *body, const char *key);
/* unlock: "unlocked", or the daemon's message ("already unlocked"). */
void output_unlock(FILE *fp, const struct reply_node *body,
    const char *message);
/* lock: "locked", or the daemon's message ("already locked"). */
void output_lock(FILE *fp, const struct reply_node *body,
    const char *message);
/*
 * handover: "N cases moved from FROM12 to TO12", then the cases left in
 * conflict, one id a line.
 */
void output_handover(FILE *fp, const struct reply_node *body);
/*
 * key: value lines; the no-passphrase warning goes to err.  "peers" shows
 * one line per peer, its digest compared with ours.
 */
void output_status(FILE *fp, FILE *err, const struct reply_node *body);
/* Only the warning, for --json, whose stdout must stay one document. */
void output_status_warning(FILE *err, const struct reply_node *body);
/*
 * status: one warning line on err when the daemon's version, protocol or
 * schema (the body's "version", "protocol", "schema") differs from this
 * CLI's (version, protocol, schema: what samen --version prints).  A key
 * the daemon does not send (an older one has no "schema") is left out of
 * the comparison and shown as "?".  Returns 1 if it warned, else 0.
 */
int output_status_version(FILE *err, const struct reply_node *body,
    const char *version, int protocol, int schema);
/*
 * metrics: the "text" of the body as it is (the Prometheus text format:
 * lines, nothing to align), control characters but newlines replaced; a
 * body of another shape as JSON.
 */
void output_metrics(FILE *fp, const struct reply_node *body);
/* get: one record with its conflicts and (for a case) its notes. */
void output_record(FILE *fp, const struct reply_node *rec);
/* ls: one line per record. */
void output_list(FILE *fp, const struct reply_node *list);
/* find: one line per matched field. */
void output_find(FILE *fp, const struct reply_node *list);
/* log: one line per operation, change sets grouped. */
void output_log(FILE *fp, const struct reply_node *list);
/* conflicts: each conflicted field with its values. */
void output_conflicts(FILE *fp, const struct reply_node *list);

/* items[0..n) as one JSON array and a newline. */
void output_json_items(FILE *fp, const struct reply_node *const *items,
    size_t n);
/* peer add: "peer DEVICE added (ADDR)". */
void output_peer_add(FILE *fp, const struct reply_node *body);
/* peer ls: a table, one peer per line under a header; nothing if none. */
void output_peers(FILE *fp, const struct reply_node *list);
/* sync without --wait: "sync started with N peer(s)". */
void output_sync_started(FILE *fp, const struct reply_node *body);
/*
 * sync --wait, while waiting: "sync: DEVICE12 2 sent, 5 received, 1.2 KiB"
 * (bytes both ways).
 */
void output_sync_progress(FILE *fp, const char *device,
    const struct reply_session *s);
/*
 * sync --wait, at the end, one line per peer: "DEVICE12 in sync",
 * "DEVICE12 done: N sent, M received", "DEVICE12 failed: ERROR".  s is NULL
 * when the device is no longer a peer.
 */
void output_sync_result(FILE *fp, const char *device,
    const struct reply_session *s);
/*
 * A peer holds back n change sets of ours, dated ahead_ms ahead of its
 * clock: "held back by DEVICE12: N change set(s), clock 2d 0h ahead of the
 * peer" (sync --wait, peer ls, status).
 */
void output_held_by(FILE *fp, const char *device, int64_t n,
    int64_t ahead_ms);
/* circle new, add, use: one line saying what happened. */
void output_circle_new(FILE *fp, const struct reply_node *body);
void output_circle_add(FILE *fp, const struct reply_node *body);
void output_circle_use(FILE *fp, const struct reply_node *body);
void output_circle_role(FILE *fp, const struct reply_node *body);
void output_circle_rm(FILE *fp, const struct reply_node *body);
void output_circle_accept(FILE *fp, const struct reply_node *body);
/* circle quarantine: one line per change set held back. */
void output_quarantine(FILE *fp, const struct reply_node *list);
/* device revoke. */
void output_revoke(FILE *fp, const struct reply_node *body);
/* circle ls: a block per circle: name, kind, epoch, then its members. */
void output_circles(FILE *fp, const struct reply_node *list);
/* purge: what it erases, and where. */
void output_purge(FILE *fp, const struct reply_node *body);
/* circle retention: the policy set, or (--due) one line per record. */
void output_retention(FILE *fp, const struct reply_node *body);
/*
 * samen audit: one line per event, oldest first: time, device, read or
 * write, what, the records (the first, and how many more, or "nothing
 * found" for a search); a note on stderr when the answer holds only the
 * oldest events.
 */
void output_audit(FILE *fp, const struct reply_node *body);

#endif
