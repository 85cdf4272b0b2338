/* wire: the typed msgpack codec; nothing else touches msgpack bytes. */
#ifndef SAMEN_WIRE_H
#define SAMEN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/*
 * Writer.  Wraps msgpack-c's packer, which always emits the shortest form, so
 * what we write is canonical.  Out of memory is fatal.  The buffer belongs to
 * the writer until wire_take(); wire_free() releases it otherwise.
 */
struct wbuf {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

void wire_init(struct wbuf *w);
/*
 * wire_init with room for cap bytes already allocated: msgpack-c's buffer
 * starts at 8 KB on the first write, a malloc outside glibc's per-thread
 * cache for a reply of a hundred bytes.  Free with wire_free as any.
 */
void wire_init_size(struct wbuf *w, size_t cap);
void wire_free(struct wbuf *w);
/* Empties the buffer, keeping its memory. */
void wire_reset(struct wbuf *w);
/*
 * wire_reset that first overwrites what the buffer held with zeros
 * (sodium_memzero): for buffers that held plaintext of people's records.
 * What a growing buffer left behind in memory it gave back is not reached.
 */
void wire_wipe(struct wbuf *w);
const uint8_t *wire_data(const struct wbuf *w);
size_t wire_len(const struct wbuf *w);
/* Hands the buffer to the caller (free with free()); the writer is reset. */
uint8_t *wire_take(struct wbuf *w, size_t *len);

void wire_put_array(struct wbuf *w, uint32_t n);
void wire_put_map(struct wbuf *w, uint32_t n);
void wire_put_u64(struct wbuf *w, uint64_t v);
void wire_put_i64(struct wbuf *w, int64_t v);
void wire_put_bool(struct wbuf *w, int v);
void wire_put_nil(struct wbuf *w);
void wire_put_bin(struct wbuf *w, const void *p, size_t n);
void wire_put_str(struct wbuf *w, const char *s, size_t n);
void wire_put_cstr(struct wbuf *w, const char *s);
/* A map entry: the key as a string, then the value (NULL string: nil). */
void wire_put_kv_str(struct wbuf *w, const char *k, const char *v);
void wire_put_kv_u64(struct wbuf *w, const char *k, uint64_t v);
void wire_put_kv_bool(struct wbuf *w, const char *k, int v);
/* Appends bytes that already are one encoded msgpack value. */
void wire_put_raw(struct wbuf *w, const void *p, size_t n);

/*
 * A map whose entries are counted as they are written, for a reply of
 * many keys that branches add to: a count kept by hand goes wrong
 * silently when two of them each add one.  Write each entry (key, then
 * value) to the buffer wire_map_entry returns, which counts it; then
 * wire_map_put appends the header and the entries to w and frees m.
 */
struct wire_map {
	struct wbuf body;
	uint32_t n;
};
void wire_map_init(struct wire_map *m);
struct wbuf *wire_map_entry(struct wire_map *m);
/* One entry each: wire_put_kv_* into the map. */
void wire_map_str(struct wire_map *m, const char *k, const char *v);
void wire_map_u64(struct wire_map *m, const char *k, uint64_t v);
void wire_map_bool(struct wire_map *m, const char *k, int v);
void wire_map_put(struct wbuf *w, struct wire_map *m);

/*
 * Reader.  A cursor over borrowed bytes: nothing is allocated, strings and
 * binaries point into the input, which must outlive their use.  Every get
 * checks the type, the canonical (shortest) form, the schema's cap and the
 * bytes remaining; counts are checked against the bytes left before anyone
 * allocates for them.  The first error sticks: later gets return it too, so a
 * decoder may check once at the end (wire_end()).
 */
struct wire_reader {
	const uint8_t *p;
	const uint8_t *end;
	int err;
};

enum wire_type {
	WIRE_NIL, WIRE_BOOL, WIRE_UINT, WIRE_INT, WIRE_STR, WIRE_BIN,
	WIRE_ARRAY, WIRE_MAP, WIRE_FLOAT, WIRE_EXT, WIRE_INVALID
};

void wire_reader_init(struct wire_reader *r, const void *p, size_t n);
/* Type of the next value without consuming it; WIRE_INVALID at the end. */
enum wire_type wire_peek(const struct wire_reader *r);
size_t wire_remaining(const struct wire_reader *r);

/* Each element takes at least one byte: n is also checked against that. */
int wire_get_array(struct wire_reader *r, uint32_t *n, uint32_t max);
int wire_get_map(struct wire_reader *r, uint32_t *n, uint32_t max);
/* Requires an array of exactly n elements. */
int wire_get_array_n(struct wire_reader *r, uint32_t n);
int wire_get_u64(struct wire_reader *r, uint64_t *v);
int wire_get_u32(struct wire_reader *r, uint32_t *v);
int wire_get_u8(struct wire_reader *r, uint8_t *v);
/* Accepts non-negative values as uint and negative ones as int. */
int wire_get_i64(struct wire_reader *r, int64_t *v);
int wire_get_bool(struct wire_reader *r, int *v);
int wire_get_nil(struct wire_reader *r);
/* Borrows: *p points into the input. */
int wire_get_bin(struct wire_reader *r, const uint8_t **p, size_t *n,
    size_t max);
/* Requires exactly n bytes and copies them to out. */
int wire_get_bin_fixed(struct wire_reader *r, void *out, size_t n);
/* Borrows; validates UTF-8 and refuses NUL bytes; not NUL-terminated. */
int wire_get_str(struct wire_reader *r, const char **s, size_t *n,
    size_t max);
/* Skips one value of any type, nesting at most depth levels. */
int wire_skip(struct wire_reader *r, int depth);
/* 0 if all input was consumed, else SAMEN_ETRAILING (or the sticky error). */
int wire_end(struct wire_reader *r);

#endif
