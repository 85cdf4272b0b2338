/* output_records: the human forms of what samen says of records: get, ls, find, log, conflicts, handover, purge, audit. */
#ifndef SAMEN_OUTPUT_RECORDS_H
#define SAMEN_OUTPUT_RECORDS_H

#include <stdio.h>

#include "reply.h"

/*
 * As every output_* form (output.h): borrows its arguments, writes to fp,
 * and prints a body of another shape as JSON.
 */

/* get: one record with its conflicts and (for a case) its notes. */
void output_records_get(FILE *fp, const struct reply_node *rec);
/* ls: one line per record. */
void output_records_ls(FILE *fp, const struct reply_node *list);
/* find: one line per matched field. */
void output_records_find(FILE *fp, const struct reply_node *list);
/* log: one line per operation, change sets grouped. */
void output_records_log(FILE *fp, const struct reply_node *list);
/* conflicts: each conflicted field with its values. */
void output_records_conflicts(FILE *fp, const struct reply_node *list);
/*
 * handover: "N cases moved from FROM12 to TO12", then the cases left in
 * conflict, one id a line.
 */
void output_records_handover(FILE *fp, const struct reply_node *body);
/* purge: what it erases, and where. */
void output_records_purge(FILE *fp, const struct reply_node *body);
/*
 * samen audit: one line per event, oldest first: time, device, read or
 * write, what, the records (the first, and how many more, or "nothing
 * found" for a search); a note on stderr when the answer holds only the
 * oldest events.
 */
void output_records_audit(FILE *fp, const struct reply_node *body);

#endif
