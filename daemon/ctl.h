/* ctl: the control requests: decode, act on store and index, reply; group commit. */
#ifndef SAMEN_CTL_H
#define SAMEN_CTL_H

#include <stdint.h>

#include <uv.h>

#include "api.h"
#include "index.h"
#include "store.h"
#include "vault.h"

/*
 * Requests of one batch are handled in order.  Writes (put, rm, note) open
 * one transaction that the whole batch shares; every reply of the batch is
 * held back until that transaction has committed and the disk has it
 * (durable_after, after a failed sync: a storage error), so no
 * client hears "stored" before it is durable, and if the commit fails every
 * one of them hears the error and nothing of the batch is kept.  Unlock runs
 * argon2id on libuv's thread pool and replies when done.
 *
 * All pointers in ctl_env are borrowed and must outlive the ctl.
 */
struct durable;

struct ctl_env {
	uv_loop_t *loop;
	struct store *store;
	struct vault *vault;
	struct index *index;
	const char *dir;
	const char *db_path;	/* samen.db, which the index loader opens */
	/* Syncs the batches' lazy commits (NULL: each commit syncs). */
	struct durable *durable;
	/* Called once the keys are unlocked; the index may still be loading
	 * (on the thread pool): control requests wait for it, sync does not. */
	void (*unlocked)(void *arg);
	void *unlocked_arg;
};

struct ctl;

struct ctl *ctl_new(const struct ctl_env *env);
/*
 * At shutdown, before the loop's last run: stops an index load early and
 * refuses the requests waiting for it (-ESHUTDOWN).
 */
void ctl_close(struct ctl *c);
/* Wipes the circle key it holds.  After the loop has run out (no load in
 * flight). */
void ctl_free(struct ctl *c);
/* The api_batch_cb (arg is the ctl). */
void ctl_batch(void *arg, struct api_req **reqs, size_t n);
/*
 * Unlocks with passphrase (NULL for a key file without one), synchronously:
 * for start-up only.  Returns 0 or a negative code.
 */
int ctl_unlock_now(struct ctl *c, const char *passphrase, size_t len);
/* Fills h with the callbacks the sync layer calls (peer.h). */
struct peer_host;
struct peers;
void ctl_peer_host(struct ctl *c, struct peer_host *h);
/* The sync layer, once started (after unlock); NULL to detach. */
void ctl_set_peers(struct ctl *c, struct peers *p);
/* 1 while an unlock is running on the thread pool. */
int ctl_busy(const struct ctl *c);

#endif
