/* writer: a batch's writes become signed change sets, one per circle, in one transaction. */
#ifndef SAMEN_WRITER_H
#define SAMEN_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "protocol.h"
#include "store.h"
#include "vault.h"

/*
 * Group commit signs once per circle per batch (docs/design.md, "Group
 * commit").  The writes of one batch to one circle become the chunks of
 * one change set: each write encodes its chunk's plaintext into the
 * circle's open group, and the group is built (rtag, nonce, encryption,
 * one signature, the next seq and prev of our chain in that circle, one
 * hlc), stored and merged when the batch commits, or earlier when a write
 * must read a record that already has a chunk in it (writer_settle): vids
 * name (change set, chunk, op), so that record's new values have no vids
 * until the change set exists.  The batch's writes share one transaction,
 * lazy (its commit does not wait for the disk) when there is a durable.
 *
 * Plaintext is wiped once built or dropped.  If a group cannot be built or
 * stored, or the commit fails, the whole batch rolls back and env.aborted
 * says so: no write of it is kept, and no client may hear otherwise.
 */
struct durable;

struct writer_env {
	struct store *store;
	struct vault *vault;		/* signs; must be unlocked to write */
	struct durable *durable;	/* NULL: each commit syncs */
	/* store_merge_pending's callback: records the merges touched. */
	void (*touched)(void *arg, int64_t rkey);
	void *touched_arg;
	/*
	 * The batch rolled back: every reply held for it so far must now say
	 * code ("not stored: ..."), and what it touched is forgotten.
	 * Returns how many replies that is, for the log.
	 */
	size_t (*aborted)(void *arg, int code);
	void *arg;
	/*
	 * A clock further ahead of the wall clock than this (the device's
	 * clock was wrong, or the highest hlc held came from the future)
	 * takes the wall clock again (hlc_bound; docs/sync.md, "A clock
	 * ahead").  0: never.
	 */
	uint64_t max_skew_ms;
};

struct writer;

/* Everything in env is borrowed and must outlive the writer. */
struct writer *writer_open(const struct writer_env *env);
/* Wipes and frees the groups; nothing may be open (after the batch). */
void writer_close(struct writer *w);
/*
 * Lock, between batches (nothing open): frees the groups' buffers, their
 * keys and plaintext wiped.  writer_start again after unlock.
 */
void writer_lock(struct writer *w);
/* At shutdown, once the durable is closed (NULL): commits sync again. */
void writer_set_durable(struct writer *w, struct durable *d);
/* After unlock: hlc timestamps continue above max_hlc, the highest held,
 * even if the wall clock went back while we were down. */
void writer_start(struct writer *w, uint64_t max_hlc);
/* A new record id (time-ordered, 80 random bits). */
void writer_new_rid(struct writer *w, uint8_t rid[RID_LEN]);

/*
 * The ops of one chunk, built by a request before writer_record: each op's
 * refs (the values it replaces, or the tags it removes) are the vids of
 * store values it names.  Lives on the caller's stack; the ops borrow
 * their field and value strings, which must outlive writer_record.
 */
struct writer_ref {
	size_t first;		/* refs are offsets while the array grows */
	size_t count;
};

struct writer_ops {
	struct op ops[CTL_MAX_ASSIGNS + 1];	/* room for the EXIST op */
	struct writer_ref ref[CTL_MAX_ASSIGNS + 1];
	uint32_t n;
	uint8_t *refs;		/* every op's refs, one after the other */
	size_t nrefs;
	size_t caprefs;
};

void writer_ops_init(struct writer_ops *l);
void writer_ops_free(struct writer_ops *l);
/* Appends an op with no refs yet (at most CTL_MAX_ASSIGNS). */
struct op *writer_ops_add(struct writer_ops *l, enum op_type type,
    const char *field, size_t field_len, const char *value,
    size_t value_len);
/*
 * Makes the vids of vals[0..n) (of those whose value is element, if
 * element is not NULL) refs of the last op added.
 */
void writer_ops_ref(struct writer_ops *l, const struct store_value *vals,
    size_t n, const char *element);

/*
 * The functions below return 0 or a negative code and then set *cause,
 * the reason for the client (free with free()).
 */

/* Opens the batch's transaction, unless it is open. */
int writer_begin(struct writer *w, char **cause);
/*
 * Writes record (collection, rid) of circle circ (borrowed for the call;
 * its key and epoch are copied): an existence op (alive) first, replacing
 * every existence value of cur (the record as it is, NULL when creating),
 * then the ops in l, whose ref arrays it fixes.  Opens the transaction.
 * SAMEN_ETOOBIG if the chunk alone is over the format's limits.
 */
int writer_record(struct writer *w, const struct store_circle *circ,
    const char *collection, const uint8_t rid[RID_LEN],
    const struct store_record *cur, int alive, struct writer_ops *l,
    char **cause);
/*
 * Writes chunk, built by the caller (a roster op's, roster_op_encode),
 * into the open group of circ as writer_record writes its own.  Opens the
 * transaction.  Borrows chunk and circ for the call.
 */
int writer_chunk(struct writer *w, const struct store_circle *circ,
    const struct ops_chunk *chunk, char **cause);
/*
 * Before a write reads record (collection, rid) of circle from the store:
 * if the open group of circle holds a chunk of it, builds that group, so
 * that the store has the record's new values and their vids.
 */
int writer_settle(struct writer *w, const uint8_t circle[CS_CIRCLELEN],
    const char *collection, const uint8_t rid[RID_LEN], char **cause);
/*
 * A change set of chunks[0..n) (plaintexts the caller made, not ops:
 * each is sealed under key, as any chunk) in chain, written now, signed
 * by us, in the batch's transaction (opened if need be), never merged:
 * the read audit's (audit.h), whose chain the store never merges.  Its
 * header says epoch 1 (a chain without epochs).  On failure the batch is
 * rolled back (env.aborted), as when a group fails.  Borrows everything.
 */
int writer_sealed(struct writer *w, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t key[CS_KEYLEN], const struct cs_plain *chunks, size_t n,
    char **cause);
/* A timestamp of the writer's clock (strictly above every earlier one). */
uint64_t writer_hlc(struct writer *w);
/* Builds every open group (stored and merged in the transaction). */
int writer_close_all(struct writer *w, char **cause);
/*
 * The batch is done: builds every open group and commits.  *ticket is the
 * lazy commit's (durable_request has been asked for it); it is left as it
 * is when nothing was open or the commit synced itself.  On failure the
 * batch was rolled back (env.aborted) and its cause logged.
 */
int writer_commit(struct writer *w, uint64_t *ticket);
/*
 * The next writer_commit does not ask for its sync (durable_request): the
 * caller does, or syncs it itself (durable_sync_here).
 */
void writer_sync_later(struct writer *w);
/* Rolls the batch back (a write failed half-way), if anything is open. */
void writer_abort(struct writer *w, int code);
/* 1 while the batch's transaction is open. */
int writer_in_txn(const struct writer *w);

#endif
