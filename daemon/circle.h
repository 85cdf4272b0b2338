/* circle: the circles this device holds, their members, and joining the ones it is added to. */
#ifndef SAMEN_CIRCLE_H
#define SAMEN_CIRCLE_H

#include <stddef.h>
#include <stdint.h>

#include "members.h"
#include "store.h"
#include "vault.h"

/*
 * Which circles we hold (the private one, shared ones whose key we have,
 * and the members chain of every shared circle we know), with their keys
 * in memory while unlocked; and what each members chain says (members.h:
 * who created the circle, who is a member, who is admin).  Membership
 * policy for the rest of the daemon is asked here: the control requests
 * (records go to a circle we write to, circle new and add), and the sync
 * layer (peer.c), which calls circle_shared, circle_refuses,
 * circle_members, circle_join and circle_stored directly.
 *
 * After anything that may have changed a members chain the views are
 * built again (circle_refresh); a key sealed to us in one is taken then,
 * and the change sets it makes readable are merged.
 */
struct writer;
struct loader;

struct circle_env {
	struct store *store;
	struct vault *vault;
	struct writer *writer;	/* writes members chains */
	struct loader *loader;	/* merges (and reindexes) after a new key */
	const char *dir;	/* the data directory: the default-circle file */
	/* The circles or their members changed (peers_refresh). */
	void (*changed)(void *arg);
	void *arg;
};

struct circle;

/* Everything in env is borrowed and must outlive the circle. */
struct circle *circle_open(const struct circle_env *env);
/* Wipes every key it holds. */
void circle_close(struct circle *cs);

/*
 * Once the vault is unlocked (the storage key set): takes this device's
 * private circle, making and storing one at the first unlock, and merges
 * the change sets that waited for the keys, in one transaction; reads
 * which circle is the default.  The shared circles come with the first
 * circle_refresh.
 */
int circle_unlock(struct circle *cs);

/*
 * Lock: wipes every circle key held and forgets the circles and their
 * views, as before circle_unlock (which takes them again).
 */
void circle_lock(struct circle *cs);

/* Lookups: borrowed, valid until the next refresh, unlock or lock. */

/* The private circle, or NULL while locked. */
const struct store_circle *circle_private(const struct circle *cs);
/* A circle records may be written to (private or shared), by id. */
const struct store_circle *circle_by_id(const struct circle *cs,
    const uint8_t id[CS_CIRCLELEN]);
/* "private", or a shared circle's name (NULL if unknown or ambiguous). */
const struct store_circle *circle_by_name(const struct circle *cs,
    const char *name);
/* Where a record goes when the request names no circle. */
const struct store_circle *circle_default(const struct circle *cs);
/* The members chain of shared circle base, or NULL. */
const struct store_circle *circle_chain_of(const struct circle *cs,
    const uint8_t base[CS_CIRCLELEN]);
/* 1 if id is a members chain (its records are not shown as records). */
int circle_is_chain(const struct circle *cs, const uint8_t id[CS_CIRCLELEN]);
/* What the members chain of shared circle id says, or NULL. */
const struct members_view *circle_view(const struct circle *cs,
    const uint8_t id[CS_CIRCLELEN]);
/* Every shared circle's view, i < circle_nviews (valid or not). */
size_t circle_nviews(const struct circle *cs);
const struct members_view *circle_view_at(const struct circle *cs, size_t i);
/* 1 if a valid shared circle is called name. */
int circle_name_taken(const struct circle *cs, const char *name);

/* Changes (control requests), inside the batch's transaction. */

/*
 * Creates shared circle name: a random key, its members chain, the circle
 * record and ourselves as admin.  Writes the id to id.  On failure rolls
 * the batch back (writer_abort) and sets *cause (free with free()).  The
 * views are refreshed after the batch (circle_refresh_pending).
 */
int circle_create(struct circle *cs, const char *name,
    uint8_t id[CS_CIRCLELEN], char **cause);
/*
 * Adds device to shared circle circ as a member: seals the circle key to
 * it.  The caller has checked that we may (members_can_manage) and that it
 * is not a member yet.  On failure sets *cause.
 */
int circle_add(struct circle *cs, const struct store_circle *circ,
    const uint8_t device[32], char **cause);
/* Makes circle id the default, saved in the data directory. */
int circle_use(struct circle *cs, const uint8_t id[CS_CIRCLELEN]);

/*
 * Reads the circles again and rebuilds the views; takes any key sealed to
 * us (which makes more change sets readable: merges them, in a
 * transaction of its own).  Then tells env.changed.  0 or a negative code.
 */
int circle_refresh(struct circle *cs);
/* A request of the batch changed a members chain: refresh after it. */
void circle_refresh_later(struct circle *cs);
/* The batch is committed: refreshes if asked to (a failure is logged). */
void circle_refresh_pending(struct circle *cs);

/* The sync layer (peer.c). */

/*
 * Base ids of the shared circles that both we and device belong to.
 * Returns the count; *out is new (free()), or NULL for none.
 */
size_t circle_shared(const struct circle *cs, const uint8_t device[32],
    uint8_t (**out)[CS_CIRCLELEN]);
/*
 * 1 if we know circle (a base id) well enough to say that device must not
 * have it: it is our private circle, or we hold its member list and device
 * is not on it (or we are not).  0 if we do not know it yet, or are
 * joining.
 */
int circle_refuses(const struct circle *cs, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t device[32]);
/* Every member of the shared circles we are in (they may connect).
 * Returns the count; *out is new (free()). */
size_t circle_members(const struct circle *cs, uint8_t (**out)[32]);
/*
 * A peer offers circles (base ids) that we do not hold: it says we are a
 * member.  Takes in their members chains (which hold our key), in one
 * transaction, then refreshes.  Failures are logged.
 */
void circle_join(struct circle *cs, uint8_t (*circles)[CS_CIRCLELEN],
    size_t n);
/*
 * The transaction that stored and merged a peer's batch (loader_merge)
 * was committed (committed = 1): the index is refreshed, and the circles
 * if a members chain changed; or rolled back (0): forgotten.
 */
void circle_stored(struct circle *cs, int committed);

#endif
