/* trail: a record's audit trail (who read it, who wrote it), the seam between export and the read audit. */
#ifndef SAMEN_TRAIL_H
#define SAMEN_TRAIL_H

#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "store.h"

/*
 * The subject export (ctl_bulk.c) fills its audit section from
 * trail_events() alone, and every export tells what it returned through
 * trail_read().  These two are where the read audit (NEN 7513, issue 26)
 * plugs in; nothing else in the export needs to change:
 *
 *   trail_events  today: the record's writes, one event per change set
 *                 that touched it, from its history ("reads and writes in
 *                 one timeline": writes are half of it).  The audit adds
 *                 the read events that name the record, decrypted with the
 *                 circle's audit key when this device holds it, merged in
 *                 time order.
 *   trail_read    today: records nothing.  The audit writes the event
 *                 here (time, this device, the action, the records' ids),
 *                 durable before the reply leaves; a failure refuses the
 *                 read.
 */

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
 * free with free()).  Returns 0, or a negative code and *cause (free with
 * free()).  Borrows p and rec.
 */
int trail_events(struct ctl_parts *p, const struct store_record *rec,
    struct trail_event **out, size_t *n, char **cause);

/*
 * A request is about to return the contents of recs[0..n) (action: the
 * request, static text such as "export").  Returns 0, or a negative code
 * and *cause: then the request must be refused.  Borrows everything.
 */
int trail_read(struct ctl_parts *p, const char *action,
    const struct store_record *const *recs, size_t n, char **cause);

#endif
