/* output_sync: the human forms of the state of replication: status, peer add and ls, sync. */
#ifndef SAMEN_OUTPUT_SYNC_H
#define SAMEN_OUTPUT_SYNC_H

#include <stdint.h>
#include <stdio.h>

#include "reply.h"

/*
 * As every output_* form (output.h): borrows its arguments, writes to fp,
 * and prints a body of another shape as JSON.
 */

/* status */

/*
 * key: value lines; the no-passphrase warning goes to err.  "peers" shows
 * one line per peer, its digest compared with ours.
 */
void output_sync_status(FILE *fp, FILE *err, const struct reply_node *body);
/* Only the warning, for --json, whose stdout must stay one document. */
void output_sync_status_warning(FILE *err, const struct reply_node *body);
/*
 * status: one warning line on err when the daemon's version, protocol or
 * schema (the body's "version", "protocol", "schema") differs from this
 * CLI's (version, protocol, schema: what samen --version prints).  A key
 * the daemon does not send (an older one has no "schema") is left out of
 * the comparison and shown as "?".  Returns 1 if it warned, else 0.
 */
int output_sync_status_version(FILE *err, const struct reply_node *body,
    const char *version, int protocol, int schema);

/* peer add, peer ls */

/* peer add: "peer DEVICE added (ADDR)". */
void output_sync_peer_add(FILE *fp, const struct reply_node *body);
/* peer ls: a table, one peer per line under a header; nothing if none. */
void output_sync_peers(FILE *fp, const struct reply_node *list);

/* sync */

/* sync without --wait: "sync started with N peer(s)". */
void output_sync_started(FILE *fp, const struct reply_node *body);
/*
 * sync --wait, while waiting: "sync: DEVICE12 2 sent, 5 received, 1.2 KiB"
 * (bytes both ways).  Borrows s.
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
void output_sync_held_by(FILE *fp, const char *device, int64_t n,
    int64_t ahead_ms);

#endif
