/* wire: the typed msgpack codec; nothing else touches msgpack bytes. */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "util.h"

static void
check(int rc)
{
	/* msgpack_sbuffer_write fails only when realloc does. */
	if (rc != 0)
		die_oom(0);
}

void
wire_init(struct wbuf *w)
{
	msgpack_sbuffer_init(&w->sb);
	msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
}

void
wire_init_size(struct wbuf *w, size_t cap)
{
	wire_init(w);
	if (cap > 0) {
		w->sb.data = xmalloc(cap);
		w->sb.alloc = cap;
	}
}

void
wire_free(struct wbuf *w)
{
	msgpack_sbuffer_destroy(&w->sb);
	memset(&w->sb, 0, sizeof(w->sb));
}

void
wire_reset(struct wbuf *w)
{
	msgpack_sbuffer_clear(&w->sb);
}

void
wire_wipe(struct wbuf *w)
{
	if (w->sb.size > 0)
		sodium_memzero(w->sb.data, w->sb.size);
	msgpack_sbuffer_clear(&w->sb);
}

const uint8_t *
wire_data(const struct wbuf *w)
{
	return (const uint8_t *)w->sb.data;
}

size_t
wire_len(const struct wbuf *w)
{
	return w->sb.size;
}

uint8_t *
wire_take(struct wbuf *w, size_t *len)
{
	uint8_t *p;

	*len = w->sb.size;
	p = (uint8_t *)msgpack_sbuffer_release(&w->sb);
	if (p == NULL)
		p = xmalloc(1);
	return p;
}

void wire_put_array(struct wbuf *w, uint32_t n) { check(msgpack_pack_array(&w->pk, n)); }
void wire_put_map(struct wbuf *w, uint32_t n) { check(msgpack_pack_map(&w->pk, n)); }
void wire_put_u64(struct wbuf *w, uint64_t v) { check(msgpack_pack_uint64(&w->pk, v)); }
void wire_put_nil(struct wbuf *w) { check(msgpack_pack_nil(&w->pk)); }

void
wire_put_i64(struct wbuf *w, int64_t v)
{
	/* msgpack-c packs non-negative values as uint: one form per number. */
	check(msgpack_pack_int64(&w->pk, v));
}

void
wire_put_bool(struct wbuf *w, int v)
{
	check(v ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk));
}

void
wire_put_bin(struct wbuf *w, const void *p, size_t n)
{
	check(msgpack_pack_bin(&w->pk, n));
	if (n)
		check(msgpack_pack_bin_body(&w->pk, p, n));
}

void
wire_put_str(struct wbuf *w, const char *s, size_t n)
{
	check(msgpack_pack_str(&w->pk, n));
	if (n)
		check(msgpack_pack_str_body(&w->pk, s, n));
}

void
wire_put_cstr(struct wbuf *w, const char *s)
{
	wire_put_str(w, s, strlen(s));
}

void
wire_put_kv_str(struct wbuf *w, const char *k, const char *v)
{
	wire_put_cstr(w, k);
	if (v != NULL)
		wire_put_cstr(w, v);
	else
		wire_put_nil(w);
}

void
wire_put_kv_u64(struct wbuf *w, const char *k, uint64_t v)
{
	wire_put_cstr(w, k);
	wire_put_u64(w, v);
}

void
wire_put_kv_bool(struct wbuf *w, const char *k, int v)
{
	wire_put_cstr(w, k);
	wire_put_bool(w, v);
}

void
wire_put_raw(struct wbuf *w, const void *p, size_t n)
{
	if (n)
		check(msgpack_sbuffer_write(&w->sb, p, n));
}

void
wire_map_init(struct wire_map *m)
{
	wire_init_size(&m->body, 512);
	m->n = 0;
}

struct wbuf *
wire_map_entry(struct wire_map *m)
{
	m->n++;
	return &m->body;
}

void
wire_map_str(struct wire_map *m, const char *k, const char *v)
{
	wire_put_kv_str(wire_map_entry(m), k, v);
}

void
wire_map_u64(struct wire_map *m, const char *k, uint64_t v)
{
	wire_put_kv_u64(wire_map_entry(m), k, v);
}

void
wire_map_bool(struct wire_map *m, const char *k, int v)
{
	wire_put_kv_bool(wire_map_entry(m), k, v);
}

void
wire_map_put(struct wbuf *w, struct wire_map *m)
{
	wire_put_map(w, m->n);
	wire_put_raw(w, wire_data(&m->body), wire_len(&m->body));
	wire_free(&m->body);
}

/* Reader. */

void
wire_reader_init(struct wire_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->end = r->p + n;
	r->err = 0;
}

size_t
wire_remaining(const struct wire_reader *r)
{
	return (size_t)(r->end - r->p);
}

static int
fail(struct wire_reader *r, int err)
{
	if (r->err == 0)
		r->err = err;
	return r->err;
}

enum wire_type
wire_peek(const struct wire_reader *r)
{
	uint8_t b;

	if (r->err || r->p >= r->end)
		return WIRE_INVALID;
	b = *r->p;
	if (b <= 0x7f || b == 0xcc || b == 0xcd || b == 0xce || b == 0xcf)
		return WIRE_UINT;
	if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3))
		return WIRE_INT;
	if ((b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb))
		return WIRE_STR;
	if (b >= 0xc4 && b <= 0xc6)
		return WIRE_BIN;
	if ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd)
		return WIRE_ARRAY;
	if ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf)
		return WIRE_MAP;
	if (b == 0xc0)
		return WIRE_NIL;
	if (b == 0xc2 || b == 0xc3)
		return WIRE_BOOL;
	if (b == 0xca || b == 0xcb)
		return WIRE_FLOAT;
	if (b == 0xc7 || b == 0xc8 || b == 0xc9 || (b >= 0xd4 && b <= 0xd8))
		return WIRE_EXT;
	return WIRE_INVALID;	/* 0xc1 is never used */
}

/* Reads an n-byte big-endian integer following the type byte. */
static int
take_be(struct wire_reader *r, size_t n, uint64_t *v)
{
	if (wire_remaining(r) < n)
		return fail(r, SAMEN_ETRUNC);
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = (*v << 8) | *r->p++;
	return 0;
}

/*
 * Reads a length header of the kind fix/8/16/32 and checks that the shortest
 * form was used: fixmax is the largest length the fix form holds (0 if the
 * type has none, as bin), small8 says whether an 8-bit form exists.
 */
static int
get_len(struct wire_reader *r, uint8_t fixbase, uint8_t fixmask,
    uint32_t fixmax, int has8, uint8_t t8, uint8_t t16, uint8_t t32,
    uint32_t *n)
{
	uint8_t b;
	uint64_t v;
	uint64_t min;

	if (r->err)
		return r->err;
	if (r->p >= r->end)
		return fail(r, SAMEN_ETRUNC);
	b = *r->p;
	if (fixmax && (b & (uint8_t)~fixmask) == fixbase) {
		r->p++;
		*n = b & fixmask;
		return 0;
	}
	r->p++;
	if (has8 && b == t8) {
		if (take_be(r, 1, &v))
			return r->err;
		min = fixmax ? fixmax + 1 : 0;
	} else if (b == t16) {
		if (take_be(r, 2, &v))
			return r->err;
		min = has8 ? 256 : fixmax + 1;
	} else if (b == t32) {
		if (take_be(r, 4, &v))
			return r->err;
		min = 65536;
	} else {
		r->p--;
		return fail(r, SAMEN_ETYPE);
	}
	if (v < min)
		return fail(r, SAMEN_ENONCANON);
	*n = (uint32_t)v;
	return 0;
}

static int
get_container(struct wire_reader *r, int map, uint32_t *n, uint32_t max)
{
	int rc;

	if (map)
		rc = get_len(r, 0x80, 0x0f, 15, 0, 0, 0xde, 0xdf, n);
	else
		rc = get_len(r, 0x90, 0x0f, 15, 0, 0, 0xdc, 0xdd, n);
	if (rc)
		return rc;
	if (*n > max)
		return fail(r, SAMEN_ETOOBIG);
	/* Every element needs at least one byte (two per map entry). */
	if ((uint64_t)*n * (map ? 2 : 1) > wire_remaining(r))
		return fail(r, SAMEN_ETRUNC);
	return 0;
}

int
wire_get_array(struct wire_reader *r, uint32_t *n, uint32_t max)
{
	return get_container(r, 0, n, max);
}

int
wire_get_map(struct wire_reader *r, uint32_t *n, uint32_t max)
{
	return get_container(r, 1, n, max);
}

int
wire_get_array_n(struct wire_reader *r, uint32_t n)
{
	uint32_t got;

	if (wire_get_array(r, &got, n))
		return r->err;
	if (got != n)
		return fail(r, SAMEN_ETYPE);
	return 0;
}

int
wire_get_u64(struct wire_reader *r, uint64_t *v)
{
	uint8_t b;
	size_t n;
	uint64_t min;

	if (r->err)
		return r->err;
	if (r->p >= r->end)
		return fail(r, SAMEN_ETRUNC);
	b = *r->p;
	if (b <= 0x7f) {
		r->p++;
		*v = b;
		return 0;
	}
	switch (b) {
	case 0xcc: n = 1; min = 0x80; break;
	case 0xcd: n = 2; min = 0x100; break;
	case 0xce: n = 4; min = 0x10000; break;
	case 0xcf: n = 8; min = 0x100000000ULL; break;
	default:
		return fail(r, SAMEN_ETYPE);
	}
	r->p++;
	if (take_be(r, n, v))
		return r->err;
	if (*v < min)
		return fail(r, SAMEN_ENONCANON);
	return 0;
}

int
wire_get_u32(struct wire_reader *r, uint32_t *v)
{
	uint64_t x;

	if (wire_get_u64(r, &x))
		return r->err;
	if (x > UINT32_MAX)
		return fail(r, SAMEN_ETOOBIG);
	*v = (uint32_t)x;
	return 0;
}

int
wire_get_u8(struct wire_reader *r, uint8_t *v)
{
	uint64_t x;

	if (wire_get_u64(r, &x))
		return r->err;
	if (x > UINT8_MAX)
		return fail(r, SAMEN_ETOOBIG);
	*v = (uint8_t)x;
	return 0;
}

int
wire_get_i64(struct wire_reader *r, int64_t *v)
{
	uint8_t b;
	uint64_t u;
	size_t n;
	int64_t x, min;

	if (r->err)
		return r->err;
	if (wire_peek(r) == WIRE_UINT) {
		if (wire_get_u64(r, &u))
			return r->err;
		if (u > INT64_MAX)
			return fail(r, SAMEN_ETOOBIG);
		*v = (int64_t)u;
		return 0;
	}
	if (r->p >= r->end)
		return fail(r, SAMEN_ETRUNC);
	b = *r->p;
	if (b >= 0xe0) {
		r->p++;
		*v = (int8_t)b;
		return 0;
	}
	switch (b) {
	case 0xd0: n = 1; min = -32; break;
	case 0xd1: n = 2; min = INT8_MIN; break;
	case 0xd2: n = 4; min = INT16_MIN; break;
	case 0xd3: n = 8; min = INT32_MIN; break;
	default:
		return fail(r, SAMEN_ETYPE);
	}
	r->p++;
	if (take_be(r, n, &u))
		return r->err;
	/* Sign-extend from n bytes. */
	if (n < 8 && (u >> (8 * n - 1)) & 1)
		u |= ~0ULL << (8 * n);
	memcpy(&x, &u, sizeof(x));
	/* Non-negative numbers must be uints; small ones must be shorter. */
	if (x >= 0 || x >= min)
		return fail(r, SAMEN_ENONCANON);
	*v = x;
	return 0;
}

int
wire_get_bool(struct wire_reader *r, int *v)
{
	if (r->err)
		return r->err;
	if (r->p >= r->end)
		return fail(r, SAMEN_ETRUNC);
	if (*r->p != 0xc2 && *r->p != 0xc3)
		return fail(r, SAMEN_ETYPE);
	*v = *r->p++ == 0xc3;
	return 0;
}

int
wire_get_nil(struct wire_reader *r)
{
	if (r->err)
		return r->err;
	if (r->p >= r->end)
		return fail(r, SAMEN_ETRUNC);
	if (*r->p != 0xc0)
		return fail(r, SAMEN_ETYPE);
	r->p++;
	return 0;
}

static int
get_bytes(struct wire_reader *r, const uint8_t **p, size_t *n, size_t max,
    uint32_t len)
{
	if (len > max)
		return fail(r, SAMEN_ETOOBIG);
	if (len > wire_remaining(r))
		return fail(r, SAMEN_ETRUNC);
	*p = r->p;
	*n = len;
	r->p += len;
	return 0;
}

int
wire_get_bin(struct wire_reader *r, const uint8_t **p, size_t *n, size_t max)
{
	uint32_t len;

	if (get_len(r, 0, 0, 0, 1, 0xc4, 0xc5, 0xc6, &len))
		return r->err;
	return get_bytes(r, p, n, max, len);
}

int
wire_get_bin_fixed(struct wire_reader *r, void *out, size_t n)
{
	const uint8_t *p = NULL;
	size_t got = 0;

	if (wire_get_bin(r, &p, &got, n))
		return r->err;
	if (got != n)
		return fail(r, SAMEN_ETYPE);
	memcpy(out, p, n);
	return 0;
}

int
wire_get_str(struct wire_reader *r, const char **s, size_t *n, size_t max)
{
	uint32_t len;
	const uint8_t *p = NULL;

	if (get_len(r, 0xa0, 0x1f, 31, 1, 0xd9, 0xda, 0xdb, &len))
		return r->err;
	if (get_bytes(r, &p, n, max, len))
		return r->err;
	if (!utf8_valid((const char *)p, *n))
		return fail(r, SAMEN_EUTF8);
	*s = (const char *)p;
	return 0;
}

int
wire_skip(struct wire_reader *r, int depth)
{
	uint32_t n;
	uint64_t u;
	int64_t i;
	int b;
	const uint8_t *p;
	const char *s;
	size_t len;

	if (depth < 0)
		return fail(r, SAMEN_EDEPTH);
	switch (wire_peek(r)) {
	case WIRE_NIL: return wire_get_nil(r);
	case WIRE_BOOL: return wire_get_bool(r, &b);
	case WIRE_UINT: return wire_get_u64(r, &u);
	case WIRE_INT: return wire_get_i64(r, &i);
	case WIRE_STR: return wire_get_str(r, &s, &len, UINT32_MAX);
	case WIRE_BIN: return wire_get_bin(r, &p, &len, UINT32_MAX);
	case WIRE_ARRAY:
		if (wire_get_array(r, &n, UINT32_MAX))
			return r->err;
		while (n-- > 0)
			if (wire_skip(r, depth - 1))
				return r->err;
		return 0;
	case WIRE_MAP:
		if (wire_get_map(r, &n, UINT32_MAX))
			return r->err;
		while (n-- > 0)
			if (wire_skip(r, depth - 1) || wire_skip(r, depth - 1))
				return r->err;
		return 0;
	case WIRE_INVALID:
		if (r->err)
			return r->err;
		return fail(r, r->p >= r->end ? SAMEN_ETRUNC : SAMEN_ETYPE);
	default:
		/* Floats and extensions have no place in our schemas. */
		return fail(r, SAMEN_ETYPE);
	}
}

int
wire_end(struct wire_reader *r)
{
	if (r->err)
		return r->err;
	if (r->p != r->end)
		return fail(r, SAMEN_ETRAILING);
	return 0;
}
