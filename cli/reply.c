/* reply: a control reply [code, message, body] parsed into a bounded tree. */
#include "reply.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"
#include "wire.h"

#define REPLY_MAX_MESSAGE 65536

struct parser {
	struct wire_reader r;
	char *arena;		/* NUL-terminated copies of every string */
	size_t used;
	size_t cap;
	size_t nodes;
	size_t maxnodes;
};

static void
node_free(struct reply_node *nd)
{
	size_t i, count;

	if (nd->type != REPLY_ARRAY && nd->type != REPLY_MAP)
		return;
	count = nd->type == REPLY_MAP ? 2 * (size_t)nd->n : nd->n;
	for (i = 0; i < count; i++)
		node_free(&nd->v.kids[i]);
	free(nd->v.kids);
}

/*
 * Every string of length n took at least n + 1 bytes of input (its header),
 * so an arena as long as the input holds all of them with their NULs.
 */
static const char *
arena_copy(struct parser *p, const char *s, size_t n)
{
	char *dst;

	assert(p->used + n + 1 <= p->cap);
	dst = p->arena + p->used;
	memcpy(dst, s, n);
	dst[n] = '\0';
	p->used += n + 1;
	return dst;
}

static int
parse_value(struct parser *p, struct reply_node *nd, int depth)
{
	struct wire_reader *r = &p->r;
	const char *s;
	size_t len;
	uint32_t n;
	size_t count, i;
	int map, rc;

	if (p->nodes >= p->maxnodes)
		return SAMEN_ETOOBIG;
	p->nodes++;
	switch (wire_peek(r)) {
	case WIRE_NIL:
		nd->type = REPLY_NIL;
		return wire_get_nil(r);
	case WIRE_BOOL:
		nd->type = REPLY_BOOL;
		return wire_get_bool(r, &nd->v.b);
	case WIRE_UINT:
		nd->type = REPLY_UINT;
		return wire_get_u64(r, &nd->v.u);
	case WIRE_INT:
		nd->type = REPLY_INT;
		return wire_get_i64(r, &nd->v.i);
	case WIRE_STR:
		if (wire_get_str(r, &s, &len, UINT32_MAX))
			return r->err;
		nd->type = REPLY_STR;
		nd->v.str.s = arena_copy(p, s, len);
		nd->v.str.len = len;
		return 0;
	case WIRE_ARRAY:
	case WIRE_MAP:
		break;
	case WIRE_INVALID:
		if (r->err)
			return r->err;
		return wire_remaining(r) == 0 ? SAMEN_ETRUNC : SAMEN_ETYPE;
	default:
		/* Binary, floats and extensions: not in our replies. */
		return SAMEN_ETYPE;
	}

	if (depth >= REPLY_MAX_DEPTH)
		return SAMEN_EDEPTH;
	map = wire_peek(r) == WIRE_MAP;
	/*
	 * The reader has checked the count against the bytes left (one byte
	 * per element at least), so the allocation below is bounded by the
	 * input; the node budget bounds it once more for the whole reply.
	 */
	if (map ? wire_get_map(r, &n, UINT32_MAX) :
	    wire_get_array(r, &n, UINT32_MAX))
		return r->err;
	count = map ? 2 * (size_t)n : n;
	if (count > p->maxnodes - p->nodes)
		return SAMEN_ETOOBIG;
	nd->type = map ? REPLY_MAP : REPLY_ARRAY;
	nd->n = n;
	/* Zeroed kids are REPLY_NIL: an early error frees them safely. */
	nd->v.kids = count ? xcalloc(count, sizeof(*nd->v.kids)) : NULL;
	for (i = 0; i < count; i++) {
		if (map && i % 2 == 0 && wire_peek(r) != WIRE_STR) {
			if (r->err)
				return r->err;
			return wire_remaining(r) == 0 ? SAMEN_ETRUNC :
			    SAMEN_ETYPE;
		}
		if ((rc = parse_value(p, &nd->v.kids[i], depth + 1)) != 0)
			return rc;
	}
	return 0;
}

/* maxnodes is a parameter so that tests can reach the budget cheaply. */
static int
parse(struct reply *rp, const uint8_t *buf, size_t len, size_t maxnodes)
{
	struct parser p;
	const char *msg;
	size_t msglen;
	int64_t code;
	int rc;

	memset(rp, 0, sizeof(*rp));
	memset(&p, 0, sizeof(p));
	wire_reader_init(&p.r, buf, len);
	p.cap = len + 1;
	p.arena = xmalloc(p.cap);
	p.maxnodes = maxnodes;

	if (wire_get_array_n(&p.r, 3) || wire_get_i64(&p.r, &code) ||
	    wire_get_str(&p.r, &msg, &msglen, REPLY_MAX_MESSAGE)) {
		rc = p.r.err;
		goto fail;
	}
	if (code > 0 || code < INT_MIN) {
		rc = SAMEN_EPROTO;
		goto fail;
	}
	rp->code = (int)code;
	rp->message = arena_copy(&p, msg, msglen);
	rp->body = xcalloc(1, sizeof(*rp->body));
	rp->strings = p.arena;
	if ((rc = parse_value(&p, rp->body, 0)) != 0)
		goto fail;
	if ((rc = wire_end(&p.r)) != 0)
		goto fail;
	rp->nodes = p.nodes;
	return 0;

fail:
	if (rp->body != NULL) {
		node_free(rp->body);
		free(rp->body);
	}
	free(p.arena);
	memset(rp, 0, sizeof(*rp));
	return rc;
}

int
reply_parse(struct reply *rp, const uint8_t *buf, size_t len)
{
	return parse(rp, buf, len, REPLY_MAX_NODES);
}

void
reply_free(struct reply *rp)
{
	if (rp->body != NULL) {
		node_free(rp->body);
		free(rp->body);
	}
	free(rp->strings);
	memset(rp, 0, sizeof(*rp));
}

const struct reply_node *
reply_get(const struct reply_node *map, const char *key)
{
	size_t klen;
	uint32_t i;

	if (map == NULL || map->type != REPLY_MAP)
		return NULL;
	klen = strlen(key);
	for (i = 0; i < map->n; i++) {
		const struct reply_node *k = &map->v.kids[2 * i];

		if (k->type == REPLY_STR && k->v.str.len == klen &&
		    memcmp(k->v.str.s, key, klen) == 0)
			return &map->v.kids[2 * i + 1];
	}
	return NULL;
}

const struct reply_node *
reply_at(const struct reply_node *array, uint32_t i)
{
	if (array == NULL || array->type != REPLY_ARRAY || i >= array->n)
		return NULL;
	return &array->v.kids[i];
}

const char *
reply_str(const struct reply_node *n)
{
	if (n == NULL || n->type != REPLY_STR)
		return NULL;
	return n->v.str.s;
}

const char *
reply_get_str(const struct reply_node *map, const char *key)
{
	return reply_str(reply_get(map, key));
}

int
reply_get_bool(const struct reply_node *map, const char *key, int *v)
{
	const struct reply_node *n = reply_get(map, key);

	if (n == NULL || n->type != REPLY_BOOL)
		return -1;
	*v = n->v.b;
	return 0;
}

int
reply_get_i64(const struct reply_node *map, const char *key, int64_t *v)
{
	const struct reply_node *n = reply_get(map, key);

	if (n == NULL)
		return -1;
	if (n->type == REPLY_INT) {
		*v = n->v.i;
		return 0;
	}
	if (n->type == REPLY_UINT && n->v.u <= INT64_MAX) {
		*v = (int64_t)n->v.u;
		return 0;
	}
	return -1;
}

uint32_t
reply_len(const struct reply_node *n)
{
	if (n == NULL || (n->type != REPLY_ARRAY && n->type != REPLY_MAP))
		return 0;
	return n->n;
}

const struct reply_node *
reply_find(const struct reply_node *array, const char *key,
    const char *value)
{
	const char *s;
	uint32_t i;

	for (i = 0; i < reply_len(array) && array->type == REPLY_ARRAY; i++) {
		s = reply_get_str(&array->v.kids[i], key);
		if (s != NULL && strcmp(s, value) == 0)
			return &array->v.kids[i];
	}
	return NULL;
}

static int64_t
get_count(const struct reply_node *map, const char *key)
{
	int64_t v;

	return reply_get_i64(map, key, &v) == 0 && v >= 0 ? v : 0;
}

void
reply_session(const struct reply_node *peer, struct reply_session *s)
{
	static const struct {
		const char *name;
		enum reply_session_state state;
	} states[] = {
		{ "running", REPLY_SESSION_RUNNING },
		{ "done", REPLY_SESSION_DONE },
		{ "failed", REPLY_SESSION_FAILED },
	};
	const struct reply_node *ses = reply_get(peer, "session");
	const char *name;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->state = REPLY_SESSION_NONE;
	s->state_name = "";
	s->round = -1;
	if (ses == NULL || ses->type != REPLY_MAP)
		return;
	s->state = REPLY_SESSION_OTHER;
	if ((name = reply_get_str(ses, "state")) != NULL) {
		s->state_name = name;
		for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			if (strcmp(name, states[i].name) == 0)
				s->state = states[i].state;
	}
	s->error = reply_get_str(ses, "error");
	if (reply_get_i64(ses, "round", &s->round) != 0 || s->round < 0)
		s->round = -1;
	s->sent = get_count(ses, "sent");
	s->received = get_count(ses, "received");
	s->rejected = get_count(ses, "rejected");
	s->bytes_sent = get_count(ses, "bytes_sent");
	s->bytes_received = get_count(ses, "bytes_received");
	if (reply_get_bool(ses, "in_sync", &s->in_sync) != 0)
		s->in_sync = 0;
	s->held = get_count(ses, "held");
	s->held_ahead_ms = get_count(ses, "held_ahead_ms");
}

int
reply_session_over(const struct reply_session *s, int64_t round)
{
	/*
	 * docs/api.md: finished once session.round >= round and its state is
	 * not "running".  A session without a state string is not counted as
	 * over: its state cannot be told.
	 */
	return s->state != REPLY_SESSION_NONE && s->round >= 0 &&
	    s->round >= round && s->state != REPLY_SESSION_RUNNING &&
	    s->state_name[0] != '\0';
}
