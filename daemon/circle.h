/* circle: the circles this device holds, their rosters and keys, and the membership ops it writes. */
#ifndef SAMEN_CIRCLE_H
#define SAMEN_CIRCLE_H

#include <stddef.h>
#include <stdint.h>

#include "roster.h"
#include "store.h"
#include "vault.h"

/*
 * Which circles we hold (the private one, shared ones, and the members
 * chain of every shared circle we know), with their keys in memory while
 * unlocked; and what each members chain says: its roster (proto/roster.h,
 * resolved from every op of the chain), the circle's name (sealed in its
 * create op), the epoch writers use (the roster's preferred one).
 * Membership policy for the rest of the daemon is asked here: the control
 * requests (records go to a circle we write to; circle new, add, role,
 * rm, accept, quarantine, ls; device revoke), and the sync layer
 * (peer.c, session.c), which calls circle_shared, circle_refuses,
 * circle_members, circle_role, circle_join and circle_stored directly.
 *
 * After anything that may have changed a members chain the rosters are
 * resolved again (circle_refresh).  Then, in turn: the keys sealed to us
 * are taken (and what they make readable is merged), the cuts of removed
 * devices are set in the store (which quarantines what they wrote past
 * them), and an admin does the maintenance its rosters owe (a new epoch
 * when the one writers use is sealed to a device that is no longer a
 * reader, or some reader lacks it).  Log lines name circles by id, never
 * by name: a name can name a family.
 *
 * circle.c reads and answers; circle_ops.c writes the ops.
 */
struct writer;
struct loader;
struct ckpt;

struct circle_env {
	struct store *store;
	struct vault *vault;
	struct writer *writer;	/* writes members chains */
	struct loader *loader;	/* merges (and reindexes) after a new key */
	struct ckpt *ckpt;	/* truncates the WAL after an erase; may be NULL */
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
/*
 * The circle records of circle id are written with: the private one, or
 * a shared one at its preferred epoch.  NULL if unknown, or if we hold no
 * key of that epoch (a relay holds none).
 */
const struct store_circle *circle_by_id(const struct circle *cs,
    const uint8_t id[CS_CIRCLELEN]);
/*
 * "private", or a shared circle by name (circle_find's rules), as
 * circle_by_id gives it; NULL if unknown, ambiguous or not writable.
 */
const struct store_circle *circle_by_name(const struct circle *cs,
    const char *name);
/*
 * Why circle_by_name(cs, name) is NULL: the code, and in *cause (the
 * caller frees it) one line that says so: no such circle, no key of it
 * to write with, or its members cannot be resolved here.
 */
int circle_no_writer(const struct circle *cs, const char *name,
    char **cause);
/* Where a record goes when the request names no circle. */
const struct store_circle *circle_default(const struct circle *cs);
/*
 * The default circle's info if its members cannot be resolved here
 * (circle_default then gives the private circle, where a new record must
 * not silently go instead), else NULL.
 */
const struct circle_info *circle_default_unresolved(const struct circle *cs);
/* The members chain of shared circle base, or NULL. */
const struct store_circle *circle_chain_of(const struct circle *cs,
    const uint8_t base[CS_CIRCLELEN]);
/* 1 if id is a members chain (its records are not shown as records). */
int circle_is_chain(const struct circle *cs, const uint8_t id[CS_CIRCLELEN]);
/* 1 if a shared circle we hold is called name. */
int circle_name_taken(const struct circle *cs, const char *name);

/*
 * A shared circle as `samen circle ls` shows it (borrowed, valid until
 * the next refresh).  The name is the one sealed in its create op, or,
 * for a device that holds no key of its first epoch (a relay, a member
 * added with --no-history), the first 8 hex digits of its id.
 */
struct circle_info {
	uint8_t id[CS_CIRCLELEN];
	const char *name;
	int named;			/* name is the circle's own */
	/*
	 * NULL: no roster could be made, for roster_rc (a SAMEN_E* code);
	 * such a circle is listed only if we hold a key of it, by its id.
	 */
	const struct roster *r;
	int roster_rc;
	uint32_t epoch;			/* the preferred one; 0 if none */
	size_t nepochs;
	int writable;			/* we hold the preferred epoch's key */
	uint64_t quarantined;
	/* This device in it: NOROLE and 0 if not listed. */
	enum roster_role role;
	enum roster_state state;
};
/* The shared circles, in order of name; *n entries. */
const struct circle_info *circle_list(const struct circle *cs, size_t *n);
/*
 * A shared circle by name: its sealed name, or else its id in hex (at
 * least 8 digits, a prefix of one circle's only).  NULL if none, or if
 * two circles go by that name.
 */
const struct circle_info *circle_find(const struct circle *cs,
    const char *name);

/* Changes (control requests), inside the batch's transaction. */

/*
 * What an op written by the calls below did, for the reply: the circle
 * (id, name borrowed from its info), the device it concerns and its role
 * after, the epoch it started (0: none), the cut it set.
 */
struct circle_done {
	uint8_t id[CS_CIRCLELEN];
	const char *name;
	enum roster_role role;
	uint32_t epoch;
	uint64_t cut;
	size_t ncircles;		/* revoke: in how many circles */
};

/*
 * Each returns 0, or a negative code and *cause (free with free()), the
 * one line a person sees: a refusal (not an admin, unknown device, the
 * last admin, a relay given a key, a revoked device added again, ...)
 * writes nothing; a failure to write rolls the batch back
 * (writer_abort).  The rosters are refreshed as the op is written, so
 * the next request of the batch sees it.
 */

/*
 * Creates shared circle name: a random salt (the id derives from it and
 * us), a random first key, an audit key pair, the members chain, and the
 * create op with our seals and the name sealed under the first key.
 */
int circle_create(struct circle *cs, const char *name,
    struct circle_done *out, char **cause);
/*
 * Adds device to circle name with role.  A member or admin gets every
 * epoch key we hold sealed to it (history), or only the preferred one's;
 * an admin also the audit secret; a relay nothing (asking to seal it the
 * current key, history 0, is refused by the key code).
 */
int circle_add(struct circle *cs, const char *name, const uint8_t device[32],
    enum roster_role role, int history, struct circle_done *out,
    char **cause);
/* Changes device's role; a relay made a reader gets the keys as by add. */
int circle_set_role(struct circle *cs, const char *name,
    const uint8_t device[32], enum roster_role role, struct circle_done *out,
    char **cause);
/*
 * Removes device: its cut at the head of its chain in the circle as we
 * hold it, and a new epoch whose fresh key is sealed to every reader but
 * it (and a new audit key pair if it was an admin).
 */
int circle_remove(struct circle *cs, const char *name,
    const uint8_t device[32], struct circle_done *out, char **cause);
/*
 * Lets in what removed device wrote past its cut, up to seq (has_seq), or
 * all of it we hold: moves its cut there.
 */
int circle_accept(struct circle *cs, const char *name,
    const uint8_t device[32], int has_seq, uint64_t seq,
    struct circle_done *out, char **cause);
/*
 * Revokes device (lost) in every circle we administer that names it: a
 * removal marked as a loss, with reason (may be empty) sealed under the
 * new epoch's key.  out->ncircles says in how many.
 */
int circle_revoke(struct circle *cs, const uint8_t device[32],
    const char *reason, size_t reason_len, struct circle_done *out,
    char **cause);

/* A quarantined change set as `samen circle quarantine` lists it. */
struct circle_held {
	uint8_t author[32];
	uint64_t seq, hlc;
	uint32_t epoch;
	uint32_t nchunks;
	/* The records it touches, if we hold its epoch's key; else 0. */
	int readable;
	struct circle_held_rec {
		char collection[OPS_MAX_COLLECTION + 1];
		uint8_t rid[RID_LEN];
	} *recs;
	size_t nrecs;
};
/*
 * The quarantined change sets of circle name: *out new (free with
 * circle_held_free), *n entries; the info through *info (borrowed).
 */
int circle_quarantine(struct circle *cs, const char *name,
    const struct circle_info **info, struct circle_held **out, size_t *n,
    char **cause);
void circle_held_free(struct circle_held *h, size_t n);

/* Makes circle id the default, saved in the data directory. */
int circle_use(struct circle *cs, const uint8_t id[CS_CIRCLELEN]);
/* If circle id (NULL: any) is the default, it no longer is (we left it). */
void circle_forget_default(struct circle *cs, const uint8_t id[CS_CIRCLELEN]);

/*
 * Reads the circles again and resolves the rosters; takes any key sealed
 * to us (which makes more change sets readable: merges them); then, out
 * of a transaction, sets the cuts and does an admin's maintenance.  Then
 * tells env.changed.  0 or a negative code.
 */
int circle_refresh(struct circle *cs);
/* A request of the batch changed a members chain: refresh after it. */
void circle_refresh_later(struct circle *cs);
/* The batch is committed: refreshes if asked to (a failure is logged). */
void circle_refresh_pending(struct circle *cs);

/*
 * Erasure (circle_purge.c; docs/design.md, "Erasure", and docs/sync.md,
 * "Purges and retention").  A purge is an admin's signed op in the
 * circle's members chain: the record tags of what it names under every
 * epoch key its writer holds, those records' ids sealed under the
 * preferred epoch's key (so that a member computes their tags under keys
 * the writer lacked, and under epochs that come later), and the reason,
 * sealed.  After every refresh each valid purge not yet applied with
 * every key this device holds is applied (store_erase_tags), and a
 * retention pass runs: a member erases what a policy says is old enough
 * by itself, an admin issues purges for it so that relays follow.
 */

/* A record, by collection and id. */
struct circle_rec {
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
};

/* What circle_purge did, for the reply. */
struct circle_purged_op {
	uint8_t id[CS_CIRCLELEN];
	const char *name;		/* the circle's, borrowed */
	int local;			/* the private circle: erased, no op */
	uint8_t op[CS_IDLEN];		/* the purge op's id (local: 0s) */
	size_t ntags;
};

/*
 * Purges recs[0..n) of circle id (the record asked for first, then what
 * links to it), for reason (1 to 1024 bytes, sealed).  A shared circle:
 * admins only; writes the purge op in the batch's transaction, and the
 * refresh after its commit erases (here, and on every device the op
 * reaches).  The private circle has no members chain and nobody to tell:
 * its records are erased here at once, in a transaction of their own
 * (call it out of the batch's), and the reason is kept nowhere.  Refusals
 * as circle_add's: not an admin, more tags than ROSTER_MAX_TAGS, ids too
 * many to seal in one op, no key of the preferred epoch.
 */
int circle_purge(struct circle *cs, const uint8_t id[CS_CIRCLELEN],
    const struct circle_rec *recs, size_t n, const char *reason,
    size_t reason_len, struct circle_purged_op *out, char **cause);

/*
 * Sets the retention of collection in circle name to days (0: none), an
 * admin's retention op.  out's id and name are set.
 */
int circle_retention(struct circle *cs, const char *name,
    const char *collection, uint32_t days, struct circle_done *out,
    char **cause);

/* A record a retention policy says is due, for circle retention --due. */
struct circle_due {
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
	uint64_t updated;		/* hlc of its last change */
	uint32_t days;			/* the policy's */
};
/*
 * What the retention of circle name erases now (at the clock the check
 * reads): *out new (free()), *n entries, collection by collection, oldest
 * first; *info borrowed.  Refused for a device that holds no key (a
 * relay cannot tell a record's age).
 */
int circle_retention_due(struct circle *cs, const char *name,
    const struct circle_info **info, struct circle_due **out, size_t *n,
    char **cause);
/*
 * A retention pass and the purges it owes, out of a transaction: the
 * timer's, and after a sync.  0, 1 if more is due than one pass erases
 * (run it again soon), or a negative code.
 */
int circle_retention_run(struct circle *cs);

/* Who erased a record, from its purge op (samen log of it). */
struct circle_purged {
	uint8_t author[32];
	uint64_t seq;			/* of the op in its author's chain */
	uint64_t hlc;			/* 0: not known */
	int retention;			/* erased by a retention policy */
	char *reason;			/* NULL if not readable here; owned */
};
/*
 * If (collection, rid) was erased by a purge or a retention policy of a
 * circle this device holds a key of: 0 and *out (circle_purged_free);
 * else SAMEN_ENOTFOUND.
 */
int circle_purged(struct circle *cs, const char *collection,
    const uint8_t rid[RID_LEN], struct circle_purged *out);
void circle_purged_free(struct circle_purged *p);
/*
 * Purge ops of the circles held that do not count, their author not an
 * admin in their past (UNAUTHORIZED), or taken away by a removal
 * (FILTERED): refused, never applied.
 */
uint64_t circle_purges_refused(const struct circle *cs);
/*
 * After a peer's batch: logs how many chunks of purged records it
 * brought (stored purged, counted in status's purged_dropped).
 */
void circle_note_dropped(struct circle *cs);

/* The sync layer (peer.c, session.c). */

/*
 * Base ids of the shared circles that both we and device are current
 * members of (any role: a relay too).  Returns the count; *out is new
 * (free()), or NULL for none.
 */
size_t circle_shared(const struct circle *cs, const uint8_t device[32],
    uint8_t (**out)[CS_CIRCLELEN]);
/*
 * 1 if we know circle (a base id) well enough to say that device must not
 * have it: it is our private circle, or its roster says that device (or
 * we) is not a current member.  0 if we do not know it yet, or are
 * joining.
 */
int circle_refuses(const struct circle *cs, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t device[32]);
/*
 * device's role in shared circle base, as its roster says now, and its
 * state (*state may be NULL): ROSTER_NOROLE if it is not listed, or we
 * hold no roster of base.  The seam where the sync layer asks what it may
 * offer whom (quarantined change sets: admins and relays).
 */
enum roster_role circle_role(const struct circle *cs,
    const uint8_t base[CS_CIRCLELEN], const uint8_t device[32],
    enum roster_state *state);
/*
 * Every current member (any role) of the shared circles we are a current
 * member of: they may connect.  Returns the count; *out is new (free()).
 */
size_t circle_members(const struct circle *cs, uint8_t (**out)[32]);
/*
 * Exiles (circle_exile.c; docs/sync.md, "Exile sessions"): a device a
 * valid op removed or revoked.  Lookups as above, valid until the next
 * refresh.
 *
 * circle_revoked: 1 if a roster we hold says device is revoked: it is
 * never a peer again, only an exile (of the circles where it is).
 */
int circle_revoked(const struct circle *cs, const uint8_t device[32]);
/*
 * Base ids of the shared circles we are a current member of where device
 * is removed or revoked: what an exile session with it is about.  Returns
 * the count; *out is new (free()), or NULL for none.
 */
size_t circle_exiled(const struct circle *cs, const uint8_t device[32],
    uint8_t (**out)[CS_CIRCLELEN]);
/*
 * Every device removed or revoked from a circle we are a current member
 * of (repeats possible): they may connect, for an exile session.  Returns
 * the count; *out is new (free()).
 */
size_t circle_exiles(const struct circle *cs, uint8_t (**out)[32]);
/*
 * What device, exiled from base, is handed of base's members chain: per
 * author the last seq it may be sent (*out new, free(); sorted by author):
 * the valid ops naming it (remove, revoke, accept) and their causal past
 * (their deps).  Returns the count, 0 if device is not exiled from base.
 */
size_t circle_exile_cap(const struct circle *cs,
    const uint8_t base[CS_CIRCLELEN], const uint8_t device[32],
    struct roster_dep **out);
/*
 * Our own departures: the shared circles whose roster says we were
 * removed or revoked (*out new, free(); *n of them).  Returns 1 if one
 * says revoked (everything goes), else 0.
 */
int circle_departures(const struct circle *cs,
    uint8_t (**out)[CS_CIRCLELEN], size_t *n);
/* 1 if we departed circle base (its data erased): never joined again. */
int circle_departed(const struct circle *cs, const uint8_t base[CS_CIRCLELEN]);

/*
 * A peer offers circles (base ids) that we do not hold: it says we are a
 * member.  Takes in their members chains (which hold our keys), in one
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
