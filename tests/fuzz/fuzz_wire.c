/* fuzz_wire: the msgpack reader on any bytes, and its canonical form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "wire.h"

#define DEPTH 16

/*
 * Reads one value with the typed getters and writes it again with the
 * writer; fails where wire_skip() would, with the same nesting rule.
 */
static int
copy(struct wire_reader *r, struct wbuf *w, int depth)
{
	uint32_t n;
	uint64_t u;
	int64_t i;
	int b;
	const uint8_t *p;
	const char *s;
	size_t len;

	if (depth < 0)
		return wire_skip(r, depth);
	switch (wire_peek(r)) {
	case WIRE_NIL:
		if (wire_get_nil(r) == 0)
			wire_put_nil(w);
		return r->err;
	case WIRE_BOOL:
		if (wire_get_bool(r, &b) == 0)
			wire_put_bool(w, b);
		return r->err;
	case WIRE_UINT:
		if (wire_get_u64(r, &u) == 0)
			wire_put_u64(w, u);
		return r->err;
	case WIRE_INT:
		if (wire_get_i64(r, &i) == 0)
			wire_put_i64(w, i);
		return r->err;
	case WIRE_STR:
		if (wire_get_str(r, &s, &len, UINT32_MAX) == 0)
			wire_put_str(w, s, len);
		return r->err;
	case WIRE_BIN:
		if (wire_get_bin(r, &p, &len, UINT32_MAX) == 0)
			wire_put_bin(w, p, len);
		return r->err;
	case WIRE_ARRAY:
		if (wire_get_array(r, &n, UINT32_MAX))
			return r->err;
		wire_put_array(w, n);
		while (n-- > 0)
			if (copy(r, w, depth - 1))
				return r->err;
		return 0;
	case WIRE_MAP:
		if (wire_get_map(r, &n, UINT32_MAX))
			return r->err;
		wire_put_map(w, n);
		while (n-- > 0)
			if (copy(r, w, depth - 1) || copy(r, w, depth - 1))
				return r->err;
		return 0;
	default:
		/* Floats, extensions, 0xc1, the end: skip says why. */
		return wire_skip(r, depth);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_reader r, r2;
	struct wbuf w;
	int rc, rc2;

	/* One message is one value: skip it, then nothing may follow. */
	wire_reader_init(&r, data, size);
	wire_skip(&r, DEPTH);
	if (r.p < data || r.p > data + size)
		abort();
	rc = wire_end(&r);

	/*
	 * The reader accepts only the shortest form, and the writer (msgpack-c)
	 * always writes it: so what the reader accepts, the writer reproduces
	 * byte for byte, and both walks stop at the same error.
	 */
	wire_reader_init(&r2, data, size);
	wire_init(&w);
	copy(&r2, &w, DEPTH);
	rc2 = wire_end(&r2);
	if (rc != rc2 || r.p != r2.p) {
		fprintf(stderr, "fuzz_wire: skip and typed reads disagree "
		    "(%d at %zu vs %d at %zu)\n", rc, (size_t)(r.p - data),
		    rc2, (size_t)(r2.p - data));
		abort();
	}
	if (rc == 0 &&
	    (wire_len(&w) != size || memcmp(wire_data(&w), data, size) != 0)) {
		fprintf(stderr, "fuzz_wire: accepted input is not canonical "
		    "(%zu bytes re-encode to %zu)\n", size, wire_len(&w));
		abort();
	}
	wire_free(&w);
	return 0;
}
