/* subject: a case's whole file (samen export --subject) as JSON, or as a page a resident can read. */
#ifndef SAMEN_SUBJECT_H
#define SAMEN_SUBJECT_H

#include <stddef.h>
#include <stdio.h>

#include "reply.h"

/*
 * What a subject export gathered from its pages (docs/api.md, export):
 * every node is borrowed from the replies, which outlive the calls.
 */
struct subject {
	const char *device;	/* the device that made it */
	const char *time;	/* when */
	const struct reply_node *kase;	/* the case, with "history" */
	const struct reply_node **recs;	/* the records linking to it */
	size_t nrecs;
	const struct reply_node **events;	/* the audit trail, oldest first */
	size_t nevents;
};

/*
 * One JSON document: {"kind", "version", "exported", "device", "case",
 * "records", "audit"} (docs/cli.md).
 */
void subject_json(FILE *fp, const struct subject *s);

/*
 * One self-contained HTML page (inline CSS, no scripts, no external
 * resources; a Content-Security-Policy forbids both), in plain words:
 * the case, the records about it, who wrote what and when, and who looked
 * at it.  Every value is escaped.  The words are in one table of labels,
 * English for now, so that a translation is one more table.
 */
void subject_html(FILE *fp, const struct subject *s);

#endif
