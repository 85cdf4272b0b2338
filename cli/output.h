/* output: JSON of a reply body, the text helpers of the human forms, and the one-line forms. */
#ifndef SAMEN_OUTPUT_H
#define SAMEN_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reply.h"

/*
 * Every format samen prints lives here and in the renderers built on it,
 * one module per subject:
 *	output_records.h	get, ls, find, log, conflicts, handover,
 *				purge, audit (cmd_record.c)
 *	output_sync.h		status, peer add and ls, sync (the state of
 *				replication: cmd_peer.c, cmd_device.c)
 *	output_circles.h	circle new ... retention, device revoke
 *				(cmd_circle.c)
 *
 * All functions borrow their arguments and write to the FILE they are given
 * (tests print to a memory stream).  The human forms take the bodies of
 * docs/api.md; a body of another shape is printed as JSON rather than
 * dropped, so that a newer daemon's reply is never lost.  Text that came
 * from a reply is sanitised for the terminal (control characters replaced)
 * because other devices wrote it; JSON escapes it instead.
 */

/* JSON. */

/* One JSON document and a newline. */
void output_json(FILE *fp, const struct reply_node *n);
/* One JSON value, without the newline. */
void output_json_value(FILE *fp, const struct reply_node *n);
/* s[0..len) as a JSON string, quotes included. */
void output_json_str(FILE *fp, const char *s, size_t len);
/* items[0..n) as one JSON array and a newline. */
void output_json_items(FILE *fp, const struct reply_node *const *items,
    size_t n);

/*
 * Text for a terminal: the pieces the human forms are made of.  Columns
 * are code points (an invalid byte counts as one): close enough for
 * alignment without a locale.
 */

#define OUTPUT_TIME_COLS 24	/* 2026-11-24T23:50:01.123Z */
#define OUTPUT_RID_COLS 26	/* a record id */

/* Flags of output_text(). */
#define OUTPUT_BLOCK 0x1	/* keep newlines, continue at the indent */
#define OUTPUT_CUT 0x2		/* cut at max without the "..." mark */

/* n spaces. */
void output_spaces(FILE *fp, size_t n);
/* The columns s[0..len) takes. */
size_t output_cols(const char *s, size_t len);
/*
 * s[0..len) made safe for a terminal; returns the columns used on its last
 * line.  On one line, tab and newlines become a space; with OUTPUT_BLOCK,
 * newlines continue at indent; any other control character or invalid
 * byte shows as '?'.  max (0 for no limit) cuts the text, with "..."
 * unless OUTPUT_CUT.
 */
size_t output_text(FILE *fp, const char *s, size_t len, size_t max,
    int flags, size_t indent);
/* output_text() of a NUL-terminated s. */
size_t output_str(FILE *fp, const char *s, size_t max, int flags,
    size_t indent);
/* s padded (or cut) to exactly width columns; NULL: only the spaces. */
void output_col(FILE *fp, const char *s, size_t width);
/*
 * A scalar as a person reads it (nil "-", a bool "yes"/"no"); an array (a
 * set field) as its elements joined with ", "; a map as JSON.  max and
 * flags apply to each string as in output_text().  NULL prints nothing.
 * Returns the columns used (0 for a map).
 */
size_t output_value(FILE *fp, const struct reply_node *n, size_t max,
    int flags, size_t indent);
/* The key of entry i of a map node (the parser admits only string keys). */
const char *output_key_at(const struct reply_node *map, uint32_t i);
/* The first DEVID_SHORTLEN characters of a device id, "?" for NULL. */
void output_short(FILE *fp, const char *device);
/* A string of a reply that may be missing: "?" for NULL. */
void output_opt(FILE *fp, const char *s);

/* One-line forms. */

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
 * metrics: the "text" of the body as it is (the Prometheus text format:
 * lines, nothing to align), control characters but newlines replaced; a
 * body of another shape as JSON.
 */
void output_metrics(FILE *fp, const struct reply_node *body);

#endif
