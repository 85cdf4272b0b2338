/* ckpt: samen.db's checkpoints, scheduled from the loop and run on the thread pool. */
#ifndef SAMEN_CKPT_H
#define SAMEN_CKPT_H

#include <stdint.h>

#include <uv.h>

/*
 * SQLite checkpoints inside the commit that takes the WAL past its
 * threshold: on samend's loop, a stall of tens of milliseconds that every
 * request and sync batch behind it waits for.  This module takes that over
 * (docs/design.md, "Checkpoints off the loop"): a uv_check watches the
 * store's commits and starts small PASSIVE checkpoints on the thread pool,
 * one at a time, early and often; the loop copies what is left itself only
 * when that lets the WAL start over; and a second after the last commit,
 * whatever the WAL holds is copied, so that an idle daemon's samen.db
 * holds every commit.
 *
 * At open it also writes the WAL ahead to where it will grow (docs/design.md,
 * "A written WAL"), since that too must happen before anything writes the
 * WAL, and is sized by the same threshold.  Before that it truncates the
 * WAL (store_wal_truncate): an erase committed just before a crash left
 * copies of what it erased there, which the next start must not keep
 * (docs/design.md, "Erasure").
 *
 * If the disk fails to sync samen.db in a checkpoint, samend stops at once
 * (fatalx), leaving the WAL whole: every acknowledged write is in it, and
 * the next start recovers from it, where a later sync that succeeded would
 * let the WAL start over without what was lost (store.h).
 */
struct ckpt;
struct durable;
struct store;

/*
 * Takes st's checkpoints over from SQLite, writes its WAL ahead through d
 * (durable_prefill: twice threshold frames, at most 64 MiB) and starts
 * watching the commits on loop.  threshold is wal_autocheckpoint, in
 * frames.  Call before anything writes the WAL.  st, d and loop are
 * borrowed and must outlive the ckpt; db_path (samen.db) is copied.
 * Returns the new ckpt; close with ckpt_close().
 */
struct ckpt *ckpt_open(uv_loop_t *loop, struct store *st, struct durable *d,
    const char *db_path, uint64_t threshold);
/*
 * An erase committed (store_erase_*): the WAL still holds copies of what
 * it took out.  Truncates it (store_wal_truncate) as soon as no reader's
 * snapshot holds it (an index load, a checkpoint on the pool), trying
 * again every CKPT_TRUNCATE_MS on the loop, never waiting there; then
 * writes it ahead again.  More erases meanwhile need one truncate.
 */
void ckpt_erased(struct ckpt *c);
/* 1 while an erase waits for its truncate (for the tests). */
int ckpt_truncate_pending(const struct ckpt *c);

/*
 * Stops starting checkpoints and closes the handles; a checkpoint already
 * on the pool runs to its end.  c is freed once both are done: call before
 * the loop's last run, and free the store only after that run (the
 * store's close checkpoints only as the database's last connection).
 */
void ckpt_close(struct ckpt *c);

#endif
