/* test_reply: the CLI's reply tree (and its limits) and its JSON and text output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "protocol.h"
#include "util.h"
#include "version.h"
#include "wire.h"

/* The statics (parse() with a small node budget) are in reach. */
#include "../../cli/reply.c"
#include "output.h"
#include "output_circles.h"
#include "output_records.h"
#include "output_sync.h"

/* Helpers. */

static void
put_reply_head(struct wbuf *w, int64_t code, const char *msg)
{
	wire_init(w);
	wire_put_array(w, 3);
	wire_put_i64(w, code);
	wire_put_cstr(w, msg);
}

static int
parse_buf(struct wbuf *w, struct reply *rp)
{
	int rc = reply_parse(rp, wire_data(w), wire_len(w));

	wire_free(w);
	return rc;
}

/* Parses raw bytes; a failure must leave nothing to free. */
static int
parse_raw(const uint8_t *p, size_t n)
{
	struct reply rp;
	int rc;

	rc = reply_parse(&rp, p, n);
	if (rc == 0)
		reply_free(&rp);
	else {
		assert_null(rp.body);
		assert_null(rp.strings);
	}
	return rc;
}

typedef void (*print_fn)(FILE *, const struct reply_node *);

static char *
capture(print_fn fn, const struct reply_node *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	fn(fp, n);
	fclose(fp);
	return buf;
}

static char *
json_of_str(const char *s, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	output_json_str(fp, s, n);
	fclose(fp);
	return buf;
}

/* [0, "", {"a": 1, "b": [true, nil, -5, "x"], "c": {"d": "e"}}] */
static void
put_sample(struct wbuf *w)
{
	put_reply_head(w, 0, "");
	wire_put_map(w, 3);
	wire_put_cstr(w, "a");
	wire_put_u64(w, 1);
	wire_put_cstr(w, "b");
	wire_put_array(w, 4);
	wire_put_bool(w, 1);
	wire_put_nil(w);
	wire_put_i64(w, -5);
	wire_put_cstr(w, "x");
	wire_put_cstr(w, "c");
	wire_put_map(w, 1);
	wire_put_cstr(w, "d");
	wire_put_cstr(w, "e");
}

/* Parsing. */

static void
test_parse_ok(void **state)
{
	struct wbuf w;
	struct reply rp;
	const struct reply_node *b;
	int64_t i;
	int v;

	(void)state;
	put_sample(&w);
	assert_int_equal(parse_buf(&w, &rp), 0);
	assert_int_equal(rp.code, 0);
	assert_string_equal(rp.message, "");
	assert_int_equal(rp.body->type, REPLY_MAP);
	assert_int_equal(reply_len(rp.body), 3);
	assert_int_equal(reply_get_i64(rp.body, "a", &i), 0);
	assert_int_equal(i, 1);
	b = reply_get(rp.body, "b");
	assert_int_equal(reply_len(b), 4);
	assert_int_equal(reply_at(b, 0)->type, REPLY_BOOL);
	assert_int_equal(reply_at(b, 1)->type, REPLY_NIL);
	assert_int_equal(reply_at(b, 2)->type, REPLY_INT);
	assert_int_equal(reply_at(b, 2)->v.i, -5);
	assert_string_equal(reply_str(reply_at(b, 3)), "x");
	assert_null(reply_at(b, 4));
	assert_string_equal(reply_get_str(reply_get(rp.body, "c"), "d"), "e");
	/* Lookups tolerate absence and wrong types. */
	assert_null(reply_get(rp.body, "zz"));
	assert_null(reply_get(b, "a"));
	assert_null(reply_get(NULL, "a"));
	assert_null(reply_get_str(rp.body, "a"));
	assert_int_equal(reply_get_bool(rp.body, "a", &v), -1);
	assert_int_equal(reply_len(NULL), 0);
	assert_int_equal(rp.nodes, 13);
	reply_free(&rp);
}

static void
test_parse_error_reply(void **state)
{
	struct wbuf w;
	struct reply rp;

	(void)state;
	put_reply_head(&w, SAMEN_ELOCKED, "the daemon is locked");
	wire_put_nil(&w);
	assert_int_equal(parse_buf(&w, &rp), 0);
	assert_int_equal(rp.code, SAMEN_ELOCKED);
	assert_string_equal(rp.message, "the daemon is locked");
	assert_int_equal(rp.body->type, REPLY_NIL);
	reply_free(&rp);

	/* A positive code is no code of ours. */
	put_reply_head(&w, 5, "");
	wire_put_nil(&w);
	assert_int_equal(parse_buf(&w, &rp), SAMEN_EPROTO);
	/* Nor one beyond an int. */
	put_reply_head(&w, (int64_t)INT32_MIN - 1, "");
	wire_put_nil(&w);
	assert_int_equal(parse_buf(&w, &rp), SAMEN_EPROTO);
}

static void
test_truncated(void **state)
{
	struct wbuf w;
	uint8_t *p;
	size_t n, i;

	(void)state;
	put_sample(&w);
	p = wire_take(&w, &n);
	wire_free(&w);
	assert_int_equal(parse_raw(p, n), 0);
	/* Every proper prefix fails, and cleanly. */
	for (i = 0; i < n; i++)
		assert_int_not_equal(parse_raw(p, i), 0);
	free(p);
}

static void
test_trailing(void **state)
{
	struct wbuf w;

	(void)state;
	put_sample(&w);
	wire_put_nil(&w);
	assert_int_equal(parse_raw(wire_data(&w), wire_len(&w)),
	    SAMEN_ETRAILING);
	wire_free(&w);
}

static int
parse_nested(int depth, int map)
{
	struct wbuf w;
	int i, rc;

	put_reply_head(&w, 0, "");
	for (i = 0; i < depth; i++) {
		if (map) {
			wire_put_map(&w, 1);
			wire_put_cstr(&w, "k");
		} else
			wire_put_array(&w, 1);
	}
	wire_put_u64(&w, 7);
	rc = parse_raw(wire_data(&w), wire_len(&w));
	wire_free(&w);
	return rc;
}

static void
test_depth(void **state)
{
	(void)state;
	assert_int_equal(parse_nested(REPLY_MAX_DEPTH, 0), 0);
	assert_int_equal(parse_nested(REPLY_MAX_DEPTH + 1, 0), SAMEN_EDEPTH);
	assert_int_equal(parse_nested(REPLY_MAX_DEPTH, 1), 0);
	assert_int_equal(parse_nested(REPLY_MAX_DEPTH + 1, 1), SAMEN_EDEPTH);
	/* Far deeper than the limit: refused, never a stack overflow. */
	assert_int_equal(parse_nested(100000, 0), SAMEN_EDEPTH);
}

static void
test_bomb(void **state)
{
	/* [0, "", array32 of 2^32-1] in 11 bytes: must not allocate. */
	static const uint8_t arr[] = { 0x93, 0x00, 0xa0, 0xdd, 0xff, 0xff,
	    0xff, 0xff, 0xc0, 0xc0, 0xc0 };
	static const uint8_t map[] = { 0x93, 0x00, 0xa0, 0xdf, 0xff, 0xff,
	    0xff, 0xff, 0xa1, 0x61, 0xc0 };
	/* A map of 3 pairs with 5 bytes left: one byte per key and value. */
	static const uint8_t map3[] = { 0x93, 0x00, 0xa0, 0x83, 0xa0, 0xc0,
	    0xa0, 0xc0, 0xa0 };
	/* A string longer than the input. */
	static const uint8_t str[] = { 0x93, 0x00, 0xa0, 0xdb, 0x7f, 0xff,
	    0xff, 0xff, 0x61 };
	/* The outer array itself claims 2^32-1 elements. */
	static const uint8_t outer[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00 };

	(void)state;
	assert_int_equal(parse_raw(arr, sizeof(arr)), SAMEN_ETRUNC);
	assert_int_equal(parse_raw(map, sizeof(map)), SAMEN_ETRUNC);
	assert_int_equal(parse_raw(map3, sizeof(map3)), SAMEN_ETRUNC);
	assert_int_equal(parse_raw(str, sizeof(str)), SAMEN_ETRUNC);
	assert_int_not_equal(parse_raw(outer, sizeof(outer)), 0);
}

static void
test_node_budget(void **state)
{
	struct wbuf w;
	struct reply rp;
	int i;

	(void)state;
	/* 100 nils in an array: 101 nodes. */
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 100);
	for (i = 0; i < 100; i++)
		wire_put_nil(&w);
	assert_int_equal(parse(&rp, wire_data(&w), wire_len(&w), 101), 0);
	assert_int_equal(rp.nodes, 101);
	reply_free(&rp);
	assert_int_equal(parse(&rp, wire_data(&w), wire_len(&w), 100),
	    SAMEN_ETOOBIG);
	assert_null(rp.body);
	/* The budget also counts what a nested container announces. */
	wire_free(&w);
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 2);
	wire_put_array(&w, 50);
	for (i = 0; i < 50; i++)
		wire_put_nil(&w);
	wire_put_array(&w, 50);
	for (i = 0; i < 50; i++)
		wire_put_nil(&w);
	assert_int_equal(parse(&rp, wire_data(&w), wire_len(&w), 60),
	    SAMEN_ETOOBIG);
	wire_free(&w);
}

static void
test_types_refused(void **state)
{
	/* bin, float64, ext, and an int key in a map. */
	static const uint8_t bin[] = { 0x93, 0x00, 0xa0, 0xc4, 0x01, 0x00 };
	static const uint8_t flt[] = { 0x93, 0x00, 0xa0, 0xcb, 0, 0, 0, 0, 0,
	    0, 0, 0 };
	static const uint8_t ext[] = { 0x93, 0x00, 0xa0, 0xd4, 0x01, 0x00 };
	static const uint8_t intkey[] = { 0x93, 0x00, 0xa0, 0x81, 0x01,
	    0xc0 };
	static const uint8_t never[] = { 0x93, 0x00, 0xa0, 0xc1 };
	/* Invalid UTF-8 in a string; a message that is not a string. */
	static const uint8_t badutf8[] = { 0x93, 0x00, 0xa0, 0xa2, 0xc3,
	    0x28 };
	static const uint8_t msgtype[] = { 0x93, 0x00, 0xc0, 0xc0 };
	/* Non-canonical: 5 as a uint8. */
	static const uint8_t noncanon[] = { 0x93, 0x00, 0xa0, 0xcc, 0x05 };
	/* Not a 3-array. */
	static const uint8_t two[] = { 0x92, 0x00, 0xa0 };

	(void)state;
	assert_int_equal(parse_raw(bin, sizeof(bin)), SAMEN_ETYPE);
	assert_int_equal(parse_raw(flt, sizeof(flt)), SAMEN_ETYPE);
	assert_int_equal(parse_raw(ext, sizeof(ext)), SAMEN_ETYPE);
	assert_int_equal(parse_raw(intkey, sizeof(intkey)), SAMEN_ETYPE);
	assert_int_equal(parse_raw(never, sizeof(never)), SAMEN_ETYPE);
	assert_int_equal(parse_raw(badutf8, sizeof(badutf8)), SAMEN_EUTF8);
	assert_int_equal(parse_raw(msgtype, sizeof(msgtype)), SAMEN_ETYPE);
	assert_int_equal(parse_raw(noncanon, sizeof(noncanon)),
	    SAMEN_ENONCANON);
	assert_int_equal(parse_raw(two, sizeof(two)), SAMEN_ETYPE);
	assert_int_equal(parse_raw(two, 0), SAMEN_ETRUNC);
}

/* Every byte string is either parsed or refused, never a crash. */
static void
test_random_input(void **state)
{
	struct wbuf w;
	uint8_t *p, *q;
	size_t n, i, k;
	uint64_t s = 42;

	(void)state;
	put_sample(&w);
	p = wire_take(&w, &n);
	wire_free(&w);
	q = xmalloc(n);
	for (i = 0; i < 20000; i++) {
		memcpy(q, p, n);
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		k = (s >> 33) % n;
		q[k] = (uint8_t)(s >> 13);
		(void)parse_raw(q, n);
	}
	free(q);
	free(p);
}

/* JSON. */

static void
test_json_escape(void **state)
{
	static const char in[] = "a\"b\\c/\n\t\r\b\f\x01\x1f\x7f\x1b[31m";
	char *out;

	(void)state;
	out = json_of_str(in, sizeof(in) - 1);
	assert_string_equal(out, "\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f"
	    "\\u007f\\u001b[31m\"");
	free(out);

	/* Valid UTF-8 passes through as is: 2, 3 and 4 bytes. */
	out = json_of_str("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 11);
	assert_string_equal(out, "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	free(out);

	/* C1 controls (CSI is U+009B) are escaped, not passed on. */
	out = json_of_str("\xc2\x9b", 2);
	assert_string_equal(out, "\"\\u009b\"");
	free(out);

	/* A NUL and invalid bytes (a guard: the reader refuses them). */
	out = json_of_str("a\0b", 3);
	assert_string_equal(out, "\"a\\u0000b\"");
	free(out);
	out = json_of_str("\xff\xc3(\xed\xa0\x80", 6);
	assert_string_equal(out, "\"\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\"");
	free(out);
	out = json_of_str("", 0);
	assert_string_equal(out, "\"\"");
	free(out);
}

static void
test_json_tree(void **state)
{
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_sample(&w);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_json, rp.body);
	assert_string_equal(out, "{\"a\": 1, \"b\": [true, null, -5, \"x\"], "
	    "\"c\": {\"d\": \"e\"}}\n");
	free(out);
	reply_free(&rp);

	put_reply_head(&w, 0, "");
	wire_put_array(&w, 4);
	wire_put_u64(&w, UINT64_MAX);
	wire_put_i64(&w, INT64_MIN);
	wire_put_map(&w, 0);
	wire_put_array(&w, 0);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_json, rp.body);
	assert_string_equal(out, "[18446744073709551615, "
	    "-9223372036854775808, {}, []]\n");
	free(out);
	reply_free(&rp);
}

/* Text output. */

static void
put_kv(struct wbuf *w, const char *k, const char *v)
{
	wire_put_cstr(w, k);
	if (v == NULL)
		wire_put_nil(w);
	else
		wire_put_cstr(w, v);
}

static void
test_text_sanitised(void **state)
{
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_map(&w, 4);
	put_kv(&w, "collection", "case");
	put_kv(&w, "id", "01JD0000000000000000000000");
	wire_put_cstr(&w, "fields");
	wire_put_map(&w, 2);
	put_kv(&w, "name", "Jan\x1b]0;owned\x07sen");
	put_kv(&w, "memo", "line one\nline two");
	wire_put_cstr(&w, "sets");
	wire_put_map(&w, 1);
	wire_put_cstr(&w, "tags");
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "housing");
	wire_put_cstr(&w, "urgent");
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_records_get, rp.body);
	/* No escape sequence reaches the terminal. */
	assert_null(strchr(out, '\x1b'));
	assert_null(strchr(out, '\x07'));
	assert_non_null(strstr(out, "name        Jan?]0;owned?sen\n"));
	/* A second line continues under the value. */
	assert_non_null(strstr(out, "memo        line one\n"
	    "            line two\n"));
	assert_non_null(strstr(out, "tags        housing, urgent\n"));
	free(out);
	reply_free(&rp);
}

static void
test_text_cut(void **state)
{
	char *buf = NULL;
	size_t len = 0, cols;
	FILE *fp;

	(void)state;
	fp = open_memstream(&buf, &len);
	cols = output_text(fp, "abcdefghij", 10, 8, 0, 0);
	fputc('|', fp);
	cols += output_text(fp, "\xc3\xa9\xc3\xa9\xc3\xa9", 6, 2, OUTPUT_CUT,
	    0);
	fputc('|', fp);
	cols += output_text(fp, "a\tb\nc", 5, 0, 0, 0);
	fclose(fp);
	assert_string_equal(buf, "abcde...|\xc3\xa9\xc3\xa9|a b c");
	assert_int_equal(cols, 8 + 2 + 5);
	free(buf);
}

static void
put_log_entry(struct wbuf *w, const char *time, const char *author,
    uint64_t seq, const char *op, const char *field, const char *value,
    uint64_t replaced)
{
	wire_put_map(w, 7);
	put_kv(w, "time", time);
	put_kv(w, "author", author);
	wire_put_cstr(w, "seq");
	wire_put_u64(w, seq);
	put_kv(w, "op", op);
	put_kv(w, "field", field);
	put_kv(w, "value", value);
	wire_put_cstr(w, "replaced");
	wire_put_u64(w, replaced);
}

static void
test_log_grouped(void **state)
{
	static const char *dev = "abcdefghijklmnopqrstuvwxyz234567abcdefghijkl"
	    "mnopqrstuvwx";
	static const char *t1 = "2026-11-24T23:50:01.123Z";
	static const char *t2 = "2026-11-24T23:55:00.000Z";
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 3);
	put_log_entry(&w, t1, dev, 1, "create", NULL, NULL, 0);
	put_log_entry(&w, t1, dev, 1, "set", "name", "Jansen", 0);
	put_log_entry(&w, t2, dev, 2, "set", "status", "closed", 2);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_records_log, rp.body);
	assert_string_equal(out,
	    "2026-11-24T23:50:01.123Z  abcdefghijkl  create\n"
	    "                                        set      name = Jansen\n"
	    "2026-11-24T23:55:00.000Z  abcdefghijkl  set      status = closed"
	    "  (replaced 2)\n");
	free(out);
	reply_free(&rp);
}

static void
test_unexpected_shape(void **state)
{
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	/* A list where a map was due, and the other way round: as JSON. */
	put_reply_head(&w, 0, "");
	wire_put_cstr(&w, "surprise");
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_records_ls, rp.body);
	assert_string_equal(out, "\"surprise\"\n");
	free(out);
	out = capture(output_records_get, rp.body);
	assert_string_equal(out, "\"surprise\"\n");
	free(out);
	reply_free(&rp);
}


/* Peers, sync and circles. */

#define DEV_A "zkn76mmtt2s3biz27l6rhgcepu66zvomcuakbpsszfwiurt7ahsi4gfl"
#define DEV_B "edwpn4alfdgesdbhzwlfoyfpxenrl6cv2ivnu6j3lnkjdoc36ye7uw6j"
#define DEV_C_SHORT "c3tjqaxuvk2b"
#define DEV_C DEV_C_SHORT "ya4cd5fs7hgj2ksbl6dqmz3rn4ptx5vw6eyf7gh"
#define T1 "2026-11-24T23:50:01.123Z"

static void
put_u64_kv(struct wbuf *w, const char *k, uint64_t v)
{
	wire_put_cstr(w, k);
	wire_put_u64(w, v);
}

/* A session map as in peer ls; state NULL writes a nil state. */
static void
put_session(struct wbuf *w, uint64_t round, const char *state,
    const char *error, uint64_t sent, uint64_t received, uint64_t bytes_sent,
    uint64_t bytes_received, int in_sync)
{
	wire_put_map(w, 9);
	put_u64_kv(w, "round", round);
	put_kv(w, "state", state);
	put_kv(w, "error", error);
	put_u64_kv(w, "sent", sent);
	put_u64_kv(w, "received", received);
	put_u64_kv(w, "rejected", 0);
	put_u64_kv(w, "bytes_sent", bytes_sent);
	put_u64_kv(w, "bytes_received", bytes_received);
	wire_put_cstr(w, "in_sync");
	wire_put_bool(w, in_sync);
}

/* A peer ls element; the caller writes the session value next. */
static void
put_peer_head(struct wbuf *w, const char *device, const char *addr,
    const char *state, const char *last, const char *digest)
{
	wire_put_map(w, 9);
	put_kv(w, "device", device);
	put_kv(w, "addr", addr);
	put_kv(w, "state", state);
	put_kv(w, "last_sync", last);
	put_u64_kv(w, "sent", 10);
	put_u64_kv(w, "received", 4);
	put_u64_kv(w, "rejected", 0);
	put_kv(w, "digest", digest);
	wire_put_cstr(w, "session");
}

static void
test_find(void **state)
{
	struct wbuf w;
	struct reply rp;

	(void)state;
	/* [{"device": A}, 7, {"device": 5}, {"device": B}, {"device": B}] */
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 5);
	wire_put_map(&w, 1);
	put_kv(&w, "device", DEV_A);
	wire_put_u64(&w, 7);
	wire_put_map(&w, 1);
	put_u64_kv(&w, "device", 5);
	wire_put_map(&w, 2);
	put_kv(&w, "device", DEV_B);
	put_kv(&w, "n", "first");
	wire_put_map(&w, 1);
	put_kv(&w, "device", DEV_B);
	assert_int_equal(parse_buf(&w, &rp), 0);
	assert_ptr_equal(reply_find(rp.body, "device", DEV_A),
	    reply_at(rp.body, 0));
	/* Elements that are not maps, or hold no string, are passed over. */
	assert_string_equal(reply_get_str(reply_find(rp.body, "device",
	    DEV_B), "n"), "first");
	assert_null(reply_find(rp.body, "device", "nobody"));
	assert_null(reply_find(rp.body, "addr", DEV_A));
	/* A prefix is no match. */
	assert_null(reply_find(rp.body, "device", "zkn76mmtt2s3"));
	assert_null(reply_find(reply_at(rp.body, 0), "device", DEV_A));
	assert_null(reply_find(NULL, "device", DEV_A));
	reply_free(&rp);
}

static void
test_session(void **state)
{
	struct wbuf w;
	struct reply rp;
	struct reply_session s;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 6);
	put_peer_head(&w, DEV_A, NULL, "idle", NULL, NULL);
	wire_put_nil(&w);
	put_peer_head(&w, DEV_A, NULL, "idle", NULL, NULL);
	put_session(&w, 3, "running", NULL, 2, 5, 812, 400, 0);
	put_peer_head(&w, DEV_A, NULL, "idle", NULL, NULL);
	put_session(&w, 4, "failed", "peer closed", 0, 0, 0, 0, 0);
	put_peer_head(&w, DEV_A, NULL, "idle", NULL, NULL);
	put_session(&w, 3, "paused", NULL, 0, 0, 0, 0, 1);
	/* A state that is not a string; a session without a round. */
	put_peer_head(&w, DEV_A, NULL, "idle", NULL, NULL);
	put_session(&w, 3, NULL, NULL, 0, 0, 0, 0, 0);
	wire_put_map(&w, 1);
	wire_put_cstr(&w, "session");
	wire_put_map(&w, 1);
	put_kv(&w, "state", "done");
	assert_int_equal(parse_buf(&w, &rp), 0);

	reply_session(reply_at(rp.body, 0), &s);
	assert_int_equal(s.state, REPLY_SESSION_NONE);
	assert_int_equal(s.round, -1);
	assert_string_equal(s.state_name, "");
	assert_int_equal(reply_session_over(&s, 0), 0);

	reply_session(reply_at(rp.body, 1), &s);
	assert_int_equal(s.state, REPLY_SESSION_RUNNING);
	assert_int_equal(s.round, 3);
	assert_null(s.error);
	assert_int_equal(s.sent, 2);
	assert_int_equal(s.received, 5);
	assert_int_equal(s.bytes_sent, 812);
	assert_int_equal(s.bytes_received, 400);
	assert_int_equal(s.in_sync, 0);
	assert_int_equal(reply_session_over(&s, 3), 0);

	reply_session(reply_at(rp.body, 2), &s);
	assert_int_equal(s.state, REPLY_SESSION_FAILED);
	assert_string_equal(s.error, "peer closed");
	/* Over for its round and any before, not for a later one. */
	assert_int_equal(reply_session_over(&s, 3), 1);
	assert_int_equal(reply_session_over(&s, 4), 1);
	assert_int_equal(reply_session_over(&s, 5), 0);

	/* An unknown state is not "running": over, as docs/api.md says. */
	reply_session(reply_at(rp.body, 3), &s);
	assert_int_equal(s.state, REPLY_SESSION_OTHER);
	assert_string_equal(s.state_name, "paused");
	assert_int_equal(s.in_sync, 1);
	assert_int_equal(reply_session_over(&s, 3), 1);

	/* Neither can be told over. */
	reply_session(reply_at(rp.body, 4), &s);
	assert_int_equal(s.state, REPLY_SESSION_OTHER);
	assert_int_equal(reply_session_over(&s, 3), 0);
	reply_session(reply_at(rp.body, 5), &s);
	assert_int_equal(s.state, REPLY_SESSION_DONE);
	assert_int_equal(s.round, -1);
	assert_int_equal(s.sent, 0);
	assert_int_equal(reply_session_over(&s, 0), 0);

	reply_session(NULL, &s);
	assert_int_equal(s.state, REPLY_SESSION_NONE);
	reply_free(&rp);
}

static void
test_peers_table(void **state)
{
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 2);
	put_peer_head(&w, DEV_A, "tcp://10.0.0.2:7400", "connected", T1,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	put_session(&w, 3, "done", NULL, 2, 1, 812, 340, 0);
	put_peer_head(&w, DEV_B, NULL, "inbound", NULL, NULL);
	wire_put_nil(&w);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_sync_peers, rp.body);
	assert_string_equal(out,
	    "DEVICE        ADDR                 STATE       LAST SYNC       "
	    "          SENT/RECV/REJ  DIGEST\n"
	    "zkn76mmtt2s3  tcp://10.0.0.2:7400  connected   " T1 "  10/4/0 "
	    "        0123456789ab\n"
	    "edwpn4alfdge  -                    inbound     never           "
	    "          10/4/0         -\n");
	free(out);
	reply_free(&rp);

	/* No peers: no header either. */
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 0);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_sync_peers, rp.body);
	assert_string_equal(out, "");
	free(out);
	reply_free(&rp);
}

static void
status_to(FILE *fp, const struct reply_node *body)
{
	output_sync_status(fp, fp, body);
}

static void
test_status_peers(void **state)
{
	static const char *ours = "ab";
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_map(&w, 6);
	put_kv(&w, "replica_digest", ours);
	put_kv(&w, "listen", NULL);
	put_u64_kv(&w, "zap_refused", 2);
	put_u64_kv(&w, "rejected", 1);
	wire_put_cstr(&w, "peers");
	wire_put_array(&w, 4);
	wire_put_map(&w, 3);
	put_kv(&w, "device", DEV_A);
	put_kv(&w, "digest", ours);
	put_kv(&w, "last_sync", T1);
	wire_put_map(&w, 3);
	put_kv(&w, "device", DEV_B);
	put_kv(&w, "digest", "cd");
	put_kv(&w, "last_sync", T1);
	wire_put_map(&w, 3);
	put_kv(&w, "device", DEV_B);
	put_kv(&w, "digest", NULL);
	put_kv(&w, "last_sync", NULL);
	wire_put_map(&w, 3);
	put_kv(&w, "device", DEV_A);
	put_kv(&w, "digest", NULL);
	put_kv(&w, "last_sync", T1);
	/* A key this CLI does not know yet is still shown. */
	put_kv(&w, "new_key", NULL);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(status_to, rp.body);
	assert_string_equal(out,
	    "replica digest: ab\n"
	    "listen:         off\n"
	    "zap refusals:   2\n"
	    "rejected:       1\n"
	    "peers:          4\n"
	    "  zkn76mmtt2s3  last sync " T1 "  digest = ours\n"
	    "  edwpn4alfdge  last sync " T1 "  digest differs\n"
	    "  edwpn4alfdge  never synced\n"
	    "  zkn76mmtt2s3  last sync " T1 "  digest unknown\n"
	    "new key:        -\n");
	free(out);
	reply_free(&rp);

	/* An older daemon sends none of these keys: no such lines. */
	put_reply_head(&w, 0, "");
	wire_put_map(&w, 2);
	put_kv(&w, "replica_digest", ours);
	put_kv(&w, "listen", "tcp://0.0.0.0:7400");
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(status_to, rp.body);
	assert_string_equal(out, "replica digest: ab\n"
	    "listen:         tcp://0.0.0.0:7400\n");
	free(out);
	reply_free(&rp);
}

/* A status body with version, protocol and (if schema >= 0) schema. */
static void
put_versions(struct wbuf *w, struct reply *rp, const char *version,
    uint64_t protocol, int64_t schema)
{
	put_reply_head(w, 0, "");
	wire_put_map(w, schema >= 0 ? 3 : 2);
	put_kv(w, "version", version);
	put_u64_kv(w, "protocol", protocol);
	if (schema >= 0)
		put_u64_kv(w, "schema", (uint64_t)schema);
	assert_int_equal(parse_buf(w, rp), 0);
}

/* What output_sync_status_version says of body, for a samen 1.2.0 (3, 7). */
static char *
version_line(const struct reply_node *body, int *warned)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	*warned = output_sync_status_version(fp, body, "1.2.0", 3, 7);
	fclose(fp);
	return buf;
}

/*
 * status says when the daemon is not the CLI's release: another version,
 * protocol or schema, each alone; nothing when all three agree, nor for
 * what an older daemon does not send.
 */
static void
test_status_version(void **state)
{
	static const struct {
		const char *version;
		uint64_t protocol;
		int64_t schema;
		const char *line;	/* NULL: no warning */
	} cases[] = {
		{ "1.2.0", 3, 7, NULL },
		{ "1.2.0", 3, -1, NULL },
		{ "1.1.9", 3, 7, "samen: warning: this samen is 1.2.0 (protocol "
		  "3, schema 7), the running samend 1.1.9 (protocol 3, schema "
		  "7); after an upgrade, restart samend\n" },
		{ "1.2.0", 2, 7, "samen: warning: this samen is 1.2.0 (protocol "
		  "3, schema 7), the running samend 1.2.0 (protocol 2, schema "
		  "7); after an upgrade, restart samend\n" },
		{ "1.2.0", 3, 6, "samen: warning: this samen is 1.2.0 (protocol "
		  "3, schema 7), the running samend 1.2.0 (protocol 3, schema "
		  "6); after an upgrade, restart samend\n" },
		{ "1.0.0\x1b[2J", 3, -1, "samen: warning: this samen is 1.2.0 "
		  "(protocol 3, schema 7), the running samend 1.0.0?[2J "
		  "(protocol 3, schema ?); after an upgrade, restart samend\n" },
	};
	struct wbuf w;
	struct reply rp;
	char *out;
	int warned;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_versions(&w, &rp, cases[i].version, cases[i].protocol,
		    cases[i].schema);
		out = version_line(rp.body, &warned);
		assert_int_equal(warned, cases[i].line != NULL);
		assert_string_equal(out, cases[i].line ? cases[i].line : "");
		free(out);
		reply_free(&rp);
	}
	/* This build's own numbers against a daemon of this build. */
	put_versions(&w, &rp, SAMEN_VERSION, SAMEN_PROTOCOL_VERSION,
	    SAMEN_SCHEMA_VERSION);
	assert_int_equal(output_sync_status_version(stderr, rp.body,
	    SAMEN_VERSION, SAMEN_PROTOCOL_VERSION, SAMEN_SCHEMA_VERSION), 0);
	reply_free(&rp);
}

/* metrics prints the text as it came, lines and all; anything else as JSON. */
static void
test_metrics_text(void **state)
{
	static const char text[] = "# HELP a_total x\n# TYPE a_total "
	    "counter\na_total{r=\"q\\\"\"} 1\n";
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_map(&w, 1);
	put_kv(&w, "text", text);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_metrics, rp.body);
	assert_string_equal(out, text);
	free(out);
	reply_free(&rp);

	put_reply_head(&w, 0, "");
	wire_put_map(&w, 1);
	put_kv(&w, "text", "a 1\n\x1b[2J");
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_metrics, rp.body);
	assert_string_equal(out, "a 1\n?[2J");
	free(out);
	reply_free(&rp);

	put_reply_head(&w, 0, "");
	wire_put_map(&w, 1);
	put_u64_kv(&w, "text", 5);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_metrics, rp.body);
	assert_string_equal(out, "{\"text\": 5}\n");
	free(out);
	reply_free(&rp);
}

/* Prints the progress and result lines of every peer in a list. */
static void
sync_lines(FILE *fp, const struct reply_node *list)
{
	struct reply_session s;
	uint32_t i;

	for (i = 0; i < reply_len(list); i++) {
		reply_session(reply_at(list, i), &s);
		output_sync_progress(fp, reply_get_str(reply_at(list, i),
		    "device"), &s);
		output_sync_result(fp, reply_get_str(reply_at(list, i),
		    "device"), &s);
	}
	output_sync_result(fp, DEV_B, NULL);
}

static void
test_sync_lines(void **state)
{
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 6);
	put_peer_head(&w, DEV_A, NULL, "idle", NULL, NULL);
	put_session(&w, 3, "done", NULL, 0, 0, 300, 0, 1);
	put_peer_head(&w, DEV_A, NULL, "idle", NULL, NULL);
	put_session(&w, 3, "done", NULL, 2, 5, 1000, 229, 0);
	/* In sync at the end, but change sets travelled: show them. */
	put_peer_head(&w, DEV_A, NULL, "idle", NULL, NULL);
	put_session(&w, 3, "done", NULL, 1, 0, 3u << 20, 1u << 19, 1);
	put_peer_head(&w, DEV_B, NULL, "idle", NULL, NULL);
	put_session(&w, 3, "failed", "peer closed\x1b[2J", 0, 0, 0, 0, 0);
	put_peer_head(&w, DEV_B, NULL, "idle", NULL, NULL);
	put_session(&w, 3, "failed", NULL, 0, 0, 0, 0, 0);
	put_peer_head(&w, DEV_B, NULL, "idle", NULL, NULL);
	put_session(&w, 3, "paused", NULL, 0, 0, 5ull << 30, 0, 0);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(sync_lines, rp.body);
	assert_string_equal(out,
	    "sync: zkn76mmtt2s3 0 sent, 0 received, 300 B\n"
	    "zkn76mmtt2s3 in sync\n"
	    "sync: zkn76mmtt2s3 2 sent, 5 received, 1.2 KiB\n"
	    "zkn76mmtt2s3 done: 2 sent, 5 received\n"
	    "sync: zkn76mmtt2s3 1 sent, 0 received, 3.5 MiB\n"
	    "zkn76mmtt2s3 done: 1 sent, 0 received\n"
	    "sync: edwpn4alfdge 0 sent, 0 received, 0 B\n"
	    "edwpn4alfdge failed: peer closed?[2J\n"
	    "sync: edwpn4alfdge 0 sent, 0 received, 0 B\n"
	    "edwpn4alfdge failed: no reason given\n"
	    "sync: edwpn4alfdge 0 sent, 0 received, 5.0 GiB\n"
	    "edwpn4alfdge ended: paused\n"
	    "edwpn4alfdge failed: no longer a peer\n");
	free(out);
	reply_free(&rp);
}

static void
test_sync_started_and_items(void **state)
{
	const struct reply_node *items[2];
	struct wbuf w;
	struct reply rp;
	char *out = NULL;
	size_t len = 0;
	FILE *fp;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_map(&w, 2);
	put_u64_kv(&w, "round", 3);
	wire_put_cstr(&w, "started");
	wire_put_array(&w, 2);
	wire_put_cstr(&w, DEV_A);
	wire_put_cstr(&w, DEV_B);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_sync_started, rp.body);
	assert_string_equal(out, "sync started with 2 peer(s)\n");
	free(out);

	/* The --wait --json array of chosen elements. */
	items[0] = reply_at(reply_get(rp.body, "started"), 1);
	items[1] = reply_get(rp.body, "round");
	fp = open_memstream(&out, &len);
	output_json_items(fp, items, 2);
	output_json_items(fp, items, 0);
	fclose(fp);
	assert_string_equal(out, "[\"" DEV_B "\", 3]\n[]\n");
	free(out);
	/* Without "started", the body as JSON. */
	out = capture(output_sync_started, reply_get(rp.body, "round"));
	assert_string_equal(out, "3\n");
	free(out);
	reply_free(&rp);
}

static void
test_peer_and_circle_lines(void **state)
{
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 4);
	wire_put_map(&w, 2);
	put_kv(&w, "device", DEV_A);
	put_kv(&w, "addr", "tcp://h:7400");
	wire_put_map(&w, 2);
	put_kv(&w, "device", DEV_A);
	put_kv(&w, "addr", NULL);
	wire_put_map(&w, 4);
	put_kv(&w, "circle", "00112233445566778899aabbccddeeff");
	put_kv(&w, "name", "wijkteam");
	put_kv(&w, "device", DEV_B);
	put_kv(&w, "role", "member");
	wire_put_map(&w, 1);
	put_kv(&w, "nom", "x");
	assert_int_equal(parse_buf(&w, &rp), 0);

	out = capture(output_sync_peer_add, reply_at(rp.body, 0));
	assert_string_equal(out, "peer " DEV_A " added (tcp://h:7400)\n");
	free(out);
	out = capture(output_sync_peer_add, reply_at(rp.body, 1));
	assert_string_equal(out, "peer " DEV_A " added (no address)\n");
	free(out);
	out = capture(output_circles_new, reply_at(rp.body, 2));
	assert_string_equal(out, "circle wijkteam created\n");
	free(out);
	out = capture(output_circles_add, reply_at(rp.body, 2));
	assert_string_equal(out, DEV_B " added to circle wijkteam as member\n");
	free(out);
	out = capture(output_circles_use, reply_at(rp.body, 2));
	assert_string_equal(out, "new records go to circle wijkteam\n");
	free(out);
	/* Bodies of another shape come out as JSON. */
	out = capture(output_circles_use, reply_at(rp.body, 3));
	assert_string_equal(out, "{\"nom\": \"x\"}\n");
	free(out);
	out = capture(output_sync_peer_add, reply_at(rp.body, 3));
	assert_string_equal(out, "{\"nom\": \"x\"}\n");
	free(out);
	reply_free(&rp);
}

static void
put_circle(struct wbuf *w, const char *name, const char *kind,
    uint64_t epoch, uint64_t epochs, const char *role, const char *state,
    int def, uint64_t held, uint32_t nmembers)
{
	wire_put_map(w, 10);
	put_kv(w, "circle", "00112233445566778899aabbccddeeff");
	put_kv(w, "name", name);
	put_kv(w, "kind", kind);
	put_u64_kv(w, "epoch", epoch);
	put_u64_kv(w, "epochs", epochs);
	put_kv(w, "role", role);
	put_kv(w, "state", state);
	wire_put_cstr(w, "default");
	wire_put_bool(w, def);
	put_u64_kv(w, "quarantined", held);
	wire_put_cstr(w, "members");
	wire_put_array(w, nmembers);
}

static void
put_member(struct wbuf *w, const char *device, const char *role,
    const char *state, const char *by, int64_t cut)
{
	wire_put_map(w, 5);
	put_kv(w, "device", device);
	put_kv(w, "role", role);
	put_kv(w, "state", state);
	put_kv(w, "added_by", by);
	wire_put_cstr(w, "cut");
	if (cut < 0)
		wire_put_nil(w);
	else
		wire_put_u64(w, (uint64_t)cut);
}

static void
test_circles(void **state)
{
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 3);
	put_circle(&w, "private", "private", 1, 1, "admin",
	    "current", 0, 0, 0);
	put_circle(&w, "wijkteam", "shared", 0x8a01bc2f, 2, "admin",
	    "current", 1, 3, 3);
	put_member(&w, DEV_A, "admin", "current", DEV_A, -1);
	put_member(&w, DEV_B, "member", "current", DEV_A, -1);
	put_member(&w, DEV_C, "member", "removed", DEV_A, 4);
	put_circle(&w, "0a1b2c3d", "shared", 1, 1, "relay",
	    "removed", 0, 0, 0);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_circles_ls, rp.body);
	assert_string_equal(out,
	    "private  private  epoch 00000001  admin\n"
	    "\n"
	    "wijkteam  shared  epoch 8a01bc2f (of 2)  admin  (default)  "
	    "3 held back\n"
	    "  zkn76mmtt2s3  admin   current  added by zkn76mmtt2s3\n"
	    "  edwpn4alfdge  member  current  added by zkn76mmtt2s3\n"
	    "  " DEV_C_SHORT "  member  removed  added by zkn76mmtt2s3  "
	    "cut at seq 4\n"
	    "\n"
	    "0a1b2c3d  shared  epoch 00000001  relay (removed)\n");
	free(out);
	reply_free(&rp);
}

/* circle quarantine: readable or not; rm, accept, role, revoke. */
static void
test_quarantine_lines(void **state)
{
	struct wbuf w;
	struct reply rp;
	char *out;

	(void)state;
	put_reply_head(&w, 0, "");
	wire_put_array(&w, 2);
	wire_put_map(&w, 4);
	put_kv(&w, "author", DEV_B);
	put_u64_kv(&w, "seq", 5);
	put_kv(&w, "time", "2026-12-07T10:00:00.000Z");
	wire_put_cstr(&w, "records");
	wire_put_array(&w, 2);
	wire_put_map(&w, 2);
	put_kv(&w, "collection", "case");
	put_kv(&w, "id", "01M97AAQDPPX7S6KZVVZFR3DKY");
	wire_put_map(&w, 2);
	put_kv(&w, "collection", "note");
	put_kv(&w, "id", "01M97AAVH1RSB0B1HB8T4GEFRN");
	wire_put_map(&w, 4);
	put_kv(&w, "author", DEV_B);
	put_u64_kv(&w, "seq", 6);
	put_u64_kv(&w, "chunks", 3);
	wire_put_cstr(&w, "records");
	wire_put_nil(&w);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_circles_quarantine, rp.body);
	assert_string_equal(out,
	    "edwpn4alfdge  seq 5  2026-12-07T10:00:00.000Z  case "
	    "01M97AAQDPPX7S6KZVVZFR3DKY, note 01M97AAVH1RSB0B1HB8T4GEFRN\n"
	    "edwpn4alfdge  seq 6  3 records, not readable here\n");
	free(out);
	reply_free(&rp);

	put_reply_head(&w, 0, "");
	wire_put_map(&w, 5);
	put_kv(&w, "circle", "00112233445566778899aabbccddeeff");
	put_kv(&w, "name", "wijkteam");
	put_kv(&w, "device", DEV_B);
	put_u64_kv(&w, "epoch", 0x8a01bc2f);
	put_u64_kv(&w, "cut", 7);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_circles_rm, rp.body);
	assert_string_equal(out, DEV_B " removed from circle wijkteam: new "
	    "epoch 8a01bc2f, what it writes after seq 7 is held back\n");
	free(out);
	out = capture(output_circles_accept, rp.body);
	assert_string_equal(out, "accepted what " DEV_B " wrote in circle "
	    "wijkteam up to seq 7\n");
	free(out);
	/* No role: not the shape role's reply has; shown as JSON. */
	out = capture(output_circles_role, rp.body);
	assert_true(out[0] == '{');
	free(out);
	reply_free(&rp);

	put_reply_head(&w, 0, "");
	wire_put_map(&w, 2);
	put_kv(&w, "device", DEV_B);
	put_u64_kv(&w, "circles", 1);
	assert_int_equal(parse_buf(&w, &rp), 0);
	out = capture(output_circles_revoke, rp.body);
	assert_string_equal(out, DEV_B " revoked in 1 circle\n");
	free(out);
	reply_free(&rp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_error_reply),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_node_budget),
		cmocka_unit_test(test_types_refused),
		cmocka_unit_test(test_random_input),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_tree),
		cmocka_unit_test(test_text_sanitised),
		cmocka_unit_test(test_text_cut),
		cmocka_unit_test(test_log_grouped),
		cmocka_unit_test(test_unexpected_shape),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_peers_table),
		cmocka_unit_test(test_status_peers),
		cmocka_unit_test(test_status_version),
		cmocka_unit_test(test_metrics_text),
		cmocka_unit_test(test_sync_lines),
		cmocka_unit_test(test_sync_started_and_items),
		cmocka_unit_test(test_peer_and_circle_lines),
		cmocka_unit_test(test_circles),
		cmocka_unit_test(test_quarantine_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
