/* ctl_records: the control requests on records: put, rm, note, get, ls, find, log, conflicts, handover, purge. */
#ifndef SAMEN_CTL_RECORDS_H
#define SAMEN_CTL_RECORDS_H

#include "ctl.h"

/*
 * Reads are answered from the index (index.h), which the table's flags
 * make sure is whole; writes read the record from the store (earlier
 * writes of the batch are there, once settled) and hand their ops to the
 * writer.  Records of members chains are not records to a person: they
 * are neither shown nor written here (circle.h).
 */
ctl_act_fn ctl_records_put;
ctl_act_fn ctl_records_rm;
ctl_act_fn ctl_records_note;
ctl_act_fn ctl_records_get;
ctl_act_fn ctl_records_ls;
ctl_act_fn ctl_records_find;
ctl_act_fn ctl_records_log;
ctl_act_fn ctl_records_conflicts;
/*
 * Every live case whose lead names device from gets lead to, as ordinary
 * writes of this device (one chunk per case, pred = the values seen), in
 * the named circle or in every circle this device writes to.  A case
 * whose lead or existence is in conflict is left alone and listed.
 * Refused whole (nothing written) if to is not a member of a shared
 * circle one of the cases is in.
 */
ctl_act_fn ctl_records_handover;
/*
 * Purges a record (deleted or not) and, with cascade, every record of its
 * circle that links to it (one of its values, a set's elements too, is
 * the record's id: a note's case field), through circle_purge.  Unknown
 * record: SAMEN_ENOTFOUND (one that was purged says so).
 */
ctl_act_fn ctl_records_purge;
/*
 * samen audit: the reads and writes of a record, or of every circle this
 * device administers, oldest first (trail_query); refused for a device
 * that is not an admin of them, and for a record of the private circle.
 */
ctl_act_fn ctl_records_audit;

#endif
