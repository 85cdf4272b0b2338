/* reply: a control reply [code, message, body] parsed into a bounded tree. */
#ifndef SAMEN_REPLY_H
#define SAMEN_REPLY_H

#include <stddef.h>
#include <stdint.h>

/*
 * The body is free-form msgpack (docs/api.md), so the CLI keeps it as a small
 * tree instead of a schema per command.  Only the types our replies use are
 * accepted: binary, floats and extensions are refused (ids travel as text),
 * and map keys must be strings, so that every tree prints as JSON.
 */
#define REPLY_MAX_DEPTH 32		/* nested arrays and maps in the body */
#define REPLY_MAX_NODES (1u << 23)	/* values in one reply */

enum reply_type {
	REPLY_NIL, REPLY_BOOL, REPLY_INT, REPLY_UINT, REPLY_STR, REPLY_ARRAY,
	REPLY_MAP
};

struct reply_node {
	enum reply_type type;
	uint32_t n;		/* ARRAY: elements; MAP: pairs; STR: unused */
	union {
		int b;				/* BOOL */
		int64_t i;			/* INT: always negative */
		uint64_t u;			/* UINT */
		struct {
			const char *s;		/* NUL-terminated */
			size_t len;
		} str;				/* STR */
		struct reply_node *kids;	/* ARRAY: n; MAP: 2n, key then value */
	} v;
};

struct reply {
	int code;		/* 0 or a negative SAMEN_E* / -errno */
	const char *message;	/* NUL-terminated, "" when there is none */
	struct reply_node *body;
	/* Private: the string arena and the node count. */
	char *strings;
	size_t nodes;
};

/*
 * Parses one reply.  Borrows buf only for the call: the tree owns copies of
 * every string.  Returns 0 (free the tree with reply_free()) or a negative
 * SAMEN_E* code, and then nothing needs freeing.
 */
int reply_parse(struct reply *rp, const uint8_t *buf, size_t len);
void reply_free(struct reply *rp);

/*
 * Lookups.  All take NULL and nodes of the wrong type and then return NULL
 * (or -1), so callers can chain them.  Returned pointers borrow the tree.
 */
/* The value of key in a map (the first, should a key repeat). */
const struct reply_node *reply_get(const struct reply_node *map,
    const char *key);
/* Element i of an array. */
const struct reply_node *reply_at(const struct reply_node *array, uint32_t i);
/* The string, or NULL if n is not a string. */
const char *reply_str(const struct reply_node *n);
/* reply_str(reply_get(map, key)). */
const char *reply_get_str(const struct reply_node *map, const char *key);
/* 0 and *v for a bool, else -1. */
int reply_get_bool(const struct reply_node *map, const char *key, int *v);
/* 0 and *v for an integer that fits, else -1. */
int reply_get_i64(const struct reply_node *map, const char *key, int64_t *v);
/* Number of elements of an array (or pairs of a map); 0 for anything else. */
uint32_t reply_len(const struct reply_node *n);
/*
 * The first element of array that is a map whose key holds the string
 * value ("device" in peer ls), or NULL.
 */
const struct reply_node *reply_find(const struct reply_node *array,
    const char *key, const char *value);

/*
 * A peer's latest sync session: the "session" of a peer ls element
 * (docs/api.md).  Missing or mistyped numbers read as 0 and a missing round
 * as -1, so that a damaged entry never looks finished.
 */
enum reply_session_state {
	REPLY_SESSION_NONE,	/* no session yet ("session": null) */
	REPLY_SESSION_RUNNING,
	REPLY_SESSION_DONE,
	REPLY_SESSION_FAILED,
	REPLY_SESSION_OTHER,	/* a state this CLI does not know */
};

struct reply_session {
	enum reply_session_state state;
	const char *state_name;	/* as sent; "" for NONE or a non-string */
	const char *error;	/* "error", NULL when null or absent */
	int64_t round;
	int64_t sent;
	int64_t received;
	int64_t rejected;
	int64_t bytes_sent;
	int64_t bytes_received;
	int in_sync;
	/* Of what we sent, held back by the peer: its clock is behind. */
	int64_t held;
	int64_t held_ahead_ms;
};

/* Fills *s from peer's "session".  Borrows peer: s points into its tree. */
void reply_session(const struct reply_node *peer, struct reply_session *s);
/*
 * 1 when s belongs to round (or a later one) and is no longer running:
 * what samen sync --wait waits for.
 */
int reply_session_over(const struct reply_session *s, int64_t round);

#endif
