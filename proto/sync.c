/* sync: the peer-to-peer sync messages: codec and version-vector digests. */
#include "sync.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "util.h"

#define VV_PREFIX "samen-vv-1"
#define MEMBERS_PREFIX "samen-members-1"
#define MEMBERS_KEY_PREFIX "samen-members-key-1"
#define AUDIT_PREFIX "samen-audit-1"
#define AUDIT_KEY_PREFIX "samen-audit-key-1"
#define CIRCLE_PREFIX "samen-circle-1"

/*
 * The fewest bytes one entry of each list can take in canonical form: an
 * array header, and a bin8 header before every fixed-size binary (an empty
 * bin is two bytes, c4 00).  A count times this must fit in the bytes left
 * before anything is allocated for it.
 */
#define HELLO_ENTRY_MIN (1 + (2 + CS_CIRCLELEN) + 3 * (2 + 32))
#define VECTOR_ENTRY_MIN (1 + (2 + 32) + 1 + (2 + CS_IDLEN))
#define BATCH_ENTRY_MIN (1 + 2 + 2)
#define ACK_HELD_ARITY 9

/* Elements of each message's top-level array; 0 for an unknown type. */
static uint32_t
msg_arity(uint64_t type)
{
	switch (type) {
	case SYNC_HELLO:
	case SYNC_VECTOR:
	case SYNC_BATCH:
	case SYNC_ERROR:
		return 5;
	case SYNC_DONE:
		return 6;
	case SYNC_ACK:
		return 7;	/* 9 with held change sets: ACK_HELD_ARITY */
	default:
		return 0;
	}
}

static void
put_head_n(struct wbuf *w, enum sync_type type, uint64_t session,
    uint32_t arity)
{
	wire_put_array(w, arity);
	wire_put_u64(w, SYNC_VERSION);
	wire_put_u64(w, type);
	wire_put_u64(w, session);
}

static void
put_head(struct wbuf *w, enum sync_type type, uint64_t session)
{
	wire_put_array(w, msg_arity(type));
	wire_put_u64(w, SYNC_VERSION);
	wire_put_u64(w, type);
	wire_put_u64(w, session);
}

void
sync_put_hello(struct wbuf *w, uint64_t session, const uint8_t digest[32],
    const struct sync_circle *c, size_t n)
{
	size_t i;

	assert(n <= SYNC_MAX_CIRCLES);
	put_head(w, SYNC_HELLO, session);
	wire_put_bin(w, digest, 32);
	wire_put_array(w, (uint32_t)n);
	for (i = 0; i < n; i++) {
		wire_put_array(w, 4);
		wire_put_bin(w, c[i].circle, sizeof(c[i].circle));
		wire_put_bin(w, c[i].data, sizeof(c[i].data));
		wire_put_bin(w, c[i].members, sizeof(c[i].members));
		wire_put_bin(w, c[i].audit, sizeof(c[i].audit));
	}
}

void
sync_put_vector(struct wbuf *w, uint64_t session,
    const uint8_t chain[CS_CIRCLELEN], const struct sync_head *h, size_t n)
{
	size_t i;

	/* What the decoder would refuse is a bug of the caller's. */
	assert(n <= SYNC_MAX_AUTHORS);
	put_head(w, SYNC_VECTOR, session);
	wire_put_bin(w, chain, CS_CIRCLELEN);
	wire_put_array(w, (uint32_t)n);
	for (i = 0; i < n; i++) {
		assert(h[i].seq >= 1);
		assert(i == 0 || memcmp(h[i - 1].author, h[i].author,
		    sizeof(h[i].author)) < 0);
		wire_put_array(w, 3);
		wire_put_bin(w, h[i].author, sizeof(h[i].author));
		wire_put_u64(w, h[i].seq);
		wire_put_bin(w, h[i].head, sizeof(h[i].head));
	}
}

void
sync_put_batch_start(struct wbuf *w, uint64_t session,
    const uint8_t chain[CS_CIRCLELEN], uint32_t n)
{
	assert(n >= 1 && n <= SYNC_MAX_BATCH);
	put_head(w, SYNC_BATCH, session);
	wire_put_bin(w, chain, CS_CIRCLELEN);
	wire_put_array(w, n);
}

void
sync_put_batch_cs(struct wbuf *w, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	assert(hdr_len <= CS_MAX_HEADER && payload_len <= CS_MAX_PAYLOAD);
	wire_put_array(w, 2);
	wire_put_bin(w, hdr, hdr_len);
	wire_put_bin(w, payload, payload_len);
}

void
sync_put_ack(struct wbuf *w, uint64_t session,
    const uint8_t chain[CS_CIRCLELEN], uint32_t accepted, uint32_t rejected,
    const uint8_t digest[32], uint32_t held, uint64_t ahead_ms)
{
	assert(held <= accepted);
	put_head_n(w, SYNC_ACK, session, held > 0 ? ACK_HELD_ARITY :
	    msg_arity(SYNC_ACK));
	wire_put_bin(w, chain, CS_CIRCLELEN);
	wire_put_u64(w, accepted);
	wire_put_u64(w, rejected);
	wire_put_bin(w, digest, 32);
	if (held > 0) {
		wire_put_u64(w, held);
		wire_put_u64(w, ahead_ms);
	}
}

void
sync_put_done(struct wbuf *w, uint64_t session,
    const uint8_t chain[CS_CIRCLELEN], uint64_t sent,
    const uint8_t digest[32])
{
	put_head(w, SYNC_DONE, session);
	wire_put_bin(w, chain, CS_CIRCLELEN);
	wire_put_u64(w, sent);
	wire_put_bin(w, digest, 32);
}

/*
 * A text longer than the decoder takes is cut at SYNC_MAX_TEXT bytes, back
 * to the start of a UTF-8 sequence, so that the peer still gets the code and
 * a valid message rather than a message it must refuse.
 */
void
sync_put_error(struct wbuf *w, uint64_t session, int64_t code,
    const char *text)
{
	size_t n = text ? strlen(text) : 0;

	if (n > SYNC_MAX_TEXT) {
		n = SYNC_MAX_TEXT;
		while (n > 0 && ((uint8_t)text[n] & 0xc0) == 0x80)
			n--;
	}
	put_head(w, SYNC_ERROR, session);
	wire_put_i64(w, code);
	wire_put_str(w, text ? text : "", n);
}

/*
 * Reads a list header and checks its count against the cap and, at min
 * bytes an entry, against the bytes left: only then may the caller allocate.
 */
static int
get_list(struct wire_reader *r, uint32_t *n, uint32_t max, size_t min)
{
	if (wire_get_array(r, n, max))
		return r->err;
	if ((uint64_t)*n * min > wire_remaining(r))
		return SAMEN_ETRUNC;
	return 0;
}

static int
get_hello(struct wire_reader *r, struct sync_msg *m)
{
	struct sync_circle *c;
	uint32_t i;
	int rc;

	wire_get_bin_fixed(r, m->digest, sizeof(m->digest));
	if ((rc = get_list(r, &m->ncircles, SYNC_MAX_CIRCLES,
	    HELLO_ENTRY_MIN)) != 0)
		return rc;
	m->circles = xcalloc(m->ncircles, sizeof(*m->circles));
	for (i = 0; i < m->ncircles; i++) {
		c = &m->circles[i];
		wire_get_array_n(r, 4);
		wire_get_bin_fixed(r, c->circle, sizeof(c->circle));
		wire_get_bin_fixed(r, c->data, sizeof(c->data));
		wire_get_bin_fixed(r, c->members, sizeof(c->members));
		if (wire_get_bin_fixed(r, c->audit, sizeof(c->audit)))
			return r->err;
	}
	return 0;
}

static int
get_vector(struct wire_reader *r, struct sync_msg *m)
{
	struct sync_head *h;
	uint32_t i;
	int rc;

	wire_get_bin_fixed(r, m->chain, sizeof(m->chain));
	if ((rc = get_list(r, &m->nheads, SYNC_MAX_AUTHORS,
	    VECTOR_ENTRY_MIN)) != 0)
		return rc;
	m->heads = xcalloc(m->nheads, sizeof(*m->heads));
	for (i = 0; i < m->nheads; i++) {
		h = &m->heads[i];
		wire_get_array_n(r, 3);
		wire_get_bin_fixed(r, h->author, sizeof(h->author));
		wire_get_u64(r, &h->seq);
		if (wire_get_bin_fixed(r, h->head, sizeof(h->head)))
			return r->err;
		/* Strictly ascending: sorted, and no author twice. */
		if (h->seq == 0 || (i > 0 && memcmp(h[-1].author, h->author,
		    sizeof(h->author)) >= 0))
			return SAMEN_EPROTO;
	}
	return 0;
}

static int
get_batch(struct wire_reader *r, struct sync_msg *m)
{
	struct sync_cs *c;
	uint32_t i;
	int rc;

	wire_get_bin_fixed(r, m->chain, sizeof(m->chain));
	if ((rc = get_list(r, &m->ncs, SYNC_MAX_BATCH, BATCH_ENTRY_MIN)) != 0)
		return rc;
	if (m->ncs == 0)
		return SAMEN_EPROTO;
	m->cs = xcalloc(m->ncs, sizeof(*m->cs));
	for (i = 0; i < m->ncs; i++) {
		c = &m->cs[i];
		wire_get_array_n(r, 2);
		wire_get_bin(r, &c->hdr, &c->hdr_len, CS_MAX_HEADER);
		if (wire_get_bin(r, &c->payload, &c->payload_len,
		    CS_MAX_PAYLOAD))
			return r->err;
	}
	return 0;
}

static int
get_ack(struct wire_reader *r, struct sync_msg *m, uint32_t count)
{
	wire_get_bin_fixed(r, m->chain, sizeof(m->chain));
	wire_get_u32(r, &m->accepted);
	wire_get_u32(r, &m->rejected);
	if (wire_get_bin_fixed(r, m->digest, sizeof(m->digest)) ||
	    count != ACK_HELD_ARITY)
		return r->err;
	wire_get_u32(r, &m->held);
	if (wire_get_u64(r, &m->ahead_ms))
		return r->err;
	/*
	 * Nothing held is said by the seven elements alone; what is held
	 * was accepted, so it is counted in accepted too.
	 */
	return m->held > 0 && m->held <= m->accepted ? 0 : SAMEN_EPROTO;
}

static int
get_body(struct wire_reader *r, struct sync_msg *m, uint32_t count)
{
	switch (m->type) {
	case SYNC_HELLO:
		return get_hello(r, m);
	case SYNC_VECTOR:
		return get_vector(r, m);
	case SYNC_BATCH:
		return get_batch(r, m);
	case SYNC_ACK:
		return get_ack(r, m, count);
	case SYNC_DONE:
		wire_get_bin_fixed(r, m->chain, sizeof(m->chain));
		wire_get_u64(r, &m->sent);
		return wire_get_bin_fixed(r, m->digest, sizeof(m->digest));
	case SYNC_ERROR:
		wire_get_i64(r, &m->code);
		return wire_get_str(r, &m->text, &m->text_len, SYNC_MAX_TEXT);
	default:
		return SAMEN_EPROTO;
	}
}

/*
 * The version is checked before the arity and the type: another version may
 * shape its messages differently, and its peer deserves SAMEN_EVERSION (and
 * a clear reply) rather than a parse error.  So the top-level count is read
 * without a cap of ours (the reader still bounds it by the bytes left).
 */
int
sync_decode(struct sync_msg *m, const uint8_t *p, size_t n)
{
	struct wire_reader r;
	uint64_t version, type;
	uint32_t count;
	int rc;

	memset(m, 0, sizeof(*m));
	if (n > SYNC_MAX_MSG)
		return SAMEN_ETOOBIG;
	wire_reader_init(&r, p, n);
	if (wire_get_array(&r, &count, UINT32_MAX))
		return r.err;
	if (count == 0)
		return SAMEN_EPROTO;
	if (wire_get_u64(&r, &version))
		return r.err;
	if (version != SYNC_VERSION)
		return SAMEN_EVERSION;
	if (count < 2)
		return SAMEN_EPROTO;
	if (wire_get_u64(&r, &type))
		return r.err;
	if (msg_arity(type) == 0 || (count != msg_arity(type) &&
	    !(type == SYNC_ACK && count == ACK_HELD_ARITY)))
		return SAMEN_EPROTO;
	m->type = (uint32_t)type;
	wire_get_u64(&r, &m->session);
	if ((rc = get_body(&r, m, count)) != 0 || (rc = wire_end(&r)) != 0) {
		sync_msg_free(m);
		memset(m, 0, sizeof(*m));
		return rc;
	}
	return 0;
}

void
sync_msg_free(struct sync_msg *m)
{
	free(m->circles);
	free(m->heads);
	free(m->cs);
	m->circles = NULL;
	m->heads = NULL;
	m->cs = NULL;
	m->ncircles = m->nheads = m->ncs = 0;
}

void
sync_vector_digest(uint8_t out[32], const uint8_t chain[CS_CIRCLELEN],
    const struct sync_head *h, size_t n)
{
	crypto_generichash_state st;
	uint8_t seq[8];
	size_t i;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)VV_PREFIX,
	    sizeof(VV_PREFIX) - 1);
	crypto_generichash_update(&st, chain, CS_CIRCLELEN);
	for (i = 0; i < n; i++) {
		put_le64(seq, h[i].seq);
		crypto_generichash_update(&st, h[i].author, sizeof(h[i].author));
		crypto_generichash_update(&st, seq, sizeof(seq));
		crypto_generichash_update(&st, h[i].head, sizeof(h[i].head));
	}
	crypto_generichash_final(&st, out, 32);
}

/* BLAKE2b of an ASCII prefix (without its NUL) followed by a and b. */
static void
derive(uint8_t *out, size_t outlen, const char *prefix, const uint8_t *a,
    size_t alen, const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, outlen);
	crypto_generichash_update(&st, (const uint8_t *)prefix,
	    strlen(prefix));
	crypto_generichash_update(&st, a, alen);
	if (blen)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, outlen);
}

void
sync_members_circle(uint8_t out[CS_CIRCLELEN],
    const uint8_t circle[CS_CIRCLELEN])
{
	derive(out, CS_CIRCLELEN, MEMBERS_PREFIX, circle, CS_CIRCLELEN,
	    NULL, 0);
}

/*
 * The header leaves the bytes open; this is BLAKE2b-256 over
 * "samen-members-key-1" || circle: a prefix of its own, so the key shares no
 * input with the members chain's id, which travels in clear.
 */
void
sync_members_key(uint8_t out[CS_KEYLEN], const uint8_t circle[CS_CIRCLELEN])
{
	derive(out, CS_KEYLEN, MEMBERS_KEY_PREFIX, circle, CS_CIRCLELEN,
	    NULL, 0);
}

void
sync_audit_circle(uint8_t out[CS_CIRCLELEN],
    const uint8_t circle[CS_CIRCLELEN])
{
	derive(out, CS_CIRCLELEN, AUDIT_PREFIX, circle, CS_CIRCLELEN, NULL, 0);
}

void
sync_audit_key(uint8_t out[CS_KEYLEN], const uint8_t circle[CS_CIRCLELEN])
{
	derive(out, CS_KEYLEN, AUDIT_KEY_PREFIX, circle, CS_CIRCLELEN, NULL, 0);
}

void
sync_circle_id(uint8_t out[CS_CIRCLELEN], const uint8_t creator[32],
    const uint8_t salt[16])
{
	derive(out, CS_CIRCLELEN, CIRCLE_PREFIX, creator, 32, salt, 16);
}
