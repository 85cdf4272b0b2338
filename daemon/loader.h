/* loader: fills the index after unlock on the thread pool, and keeps it up to date after merges. */
#ifndef SAMEN_LOADER_H
#define SAMEN_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "index.h"
#include "store.h"

/*
 * The index (index.h) is a copy of the replica in memory.  After unlock it
 * loads on the thread pool, with a connection to samen.db of its own (WAL:
 * it reads one snapshot while the loop writes) and an index of its own,
 * which the loop swaps in when done; sync already serves meanwhile.  Every
 * merge on the loop reports the records it touched (loader_touched, the
 * callback of store_merge_pending); once the merge is committed,
 * loader_refresh reads them again into the index.  While the index loads,
 * they are noted and read again once it is in.  Control requests wait for
 * the load (the ctl defers them until env.loaded).
 */
struct circle;

struct loader_env {
	uv_loop_t *loop;
	struct store *store;
	struct index *index;
	const char *db_path;	/* samen.db, which the load opens */
	/* The load is over (the index is in, or bad, or the load was cut
	 * short by loader_lock): serve what waited. */
	void (*loaded)(void *arg);
	void *arg;
};

struct loader;

/* Everything in env is borrowed and must outlive the loader. */
struct loader *loader_open(const struct loader_env *env);
/* After the loop has run out (no load in flight). */
void loader_close(struct loader *l);
/*
 * At shutdown, before the loop's last run: stops a load early; it ends
 * without touching the index or calling env.loaded.
 */
void loader_stop(struct loader *l);

/*
 * Lock: empties the index (its records are wiped as they are freed) and
 * cuts a load in flight short; that load ends on the loop, its index
 * wiped and thrown away, and then calls env.loaded as any load does.
 * Until loader_start the index stays empty.
 */
void loader_lock(struct loader *l);

/* Starts loading on the thread pool with the storage key (copied). */
void loader_start(struct loader *l, const uint8_t key[32]);
/* 1 while a load is in flight. */
int loader_busy(const struct loader *l);
/* 1 if the index could not be loaded: reads must be refused. */
int loader_bad(const struct loader *l);
/* Loads the whole index now, on this thread (rebuild).  On failure the
 * old index stays.  0 or a negative code. */
int loader_load_now(struct loader *l);
/*
 * The replica was rebuilt (a cut quarantined what was merged): loads the
 * whole index now, or, while a load is in flight, once it is done, since
 * what it read may be gone.  Forgets the records touched.
 */
int loader_reload(struct loader *l);

/* store_merge_pending's callback (arg is the loader): rkey changed. */
void loader_touched(void *arg, int64_t rkey);
/* Records touched since the last refresh or forget. */
size_t loader_pending(const struct loader *l);
/*
 * The merges that touched them are committed: reads the records again
 * into the index (or notes them while it loads).  Returns 1 if one of them
 * is a record of a members chain (circle_is_chain(cs)), else 0.
 */
int loader_refresh(struct loader *l, const struct circle *cs);
/* The merges that touched them were rolled back. */
void loader_forget(struct loader *l);
/*
 * An erase (store_erase_*) took the records rkeys[0..n) (ascending; the
 * erase's store_erased): they leave the index now, and are not read
 * again for merges before it.  A load in flight may have read them: they
 * leave the index it hands over too.  Borrows rkeys.
 */
void loader_erased(struct loader *l, const int64_t *rkeys, size_t n);
/*
 * Inside the transaction that stored a peer's change sets: merges them in
 * it, so that one commit stores and merges a batch.  A merge that fails is
 * logged here and leaves the change sets pending (each one all or
 * nothing); the next batch or unlock merges them.
 */
void loader_merge(struct loader *l);

#endif
