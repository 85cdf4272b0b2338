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
 * held back until that transaction has committed (synchronous=FULL), so no
 * client hears "stored" before it is durable, and if the commit fails every
 * one of them hears the error and nothing of the batch is kept.  Unlock runs
 * argon2id on libuv's thread pool and replies when done.
 *
 * All pointers in ctl_env are borrowed and must outlive the ctl.
 */
struct ctl_env {
	uv_loop_t *loop;
	struct store *store;
	struct vault *vault;
	struct index *index;
	const char *dir;
};

struct ctl;

struct ctl *ctl_new(const struct ctl_env *env);
/* Wipes the circle key it holds. */
void ctl_free(struct ctl *c);
/* The api_batch_cb (arg is the ctl). */
void ctl_batch(void *arg, struct api_req **reqs, size_t n);
/*
 * Unlocks with passphrase (NULL for a key file without one), synchronously:
 * for start-up only.  Returns 0 or a negative code.
 */
int ctl_unlock_now(struct ctl *c, const char *passphrase, size_t len);
/* 1 while an unlock is running on the thread pool. */
int ctl_busy(const struct ctl *c);

#endif
