/* audit: the read audit's events and the sealed box they travel in, pure. */
#ifndef SAMEN_AUDIT_H
#define SAMEN_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "rid.h"
#include "wire.h"

/*
 * A read of record contents through the control API (NEN 7513) is an
 * event: when (an hlc), which request, which records (ids, never
 * contents).  Which device is the author of the change set that carries
 * it.  docs/design.md, "Read audit", tells the whole story; these are the
 * bytes.
 *
 * A block is the events one device noted in one circle in one batch:
 *
 *   [version 1, circle bin16, device bin32,
 *    [[hlc u64, action u8, [[collection str, [rid bin16, ...]], ...]],
 *     ...]]
 *
 * An event's records come in runs of one collection, in the order the
 * request returned them.  circle and device say whose block it is, so
 * that a block copied into another circle's or author's change set is
 * refused where it is opened (its author cannot change what is sealed).
 *
 * A box is a block sealed to the circle's audit key (an X25519 key pair
 * whose secret only admins hold), the chunk of an audit change set:
 *
 *   [version 1, hint bin8, ephemeral bin32, nonce bin24, ciphertext bin]
 *
 * ciphertext is crypto_box_easy_afternm of the block under the key that
 * crypto_box_beforenm makes of the ephemeral key pair and the audit key
 * (XSalsa20-Poly1305: a crypto_box_seal whose ephemeral key serves many
 * boxes); hint is the audit public key's first 8 bytes, so that an admin
 * who holds several audit secrets (the key is renewed when an admin is
 * removed) knows which opens it.  The ephemeral secret is never kept:
 * the writer keeps the shared key while unlocked, which seals but, like
 * any shared key, would also open its own boxes.
 */
#define AUDIT_VERSION 1
#define AUDIT_HINTLEN 8
#define AUDIT_KEYLEN 32		/* crypto_box_BEFORENMBYTES */
#define AUDIT_NONCELEN 24	/* crypto_box_NONCEBYTES */
#define AUDIT_MACLEN 16		/* crypto_box_MACBYTES */
/* Caps of the decoders (a member writes the blocks an admin decodes). */
#define AUDIT_MAX_EVENTS 65536		/* events of one block */
#define AUDIT_MAX_RECS 65536		/* records of one event */
#define AUDIT_MAX_BLOCK (4u << 20)	/* bytes of a block */

enum audit_action {
	AUDIT_GET = 1,
	AUDIT_LS,
	AUDIT_FIND,		/* a search: never its text */
	AUDIT_LOG,
	AUDIT_CONFLICTS,
	AUDIT_EXPORT,
	AUDIT_NACTIONS
};

/* "get", "ls", "find", "log", "conflicts", "export"; NULL if unknown. */
const char *audit_action_name(unsigned action);
/* The action named name, or 0. */
unsigned audit_action_parse(const char *name);

struct audit_rec {
	char collection[OPS_MAX_COLLECTION + 1];	/* NUL-terminated */
	uint8_t rid[RID_LEN];
};

struct audit_event {
	uint64_t hlc;
	unsigned action;		/* enum audit_action */
	struct audit_rec *recs;		/* into the block's array */
	size_t nrecs;
};

/*
 * One event, appended to w (the events of a block, written as they are
 * noted): recs[0..n), at most AUDIT_MAX_RECS, each collection valid.
 * Borrows everything.
 */
void audit_put_event(struct wbuf *w, uint64_t hlc, unsigned action,
    const struct audit_rec *recs, size_t n);
/*
 * A whole block into w: the header, then n events already written by
 * audit_put_event (events[0..len)).  Borrows everything.
 */
void audit_put_block(struct wbuf *w, const uint8_t circle[16],
    const uint8_t device[32], const uint8_t *events, size_t len, uint32_t n);

/*
 * A decoded block.  The events and their records live in two arrays the
 * block owns: free with audit_block_free.
 */
struct audit_block {
	uint8_t circle[16];
	uint8_t device[32];
	struct audit_event *events;
	size_t nevents;
	struct audit_rec *recs;
	size_t nrecs;
};
/*
 * Decodes p[0..n) with every cap and check: SAMEN_EVERSION for another
 * version, a wire error, or SAMEN_EVALUE (an unknown action, an invalid
 * collection).  On error nothing needs freeing.
 */
int audit_block_decode(struct audit_block *b, const uint8_t *p, size_t n);
void audit_block_free(struct audit_block *b);

/*
 * Seals block[0..len) into a box appended to w.  k is the key of
 * crypto_box_beforenm(audit public key, ephemeral secret); nonce is the
 * caller's (random).  Borrows everything.
 */
void audit_seal(struct wbuf *w, const uint8_t audit_pk[32],
    const uint8_t eph_pk[32], const uint8_t k[AUDIT_KEYLEN],
    const uint8_t nonce[AUDIT_NONCELEN], const uint8_t *block, size_t len);

/* A box, parsed; its pointers borrow the input. */
struct audit_box {
	uint8_t hint[AUDIT_HINTLEN];
	uint8_t eph[32];
	uint8_t nonce[AUDIT_NONCELEN];
	const uint8_t *ct;
	size_t ct_len;
};
int audit_box_parse(struct audit_box *b, const uint8_t *p, size_t n);
/* 1 if b is sealed to audit public key pk (its hint), else 0. */
int audit_box_for(const struct audit_box *b, const uint8_t pk[32]);
/*
 * Opens b with k (crypto_box_beforenm(b->eph, audit secret)): *block
 * (wipe, then free()) of *len bytes, or SAMEN_EDECRYPT.
 */
int audit_box_open(uint8_t **block, size_t *len, const struct audit_box *b,
    const uint8_t k[AUDIT_KEYLEN]) __attribute__((warn_unused_result));

#endif
