/* ctl_bulk: the control requests on many records at once: export, a subject's file, and import. */
#ifndef SAMEN_CTL_BULK_H
#define SAMEN_CTL_BULK_H

#include "ctl.h"

/*
 * export sends the records in pages (protocol.h, CTL_EXPORT): each page
 * resumes after the last record of the one before, in the index's order
 * (creation order), so a record that exists for the whole export is sent
 * exactly once, and one written meanwhile may or may not be.  A plain
 * export sends the live records that ls would show (of one collection or
 * of all, of one circle or of all); a subject export sends the case and
 * every record that links to it: one of its field values or set elements
 * is the case's id (any case of letters), deleted records too (their
 * history is still held), each with its history and its audit trail
 * (trail.h).  Every export is a read that the audit records (trail_read).
 *
 * import writes one new record per row, with new ids, in the batch's
 * transaction: the rows of one request become one change set per circle.
 * The ids are handed out in row order, so an export lists the records in
 * the order of the rows.  If any row cannot be written, the batch is
 * rolled back and none of it is kept.
 */
ctl_act_fn ctl_bulk_export;
ctl_act_fn ctl_bulk_import;

#endif
