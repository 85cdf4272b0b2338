/* durable: makes lazy commits durable on a thread of its own (fdatasync of the WAL). */
#ifndef SAMEN_DURABLE_H
#define SAMEN_DURABLE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/*
 * The commits of a batch of local writes and of a group of received
 * batches are lazy (store_begin_lazy): SQLite writes their WAL frames but
 * does not wait for the disk.  Their replies and ACKs wait for this
 * module: one thread that runs fdatasync() on the WAL file, so the loop
 * goes on with the next batch meanwhile (docs/design.md, "Durable off the
 * loop").
 *
 * Tickets are the store's lazy-commit numbers (store_commit_lazy), in
 * increasing order.  durable_request(t) asks for every commit up to t to
 * reach the disk; the thread syncs once for every ticket requested so far.
 * Each time the synced ticket advances, cb(arg, done, 0) runs on the loop;
 * if a sync fails, cb(arg, done, SAMEN_ESTORE) runs once and nothing is
 * synced after it (the kernel may have dropped the pages: a later success
 * would prove nothing).
 */
struct durable;

typedef void durable_cb(void *arg, uint64_t done, int status);

/*
 * Opens path (the WAL file: samen.db-wal) and starts the thread.  On error
 * returns a negative code and *cause (free with free()).
 */
int durable_open(struct durable **out, uv_loop_t *loop, const char *path,
    durable_cb *cb, void *arg, char **cause);
/*
 * Writes zeros past the end of the WAL file up to bytes, and has the
 * thread sync them, so that SQLite's frames overwrite blocks already
 * written: a sync after that commits no change of the file's size or
 * blocks, about half as long (docs/design.md, "A written WAL").  SQLite
 * ends its log at the first frame whose checksum fails, as zeros do, so
 * they are never read as frames.  Only before anything else can write the
 * WAL (at start, before serving): writing past an end that SQLite is
 * moving would wipe its frames.  0, or SAMEN_ESTORE (what was written
 * stays: zeros past the end are harmless).  A failed sync of the zeros is
 * told as any failed sync is (cb(arg, done, SAMEN_ESTORE)).
 */
int durable_prefill(struct durable *d, uint64_t bytes);
/*
 * Times each sync (the fdatasync alone) into hist, a histogram in seconds
 * (metrics.h).  The thread notes how long each took; the loop observes
 * them when it is told where the thread got to, since the registry is the
 * loop's alone.  A sync that fails is not timed.  NULL: none is.
 * Borrowed: hist must outlive d.  On the loop.
 */
struct metric;
void durable_time_syncs(struct durable *d, struct metric *hist);
/* Asks for every commit up to ticket to be synced.  On the loop. */
void durable_request(struct durable *d, uint64_t ticket);
/*
 * Blocks until every commit up to ticket is synced (or a sync failed),
 * then tells cb and runs the entries released, as the thread's notice
 * would: for what must not start before the disk has a commit (a sync's
 * sessions offer only the change sets the disk has).  Asks for the sync
 * if need be.  Nothing to wait for with d NULL.  On the loop.
 */
void durable_wait(struct durable *d, uint64_t ticket);
/*
 * If the thread is idle (nothing requested that it has not synced), syncs
 * every commit up to ticket here, on the caller's thread, tells cb and
 * runs the entries released, and returns 1; otherwise 0 (ask for it with
 * durable_request).  For a small batch that would only wait for the
 * thread: two hand-offs between threads less (docs/performance.md §11).
 * A failure is told as the thread's are.  On the loop.
 */
int durable_sync_here(struct durable *d, uint64_t ticket);
/* The highest ticket synced so far (0: none). */
uint64_t durable_done(const struct durable *d);

/*
 * The one way to do something only once the disk has a commit: control
 * replies and peer ACKs both wait here, so that nobody hears of a write a
 * power cut could take back.  fn(arg, 0) runs once every commit up to
 * ticket is synced, after cb was told; entries run in the order they were
 * added (tickets must not decrease from one call to the next).  If a sync
 * fails, the entries whose commits were synced before it still run with
 * 0, and so does any entry added later whose ticket was synced; every
 * other one runs fn(arg, SAMEN_ESTORE) instead, now or when added: a
 * later sync could not be trusted.  Tickets never decrease, so no entry
 * that failed is followed by one that did not.  A ticket already synced, with nothing ahead of it, runs fn
 * before durable_after returns; so does any entry when d is NULL (every
 * commit synced).  Ticket 0 (a commit that synced itself) is such a
 * ticket.  On the loop.
 */
typedef void durable_after_fn(void *arg, int status);
void durable_after(struct durable *d, uint64_t ticket, durable_after_fn *fn,
    void *arg);
/*
 * Drops every waiting entry whose arg is arg, without running it: for an
 * owner that goes away first (a session that ends).  Returns how many.
 */
size_t durable_forget(struct durable *d, void *arg);
/* Entries waiting (for the tests). */
size_t durable_waiting(const struct durable *d);
/*
 * Syncs what was requested, stops the thread, runs cb for it and then the
 * entries it releases (on the caller's thread, the loop's), and closes the
 * loop handle: call before the loop's last run.  Entries left waiting
 * (their ticket was never requested) are dropped unrun.  d is freed once
 * that handle is closed.
 */
void durable_close(struct durable *d);

#endif
