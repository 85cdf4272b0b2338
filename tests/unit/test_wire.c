/* test_wire: the typed msgpack codec: round trips, canonical form, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "util.h"
#include "wire.h"

/* What a table entry is read as. */
enum kind { K_U64, K_I64, K_STR, K_BIN, K_ARRAY, K_MAP, K_BOOL, K_NIL };

/* Reads one value of the given kind (with no cap) from r; returns the code. */
static int
get_one(struct wire_reader *r, enum kind k)
{
	const uint8_t *p;
	const char *s;
	uint64_t u;
	int64_t i;
	uint32_t n;
	size_t len;
	int b;

	switch (k) {
	case K_U64: return wire_get_u64(r, &u);
	case K_I64: return wire_get_i64(r, &i);
	case K_STR: return wire_get_str(r, &s, &len, SIZE_MAX);
	case K_BIN: return wire_get_bin(r, &p, &len, SIZE_MAX);
	case K_ARRAY: return wire_get_array(r, &n, UINT32_MAX);
	case K_MAP: return wire_get_map(r, &n, UINT32_MAX);
	case K_BOOL: return wire_get_bool(r, &b);
	case K_NIL: return wire_get_nil(r);
	}
	fail();
	return 0;
}

/* Bytes of one value of a fixed encoding, built by hand. */
struct enc {
	uint8_t *p;
	size_t n;
};

/* A type byte, a big-endian length of lenbytes bytes, then fill bytes. */
static struct enc
hand(uint8_t type, int lenbytes, uint64_t len, uint8_t fill, size_t nfill)
{
	struct enc e;
	size_t i = 0;
	int k;

	e.n = 1 + (size_t)lenbytes + nfill;
	e.p = malloc(e.n ? e.n : 1);
	assert_non_null(e.p);
	e.p[i++] = type;
	for (k = lenbytes - 1; k >= 0; k--)
		e.p[i++] = (uint8_t)(len >> (8 * k));
	memset(e.p + i, fill, nfill);
	return e;
}

static struct enc
raw(const void *p, size_t n)
{
	struct enc e;

	e.n = n;
	e.p = malloc(n);
	assert_non_null(e.p);
	memcpy(e.p, p, n);
	return e;
}

/* Checks that the bytes are canonical-form encodings expected by the spec. */
static void
expect_bytes(struct wbuf *w, const uint8_t *want, size_t n)
{
	assert_int_equal(wire_len(w), n);
	assert_memory_equal(wire_data(w), want, n);
}

static void
test_writer_forms(void **state)
{
	struct wbuf w;

	(void)state;
	/* The shortest msgpack form, spelled out from the msgpack spec. */
	wire_init(&w);
	wire_put_u64(&w, 5);
	expect_bytes(&w, (const uint8_t *)"\x05", 1);
	wire_reset(&w);
	wire_put_u64(&w, 200);
	expect_bytes(&w, (const uint8_t *)"\xcc\xc8", 2);
	wire_reset(&w);
	wire_put_u64(&w, 0x1234);
	expect_bytes(&w, (const uint8_t *)"\xcd\x12\x34", 3);
	wire_reset(&w);
	wire_put_u64(&w, 0x12345678);
	expect_bytes(&w, (const uint8_t *)"\xce\x12\x34\x56\x78", 5);
	wire_reset(&w);
	wire_put_u64(&w, 0x123456789aULL);
	expect_bytes(&w,
	    (const uint8_t *)"\xcf\x00\x00\x00\x12\x34\x56\x78\x9a", 9);
	wire_reset(&w);
	wire_put_i64(&w, -1);
	expect_bytes(&w, (const uint8_t *)"\xff", 1);
	wire_reset(&w);
	wire_put_i64(&w, -33);
	expect_bytes(&w, (const uint8_t *)"\xd0\xdf", 2);
	wire_reset(&w);
	wire_put_i64(&w, 7);
	expect_bytes(&w, (const uint8_t *)"\x07", 1);
	wire_reset(&w);
	wire_put_cstr(&w, "abc");
	expect_bytes(&w, (const uint8_t *)"\xa3" "abc", 4);
	wire_reset(&w);
	wire_put_bin(&w, "abc", 3);
	expect_bytes(&w, (const uint8_t *)"\xc4\x03" "abc", 5);
	wire_reset(&w);
	wire_put_array(&w, 3);
	wire_put_map(&w, 1);
	wire_put_nil(&w);
	wire_put_bool(&w, 1);
	wire_put_bool(&w, 0);
	expect_bytes(&w, (const uint8_t *)"\x93\x81\xc0\xc3\xc2", 5);
	wire_free(&w);
}

static void
test_writer_buffer(void **state)
{
	struct wbuf w;
	uint8_t *p;
	size_t n;

	(void)state;
	wire_init(&w);
	assert_int_equal(wire_len(&w), 0);
	wire_put_u64(&w, 1);
	wire_put_raw(&w, "\x92\x01\x02", 3);
	wire_put_raw(&w, "", 0);
	expect_bytes(&w, (const uint8_t *)"\x01\x92\x01\x02", 4);

	p = wire_take(&w, &n);
	assert_non_null(p);
	assert_int_equal(n, 4);
	assert_memory_equal(p, "\x01\x92\x01\x02", 4);
	/* The writer is reset and still usable. */
	assert_int_equal(wire_len(&w), 0);
	wire_put_u64(&w, 2);
	expect_bytes(&w, (const uint8_t *)"\x02", 1);
	free(p);

	/* Taking an empty writer still gives something to free. */
	wire_reset(&w);
	p = wire_take(&w, &n);
	assert_int_equal(n, 0);
	free(p);
	wire_free(&w);
}

static void
test_uint_roundtrip(void **state)
{
	static const struct {
		uint64_t v;
		size_t len;
	} t[] = {
		{ 0, 1 }, { 1, 1 }, { 0x7f, 1 }, { 0x80, 2 }, { 0xff, 2 },
		{ 0x100, 3 }, { 0xffff, 3 }, { 0x10000, 5 },
		{ 0xffffffffULL, 5 }, { 0x100000000ULL, 9 },
		{ 0x123456789abcdefULL, 9 }, { UINT64_MAX, 9 },
	};
	struct wire_reader r;
	struct wbuf w;
	uint64_t v;
	size_t i;

	(void)state;
	wire_init(&w);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		wire_reset(&w);
		wire_put_u64(&w, t[i].v);
		assert_int_equal(wire_len(&w), t[i].len);
		wire_reader_init(&r, wire_data(&w), wire_len(&w));
		assert_int_equal(wire_peek(&r), WIRE_UINT);
		v = ~t[i].v;
		assert_int_equal(wire_get_u64(&r, &v), 0);
		assert_true(v == t[i].v);
		assert_int_equal(wire_remaining(&r), 0);
		assert_int_equal(wire_end(&r), 0);
	}
	wire_free(&w);
}

static void
test_u32_u8(void **state)
{
	struct wire_reader r;
	struct wbuf w;
	uint32_t v32;
	uint8_t v8;

	(void)state;
	wire_init(&w);
	wire_put_u64(&w, 0xffffffffULL);
	wire_put_u64(&w, 255);
	wire_put_u64(&w, 0);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_u32(&r, &v32), 0);
	assert_true(v32 == 0xffffffffU);
	assert_int_equal(wire_get_u8(&r, &v8), 0);
	assert_int_equal(v8, 255);
	assert_int_equal(wire_get_u8(&r, &v8), 0);
	assert_int_equal(v8, 0);
	assert_int_equal(wire_end(&r), 0);

	/* One past the range of the type is over its cap. */
	wire_reset(&w);
	wire_put_u64(&w, 0x100000000ULL);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_u32(&r, &v32), SAMEN_ETOOBIG);
	wire_reset(&w);
	wire_put_u64(&w, 256);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_u8(&r, &v8), SAMEN_ETOOBIG);
	/* Negative numbers are not unsigned ones. */
	wire_reset(&w);
	wire_put_i64(&w, -1);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_u32(&r, &v32), SAMEN_ETYPE);
	wire_free(&w);
}

static void
test_int_roundtrip(void **state)
{
	static const struct {
		int64_t v;
		size_t len;
	} t[] = {
		{ INT64_MIN, 9 }, { (int64_t)INT32_MIN - 1, 9 },
		{ INT32_MIN, 5 }, { (int64_t)INT16_MIN - 1, 5 },
		{ INT16_MIN, 3 }, { -129, 3 }, { -128, 2 }, { -33, 2 },
		{ -32, 1 }, { -1, 1 }, { 0, 1 }, { 1, 1 }, { 127, 1 },
		{ 128, 2 }, { 65536, 5 }, { INT64_MAX, 9 },
	};
	struct wire_reader r;
	struct wbuf w;
	int64_t v;
	size_t i;

	(void)state;
	wire_init(&w);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		wire_reset(&w);
		wire_put_i64(&w, t[i].v);
		assert_int_equal(wire_len(&w), t[i].len);
		wire_reader_init(&r, wire_data(&w), wire_len(&w));
		assert_int_equal(wire_peek(&r),
		    t[i].v < 0 ? WIRE_INT : WIRE_UINT);
		v = ~t[i].v;
		assert_int_equal(wire_get_i64(&r, &v), 0);
		assert_true(v == t[i].v);
		assert_int_equal(wire_end(&r), 0);
	}

	/* A uint past INT64_MAX does not fit. */
	wire_reset(&w);
	wire_put_u64(&w, (uint64_t)INT64_MAX + 1);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_true(wire_get_i64(&r, &v) < 0);
	wire_free(&w);
}

static void
test_bool_nil(void **state)
{
	struct wire_reader r;
	struct wbuf w;
	int b;

	(void)state;
	wire_init(&w);
	wire_put_bool(&w, 1);
	wire_put_bool(&w, 0);
	wire_put_bool(&w, 42);	/* any non-zero is true */
	wire_put_nil(&w);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_peek(&r), WIRE_BOOL);
	b = 0;
	assert_int_equal(wire_get_bool(&r, &b), 0);
	assert_true(b);
	b = 1;
	assert_int_equal(wire_get_bool(&r, &b), 0);
	assert_false(b);
	assert_int_equal(wire_get_bool(&r, &b), 0);
	assert_true(b);
	assert_int_equal(wire_peek(&r), WIRE_NIL);
	assert_int_equal(wire_get_nil(&r), 0);
	assert_int_equal(wire_peek(&r), WIRE_INVALID);
	assert_int_equal(wire_end(&r), 0);
	wire_free(&w);
}

static void
test_bin_roundtrip(void **state)
{
	static const struct {
		size_t n;
		size_t hdr;
	} t[] = {
		{ 0, 2 }, { 1, 2 }, { 255, 2 }, { 256, 3 }, { 65535, 3 },
		{ 65536, 5 }, { 70000, 5 },
	};
	struct wire_reader r;
	struct wbuf w;
	const uint8_t *p;
	uint8_t *buf;
	size_t i, j, n;

	(void)state;
	buf = malloc(70000);
	assert_non_null(buf);
	for (j = 0; j < 70000; j++)
		buf[j] = (uint8_t)(j * 31 + 7);
	wire_init(&w);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		wire_reset(&w);
		wire_put_bin(&w, buf, t[i].n);
		assert_int_equal(wire_len(&w), t[i].hdr + t[i].n);
		wire_reader_init(&r, wire_data(&w), wire_len(&w));
		assert_int_equal(wire_peek(&r), WIRE_BIN);
		assert_int_equal(wire_get_bin(&r, &p, &n, t[i].n), 0);
		assert_int_equal(n, t[i].n);
		/* Borrowed: points into the input. */
		assert_ptr_equal(p, wire_data(&w) + t[i].hdr);
		if (n)
			assert_memory_equal(p, buf, n);
		assert_int_equal(wire_end(&r), 0);
	}

	/* bin_fixed copies exactly n bytes, and refuses any other length. */
	wire_reset(&w);
	wire_put_bin(&w, buf, 32);
	wire_put_bin(&w, buf, 31);
	wire_put_bin(&w, buf, 33);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	{
		uint8_t out[33];

		memset(out, 0, sizeof(out));
		assert_int_equal(wire_get_bin_fixed(&r, out, 32), 0);
		assert_memory_equal(out, buf, 32);
		assert_true(wire_get_bin_fixed(&r, out, 32) < 0);
		wire_reader_init(&r, wire_data(&w) + 34 + 33,
		    wire_len(&w) - 34 - 33);
		assert_true(wire_get_bin_fixed(&r, out, 32) < 0);
	}
	wire_free(&w);
	free(buf);
}

static void
test_str_roundtrip(void **state)
{
	static const struct {
		size_t n;
		size_t hdr;
	} t[] = {
		{ 0, 1 }, { 1, 1 }, { 31, 1 }, { 32, 2 }, { 255, 2 },
		{ 256, 3 }, { 65535, 3 }, { 65536, 5 },
	};
	struct wire_reader r;
	struct wbuf w;
	const char *s;
	char *buf;
	size_t i, n;

	(void)state;
	buf = malloc(65536);
	assert_non_null(buf);
	for (i = 0; i < 65536; i++)
		buf[i] = (char)('a' + i % 26);
	wire_init(&w);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		wire_reset(&w);
		wire_put_str(&w, buf, t[i].n);
		assert_int_equal(wire_len(&w), t[i].hdr + t[i].n);
		wire_reader_init(&r, wire_data(&w), wire_len(&w));
		assert_int_equal(wire_peek(&r), WIRE_STR);
		assert_int_equal(wire_get_str(&r, &s, &n, t[i].n), 0);
		assert_int_equal(n, t[i].n);
		assert_ptr_equal(s, (const char *)wire_data(&w) + t[i].hdr);
		if (n)
			assert_memory_equal(s, buf, n);
		assert_int_equal(wire_end(&r), 0);
	}

	/* Multi-byte UTF-8 up to U+10FFFF passes unchanged. */
	{
		static const char u[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e"
		    " \xef\xbf\xbf \xf4\x8f\xbf\xbf";

		wire_reset(&w);
		wire_put_cstr(&w, u);
		wire_reader_init(&r, wire_data(&w), wire_len(&w));
		assert_int_equal(wire_get_str(&r, &s, &n, 100), 0);
		assert_int_equal(n, strlen(u));
		assert_memory_equal(s, u, n);
		assert_int_equal(wire_end(&r), 0);
	}
	wire_free(&w);
	free(buf);
}

static void
test_containers(void **state)
{
	static const struct {
		uint32_t n;
		size_t hdr;
	} t[] = {
		{ 0, 1 }, { 1, 1 }, { 15, 1 }, { 16, 3 }, { 65535, 3 },
		{ 65536, 5 },
	};
	struct wire_reader r;
	struct wbuf w;
	uint32_t n, k;
	size_t i;
	int map;

	(void)state;
	wire_init(&w);
	for (map = 0; map < 2; map++) {
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			wire_reset(&w);
			if (map)
				wire_put_map(&w, t[i].n);
			else
				wire_put_array(&w, t[i].n);
			assert_int_equal(wire_len(&w), t[i].hdr);
			for (k = 0; k < t[i].n * (map ? 2 : 1); k++)
				wire_put_nil(&w);
			wire_reader_init(&r, wire_data(&w), wire_len(&w));
			assert_int_equal(wire_peek(&r),
			    map ? WIRE_MAP : WIRE_ARRAY);
			n = ~0u;
			if (map)
				assert_int_equal(wire_get_map(&r, &n,
				    t[i].n), 0);
			else
				assert_int_equal(wire_get_array(&r, &n,
				    t[i].n), 0);
			assert_int_equal(n, t[i].n);
			for (k = 0; k < t[i].n * (map ? 2 : 1); k++)
				assert_int_equal(wire_get_nil(&r), 0);
			assert_int_equal(wire_end(&r), 0);

			/* The same value skipped as a whole. */
			wire_reader_init(&r, wire_data(&w), wire_len(&w));
			assert_int_equal(wire_skip(&r, 4), 0);
			assert_int_equal(wire_end(&r), 0);
		}
	}

	/* array_n wants exactly that many elements. */
	wire_reset(&w);
	wire_put_array(&w, 2);
	wire_put_u64(&w, 1);
	wire_put_u64(&w, 2);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_array_n(&r, 2), 0);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_true(wire_get_array_n(&r, 3) < 0);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_true(wire_get_array_n(&r, 1) < 0);
	wire_free(&w);
}

/* A value of every kind, nested; decoded by decode_sample(). */
static uint8_t *
encode_sample(size_t *n)
{
	uint8_t bin[300];
	struct wbuf w;
	size_t i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	wire_init(&w);
	wire_put_array(&w, 9);
	wire_put_u64(&w, 0x123456789aULL);
	wire_put_i64(&w, -100000);
	wire_put_cstr(&w, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\xa9");
	wire_put_bin(&w, bin, sizeof(bin));
	wire_put_map(&w, 1);
	wire_put_u64(&w, 1);
	wire_put_bool(&w, 1);
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	wire_put_array(&w, 2);
	wire_put_array(&w, 1);
	wire_put_u64(&w, 7);
	wire_put_cstr(&w, "");
	wire_put_u64(&w, 0);
	return wire_take(&w, n);
}

static int
decode_sample(const uint8_t *p, size_t n)
{
	struct wire_reader r;
	const uint8_t *b;
	const char *s;
	uint64_t u;
	int64_t i;
	uint32_t c;
	size_t len;
	int t;

	wire_reader_init(&r, p, n);
	if (wire_get_array_n(&r, 9) == 0 && wire_get_u64(&r, &u) == 0)
		assert_true(u == 0x123456789aULL);
	if (wire_get_i64(&r, &i) == 0)
		assert_true(i == -100000);
	if (wire_get_str(&r, &s, &len, 64) == 0)
		assert_int_equal(len, 42);
	if (wire_get_bin(&r, &b, &len, 300) == 0) {
		assert_int_equal(len, 300);
		assert_int_equal(b[299], 299 & 0xff);
	}
	if (wire_get_map(&r, &c, 4) == 0)
		assert_int_equal(c, 1);
	if (wire_get_u64(&r, &u) == 0)
		assert_true(u == 1);
	if (wire_get_bool(&r, &t) == 0)
		assert_true(t);
	wire_get_nil(&r);
	if (wire_get_bool(&r, &t) == 0)
		assert_false(t);
	wire_get_array_n(&r, 2);
	wire_get_array_n(&r, 1);
	if (wire_get_u64(&r, &u) == 0)
		assert_true(u == 7);
	if (wire_get_str(&r, &s, &len, 0) == 0)
		assert_int_equal(len, 0);
	if (wire_get_u64(&r, &u) == 0)
		assert_true(u == 0);
	return wire_end(&r);
}

static void
test_truncated(void **state)
{
	struct wire_reader r;
	uint8_t *p, *q;
	size_t n, k;

	(void)state;
	p = encode_sample(&n);
	assert_int_equal(decode_sample(p, n), 0);
	wire_reader_init(&r, p, n);
	assert_int_equal(wire_skip(&r, 8), 0);
	assert_int_equal(wire_end(&r), 0);

	/* Every proper prefix ends inside a value. A copy of exactly k bytes
	 * lets ASan catch any read past the end. */
	for (k = 0; k < n; k++) {
		q = malloc(k ? k : 1);
		assert_non_null(q);
		memcpy(q, p, k);
		assert_int_equal(decode_sample(q, k), SAMEN_ETRUNC);
		wire_reader_init(&r, q, k);
		assert_int_equal(wire_skip(&r, 8), SAMEN_ETRUNC);
		free(q);
	}
	free(p);
}

/* Every prefix of each single value, read by its own getter. */
static void
test_truncated_scalars(void **state)
{
	struct {
		enum kind k;
		struct enc e;
	} t[12];
	struct wire_reader r;
	uint8_t *q;
	size_t i, k, nt = 0;

	(void)state;
	t[nt].k = K_U64; t[nt++].e = raw("\xcc\x80", 2);
	t[nt].k = K_U64; t[nt++].e = raw("\xcd\x01\x00", 3);
	t[nt].k = K_U64; t[nt++].e = raw("\xce\x00\x01\x00\x00", 5);
	t[nt].k = K_U64;
	t[nt++].e = raw("\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9);
	t[nt].k = K_I64; t[nt++].e = raw("\xd0\x80", 2);
	t[nt].k = K_I64; t[nt++].e = raw("\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9);
	t[nt].k = K_STR; t[nt++].e = hand(0xd9, 1, 40, 'a', 40);
	t[nt].k = K_STR; t[nt++].e = hand(0xa3, 0, 0, 'b', 3);
	t[nt].k = K_BIN; t[nt++].e = hand(0xc5, 2, 300, 0, 300);
	t[nt].k = K_BIN; t[nt++].e = hand(0xc6, 4, 70000, 1, 70000);
	t[nt].k = K_BOOL; t[nt++].e = raw("\xc3", 1);
	t[nt].k = K_NIL; t[nt++].e = raw("\xc0", 1);
	for (i = 0; i < nt; i++) {
		wire_reader_init(&r, t[i].e.p, t[i].e.n);
		assert_int_equal(get_one(&r, t[i].k), 0);
		assert_int_equal(wire_end(&r), 0);
		for (k = 0; k < t[i].e.n; k++) {
			/* Long bodies: every cut near the ends, a sample of
			 * the middle. */
			if (k > 64 && k + 64 < t[i].e.n && k % 251 != 0)
				continue;
			q = malloc(k ? k : 1);
			assert_non_null(q);
			memcpy(q, t[i].e.p, k);
			wire_reader_init(&r, q, k);
			assert_int_equal(get_one(&r, t[i].k), SAMEN_ETRUNC);
			free(q);
		}
		free(t[i].e.p);
	}
}

static void
test_noncanonical(void **state)
{
	struct {
		const char *what;
		enum kind k;
		struct enc e;
	} t[40];
	struct wire_reader r;
	size_t i, nt = 0;

#define NC(w, kk, ee) do { t[nt].what = (w); t[nt].k = (kk); \
	t[nt].e = (ee); nt++; } while (0)
	(void)state;
	NC("uint8 for 5", K_U64, raw("\xcc\x05", 2));
	NC("uint8 for 0x7f", K_U64, raw("\xcc\x7f", 2));
	NC("uint16 for 5", K_U64, raw("\xcd\x00\x05", 3));
	NC("uint16 for 0xff", K_U64, raw("\xcd\x00\xff", 3));
	NC("uint32 for 0xffff", K_U64, raw("\xce\x00\x00\xff\xff", 5));
	NC("uint32 for 0", K_U64, raw("\xce\x00\x00\x00\x00", 5));
	NC("uint64 for 0xffffffff", K_U64,
	    raw("\xcf\x00\x00\x00\x00\xff\xff\xff\xff", 9));
	NC("uint64 for 1", K_U64,
	    raw("\xcf\x00\x00\x00\x00\x00\x00\x00\x01", 9));
	NC("int8 for -1", K_I64, raw("\xd0\xff", 2));
	NC("int8 for -32", K_I64, raw("\xd0\xe0", 2));
	NC("int8 for 5", K_I64, raw("\xd0\x05", 2));
	NC("int16 for -128", K_I64, raw("\xd1\xff\x80", 3));
	NC("int16 for 1", K_I64, raw("\xd1\x00\x01", 3));
	NC("int32 for -32768", K_I64, raw("\xd2\xff\xff\x80\x00", 5));
	NC("int64 for INT32_MIN", K_I64,
	    raw("\xd3\xff\xff\xff\xff\x80\x00\x00\x00", 9));
	NC("int64 for 5", K_I64,
	    raw("\xd3\x00\x00\x00\x00\x00\x00\x00\x05", 9));
	NC("int8 for 127", K_I64, raw("\xd0\x7f", 2));
	NC("str8 for 3 bytes", K_STR, hand(0xd9, 1, 3, 'a', 3));
	NC("str8 for 31 bytes", K_STR, hand(0xd9, 1, 31, 'a', 31));
	NC("str16 for 32 bytes", K_STR, hand(0xda, 2, 32, 'a', 32));
	NC("str16 for 255 bytes", K_STR, hand(0xda, 2, 255, 'a', 255));
	NC("str32 for 256 bytes", K_STR, hand(0xdb, 4, 256, 'a', 256));
	NC("str32 for 65535 bytes", K_STR,
	    hand(0xdb, 4, 65535, 'a', 65535));
	NC("bin16 for 5 bytes", K_BIN, hand(0xc5, 2, 5, 0, 5));
	NC("bin16 for 255 bytes", K_BIN, hand(0xc5, 2, 255, 0, 255));
	NC("bin32 for 0 bytes", K_BIN, hand(0xc6, 4, 0, 0, 0));
	NC("bin32 for 65535 bytes", K_BIN, hand(0xc6, 4, 65535, 0, 65535));
	NC("array16 for 3", K_ARRAY, hand(0xdc, 2, 3, 0xc0, 3));
	NC("array16 for 15", K_ARRAY, hand(0xdc, 2, 15, 0xc0, 15));
	NC("array32 for 3", K_ARRAY, hand(0xdd, 4, 3, 0xc0, 3));
	NC("array32 for 65535", K_ARRAY,
	    hand(0xdd, 4, 65535, 0xc0, 65535));
	NC("map16 for 1", K_MAP, hand(0xde, 2, 1, 0xc0, 2));
	NC("map32 for 16", K_MAP, hand(0xdf, 4, 16, 0xc0, 32));
#undef NC
	for (i = 0; i < nt; i++) {
		wire_reader_init(&r, t[i].e.p, t[i].e.n);
		if (get_one(&r, t[i].k) != SAMEN_ENONCANON)
			fail_msg("%s: getter did not say ENONCANON", t[i].what);
		/* The sticky error also ends the decode. */
		assert_int_equal(wire_end(&r), SAMEN_ENONCANON);
		wire_reader_init(&r, t[i].e.p, t[i].e.n);
		if (wire_skip(&r, 4) != SAMEN_ENONCANON)
			fail_msg("%s: skip did not say ENONCANON", t[i].what);
		free(t[i].e.p);
	}
}

static void
test_too_big(void **state)
{
	struct wire_reader r;
	struct wbuf w;
	const uint8_t *p;
	const char *s;
	uint32_t n;
	size_t len;

	(void)state;
	wire_init(&w);
	wire_put_bin(&w, "0123456789", 10);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_bin(&r, &p, &len, 9), SAMEN_ETOOBIG);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_bin(&r, &p, &len, 10), 0);

	wire_reset(&w);
	wire_put_cstr(&w, "0123456789");
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_str(&r, &s, &len, 9), SAMEN_ETOOBIG);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_str(&r, &s, &len, 10), 0);

	wire_reset(&w);
	wire_put_array(&w, 3);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_array(&r, &n, 2), SAMEN_ETOOBIG);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_array(&r, &n, 3), 0);

	wire_reset(&w);
	wire_put_map(&w, 2);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_map(&r, &n, 1), SAMEN_ETOOBIG);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_map(&r, &n, 2), 0);

	/* The cap is checked even when the bytes are not there (no trust in
	 * the length before it is bounded). */
	{
		static const uint8_t big[] = { 0xc6, 0x7f, 0xff, 0xff, 0xff };

		wire_reader_init(&r, big, sizeof(big));
		assert_true(wire_get_bin(&r, &p, &len, 1024) < 0);
	}
	wire_free(&w);
}

static void
test_wrong_type(void **state)
{
	static const struct {
		const char *bytes;
		size_t n;
		enum kind k;
	} t[] = {
		{ "\xa1x", 2, K_U64 },		/* str as uint */
		{ "\xff", 1, K_U64 },		/* negative fixint as uint */
		{ "\xd0\x80", 2, K_U64 },	/* int8 as uint */
		{ "\xc0", 1, K_U64 },		/* nil as uint */
		{ "\xc3", 1, K_U64 },		/* bool as uint */
		{ "\xcb\0\0\0\0\0\0\0\0", 9, K_U64 },	/* float64 */
		{ "\xca\0\0\0\0", 5, K_I64 },	/* float32 as int */
		{ "\xa1x", 2, K_I64 },
		{ "\xc4\x01x", 3, K_STR },	/* bin as str */
		{ "\xa1x", 2, K_BIN },		/* str as bin */
		{ "\x91\xc0", 2, K_BIN },
		{ "\x81\xc0\xc0", 3, K_ARRAY },	/* map as array */
		{ "\x91\xc0", 2, K_MAP },	/* array as map */
		{ "\x01", 1, K_ARRAY },
		{ "\xc0", 1, K_BOOL },		/* nil as bool */
		{ "\x01", 1, K_BOOL },
		{ "\xc2", 1, K_NIL },		/* false as nil */
		{ "\xc1", 1, K_U64 },		/* never used */
		{ "\xc1", 1, K_NIL },
		{ "\xd4\x01\x00", 3, K_BIN },	/* fixext1 */
	};
	struct wire_reader r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		wire_reader_init(&r, t[i].bytes, t[i].n);
		if (get_one(&r, t[i].k) != SAMEN_ETYPE)
			fail_msg("entry %zu: not ETYPE", i);
	}
	/* 0xc1 is no type at all; skip refuses it too. */
	wire_reader_init(&r, "\xc1", 1);
	assert_int_equal(wire_peek(&r), WIRE_INVALID);
	assert_int_equal(wire_skip(&r, 4), SAMEN_ETYPE);
}

static void
test_peek(void **state)
{
	static const struct {
		uint8_t b;
		enum wire_type t;
	} t[] = {
		{ 0x00, WIRE_UINT }, { 0x7f, WIRE_UINT }, { 0xcc, WIRE_UINT },
		{ 0xcf, WIRE_UINT }, { 0xe0, WIRE_INT }, { 0xff, WIRE_INT },
		{ 0xd0, WIRE_INT }, { 0xd3, WIRE_INT }, { 0xa0, WIRE_STR },
		{ 0xbf, WIRE_STR }, { 0xd9, WIRE_STR }, { 0xdb, WIRE_STR },
		{ 0xc4, WIRE_BIN }, { 0xc6, WIRE_BIN }, { 0x90, WIRE_ARRAY },
		{ 0x9f, WIRE_ARRAY }, { 0xdc, WIRE_ARRAY },
		{ 0xdd, WIRE_ARRAY }, { 0x80, WIRE_MAP }, { 0x8f, WIRE_MAP },
		{ 0xde, WIRE_MAP }, { 0xdf, WIRE_MAP }, { 0xc0, WIRE_NIL },
		{ 0xc2, WIRE_BOOL }, { 0xc3, WIRE_BOOL },
		{ 0xca, WIRE_FLOAT }, { 0xcb, WIRE_FLOAT },
		{ 0xc7, WIRE_EXT }, { 0xd8, WIRE_EXT },
	};
	struct wire_reader r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		wire_reader_init(&r, &t[i].b, 1);
		if (wire_peek(&r) != t[i].t)
			fail_msg("peek 0x%02x", t[i].b);
		/* Peeking consumes nothing. */
		assert_int_equal(wire_remaining(&r), 1);
	}
	wire_reader_init(&r, "", 0);
	assert_int_equal(wire_peek(&r), WIRE_INVALID);
	assert_int_equal(wire_remaining(&r), 0);
	assert_int_equal(wire_end(&r), 0);
}

static void
test_trailing(void **state)
{
	struct wire_reader r;
	uint64_t v;

	(void)state;
	wire_reader_init(&r, "\x05\x06", 2);
	assert_int_equal(wire_get_u64(&r, &v), 0);
	assert_int_equal(wire_remaining(&r), 1);
	assert_int_equal(wire_end(&r), SAMEN_ETRAILING);
	/* The trailing error sticks as well. */
	assert_int_equal(wire_get_u64(&r, &v), SAMEN_ETRAILING);

	wire_reader_init(&r, "\x05", 1);
	assert_int_equal(wire_get_u64(&r, &v), 0);
	assert_int_equal(wire_end(&r), 0);

	/* Nothing read at all from a non-empty input. */
	wire_reader_init(&r, "\xc0", 1);
	assert_int_equal(wire_end(&r), SAMEN_ETRAILING);
}

/* n arrays of one element each around a 1: [[[...[1]...]]]. */
static uint8_t *
nested(int n, size_t *len)
{
	struct wbuf w;
	int i;

	wire_init(&w);
	for (i = 0; i < n; i++)
		wire_put_array(&w, 1);
	wire_put_u64(&w, 1);
	return wire_take(&w, len);
}

static void
test_skip_depth(void **state)
{
	struct wire_reader r;
	uint8_t *p;
	size_t n;
	int d;

	(void)state;
	/* Three levels of nesting pass with a limit of three, not two. */
	p = nested(3, &n);
	wire_reader_init(&r, p, n);
	assert_int_equal(wire_skip(&r, 3), 0);
	assert_int_equal(wire_end(&r), 0);
	wire_reader_init(&r, p, n);
	assert_int_equal(wire_skip(&r, 2), SAMEN_EDEPTH);
	assert_int_equal(wire_end(&r), SAMEN_EDEPTH);
	free(p);

	/* A scalar needs no nesting at all. */
	wire_reader_init(&r, "\x01", 1);
	assert_int_equal(wire_skip(&r, 0), 0);

	/* A deep bomb is refused, whatever the limit below its depth; maps
	 * count as well. */
	p = nested(10000, &n);
	for (d = 0; d < 64; d += 7) {
		wire_reader_init(&r, p, n);
		assert_int_equal(wire_skip(&r, d), SAMEN_EDEPTH);
	}
	free(p);
	{
		static const uint8_t m[] = { 0x81, 0x01, 0x81, 0x01, 0x81,
		    0x01, 0x01 };

		wire_reader_init(&r, m, sizeof(m));
		assert_int_equal(wire_skip(&r, 2), SAMEN_EDEPTH);
		wire_reader_init(&r, m, sizeof(m));
		assert_int_equal(wire_skip(&r, 3), 0);
		assert_int_equal(wire_end(&r), 0);
	}
}

static void
test_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		{ "\xff", 1 },			/* never valid */
		{ "\xfe", 1 },
		{ "\x80", 1 },			/* lone continuation */
		{ "a\xbf" "b", 3 },
		{ "\xc3", 1 },			/* cut two-byte form */
		{ "\xe2\x82", 2 },		/* cut three-byte form */
		{ "\xf0\x9d\x84", 3 },		/* cut four-byte form */
		{ "\xc3(", 2 },			/* bad continuation */
		{ "\xc0\x80", 2 },		/* overlong NUL */
		{ "\xc1\xbf", 2 },		/* overlong */
		{ "\xe0\x80\xaf", 3 },		/* overlong '/' */
		{ "\xf0\x80\x80\xaf", 4 },	/* overlong '/' */
		{ "\xed\xa0\x80", 3 },		/* surrogate U+D800 */
		{ "\xed\xbf\xbf", 3 },		/* surrogate U+DFFF */
		{ "\xf4\x90\x80\x80", 4 },	/* U+110000 */
		{ "\xf8\x88\x80\x80\x80", 5 },	/* five-byte form */
		{ "\0", 1 },			/* NUL */
		{ "ab\0cd", 5 },
		{ "abc\0", 4 },
	};
	struct wire_reader r;
	struct wbuf w;
	const char *s;
	size_t i, n;

	(void)state;
	wire_init(&w);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wire_reset(&w);
		wire_put_str(&w, bad[i].s, bad[i].n);
		wire_reader_init(&r, wire_data(&w), wire_len(&w));
		if (wire_get_str(&r, &s, &n, 64) != SAMEN_EUTF8)
			fail_msg("entry %zu accepted", i);
		assert_int_equal(wire_end(&r), SAMEN_EUTF8);
		/* Skipping a string checks it too. */
		wire_reader_init(&r, wire_data(&w), wire_len(&w));
		assert_int_equal(wire_skip(&r, 1), SAMEN_EUTF8);
	}
	/* Long ASCII runs (read eight bytes at a time), with one byte that
	 * is not ASCII at every place: a NUL, a lone continuation, a cut
	 * form and a good two-byte form. */
	for (i = 0; i < 24; i++) {
		char t[26];

		memset(t, 'a', sizeof(t));
		assert_true(utf8_valid(t, 24));
		t[i] = '\0';
		assert_false(utf8_valid(t, 24));
		t[i] = (char)0x80;
		assert_false(utf8_valid(t, 24));
		t[i] = (char)0xc3;
		assert_false(utf8_valid(t, i + 1));
		t[i + 1] = (char)0xa9;		/* U+00E9 */
		assert_true(utf8_valid(t, 25));
		assert_true(utf8_valid(t, i + 2));
		assert_false(utf8_valid(t, i + 1));
	}
	/* The same bytes as a bin are fine: bins are not text. */
	wire_reset(&w);
	wire_put_bin(&w, "\xff\0", 2);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	{
		const uint8_t *p;

		assert_int_equal(wire_get_bin(&r, &p, &n, 2), 0);
	}
	wire_free(&w);
}

static void
test_sticky(void **state)
{
	struct wire_reader r;
	struct wbuf w;
	const char *s;
	uint64_t v;
	size_t n;
	int b;

	(void)state;
	wire_init(&w);
	wire_put_cstr(&w, "x");
	wire_put_u64(&w, 1);
	wire_put_bool(&w, 1);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(wire_get_u64(&r, &v), SAMEN_ETYPE);
	/* Every later get fails with the first error, valid bytes or not. */
	assert_int_equal(wire_get_str(&r, &s, &n, 8), SAMEN_ETYPE);
	assert_int_equal(wire_get_u64(&r, &v), SAMEN_ETYPE);
	assert_int_equal(wire_get_bool(&r, &b), SAMEN_ETYPE);
	assert_int_equal(wire_skip(&r, 4), SAMEN_ETYPE);
	assert_int_equal(wire_skip(&r, -1), SAMEN_ETYPE);
	assert_int_equal(wire_get_array_n(&r, 1), SAMEN_ETYPE);
	assert_int_equal(wire_get_nil(&r), SAMEN_ETYPE);
	assert_int_equal(wire_end(&r), SAMEN_ETYPE);

	/* A later different error does not replace the first. */
	wire_reader_init(&r, "\xcc\x05\xa1", 3);
	assert_int_equal(wire_get_u64(&r, &v), SAMEN_ENONCANON);
	assert_int_equal(wire_get_str(&r, &s, &n, 8), SAMEN_ENONCANON);
	assert_int_equal(wire_end(&r), SAMEN_ENONCANON);
	wire_free(&w);
}

static void
test_count_vs_remaining(void **state)
{
	static const struct {
		const char *b;
		size_t n;
		int map;
	} t[] = {
		{ "\xdc\xff\xff\xc0\xc0\xc0", 6, 0 },
		{ "\xdd\x7f\xff\xff\xff", 5, 0 },
		{ "\xdd\xff\xff\xff\xff\xc0", 6, 0 },
		{ "\x9f\xc0\xc0", 3, 0 },
		{ "\xde\x00\x20" "0123456789012345678901234567890123456789",
		    43, 1 },	/* 32 entries need 64 bytes */
		{ "\x83\xc0\xc0\xc0\xc0\xc0", 6, 1 },	/* 3 entries, 5 bytes */
		{ "\xdf\xff\xff\xff\xff", 5, 1 },
	};
	struct wire_reader r;
	uint32_t n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		wire_reader_init(&r, t[i].b, t[i].n);
		n = 0;
		if (t[i].map)
			assert_int_equal(wire_get_map(&r, &n, UINT32_MAX),
			    SAMEN_ETRUNC);
		else
			assert_int_equal(wire_get_array(&r, &n, UINT32_MAX),
			    SAMEN_ETRUNC);
		wire_reader_init(&r, t[i].b, t[i].n);
		assert_int_equal(wire_skip(&r, 4), SAMEN_ETRUNC);
	}
	/* Exactly enough bytes is fine. */
	wire_reader_init(&r, "\x93\xc0\xc0\xc0", 4);
	assert_int_equal(wire_get_array(&r, &n, 3), 0);
	assert_int_equal(n, 3);
}

/*
 * A counted map holds as many entries as were written to it, under the
 * shortest header (a fixmap up to 15, a map16 past it), and reads back.
 */
static void
test_counted_map(void **state)
{
	struct wire_map m;
	struct wire_reader r;
	struct wbuf w;
	uint32_t n;
	uint64_t v;
	const char *s;
	size_t len;

	(void)state;
	for (uint32_t want = 0; want < 20; want += 19) {
		wire_init(&w);
		wire_map_init(&m);
		for (uint32_t i = 0; i < want; i++)
			wire_map_u64(&m, "k", i);
		wire_map_str(&m, "s", "x");
		wire_map_bool(&m, "b", 1);
		wire_map_put(&w, &m);
		assert_int_equal(wire_data(&w)[0], want + 2 < 16 ?
		    0x80 | (want + 2) : 0xde);
		wire_reader_init(&r, wire_data(&w), wire_len(&w));
		assert_int_equal(wire_get_map(&r, &n, 64), 0);
		assert_int_equal(n, want + 2);
		for (uint32_t i = 0; i < want; i++) {
			assert_int_equal(wire_get_str(&r, &s, &len, 8), 0);
			assert_int_equal(wire_get_u64(&r, &v), 0);
			assert_int_equal(v, i);
		}
		assert_int_equal(wire_get_str(&r, &s, &len, 8), 0);
		assert_int_equal(wire_get_str(&r, &s, &len, 8), 0);
		assert_int_equal(wire_get_str(&r, &s, &len, 8), 0);
		assert_int_equal(wire_skip(&r, 1), 0);
		assert_int_equal(wire_end(&r), 0);
		wire_free(&w);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_forms),
		cmocka_unit_test(test_counted_map),
		cmocka_unit_test(test_writer_buffer),
		cmocka_unit_test(test_uint_roundtrip),
		cmocka_unit_test(test_u32_u8),
		cmocka_unit_test(test_int_roundtrip),
		cmocka_unit_test(test_bool_nil),
		cmocka_unit_test(test_bin_roundtrip),
		cmocka_unit_test(test_str_roundtrip),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_truncated_scalars),
		cmocka_unit_test(test_noncanonical),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_skip_depth),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_count_vs_remaining),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
