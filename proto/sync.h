/* sync: the peer-to-peer sync messages: codec and version-vector digests. */
#ifndef SAMEN_SYNC_H
#define SAMEN_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "changeset.h"
#include "wire.h"

/*
 * One ZeroMQ frame per message (DEALER -> ROUTER and back), a canonical
 * msgpack array that starts [version, type, session, ...].  The session is
 * the initiator's random 64-bit number; both sides echo it.  See
 * docs/sync.md for the exchange.  Every decoder is bounded: counts are
 * checked against the caps below and against the bytes left, nothing is
 * allocated before that, and trailing bytes are an error.
 */
#define SYNC_VERSION 1
#define SYNC_MAX_MSG (16u << 20)	/* one frame; ZMQ_MAXMSGSIZE */
#define SYNC_MAX_CIRCLES 1024		/* entries of one HELLO */
#define SYNC_MAX_AUTHORS 65536		/* entries of one VECTOR */
#define SYNC_MAX_BATCH 256		/* change sets in one BATCH */
#define SYNC_MAX_TEXT 256		/* ERROR message bytes */

enum sync_type {
	SYNC_HELLO = 1,
	SYNC_VECTOR = 2,
	SYNC_BATCH = 3,
	SYNC_ACK = 4,
	SYNC_DONE = 5,
	SYNC_ERROR = 6,
};

/*
 * HELLO [1, 1, session u64, replica digest bin32,
 *        [[circle bin16, data digest bin32, members digest bin32,
 *          audit digest bin32], ...]]
 * The replica digest is the sender's (merge.h), for "samen status".
 * One entry per circle the sender would share with the receiver.  The
 * members digest is that of the circle's membership chain (a chain of its
 * own, under the circle id sync_members_circle() derives), the audit
 * digest that of its audit chain (sync_audit_circle()).  An all-zero
 * digest means "I hold nothing of it" (the digest of an empty vector is not
 * all zero, see sync_vector_digest).
 */
struct sync_circle {
	uint8_t circle[CS_CIRCLELEN];
	uint8_t data[32];
	uint8_t members[32];
	uint8_t audit[32];
};

/*
 * VECTOR [1, 2, session, chain bin16, [[author bin32, seq u64, head bin32],
 *                                      ...]]
 * The sender's version vector of one chain (a circle id, or a members
 * circle id): per author, the highest seq held and that header's id.
 * Entries are sorted by author bytes, no author twice, seq >= 1.
 */
struct sync_head {
	uint8_t author[32];
	uint64_t seq;
	uint8_t head[CS_IDLEN];
};

/*
 * BATCH [1, 3, session, chain bin16, [[header bin, payload bin], ...]]
 * Change sets of one chain, each author's in ascending seq.  1..MAX_BATCH
 * entries; header <= CS_MAX_HEADER, payload <= CS_MAX_PAYLOAD bytes.  The
 * receiver checks everything else (signature, chain, hash) itself.
 */
struct sync_cs {
	const uint8_t *hdr;		/* borrowed from the message */
	size_t hdr_len;
	const uint8_t *payload;
	size_t payload_len;
};

/*
 * ACK   [1, 4, session, chain bin16, accepted u32, rejected u32,
 *        replica digest bin32 (, held u32, ahead ms u64)]
 *       one per BATCH received: returns one unit of credit to the sender;
 *       the digest is the receiver's after the batch was merged.  held
 *       (counted in accepted too: more is refused) is how many of the
 *       batch's change sets were dated too far ahead of the receiver's
 *       clock: stored, and not merged until its clock catches up; ahead
 *       is how far the furthest of them was ahead of it.  The two are
 *       there only when held > 0 (canonical: nine elements with held 0
 *       are refused), so an ACK that holds nothing back has the seven
 *       elements it always had.
 * DONE  [1, 5, session, chain bin16, sent u64, replica digest bin32]
 *       the sender has sent all it will of this chain in this session.
 * ERROR [1, 6, session, code i64, message str]
 *       the session is over; code is a SAMEN_E* value.
 */
struct sync_msg {
	uint32_t type;
	uint64_t session;
	uint8_t chain[CS_CIRCLELEN];	/* VECTOR, BATCH, ACK, DONE */
	uint8_t digest[32];		/* HELLO, ACK, DONE */
	/* HELLO */
	struct sync_circle *circles;	/* owned: sync_msg_free */
	uint32_t ncircles;
	/* VECTOR */
	struct sync_head *heads;	/* owned */
	uint32_t nheads;
	/* BATCH */
	struct sync_cs *cs;		/* owned array, entries borrowed */
	uint32_t ncs;
	/* ACK */
	uint32_t accepted, rejected;
	uint32_t held;			/* 0: the seven-element ACK */
	uint64_t ahead_ms;
	/* DONE */
	uint64_t sent;
	/* ERROR */
	int64_t code;
	const char *text;		/* borrowed, not NUL-terminated */
	size_t text_len;
};

/*
 * Decodes one message.  Borrows p (BATCH entries and ERROR text point into
 * it).  Returns 0, or SAMEN_EVERSION for another version, or the wire
 * error (SAMEN_ETRUNC, SAMEN_ETYPE, SAMEN_ENONCANON, SAMEN_ETOOBIG,
 * SAMEN_ETRAILING, SAMEN_EUTF8), or SAMEN_EPROTO for an unknown type or a
 * rule broken (unsorted or repeated authors, seq 0, empty BATCH).  On error
 * nothing needs freeing.
 */
int sync_decode(struct sync_msg *m, const uint8_t *p, size_t n);
void sync_msg_free(struct sync_msg *m);

/* Encoders: append one whole message to w. */
void sync_put_hello(struct wbuf *w, uint64_t session,
    const uint8_t digest[32], const struct sync_circle *c, size_t n);
void sync_put_vector(struct wbuf *w, uint64_t session,
    const uint8_t chain[CS_CIRCLELEN], const struct sync_head *h, size_t n);
/* A BATCH is written in three steps, so callers can stream rows into it. */
void sync_put_batch_start(struct wbuf *w, uint64_t session,
    const uint8_t chain[CS_CIRCLELEN], uint32_t n);
void sync_put_batch_cs(struct wbuf *w, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len);
void sync_put_ack(struct wbuf *w, uint64_t session,
    const uint8_t chain[CS_CIRCLELEN], uint32_t accepted, uint32_t rejected,
    const uint8_t digest[32], uint32_t held, uint64_t ahead_ms);
void sync_put_done(struct wbuf *w, uint64_t session,
    const uint8_t chain[CS_CIRCLELEN], uint64_t sent,
    const uint8_t digest[32]);
void sync_put_error(struct wbuf *w, uint64_t session, int64_t code,
    const char *text);

/*
 * Digest of a version vector (entries sorted by author, as in VECTOR):
 * BLAKE2b-256 keyed with nothing over "samen-vv-1" || chain || for each
 * entry author || le64(seq) || head.  Never all zero in practice.
 */
void sync_vector_digest(uint8_t out[32], const uint8_t chain[CS_CIRCLELEN],
    const struct sync_head *h, size_t n);

/*
 * The members chain of circle: BLAKE2b-128 over "samen-members-1" ||
 * circle.  Its change sets are encrypted under sync_members_key(),
 * BLAKE2b-256 over "samen-members-key-1" || circle, which
 * anyone who knows the circle id can compute: the member list is visible to
 * whoever holds the circle's change sets (members and relays), as DESIGN
 * says, and to nobody else, because only they are sent them.
 */
void sync_members_circle(uint8_t out[CS_CIRCLELEN],
    const uint8_t circle[CS_CIRCLELEN]);
void sync_members_key(uint8_t out[CS_KEYLEN],
    const uint8_t circle[CS_CIRCLELEN]);

/*
 * The audit chain of circle: BLAKE2b-128 over "samen-audit-1" || circle.
 * Its change sets carry the circle's read audit (docs/design.md, "Read
 * audit"), each chunk an event block sealed to the circle's audit key;
 * the chunks themselves are encrypted under sync_audit_key(), BLAKE2b-256
 * over "samen-audit-key-1" || circle, which every member and relay can
 * compute: the seal inside is what only admins open.  Stored and synced
 * like any chain, never merged into the replica.
 */
void sync_audit_circle(uint8_t out[CS_CIRCLELEN],
    const uint8_t circle[CS_CIRCLELEN]);
void sync_audit_key(uint8_t out[CS_KEYLEN],
    const uint8_t circle[CS_CIRCLELEN]);

/*
 * A shared circle's id: BLAKE2b-128 over "samen-circle-1" || creator public
 * key || salt (16 random bytes), so that anyone can check who created it
 * (the creator is its first admin).
 */
void sync_circle_id(uint8_t out[CS_CIRCLELEN], const uint8_t creator[32],
    const uint8_t salt[16]);

#endif
