/*
 * test_sync: the sync messages: round trips, every rejection, the vector
 * digest.  The ids and keys derived for chains: test_sync_ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/*
 * The module is included with its xcalloc() renamed, so that the tests can
 * count what it allocates: a count read from the wire must be checked
 * against the cap and the bytes left before any memory is asked for it, and
 * only counting shows that it was.
 */
#define xcalloc counted_xcalloc
#include "../../proto/sync.c"
#undef xcalloc

void *xcalloc(size_t nmemb, size_t size);

static size_t nallocs;		/* calls since the last reset */
static size_t alloc_max;	/* largest request since the last reset */

void *
counted_xcalloc(size_t nmemb, size_t size)
{
	nallocs++;
	if (nmemb * size > alloc_max)
		alloc_max = nmemb * size;
	return xcalloc(nmemb, size);
}

static void
reset_allocs(void)
{
	nallocs = 0;
	alloc_max = 0;
}

#define SESSION 0x0123456789abcdefULL

/* A replica digest (merge.h), as HELLO, ACK and DONE carry. */
static uint8_t replica[32];

static const uint8_t chain[CS_CIRCLELEN] = {
	0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8,
	0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0,
};

static uint64_t
rnd(uint64_t *s)
{
	/* splitmix64: small, and the seed alone reproduces a run. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* Decodes; on failure checks that *m was left all zero, else frees it. */
static int
decode_rc(const uint8_t *p, size_t n)
{
	static const struct sync_msg zero;
	struct sync_msg m;
	int rc;

	rc = sync_decode(&m, p, n);
	if (rc == 0)
		sync_msg_free(&m);
	else
		assert_memory_equal(&m, &zero, sizeof(m));
	return rc;
}

/* Decodes what w holds, then empties w for the next message. */
static int
wbuf_rc(struct wbuf *w)
{
	int rc;

	rc = decode_rc(wire_data(w), wire_len(w));
	wire_reset(w);
	return rc;
}

/* Writes a decoded message back with the encoders. */
static void
put_msg(struct wbuf *w, const struct sync_msg *m)
{
	char *text;
	uint32_t i;

	switch (m->type) {
	case SYNC_HELLO:
		sync_put_hello(w, m->session, m->digest, m->circles,
		    m->ncircles);
		break;
	case SYNC_VECTOR:
		sync_put_vector(w, m->session, m->chain, m->heads, m->nheads);
		break;
	case SYNC_BATCH:
		sync_put_batch_start(w, m->session, m->chain, m->ncs);
		for (i = 0; i < m->ncs; i++)
			sync_put_batch_cs(w, m->cs[i].hdr, m->cs[i].hdr_len,
			    m->cs[i].payload, m->cs[i].payload_len);
		break;
	case SYNC_ACK:
		sync_put_ack(w, m->session, m->chain, m->accepted,
		    m->rejected, m->digest, m->held, m->ahead_ms);
		break;
	case SYNC_DONE:
		sync_put_done(w, m->session, m->chain, m->sent, m->digest);
		break;
	case SYNC_ERROR:
		text = xstrndup(m->text ? m->text : "", m->text_len);
		sync_put_error(w, m->session, m->code, text);
		free(text);
		break;
	default:
		fail_msg("type %u", m->type);
	}
}

/* Decodes p into m and checks that the encoders give back the same bytes. */
static void
roundtrip(struct sync_msg *m, const uint8_t *p, size_t n)
{
	struct wbuf w;

	assert_int_equal(sync_decode(m, p, n), 0);
	wire_init(&w);
	put_msg(&w, m);
	assert_int_equal(wire_len(&w), n);
	assert_memory_equal(wire_data(&w), p, n);
	wire_free(&w);
}

/* The fields of one type must be zero in a message of another. */
static void
assert_unused_zero(const struct sync_msg *m)
{
	static const uint8_t zero[32];
	int chain_used = m->type == SYNC_VECTOR || m->type == SYNC_BATCH ||
	    m->type == SYNC_ACK || m->type == SYNC_DONE;
	int digest_used = m->type == SYNC_HELLO || m->type == SYNC_ACK ||
	    m->type == SYNC_DONE;

	if (!chain_used)
		assert_memory_equal(m->chain, zero, sizeof(m->chain));
	if (!digest_used)
		assert_memory_equal(m->digest, zero, sizeof(m->digest));
	if (m->type != SYNC_HELLO) {
		assert_null(m->circles);
		assert_int_equal(m->ncircles, 0);
	}
	if (m->type != SYNC_VECTOR) {
		assert_null(m->heads);
		assert_int_equal(m->nheads, 0);
	}
	if (m->type != SYNC_BATCH) {
		assert_null(m->cs);
		assert_int_equal(m->ncs, 0);
	}
	if (m->type != SYNC_ACK) {
		assert_int_equal(m->accepted, 0);
		assert_int_equal(m->rejected, 0);
	}
	if (m->type != SYNC_DONE)
		assert_int_equal(m->sent, 0);
	if (m->type != SYNC_ERROR) {
		assert_int_equal(m->code, 0);
		assert_null(m->text);
		assert_int_equal(m->text_len, 0);
	}
}

static void
sample_circles(struct sync_circle *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		fill(c[i].circle, sizeof(c[i].circle), (uint8_t)(3 * i + 1));
		fill(c[i].data, sizeof(c[i].data), (uint8_t)(3 * i + 2));
		fill(c[i].members, sizeof(c[i].members), (uint8_t)(3 * i + 3));
		fill(c[i].audit, sizeof(c[i].audit), (uint8_t)(5 * i + 7));
	}
	/* "I hold nothing of it". */
	if (n > 1)
		memset(c[1].data, 0, sizeof(c[1].data));
}

/* Sorted by author, seqs of every integer width. */
static void
sample_heads(struct sync_head *h, size_t n)
{
	static const uint64_t seqs[] = { 1, 200, 70000, 1ULL << 40,
	    UINT64_MAX };
	size_t i;

	for (i = 0; i < n; i++) {
		fill(h[i].author, sizeof(h[i].author), (uint8_t)(7 * i));
		h[i].author[0] = (uint8_t)(0x10 + 0x20 * i);
		h[i].seq = seqs[i % 5];
		fill(h[i].head, sizeof(h[i].head), (uint8_t)(0x80 + i));
	}
}

static uint8_t blob[1024];

/* One valid message of each type, small enough to try every prefix of. */
static void
sample(struct wbuf *w, enum sync_type t)
{
	struct sync_circle c[3];
	struct sync_head h[5];

	switch (t) {
	case SYNC_HELLO:
		sample_circles(c, 3);
		sync_put_hello(w, SESSION, replica, c, 3);
		break;
	case SYNC_VECTOR:
		sample_heads(h, 5);
		sync_put_vector(w, SESSION, chain, h, 5);
		break;
	case SYNC_BATCH:
		sync_put_batch_start(w, SESSION, chain, 3);
		sync_put_batch_cs(w, blob, 100, blob + 100, 300);
		sync_put_batch_cs(w, blob, 0, blob, 0);
		sync_put_batch_cs(w, blob + 1, CS_MAX_HEADER, blob, 1000);
		break;
	case SYNC_ACK:
		sync_put_ack(w, SESSION, chain, 7, UINT32_MAX, replica, 0, 0);
		break;
	case SYNC_DONE:
		sync_put_done(w, 0, chain, 1ULL << 33, replica);
		break;
	case SYNC_ERROR:
		sync_put_error(w, SESSION, SAMEN_EPROTO,
		    "seq 0 from z\xc3\xa9lf \xe2\x82\xac");
		break;
	}
}

static const enum sync_type types[] = { SYNC_HELLO, SYNC_VECTOR, SYNC_BATCH,
	SYNC_ACK, SYNC_DONE, SYNC_ERROR };
#define NTYPES (sizeof(types) / sizeof(types[0]))

static void
test_roundtrip_hello(void **state)
{
	struct sync_circle c[3];
	struct sync_msg m;
	struct wbuf w;

	(void)state;
	sample_circles(c, 3);
	wire_init(&w);
	sync_put_hello(&w, SESSION, replica, c, 3);
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_int_equal(m.type, SYNC_HELLO);
	assert_true(m.session == SESSION);
	assert_memory_equal(m.digest, replica, 32);
	assert_int_equal(m.ncircles, 3);
	assert_memory_equal(m.circles, c, sizeof(c));
	assert_unused_zero(&m);
	sync_msg_free(&m);
	assert_null(m.circles);
	assert_int_equal(m.ncircles, 0);
	sync_msg_free(&m);	/* twice is harmless */

	/* Nothing to share is still a HELLO. */
	wire_reset(&w);
	sync_put_hello(&w, UINT64_MAX, blob, NULL, 0);
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_int_equal(m.type, SYNC_HELLO);
	assert_true(m.session == UINT64_MAX);
	assert_memory_equal(m.digest, blob, 32);
	assert_int_equal(m.ncircles, 0);
	assert_unused_zero(&m);
	sync_msg_free(&m);
	wire_free(&w);
}

static void
test_roundtrip_vector(void **state)
{
	struct sync_head h[5];
	struct sync_msg m;
	struct wbuf w;
	uint32_t i;

	(void)state;
	sample_heads(h, 5);
	wire_init(&w);
	sync_put_vector(&w, SESSION, chain, h, 5);
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_int_equal(m.type, SYNC_VECTOR);
	assert_true(m.session == SESSION);
	assert_memory_equal(m.chain, chain, sizeof(chain));
	assert_int_equal(m.nheads, 5);
	for (i = 0; i < 5; i++) {
		assert_memory_equal(m.heads[i].author, h[i].author, 32);
		assert_true(m.heads[i].seq == h[i].seq);
		assert_memory_equal(m.heads[i].head, h[i].head, CS_IDLEN);
	}
	assert_unused_zero(&m);
	sync_msg_free(&m);

	wire_reset(&w);
	sync_put_vector(&w, 0, chain, NULL, 0);
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_int_equal(m.type, SYNC_VECTOR);
	assert_int_equal(m.nheads, 0);
	assert_memory_equal(m.chain, chain, sizeof(chain));
	assert_unused_zero(&m);
	sync_msg_free(&m);
	wire_free(&w);
}

static void
test_roundtrip_batch(void **state)
{
	uint8_t *big, *p;
	struct sync_msg m;
	struct wbuf w;
	size_t n;

	(void)state;
	/* A payload past 64 KiB takes the bin32 form. */
	big = xmalloc(70000);
	fill(big, 70000, 0x33);
	wire_init(&w);
	sync_put_batch_start(&w, SESSION, chain, 3);
	sync_put_batch_cs(&w, blob, 100, blob + 100, 300);
	sync_put_batch_cs(&w, blob, 0, blob, 0);
	sync_put_batch_cs(&w, blob + 1, CS_MAX_HEADER, big, 70000);
	p = wire_take(&w, &n);
	roundtrip(&m, p, n);
	assert_int_equal(m.type, SYNC_BATCH);
	assert_true(m.session == SESSION);
	assert_memory_equal(m.chain, chain, sizeof(chain));
	assert_int_equal(m.ncs, 3);
	assert_int_equal(m.cs[0].hdr_len, 100);
	assert_memory_equal(m.cs[0].hdr, blob, 100);
	assert_int_equal(m.cs[0].payload_len, 300);
	assert_memory_equal(m.cs[0].payload, blob + 100, 300);
	assert_int_equal(m.cs[1].hdr_len, 0);
	assert_int_equal(m.cs[1].payload_len, 0);
	assert_int_equal(m.cs[2].hdr_len, CS_MAX_HEADER);
	assert_memory_equal(m.cs[2].hdr, blob + 1, CS_MAX_HEADER);
	assert_int_equal(m.cs[2].payload_len, 70000);
	assert_memory_equal(m.cs[2].payload, big, 70000);
	/* The entries are borrowed from the input. */
	assert_true(m.cs[0].hdr > p && m.cs[0].hdr < p + n);
	assert_true(m.cs[2].payload > p && m.cs[2].payload + 70000 == p + n);
	assert_unused_zero(&m);
	sync_msg_free(&m);
	assert_null(m.cs);
	free(p);
	free(big);
	wire_free(&w);
}

static void
test_roundtrip_small(void **state)
{
	static const char text[] = "d\xc3\xa9j\xc3\xa0 vu \xf0\x9f\x98\x80";
	struct sync_msg m;
	struct wbuf w;

	(void)state;
	wire_init(&w);
	sync_put_ack(&w, SESSION, chain, 7, UINT32_MAX, replica, 0, 0);
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_int_equal(m.type, SYNC_ACK);
	assert_true(m.session == SESSION);
	assert_memory_equal(m.chain, chain, sizeof(chain));
	assert_memory_equal(m.digest, replica, 32);
	assert_int_equal(m.accepted, 7);
	assert_int_equal(m.rejected, UINT32_MAX);
	assert_unused_zero(&m);
	sync_msg_free(&m);

	wire_reset(&w);
	sync_put_done(&w, 5, chain, 1ULL << 33, blob + 7);
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_int_equal(m.type, SYNC_DONE);
	assert_true(m.session == 5);
	assert_memory_equal(m.chain, chain, sizeof(chain));
	assert_memory_equal(m.digest, blob + 7, 32);
	assert_true(m.sent == 1ULL << 33);
	assert_unused_zero(&m);
	sync_msg_free(&m);

	wire_reset(&w);
	sync_put_error(&w, SESSION, SAMEN_EVERSION, text);
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_int_equal(m.type, SYNC_ERROR);
	assert_true(m.session == SESSION);
	assert_int_equal(m.code, SAMEN_EVERSION);
	assert_int_equal(m.text_len, strlen(text));
	assert_memory_equal(m.text, text, strlen(text));
	assert_true((const uint8_t *)m.text > wire_data(&w) &&
	    (const uint8_t *)m.text < wire_data(&w) + wire_len(&w));
	assert_unused_zero(&m);
	sync_msg_free(&m);

	/* Codes of either sign, an empty text, a NULL text. */
	wire_reset(&w);
	sync_put_error(&w, 1, INT64_MIN, "");
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_true(m.code == INT64_MIN);
	assert_int_equal(m.text_len, 0);
	sync_msg_free(&m);
	wire_reset(&w);
	sync_put_error(&w, 1, INT64_MAX, NULL);
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_true(m.code == INT64_MAX);
	assert_int_equal(m.text_len, 0);
	sync_msg_free(&m);
	wire_free(&w);
}

/* The start of a message by hand: [version, type, session, ...]. */
static void
put_start(struct wbuf *w, uint32_t arity, uint64_t version, uint64_t type)
{
	wire_put_array(w, arity);
	wire_put_u64(w, version);
	wire_put_u64(w, type);
	wire_put_u64(w, SESSION);
}

static void
test_version(void **state)
{
	struct wbuf w;

	(void)state;
	wire_init(&w);
	/* Control: the same message at our version is fine. */
	put_start(&w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), 0);
	put_start(&w, 5, 2, SYNC_HELLO);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_EVERSION);
	put_start(&w, 5, 0, SYNC_HELLO);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_EVERSION);
	/* Another version may shape its messages as it likes. */
	wire_put_array(&w, 1);
	wire_put_u64(&w, 2);
	assert_int_equal(wbuf_rc(&w), SAMEN_EVERSION);
	wire_put_array(&w, 3);
	wire_put_u64(&w, 1ULL << 40);
	wire_put_cstr(&w, "hello");
	wire_put_map(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_EVERSION);
	put_start(&w, 9, UINT32_MAX, 77);
	assert_int_equal(wbuf_rc(&w), SAMEN_EVERSION);

	/* Not an array with a uint first: no version to speak of. */
	wire_put_u64(&w, SYNC_VERSION);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_put_map(&w, 1);
	wire_put_u64(&w, 1);
	wire_put_u64(&w, 1);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_put_array(&w, 5);
	wire_put_cstr(&w, "1");
	wire_put_u64(&w, SYNC_HELLO);
	wire_put_u64(&w, SESSION);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_put_array(&w, 5);
	wire_put_i64(&w, -1);
	wire_put_u64(&w, SYNC_HELLO);
	wire_put_u64(&w, SESSION);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	wire_put_array(&w, 1);
	wire_put_u64(&w, SYNC_VERSION);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	assert_int_equal(decode_rc((const uint8_t *)"", 0), SAMEN_ETRUNC);
	wire_free(&w);
}

static void
test_type(void **state)
{
	static const uint64_t bad[] = { 0, 7, 8, 127, 255, 1ULL << 40,
	    UINT64_MAX };
	struct wbuf w;
	size_t i;

	(void)state;
	wire_init(&w);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Shaped like a DONE, so only the type is wrong. */
		put_start(&w, 6, SYNC_VERSION, bad[i]);
		wire_put_bin(&w, chain, sizeof(chain));
		wire_put_u64(&w, 1);
		wire_put_bin(&w, replica, 32);
		assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	}
	put_start(&w, 6, SYNC_VERSION, SYNC_DONE);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), 0);
	wire_put_array(&w, 6);
	wire_put_u64(&w, SYNC_VERSION);
	wire_put_cstr(&w, "done");
	wire_put_u64(&w, SESSION);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_free(&w);
}

/* Every type with one element more or fewer than its arity. */
static void
test_arity(void **state)
{
	struct wbuf w;
	uint8_t *p;
	size_t i, n;

	(void)state;
	wire_init(&w);
	for (i = 0; i < NTYPES; i++) {
		sample(&w, types[i]);
		p = wire_take(&w, &n);
		assert_int_equal(decode_rc(p, n), 0);
		/* A fixarray header: the arity is its low nibble. */
		assert_true(p[0] >= 0x95 && p[0] <= 0x97);
		p[0]--;
		assert_int_equal(decode_rc(p, n), SAMEN_EPROTO);
		p = xrealloc(p, n + 1);
		p[0] += 2;
		p[n] = 0xc0;
		assert_int_equal(decode_rc(p, n + 1), SAMEN_EPROTO);
		free(p);
	}
	/* The arity of the first draft of the protocol, without digests. */
	put_start(&w, 4, SYNC_VERSION, SYNC_HELLO);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	put_start(&w, 6, SYNC_VERSION, SYNC_ACK);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_u64(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	put_start(&w, 5, SYNC_VERSION, SYNC_DONE);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	/* A DONE shaped like an ACK. */
	put_start(&w, 7, SYNC_VERSION, SYNC_DONE);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_u64(&w, 0);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	wire_free(&w);
}

/* A VECTOR by hand, so its rules can be broken. */
static void
put_vector_raw(struct wbuf *w, const struct sync_head *h, size_t n)
{
	size_t i;

	put_start(w, 5, SYNC_VERSION, SYNC_VECTOR);
	wire_put_bin(w, chain, sizeof(chain));
	wire_put_array(w, (uint32_t)n);
	for (i = 0; i < n; i++) {
		wire_put_array(w, 3);
		wire_put_bin(w, h[i].author, 32);
		wire_put_u64(w, h[i].seq);
		wire_put_bin(w, h[i].head, CS_IDLEN);
	}
}

static void
test_vector_rules(void **state)
{
	struct sync_head h[3], x[3];
	struct wbuf w;

	(void)state;
	wire_init(&w);
	sample_heads(h, 3);
	put_vector_raw(&w, h, 3);
	assert_int_equal(wbuf_rc(&w), 0);

	/* Out of order. */
	memcpy(x, h, sizeof(h));
	x[1] = h[2];
	x[2] = h[1];
	put_vector_raw(&w, x, 3);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	x[0] = h[1];
	x[1] = h[0];
	x[2] = h[2];
	put_vector_raw(&w, x, 3);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	/* The order is memcmp's: the last byte decides. */
	memcpy(x, h, sizeof(h));
	memcpy(x[1].author, x[0].author, 32);
	x[0].author[31] = 0x81;
	x[1].author[31] = 0x80;
	put_vector_raw(&w, x, 2);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	x[1].author[31] = 0x82;
	put_vector_raw(&w, x, 2);
	assert_int_equal(wbuf_rc(&w), 0);
	/* An author twice, even with the same seq and head. */
	memcpy(x, h, sizeof(h));
	x[2] = x[1];
	put_vector_raw(&w, x, 3);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	x[2].seq++;
	put_vector_raw(&w, x, 3);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);

	/* seq 0, first or later. */
	memcpy(x, h, sizeof(h));
	x[0].seq = 0;
	put_vector_raw(&w, x, 3);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	x[0].seq = 1;
	x[2].seq = 0;
	put_vector_raw(&w, x, 3);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);

	/*
	 * Entry shapes.  An entry shorter than the shortest valid one is
	 * caught by the count check (ETRUNC), so these are padded out.
	 */
	put_start(&w, 5, SYNC_VERSION, SYNC_VECTOR);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, 1);
	wire_put_array(&w, 2);
	wire_put_bin(&w, h[0].author, 32);
	wire_put_u64(&w, 1);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETRUNC);
	put_start(&w, 5, SYNC_VERSION, SYNC_VECTOR);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, 1);
	wire_put_array(&w, 2);
	wire_put_bin(&w, h[0].author, 32);
	wire_put_bin(&w, blob, 40);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 5, SYNC_VERSION, SYNC_VECTOR);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, 1);
	wire_put_array(&w, 3);
	wire_put_bin(&w, h[0].author, 31);
	wire_put_u64(&w, 200);
	wire_put_bin(&w, h[0].head, CS_IDLEN);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* A chain of the wrong length. */
	put_start(&w, 5, SYNC_VERSION, SYNC_VECTOR);
	wire_put_bin(&w, chain, sizeof(chain) - 1);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_free(&w);
}

/* A BATCH by hand of n entries of hl and pl bytes each. */
static void
put_batch_raw(struct wbuf *w, uint32_t n, const uint8_t *data, size_t hl,
    size_t pl)
{
	uint32_t i;

	put_start(w, 5, SYNC_VERSION, SYNC_BATCH);
	wire_put_bin(w, chain, sizeof(chain));
	wire_put_array(w, n);
	for (i = 0; i < n; i++) {
		wire_put_array(w, 2);
		wire_put_bin(w, data, hl);
		wire_put_bin(w, data, pl);
	}
}

static void
test_batch_rules(void **state)
{
	uint8_t *big;
	struct wbuf w;

	(void)state;
	big = xcalloc(1, CS_MAX_PAYLOAD + 1);
	wire_init(&w);
	put_batch_raw(&w, 0, blob, 0, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	put_batch_raw(&w, SYNC_MAX_BATCH, blob, 0, 0);
	assert_int_equal(wbuf_rc(&w), 0);
	put_batch_raw(&w, SYNC_MAX_BATCH + 1, blob, 0, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);

	put_batch_raw(&w, 2, blob, CS_MAX_HEADER, 10);
	assert_int_equal(wbuf_rc(&w), 0);
	put_batch_raw(&w, 2, blob, CS_MAX_HEADER + 1, 10);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);
	put_batch_raw(&w, 1, big, 10, CS_MAX_PAYLOAD);
	assert_int_equal(wbuf_rc(&w), 0);
	put_batch_raw(&w, 1, big, 10, CS_MAX_PAYLOAD + 1);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);

	/* Each entry is exactly [header bin, payload bin]. */
	put_start(&w, 5, SYNC_VERSION, SYNC_BATCH);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, 1);
	wire_put_array(&w, 1);
	wire_put_bin(&w, blob, 10);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 5, SYNC_VERSION, SYNC_BATCH);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, 1);
	wire_put_array(&w, 3);
	wire_put_bin(&w, blob, 10);
	wire_put_bin(&w, blob, 10);
	wire_put_bin(&w, blob, 10);
	assert_int_not_equal(wbuf_rc(&w), 0);
	put_start(&w, 5, SYNC_VERSION, SYNC_BATCH);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, 1);
	wire_put_array(&w, 2);
	wire_put_str(&w, "hdr", 3);
	wire_put_bin(&w, blob, 10);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 5, SYNC_VERSION, SYNC_BATCH);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, 1);
	wire_put_bin(&w, blob, 10);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_free(&w);
	free(big);
}

/* Each payload is within its cap, the whole frame is not. */
static void
test_message_cap(void **state)
{
	uint8_t *big;
	struct wbuf w;

	(void)state;
	big = xcalloc(1, CS_MAX_PAYLOAD);
	wire_init(&w);
	put_batch_raw(&w, 1, big, 1, CS_MAX_PAYLOAD);
	assert_true(wire_len(&w) <= SYNC_MAX_MSG);
	assert_int_equal(wbuf_rc(&w), 0);
	put_batch_raw(&w, 3, big, 1, CS_MAX_PAYLOAD);
	assert_true(wire_len(&w) > SYNC_MAX_MSG);
	reset_allocs();
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);
	assert_int_equal(nallocs, 0);
	wire_free(&w);
	free(big);
}

static void
put_hello_raw(struct wbuf *w, uint32_t n)
{
	struct sync_circle c;
	uint32_t i;

	sample_circles(&c, 1);
	put_start(w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_bin(w, replica, 32);
	wire_put_array(w, n);
	for (i = 0; i < n; i++) {
		wire_put_array(w, 4);
		wire_put_bin(w, c.circle, sizeof(c.circle));
		wire_put_bin(w, c.data, sizeof(c.data));
		wire_put_bin(w, c.members, sizeof(c.members));
		wire_put_bin(w, c.audit, sizeof(c.audit));
	}
}

static void
test_hello_rules(void **state)
{
	struct wbuf w;

	(void)state;
	wire_init(&w);
	put_hello_raw(&w, SYNC_MAX_CIRCLES);
	assert_int_equal(wbuf_rc(&w), 0);
	put_hello_raw(&w, SYNC_MAX_CIRCLES + 1);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);
	/* The replica digest is exactly 32 bytes. */
	put_start(&w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_bin(&w, replica, 31);
	wire_put_array(&w, 0);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_array(&w, 0);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 1);
	wire_put_array(&w, 4);
	wire_put_bin(&w, blob, CS_CIRCLELEN - 1);
	wire_put_bin(&w, blob, 33);	/* so the entry is long enough */
	wire_put_bin(&w, blob, 32);
	wire_put_bin(&w, blob, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	/* An entry of three (no audit digest) is a HELLO of before. */
	put_start(&w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 1);
	wire_put_array(&w, 3);
	wire_put_bin(&w, blob, CS_CIRCLELEN);
	wire_put_bin(&w, blob, 32);
	wire_put_bin(&w, blob, 32);
	wire_put_bin(&w, blob, 32);	/* so the entry is long enough */
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 1);
	wire_put_array(&w, 3);
	wire_put_bin(&w, blob, CS_CIRCLELEN);
	wire_put_bin(&w, blob, 32);
	wire_put_bin(&w, blob, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETRUNC);
	put_start(&w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 1);
	wire_put_array(&w, 3);
	wire_put_bin(&w, blob, CS_CIRCLELEN);
	wire_put_bin(&w, blob, 104);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_free(&w);
}

static void
put_error_raw(struct wbuf *w, const char *text, size_t n)
{
	put_start(w, 5, SYNC_VERSION, SYNC_ERROR);
	wire_put_i64(w, SAMEN_EPROTO);
	wire_put_str(w, text, n);
}

static void
test_error_rules(void **state)
{
	char text[400];
	struct sync_msg m;
	struct wbuf w;
	size_t i;

	(void)state;
	wire_init(&w);
	memset(text, 'a', sizeof(text));
	put_error_raw(&w, text, SYNC_MAX_TEXT);
	assert_int_equal(wbuf_rc(&w), 0);
	put_error_raw(&w, text, SYNC_MAX_TEXT + 1);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);
	put_error_raw(&w, "ok \xc3\xa9", 5);
	assert_int_equal(wbuf_rc(&w), 0);
	put_error_raw(&w, "bad \xc3\x28", 6);
	assert_int_equal(wbuf_rc(&w), SAMEN_EUTF8);
	put_error_raw(&w, "\xff", 1);
	assert_int_equal(wbuf_rc(&w), SAMEN_EUTF8);
	put_error_raw(&w, "overlong \xc0\xaf", 11);
	assert_int_equal(wbuf_rc(&w), SAMEN_EUTF8);
	put_error_raw(&w, "cut \xe2\x82", 6);
	assert_int_equal(wbuf_rc(&w), SAMEN_EUTF8);
	put_error_raw(&w, "nul\0byte", 8);
	assert_int_equal(wbuf_rc(&w), SAMEN_EUTF8);
	/* The text is a str, the code an integer. */
	put_start(&w, 5, SYNC_VERSION, SYNC_ERROR);
	wire_put_i64(&w, SAMEN_EPROTO);
	wire_put_bin(&w, "text", 4);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 5, SYNC_VERSION, SYNC_ERROR);
	wire_put_cstr(&w, "EPROTO");
	wire_put_cstr(&w, "text");
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 5, SYNC_VERSION, SYNC_ERROR);
	wire_put_u64(&w, (uint64_t)INT64_MAX + 1);
	wire_put_cstr(&w, "text");
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);

	/* The encoder cuts a long text on a character boundary. */
	for (i = 0; i + 3 < sizeof(text); i += 3)
		memcpy(text + i, "\xe2\x82\xac", 3);
	text[i] = '\0';
	sync_put_error(&w, SESSION, SAMEN_EPROTO, text);
	assert_int_equal(sync_decode(&m, wire_data(&w), wire_len(&w)), 0);
	assert_int_equal(m.text_len, SYNC_MAX_TEXT / 3 * 3);
	assert_memory_equal(m.text, text, m.text_len);
	sync_msg_free(&m);
	wire_reset(&w);
	memset(text, 'b', sizeof(text));
	text[sizeof(text) - 1] = '\0';
	sync_put_error(&w, SESSION, SAMEN_EPROTO, text);
	assert_int_equal(sync_decode(&m, wire_data(&w), wire_len(&w)), 0);
	assert_int_equal(m.text_len, SYNC_MAX_TEXT);
	sync_msg_free(&m);
	wire_free(&w);
}

static void
test_ack_done_rules(void **state)
{
	struct wbuf w;

	(void)state;
	wire_init(&w);
	put_start(&w, 7, SYNC_VERSION, SYNC_ACK);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, UINT32_MAX);
	wire_put_u64(&w, UINT32_MAX);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), 0);
	put_start(&w, 7, SYNC_VERSION, SYNC_ACK);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, UINT32_MAX);
	wire_put_u64(&w, (uint64_t)UINT32_MAX + 1);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);
	put_start(&w, 7, SYNC_VERSION, SYNC_ACK);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_i64(&w, -1);
	wire_put_u64(&w, 0);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 7, SYNC_VERSION, SYNC_ACK);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_u64(&w, 0);
	wire_put_bin(&w, replica, 31);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 6, SYNC_VERSION, SYNC_DONE);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_nil(&w);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	put_start(&w, 6, SYNC_VERSION, SYNC_DONE);
	wire_put_bin(&w, blob, sizeof(chain) + 1);
	wire_put_u64(&w, 1);
	wire_put_bin(&w, replica, 32);
	assert_int_not_equal(wbuf_rc(&w), 0);
	put_start(&w, 6, SYNC_VERSION, SYNC_DONE);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_nil(&w);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	wire_free(&w);
}

/*
 * An ACK that says the receiver held change sets back (issue 28): nine
 * elements, round trip; nine with held 0, or eight, are refused, and an
 * ACK that held nothing is the seven elements it always was.
 */
static void
test_ack_held(void **state)
{
	struct sync_msg m;
	struct wbuf w;

	(void)state;
	wire_init(&w);
	sync_put_ack(&w, SESSION, chain, 3, 0, replica, 1, 172800000);
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_int_equal(m.type, SYNC_ACK);
	assert_int_equal(m.accepted, 3);
	assert_int_equal(m.held, 1);
	assert_true(m.ahead_ms == 172800000);
	sync_msg_free(&m);

	wire_reset(&w);
	sync_put_ack(&w, SESSION, chain, 3, 0, replica, 0, 172800000);
	assert_int_equal(wire_data(&w)[0], 0x97);	/* fixarray 7 */
	roundtrip(&m, wire_data(&w), wire_len(&w));
	assert_int_equal(m.held, 0);
	assert_true(m.ahead_ms == 0);
	sync_msg_free(&m);

	wire_reset(&w);
	put_start(&w, 9, SYNC_VERSION, SYNC_ACK);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 3);
	wire_put_u64(&w, 0);
	wire_put_bin(&w, replica, 32);
	wire_put_u64(&w, 0);
	wire_put_u64(&w, 5);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	put_start(&w, 8, SYNC_VERSION, SYNC_ACK);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 3);
	wire_put_u64(&w, 0);
	wire_put_bin(&w, replica, 32);
	wire_put_u64(&w, 1);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	put_start(&w, 9, SYNC_VERSION, SYNC_ACK);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 3);
	wire_put_u64(&w, 0);
	wire_put_bin(&w, replica, 32);
	wire_put_u64(&w, (uint64_t)UINT32_MAX + 1);
	wire_put_u64(&w, 5);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);
	/* More held than accepted: a peer's count we would believe. */
	put_start(&w, 9, SYNC_VERSION, SYNC_ACK);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 3);
	wire_put_u64(&w, 0);
	wire_put_bin(&w, replica, 32);
	wire_put_u64(&w, 4);
	wire_put_u64(&w, 5);
	assert_int_equal(wbuf_rc(&w), SAMEN_EPROTO);
	wire_free(&w);
}

static void
test_noncanonical(void **state)
{
	struct wbuf w;

	(void)state;
	wire_init(&w);
	/* Control: DONE [1, 5, 5, chain, 1, digest]. */
	wire_put_array(&w, 6);
	wire_put_u64(&w, SYNC_VERSION);
	wire_put_u64(&w, SYNC_DONE);
	wire_put_u64(&w, 5);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), 0);
	/* Session 5 as a uint64. */
	wire_put_array(&w, 6);
	wire_put_u64(&w, SYNC_VERSION);
	wire_put_u64(&w, SYNC_DONE);
	wire_put_raw(&w, "\xcf\0\0\0\0\0\0\0\x05", 9);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ENONCANON);
	/* The version as a uint8: a form error, not another version. */
	wire_put_array(&w, 6);
	wire_put_raw(&w, "\xcc\x01", 2);
	wire_put_u64(&w, SYNC_DONE);
	wire_put_u64(&w, 5);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ENONCANON);
	/* The top array as an array16. */
	wire_put_raw(&w, "\xdc\x00\x06", 3);
	wire_put_u64(&w, SYNC_VERSION);
	wire_put_u64(&w, SYNC_DONE);
	wire_put_u64(&w, 5);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ENONCANON);
	/* The chain, then the digest, as a bin16. */
	put_start(&w, 6, SYNC_VERSION, SYNC_DONE);
	wire_put_raw(&w, "\xc5\x00\x10", 3);
	wire_put_raw(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_bin(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ENONCANON);
	put_start(&w, 6, SYNC_VERSION, SYNC_DONE);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_u64(&w, 1);
	wire_put_raw(&w, "\xc5\x00\x20", 3);
	wire_put_raw(&w, replica, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ENONCANON);
	/* A seq of 1 as a uint16 inside a VECTOR. */
	put_start(&w, 5, SYNC_VERSION, SYNC_VECTOR);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, 1);
	wire_put_array(&w, 3);
	wire_put_bin(&w, blob, 32);
	wire_put_raw(&w, "\xcd\x00\x01", 3);
	wire_put_bin(&w, blob, 32);
	assert_int_equal(wbuf_rc(&w), SAMEN_ENONCANON);
	/* A negative code as an int64 that fits in an int8. */
	put_start(&w, 5, SYNC_VERSION, SYNC_ERROR);
	wire_put_raw(&w, "\xd3\xff\xff\xff\xff\xff\xff\xff\xfe", 9);
	wire_put_cstr(&w, "x");
	assert_int_equal(wbuf_rc(&w), SAMEN_ENONCANON);
	wire_free(&w);
}

/* Every proper prefix, each on a copy of its own so ASan sees overreads. */
static void
test_truncated(void **state)
{
	struct wbuf w;
	uint8_t *p, *q;
	size_t t, i, n;
	int rc;

	(void)state;
	wire_init(&w);
	for (t = 0; t < NTYPES; t++) {
		sample(&w, types[t]);
		p = wire_take(&w, &n);
		assert_int_equal(decode_rc(p, n), 0);
		for (i = 0; i < n; i++) {
			q = xmalloc(i);
			memcpy(q, p, i);
			rc = decode_rc(q, i);
			if (rc != SAMEN_ETRUNC)
				fail_msg("type %d: prefix of %zu of %zu "
				    "bytes gave %d", types[t], i, n, rc);
			free(q);
		}
		free(p);
	}
	wire_free(&w);
}

static void
test_trailing(void **state)
{
	struct wbuf w;
	uint8_t *p;
	size_t t, n, m;

	(void)state;
	wire_init(&w);
	for (t = 0; t < NTYPES; t++) {
		sample(&w, types[t]);
		m = wire_len(&w);
		assert_int_equal(decode_rc(wire_data(&w), m), 0);
		wire_put_nil(&w);
		p = wire_take(&w, &n);
		assert_int_equal(decode_rc(p, n), SAMEN_ETRAILING);
		free(p);
		/* Two messages in one frame. */
		sample(&w, types[t]);
		sample(&w, types[t]);
		assert_int_equal(wire_len(&w), 2 * m);
		assert_int_equal(wbuf_rc(&w), SAMEN_ETRAILING);
	}
	wire_free(&w);
}

/*
 * Counts that claim more than the message can hold: refused without asking
 * for memory.  Each list is padded so that the reader's own check (one byte
 * an element) passes; only the check at the entry's real minimum stops it.
 */
static void
test_count_bombs(void **state)
{
	/* [1, 1, 5, digest (zeros), array32 of 2^31], then 10 bytes. */
	static const uint8_t hello31[4 + 2 + 32 + 5 + 10] = {
		0x95, 0x01, 0x01, 0x05, 0xc4, 0x20,
		[38] = 0xdd, 0x80, 0x00, 0x00, 0x00,
	};
	static uint8_t pad[100000];
	struct wbuf w;
	struct sync_msg m;

	(void)state;
	memset(pad, 0, sizeof(pad));	/* each byte is a fixint 0 */
	wire_init(&w);

	/* Control: a valid list is allocated once, at its size. */
	reset_allocs();
	put_hello_raw(&w, 3);
	assert_int_equal(sync_decode(&m, wire_data(&w), wire_len(&w)), 0);
	assert_int_equal(nallocs, 1);
	assert_int_equal(alloc_max, 3 * sizeof(struct sync_circle));
	sync_msg_free(&m);
	wire_reset(&w);

	/* 2^31 HELLO entries in 53 bytes. */
	reset_allocs();
	assert_int_not_equal(decode_rc(hello31, sizeof(hello31)), 0);
	assert_int_equal(nallocs, 0);

	/* 1000 HELLO entries in 2000 bytes. */
	reset_allocs();
	put_start(&w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 1000);
	wire_put_raw(&w, pad, 2000);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETRUNC);
	assert_int_equal(nallocs, 0);
	/* Enough bytes for 800 minimal entries; the entries are wrong. */
	put_start(&w, 5, SYNC_VERSION, SYNC_HELLO);
	wire_put_bin(&w, replica, 32);
	wire_put_array(&w, 800);
	wire_put_raw(&w, pad, 800 * HELLO_ENTRY_MIN);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETYPE);
	assert_int_equal(nallocs, 1);

	/* The most authors a VECTOR may have, in 100000 bytes. */
	reset_allocs();
	put_start(&w, 5, SYNC_VERSION, SYNC_VECTOR);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, SYNC_MAX_AUTHORS);
	wire_put_raw(&w, pad, sizeof(pad));
	assert_int_equal(wbuf_rc(&w), SAMEN_ETRUNC);
	put_start(&w, 5, SYNC_VERSION, SYNC_VECTOR);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, SYNC_MAX_AUTHORS + 1);
	wire_put_raw(&w, pad, sizeof(pad));
	assert_int_equal(wbuf_rc(&w), SAMEN_ETOOBIG);
	put_start(&w, 5, SYNC_VERSION, SYNC_VECTOR);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_raw(&w, "\xdd\xff\xff\xff\xff", 5);
	assert_int_not_equal(wbuf_rc(&w), 0);
	assert_int_equal(nallocs, 0);

	/* A full BATCH in 300 bytes. */
	reset_allocs();
	put_start(&w, 5, SYNC_VERSION, SYNC_BATCH);
	wire_put_bin(&w, chain, sizeof(chain));
	wire_put_array(&w, SYNC_MAX_BATCH);
	wire_put_raw(&w, pad, 300);
	assert_int_equal(wbuf_rc(&w), SAMEN_ETRUNC);
	assert_int_equal(nallocs, 0);

	/* The top-level count too is bounded by the bytes left. */
	reset_allocs();
	assert_int_equal(decode_rc((const uint8_t *)"\xdd\x7f\xff\xff\xff"
	    "\x01\x01", 7), SAMEN_ETRUNC);
	assert_int_equal(nallocs, 0);
	wire_free(&w);
}

/*
 * Random damage to valid messages: whatever the decoder accepts must be
 * canonical, i.e. re-encode to the very bytes it was given.
 */
static void
test_mutations(void **state)
{
	uint64_t s = 0x5a3e4d;
	struct sync_msg m;
	struct wbuf w, out;
	uint8_t *p, *q;
	size_t t, n, k, pos;
	int iter, ok = 0;

	(void)state;
	wire_init(&w);
	wire_init(&out);
	for (t = 0; t < NTYPES; t++) {
		sample(&w, types[t]);
		p = wire_take(&w, &n);
		q = xmalloc(n);
		for (iter = 0; iter < 3000; iter++) {
			memcpy(q, p, n);
			for (k = rnd(&s) % 3 + 1; k > 0; k--) {
				pos = rnd(&s) % n;
				/* Half the time a nearby value, else any. */
				if (rnd(&s) & 1)
					q[pos] = (uint8_t)(q[pos] +
					    (rnd(&s) % 5) - 2);
				else
					q[pos] = (uint8_t)rnd(&s);
			}
			if (sync_decode(&m, q, n) != 0)
				continue;
			ok++;
			put_msg(&out, &m);
			assert_int_equal(wire_len(&out), n);
			assert_memory_equal(wire_data(&out), q, n);
			wire_reset(&out);
			sync_msg_free(&m);
		}
		free(q);
		free(p);
	}
	/* Changes inside binaries keep a message valid: some must pass. */
	assert_true(ok > 0);
	wire_free(&w);
	wire_free(&out);
}

static void
le64(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static int
all_zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++)
			return 0;
	return 1;
}

static void
test_vector_digest(void **state)
{
	crypto_generichash_state st;
	struct sync_head h[3], x[3];
	uint8_t want[32], got[32], other[32], seq[8], buf[10 + CS_CIRCLELEN];
	uint8_t chain2[CS_CIRCLELEN];
	size_t i;

	(void)state;
	sample_heads(h, 3);
	h[1].seq = 0x0102030405060708ULL;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"samen-vv-1", 10);
	crypto_generichash_update(&st, chain, CS_CIRCLELEN);
	for (i = 0; i < 3; i++) {
		le64(seq, h[i].seq);
		crypto_generichash_update(&st, h[i].author, 32);
		crypto_generichash_update(&st, seq, 8);
		crypto_generichash_update(&st, h[i].head, CS_IDLEN);
	}
	crypto_generichash_final(&st, want, 32);
	sync_vector_digest(got, chain, h, 3);
	assert_memory_equal(got, want, 32);
	/* The helper above and put_le64 agree on the byte order. */
	le64(seq, h[1].seq);
	assert_memory_equal(seq, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);

	/* Order matters: the input must be sorted, as in VECTOR. */
	x[0] = h[1];
	x[1] = h[0];
	x[2] = h[2];
	sync_vector_digest(other, chain, x, 3);
	assert_memory_not_equal(other, want, 32);
	/* Every field counts. */
	memcpy(x, h, sizeof(h));
	x[2].seq++;
	sync_vector_digest(other, chain, x, 3);
	assert_memory_not_equal(other, want, 32);
	memcpy(x, h, sizeof(h));
	x[0].head[CS_IDLEN - 1] ^= 1;
	sync_vector_digest(other, chain, x, 3);
	assert_memory_not_equal(other, want, 32);
	memcpy(x, h, sizeof(h));
	x[2].author[31] ^= 1;
	sync_vector_digest(other, chain, x, 3);
	assert_memory_not_equal(other, want, 32);
	sync_vector_digest(other, chain, h, 2);
	assert_memory_not_equal(other, want, 32);
	memcpy(chain2, chain, sizeof(chain2));
	chain2[0] ^= 0x80;
	sync_vector_digest(other, chain2, h, 3);
	assert_memory_not_equal(other, want, 32);

	/* Empty: the prefix and chain alone; never "I hold nothing". */
	memcpy(buf, "samen-vv-1", 10);
	memcpy(buf + 10, chain, CS_CIRCLELEN);
	crypto_generichash(want, 32, buf, sizeof(buf), NULL, 0);
	sync_vector_digest(got, chain, NULL, 0);
	assert_memory_equal(got, want, 32);
	assert_false(all_zero(got, 32));
	sync_vector_digest(other, chain2, NULL, 0);
	assert_memory_not_equal(other, got, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_hello),
		cmocka_unit_test(test_roundtrip_vector),
		cmocka_unit_test(test_roundtrip_batch),
		cmocka_unit_test(test_roundtrip_small),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_arity),
		cmocka_unit_test(test_vector_rules),
		cmocka_unit_test(test_batch_rules),
		cmocka_unit_test(test_message_cap),
		cmocka_unit_test(test_hello_rules),
		cmocka_unit_test(test_error_rules),
		cmocka_unit_test(test_ack_done_rules),
		cmocka_unit_test(test_ack_held),
		cmocka_unit_test(test_noncanonical),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_count_bombs),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_vector_digest),
	};

	if (sodium_init() < 0)
		return 1;
	fill(blob, sizeof(blob), 0x5c);
	fill(replica, sizeof(replica), 0xe1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
