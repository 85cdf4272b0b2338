/* test_request: the control requests' decoders: what they take, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "error.h"
#include "request.h"
#include "util.h"

static const char rid_text[] = "01JD5ZQ8X2M4N6P8R0T2V4W6Y8";
static char dev_text[DEVID_TEXTLEN + 1];
static uint8_t dev_key[32];

/* Decodes w's bytes with decode; checks code and, if given, the cause. */
static void
expect(request_decode_fn *decode, struct wbuf *w, union request *q,
    int code, const char *cause)
{
	struct wire_reader r;
	char *why = NULL;
	int rc;

	wire_reader_init(&r, wire_data(w), wire_len(w));
	rc = decode(&r, q, &why);
	if (rc != code)
		fail_msg("got %d (%s), want %d", rc, why ? why : "", code);
	if (code == 0)
		assert_null(why);
	else if (cause != NULL)
		assert_string_equal(why, cause);
	else
		assert_non_null(why);
	free(why);
	wire_reset(w);
}

static void
test_frame(void **state)
{
	struct wbuf w;
	struct wire_reader r;
	uint32_t type;
	char *why = NULL;

	(void)state;
	wire_init(&w);
	wire_put_array(&w, 3);
	wire_put_u64(&w, SAMEN_PROTOCOL_VERSION);
	wire_put_u64(&w, CTL_PUT);
	wire_put_array(&w, 0);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(request_frame(&r, &type, &why), 0);
	assert_int_equal(type, CTL_PUT);
	/* Left at args. */
	assert_int_equal(wire_peek(&r), WIRE_ARRAY);
	wire_reset(&w);

	wire_put_array(&w, 3);
	wire_put_u64(&w, 99);
	wire_put_u64(&w, CTL_STATUS);
	wire_put_array(&w, 0);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(request_frame(&r, &type, &why), SAMEN_EVERSION);
	assert_string_equal(why, "protocol version 99 is not supported: "
	    "this samend speaks 1");
	free(why);
	wire_reset(&w);

	wire_put_array(&w, 2);
	wire_put_u64(&w, 1);
	wire_put_u64(&w, 1);
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(request_frame(&r, &type, &why), SAMEN_EPROTO);
	assert_string_equal(why, "malformed request");
	free(why);
	wire_reset(&w);

	wire_put_array(&w, 3);
	wire_put_cstr(&w, "1");
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(request_frame(&r, &type, &why), SAMEN_EPROTO);
	free(why);
	wire_free(&w);
}

static void
test_no_args(void **state)
{
	static const struct {
		request_decode_fn *decode;
		const char *cause;
	} cases[] = {
		{ request_decode_status, "malformed status request" },
		{ request_decode_conflicts, "malformed conflicts request" },
		{ request_decode_rebuild, "malformed rebuild request" },
		{ request_decode_peer_ls, "malformed peer request" },
		{ request_decode_circle_ls, "malformed circle request" },
		{ request_decode_metrics, "malformed metrics request" },
		{ request_decode_lock, "malformed lock request" },
	};
	union request q;
	struct wbuf w;

	(void)state;
	wire_init(&w);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wire_put_array(&w, 0);
		expect(cases[i].decode, &w, &q, 0, NULL);
		wire_put_array(&w, 1);
		wire_put_nil(&w);
		expect(cases[i].decode, &w, &q, SAMEN_EPROTO, cases[i].cause);
		wire_put_array(&w, 0);
		wire_put_nil(&w);	/* trailing */
		expect(cases[i].decode, &w, &q, SAMEN_EPROTO, cases[i].cause);
		wire_put_map(&w, 0);
		expect(cases[i].decode, &w, &q, SAMEN_EPROTO, cases[i].cause);
	}
	wire_free(&w);
}

static void
record_args(struct wbuf *w, const char *collection, const char *rid)
{
	wire_put_array(w, 2);
	wire_put_cstr(w, collection);
	wire_put_cstr(w, rid);
}

static void
test_record(void **state)
{
	static const struct {
		request_decode_fn *decode;
		const char *cause;
	} cases[] = {
		{ request_decode_get, "malformed get request" },
		{ request_decode_rm, "malformed rm request" },
		{ request_decode_log, "malformed log request" },
	};
	char longname[OPS_MAX_COLLECTION + 2];
	uint8_t rid[RID_LEN];
	union request q;
	struct wbuf w;

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(rid_decode(rid, rid_text, RID_TEXTLEN), 0);
	wire_init(&w);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		record_args(&w, "case", rid_text);
		expect(cases[i].decode, &w, &q, 0, NULL);
		assert_string_equal(q.record.collection, "case");
		assert_memory_equal(q.record.rid, rid, RID_LEN);

		record_args(&w, "Case", rid_text);
		expect(cases[i].decode, &w, &q, SAMEN_EINVAL,
		    "invalid collection name 'Case'");
		record_args(&w, longname, rid_text);
		expect(cases[i].decode, &w, &q, SAMEN_EPROTO,
		    "malformed collection");
		record_args(&w, "case", "01JD5");
		expect(cases[i].decode, &w, &q, SAMEN_EINVAL,
		    "invalid record id");
		wire_put_array(&w, 2);
		wire_put_cstr(&w, "case");
		wire_put_u64(&w, 7);
		expect(cases[i].decode, &w, &q, SAMEN_EINVAL,
		    "invalid record id");
		wire_put_array(&w, 1);
		wire_put_cstr(&w, "case");
		expect(cases[i].decode, &w, &q, SAMEN_EPROTO, cases[i].cause);
		record_args(&w, "case", rid_text);
		wire_put_nil(&w);
		expect(cases[i].decode, &w, &q, SAMEN_EPROTO, cases[i].cause);
	}
	wire_free(&w);
}

/* [collection, rid | nil, assigns(, circle)] with n assigns of one kind. */
static void
put_args(struct wbuf *w, const char *rid, uint32_t n, uint8_t how,
    const char *field, size_t value_len, int circle, const char *name)
{
	char *value = xcalloc(1, value_len + 1);

	memset(value, 'v', value_len);
	wire_put_array(w, circle ? 4 : 3);
	wire_put_cstr(w, "case");
	if (rid)
		wire_put_cstr(w, rid);
	else
		wire_put_nil(w);
	wire_put_array(w, n);
	for (uint32_t i = 0; i < n; i++) {
		char f[OPS_MAX_FIELD + 8];

		/* Distinct fields unless field is given. */
		snprintf(f, sizeof(f), "f%u", i);
		wire_put_array(w, 3);
		wire_put_u64(w, how);
		wire_put_cstr(w, field ? field : f);
		wire_put_str(w, value, value_len);
	}
	if (circle == 1)
		wire_put_cstr(w, name);
	else if (circle == 2)
		wire_put_nil(w);
	free(value);
}

static void
test_put(void **state)
{
	union request *q = xcalloc(1, sizeof(*q));
	struct wbuf w;
	char longfield[OPS_MAX_FIELD + 2], longer[OPS_MAX_FIELD + 3];

	(void)state;
	memset(longfield, 'f', sizeof(longfield) - 1);
	longfield[sizeof(longfield) - 1] = '\0';
	memset(longer, 'f', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	wire_init(&w);

	put_args(&w, NULL, 2, CTL_ASSIGN_SET, NULL, 5, 0, NULL);
	expect(request_decode_put, &w, q, 0, NULL);
	assert_true(q->put.creating);
	assert_string_equal(q->put.collection, "case");
	assert_int_equal(q->put.nassigns, 2);
	assert_int_equal(q->put.assigns[1].field_len, 2);
	assert_memory_equal(q->put.assigns[1].field, "f1", 2);
	assert_int_equal(q->put.assigns[1].value_len, 5);
	assert_string_equal(q->put.circle, "");

	put_args(&w, rid_text, 1, CTL_ASSIGN_ADD, "tags", 3, 1, "team");
	expect(request_decode_put, &w, q, 0, NULL);
	assert_false(q->put.creating);
	assert_int_equal(q->put.assigns[0].how, CTL_ASSIGN_ADD);
	assert_string_equal(q->put.circle, "team");

	put_args(&w, rid_text, 1, CTL_ASSIGN_REM, "tags", 3, 2, NULL);
	expect(request_decode_put, &w, q, 0, NULL);
	assert_string_equal(q->put.circle, "");

	/* A set takes many elements for one field; a register one value. */
	put_args(&w, NULL, 3, CTL_ASSIGN_ADD, "tags", 3, 0, NULL);
	expect(request_decode_put, &w, q, 0, NULL);
	put_args(&w, NULL, 2, CTL_ASSIGN_SET, "name", 3, 0, NULL);
	expect(request_decode_put, &w, q, SAMEN_EINVAL,
	    "field 'name' is assigned twice");

	put_args(&w, NULL, CTL_MAX_ASSIGNS, CTL_ASSIGN_SET, NULL, 1, 0, NULL);
	expect(request_decode_put, &w, q, 0, NULL);
	assert_int_equal(q->put.nassigns, CTL_MAX_ASSIGNS);
	put_args(&w, NULL, CTL_MAX_ASSIGNS + 1, CTL_ASSIGN_SET, NULL, 1, 0,
	    NULL);
	expect(request_decode_put, &w, q, SAMEN_EINVAL,
	    "too many assignments (at most 256)");
	put_args(&w, NULL, 0, CTL_ASSIGN_SET, NULL, 1, 0, NULL);
	expect(request_decode_put, &w, q, SAMEN_EINVAL,
	    "nothing to write: give at least one field=value");

	put_args(&w, NULL, 1, CTL_ASSIGN_SET, "no spaces", 1, 0, NULL);
	expect(request_decode_put, &w, q, SAMEN_EINVAL,
	    "invalid field name 'no spaces'");
	/* 65 bytes pass the reader and fail the name rule; 66 do not. */
	put_args(&w, NULL, 1, CTL_ASSIGN_SET, longfield, 1, 0, NULL);
	expect(request_decode_put, &w, q, SAMEN_EINVAL, NULL);
	put_args(&w, NULL, 1, CTL_ASSIGN_SET, longer, 1, 0, NULL);
	expect(request_decode_put, &w, q, SAMEN_EPROTO, "malformed assignment");

	put_args(&w, NULL, 1, CTL_ASSIGN_SET, "name", OPS_MAX_VALUE, 0, NULL);
	expect(request_decode_put, &w, q, 0, NULL);
	put_args(&w, NULL, 1, CTL_ASSIGN_SET, "name", OPS_MAX_VALUE + 1, 0,
	    NULL);
	expect(request_decode_put, &w, q, SAMEN_EINVAL,
	    "value of 'name' is over 65536 bytes");
	put_args(&w, NULL, 1, CTL_ASSIGN_ADD, "tags", OPS_MAX_ELEMENT, 0,
	    NULL);
	expect(request_decode_put, &w, q, 0, NULL);
	put_args(&w, NULL, 1, CTL_ASSIGN_REM, "tags", OPS_MAX_ELEMENT + 1, 0,
	    NULL);
	expect(request_decode_put, &w, q, SAMEN_EINVAL,
	    "value of 'tags' is over 1024 bytes");
	put_args(&w, NULL, 1, CTL_ASSIGN_SET, "name", OPS_MAX_VALUE + 2, 0,
	    NULL);
	expect(request_decode_put, &w, q, SAMEN_EPROTO, "malformed assignment");

	put_args(&w, NULL, 1, 3, "name", 1, 0, NULL);
	expect(request_decode_put, &w, q, SAMEN_EPROTO,
	    "unknown assignment kind 3");

	put_args(&w, "nope", 1, CTL_ASSIGN_SET, "name", 1, 0, NULL);
	expect(request_decode_put, &w, q, SAMEN_EINVAL, "invalid record id");

	/* The fourth argument. */
	put_args(&w, NULL, 1, CTL_ASSIGN_SET, "name", 1, 1, longfield);
	expect(request_decode_put, &w, q, SAMEN_EINVAL, "invalid circle name");
	put_args(&w, NULL, 1, CTL_ASSIGN_SET, "name", 1, 0, NULL);
	w.sb.data[0] = (char)0x94;	/* says 4, has 3 */
	expect(request_decode_put, &w, q, SAMEN_EINVAL, "invalid circle name");

	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case");
	wire_put_nil(&w);
	expect(request_decode_put, &w, q, SAMEN_EPROTO,
	    "malformed put request");
	put_args(&w, NULL, 1, CTL_ASSIGN_SET, "name", 1, 0, NULL);
	wire_put_nil(&w);
	expect(request_decode_put, &w, q, SAMEN_EPROTO,
	    "malformed put request");
	wire_free(&w);
	free(q);
}

static void
test_ls_find(void **state)
{
	union request q;
	struct wbuf w;

	(void)state;
	wire_init(&w);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case");
	wire_put_array(&w, 2);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "status");
	wire_put_cstr(&w, "open");
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "tags");
	wire_put_cstr(&w, "");
	expect(request_decode_ls, &w, &q, 0, NULL);
	assert_int_equal(q.ls.nwhere, 2);
	assert_string_equal(q.ls.where[0].field, "status");
	assert_int_equal(q.ls.where[0].len, 4);
	assert_int_equal(q.ls.where[1].len, 0);

	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case");
	wire_put_array(&w, REQUEST_MAX_WHERE + 1);
	expect(request_decode_ls, &w, &q, SAMEN_EINVAL, "at most 16 --where");
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case");
	wire_put_array(&w, 1);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "status");
	expect(request_decode_ls, &w, &q, SAMEN_EPROTO, "malformed --where");
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case!");
	wire_put_array(&w, 0);
	expect(request_decode_ls, &w, &q, SAMEN_EINVAL,
	    "invalid collection name 'case!'");
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case");
	wire_put_array(&w, 0);
	wire_put_nil(&w);
	expect(request_decode_ls, &w, &q, SAMEN_EPROTO,
	    "malformed ls request");

	wire_put_array(&w, 1);
	wire_put_cstr(&w, "jans");
	expect(request_decode_find, &w, &q, 0, NULL);
	assert_int_equal(q.find.len, 4);
	assert_memory_equal(q.find.text, "jans", 4);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "");
	expect(request_decode_find, &w, &q, SAMEN_EINVAL,
	    "nothing to find: give a text");
	wire_put_array(&w, 1);
	wire_put_bin(&w, "jans", 4);
	expect(request_decode_find, &w, &q, SAMEN_EPROTO,
	    "malformed find request");
	wire_free(&w);
}

static void
note_args(struct wbuf *w, const char *rid, size_t len)
{
	char *text = xcalloc(1, len + 1);

	memset(text, 't', len);
	wire_put_array(w, 2);
	wire_put_cstr(w, rid);
	wire_put_str(w, text, len);
	free(text);
}

static void
test_note(void **state)
{
	union request q;
	struct wbuf w;

	(void)state;
	wire_init(&w);
	note_args(&w, rid_text, 10);
	expect(request_decode_note, &w, &q, 0, NULL);
	assert_int_equal(q.note.len, 10);
	note_args(&w, rid_text, OPS_MAX_VALUE);
	expect(request_decode_note, &w, &q, 0, NULL);
	note_args(&w, rid_text, 0);
	expect(request_decode_note, &w, &q, SAMEN_EINVAL, "the note is empty");
	note_args(&w, rid_text, OPS_MAX_VALUE + 1);
	expect(request_decode_note, &w, &q, SAMEN_EINVAL,
	    "the note is over 65536 bytes");
	note_args(&w, rid_text, OPS_MAX_VALUE + 2);
	expect(request_decode_note, &w, &q, SAMEN_EPROTO,
	    "malformed note request");
	note_args(&w, "x", 3);
	expect(request_decode_note, &w, &q, SAMEN_EINVAL, "invalid record id");
	wire_free(&w);
}

static void
test_unlock(void **state)
{
	char *pass = xcalloc(1, 4098);
	union request q;
	struct wbuf w;

	(void)state;
	wire_init(&w);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "secret");
	expect(request_decode_unlock, &w, &q, 0, NULL);
	assert_int_equal(q.unlock.len, 6);
	memset(pass, 'p', 4096);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, pass);
	expect(request_decode_unlock, &w, &q, 0, NULL);
	pass[4096] = 'p';
	wire_put_array(&w, 1);
	wire_put_cstr(&w, pass);
	expect(request_decode_unlock, &w, &q, SAMEN_EPROTO,
	    "malformed unlock request");
	wire_free(&w);
	free(pass);
}

static void
test_peers(void **state)
{
	static const char bad_dev[] = "invalid device id (a typo? 'samen id' "
	    "on that device prints it)";
	static const char bad_addr[] = "address must be tcp://HOST:PORT";
	union request q;
	struct wbuf w;
	char typo[DEVID_TEXTLEN + 1];

	(void)state;
	wire_init(&w);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev_text);
	wire_put_cstr(&w, "tcp://10.0.0.1:7400");
	expect(request_decode_peer_add, &w, &q, 0, NULL);
	assert_memory_equal(q.peer_add.device, dev_key, 32);
	assert_true(q.peer_add.has_addr);
	assert_string_equal(q.peer_add.addr, "tcp://10.0.0.1:7400");
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev_text);
	wire_put_nil(&w);
	expect(request_decode_peer_add, &w, &q, 0, NULL);
	assert_false(q.peer_add.has_addr);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev_text);
	wire_put_cstr(&w, "http://10.0.0.1:80");
	expect(request_decode_peer_add, &w, &q, SAMEN_EINVAL, bad_addr);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev_text);
	wire_put_cstr(&w, "tcp://host");
	expect(request_decode_peer_add, &w, &q, SAMEN_EINVAL, bad_addr);
	memcpy(typo, dev_text, sizeof(typo));
	typo[5] = typo[5] == 'a' ? 'b' : 'a';
	wire_put_array(&w, 2);
	wire_put_cstr(&w, typo);
	wire_put_nil(&w);
	expect(request_decode_peer_add, &w, &q, SAMEN_EINVAL, bad_dev);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, dev_text);
	expect(request_decode_peer_add, &w, &q, SAMEN_EPROTO,
	    "malformed peer request");

	wire_put_array(&w, 1);
	wire_put_cstr(&w, dev_text);
	expect(request_decode_peer_rm, &w, &q, 0, NULL);
	assert_true(q.device.has_device);
	assert_memory_equal(q.device.device, dev_key, 32);
	wire_put_array(&w, 1);
	wire_put_nil(&w);
	expect(request_decode_peer_rm, &w, &q, SAMEN_EINVAL, bad_dev);

	wire_put_array(&w, 1);
	wire_put_nil(&w);
	expect(request_decode_sync, &w, &q, 0, NULL);
	assert_false(q.device.has_device);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, dev_text);
	expect(request_decode_sync, &w, &q, 0, NULL);
	assert_true(q.device.has_device);
	wire_put_array(&w, 0);
	expect(request_decode_sync, &w, &q, SAMEN_EPROTO,
	    "malformed sync request");
	wire_free(&w);
}

static void
test_circles(void **state)
{
	static const char bad_name[] = "invalid circle name: 1-64 of A-Z a-z "
	    "0-9 _ -";
	union request q;
	struct wbuf w;

	(void)state;
	wire_init(&w);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "team-north");
	expect(request_decode_circle_new, &w, &q, 0, NULL);
	assert_string_equal(q.circle.name, "team-north");
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "team north");
	expect(request_decode_circle_new, &w, &q, SAMEN_EINVAL, bad_name);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "team");
	expect(request_decode_circle_use, &w, &q, 0, NULL);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "team");
	wire_put_cstr(&w, dev_text);
	expect(request_decode_circle_use, &w, &q, SAMEN_EPROTO,
	    "malformed circle request");

	wire_put_array(&w, 2);
	wire_put_cstr(&w, "team");
	wire_put_cstr(&w, dev_text);
	expect(request_decode_circle_add, &w, &q, 0, NULL);
	assert_string_equal(q.circle.name, "team");
	assert_memory_equal(q.circle.device, dev_key, 32);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "");
	wire_put_cstr(&w, dev_text);
	expect(request_decode_circle_add, &w, &q, SAMEN_EINVAL, bad_name);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "team");
	wire_put_cstr(&w, "bob");
	expect(request_decode_circle_add, &w, &q, SAMEN_EINVAL, NULL);
	wire_free(&w);
}

/* [name, device, ...] with the first two given. */
static void
name_dev(struct wbuf *w, uint32_t n)
{
	wire_put_array(w, n);
	wire_put_cstr(w, "team");
	wire_put_cstr(w, dev_text);
}

/* circle add's options, role, rm, quarantine, accept; device revoke. */
static void
test_membership(void **state)
{
	static const char bad_role[] = "invalid role: admin, member or relay";
	char reason[REQUEST_MAX_REASON + 2];
	union request q;
	struct wbuf w;

	(void)state;
	wire_init(&w);
	/* add: the role defaults to member, with history. */
	name_dev(&w, 2);
	expect(request_decode_circle_add, &w, &q, 0, NULL);
	assert_int_equal(q.circle.role, ROSTER_MEMBER);
	assert_false(q.circle.no_history);
	name_dev(&w, 4);
	wire_put_cstr(&w, "relay");
	wire_put_bool(&w, 1);
	expect(request_decode_circle_add, &w, &q, 0, NULL);
	assert_int_equal(q.circle.role, ROSTER_RELAY);
	assert_true(q.circle.no_history);
	name_dev(&w, 4);
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	expect(request_decode_circle_add, &w, &q, 0, NULL);
	assert_int_equal(q.circle.role, ROSTER_MEMBER);
	name_dev(&w, 4);
	wire_put_cstr(&w, "owner");
	wire_put_bool(&w, 0);
	expect(request_decode_circle_add, &w, &q, SAMEN_EINVAL, bad_role);
	name_dev(&w, 4);
	wire_put_cstr(&w, "admin");
	wire_put_u64(&w, 1);
	expect(request_decode_circle_add, &w, &q, SAMEN_EPROTO,
	    "malformed circle request");
	name_dev(&w, 3);
	wire_put_cstr(&w, "admin");
	expect(request_decode_circle_add, &w, &q, SAMEN_EPROTO,
	    "malformed circle request");

	name_dev(&w, 3);
	wire_put_cstr(&w, "admin");
	expect(request_decode_circle_role, &w, &q, 0, NULL);
	assert_int_equal(q.circle.role, ROSTER_ADMIN);
	assert_memory_equal(q.circle.device, dev_key, 32);
	name_dev(&w, 3);
	wire_put_nil(&w);
	expect(request_decode_circle_role, &w, &q, SAMEN_EINVAL, bad_role);
	name_dev(&w, 2);
	expect(request_decode_circle_role, &w, &q, SAMEN_EPROTO,
	    "malformed circle request");

	name_dev(&w, 2);
	expect(request_decode_circle_rm, &w, &q, 0, NULL);
	assert_memory_equal(q.circle.device, dev_key, 32);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "team");
	expect(request_decode_circle_rm, &w, &q, SAMEN_EPROTO,
	    "malformed circle request");
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "team");
	expect(request_decode_circle_quarantine, &w, &q, 0, NULL);
	assert_string_equal(q.circle.name, "team");

	name_dev(&w, 3);
	wire_put_nil(&w);
	expect(request_decode_circle_accept, &w, &q, 0, NULL);
	assert_false(q.circle.has_seq);
	name_dev(&w, 3);
	wire_put_u64(&w, 12);
	expect(request_decode_circle_accept, &w, &q, 0, NULL);
	assert_true(q.circle.has_seq);
	assert_int_equal(q.circle.seq, 12);
	name_dev(&w, 3);
	wire_put_u64(&w, 0);
	expect(request_decode_circle_accept, &w, &q, SAMEN_EINVAL,
	    "invalid seq: a number from 1 up");
	name_dev(&w, 3);
	wire_put_u64(&w, (uint64_t)INT64_MAX + 1);
	expect(request_decode_circle_accept, &w, &q, SAMEN_EINVAL,
	    "invalid seq: a number from 1 up");

	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev_text);
	wire_put_nil(&w);
	expect(request_decode_device_revoke, &w, &q, 0, NULL);
	assert_memory_equal(q.revoke.device, dev_key, 32);
	assert_null(q.revoke.reason);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev_text);
	wire_put_cstr(&w, "lost on the bus");
	expect(request_decode_device_revoke, &w, &q, 0, NULL);
	assert_int_equal(q.revoke.reason_len, 15);
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev_text);
	wire_put_cstr(&w, reason);
	expect(request_decode_device_revoke, &w, &q, SAMEN_EINVAL,
	    "invalid reason: at most 1024 bytes of UTF-8");
	wire_put_array(&w, 1);
	wire_put_cstr(&w, dev_text);
	expect(request_decode_device_revoke, &w, &q, SAMEN_EPROTO,
	    "malformed revoke request");
	wire_free(&w);
}

static void
handover_args(struct wbuf *w, const char *from, const char *to,
    const char *circle)
{
	wire_put_array(w, 3);
	wire_put_cstr(w, from);
	wire_put_cstr(w, to);
	if (circle != NULL)
		wire_put_cstr(w, circle);
	else
		wire_put_nil(w);
}

static void
test_handover(void **state)
{
	uint8_t other_key[32], sk[64];
	char other[DEVID_TEXTLEN + 1], upper[DEVID_TEXTLEN + 1];
	union request q;
	struct wbuf w;

	(void)state;
	crypto_sign_keypair(other_key, sk);
	devid_encode(other, other_key);
	wire_init(&w);
	handover_args(&w, dev_text, other, NULL);
	expect(request_decode_handover, &w, &q, 0, NULL);
	assert_memory_equal(q.handover.from, dev_key, 32);
	assert_memory_equal(q.handover.to, other_key, 32);
	assert_string_equal(q.handover.circle, "");
	handover_args(&w, dev_text, other, "team");
	expect(request_decode_handover, &w, &q, 0, NULL);
	assert_string_equal(q.handover.circle, "team");
	/* One device twice, in either case: refused. */
	for (size_t i = 0; i < DEVID_TEXTLEN; i++)
		upper[i] = (char)(dev_text[i] >= 'a' && dev_text[i] <= 'z' ?
		    dev_text[i] - 'a' + 'A' : dev_text[i]);
	upper[DEVID_TEXTLEN] = '\0';
	handover_args(&w, dev_text, upper, NULL);
	expect(request_decode_handover, &w, &q, SAMEN_EINVAL,
	    "a handover needs two different devices");
	handover_args(&w, dev_text, "bob", NULL);
	expect(request_decode_handover, &w, &q, SAMEN_EINVAL, NULL);
	handover_args(&w, "", other, NULL);
	expect(request_decode_handover, &w, &q, SAMEN_EINVAL, NULL);
	handover_args(&w, dev_text, other, "no such");
	expect(request_decode_handover, &w, &q, SAMEN_EINVAL,
	    "invalid circle name: 1-64 of A-Z a-z 0-9 _ -");
	/* Shapes. */
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev_text);
	wire_put_cstr(&w, other);
	expect(request_decode_handover, &w, &q, SAMEN_EPROTO,
	    "malformed handover request");
	handover_args(&w, dev_text, other, NULL);
	wire_put_nil(&w);	/* trailing */
	expect(request_decode_handover, &w, &q, SAMEN_EPROTO,
	    "malformed handover request");
	wire_put_array(&w, 3);
	wire_put_cstr(&w, dev_text);
	wire_put_cstr(&w, other);
	wire_put_u64(&w, 7);
	expect(request_decode_handover, &w, &q, SAMEN_EINVAL, NULL);
	wire_free(&w);
}

/* [collection | nil, circle | nil, subject | nil, after | nil, limit,
 * history] */
static void
put_export(struct wbuf *w, const char *coll, const char *circle,
    const char *subject, const char *after, uint64_t limit, int history)
{
	wire_put_array(w, 6);
	if (coll != NULL)
		wire_put_cstr(w, coll);
	else
		wire_put_nil(w);
	if (circle != NULL)
		wire_put_cstr(w, circle);
	else
		wire_put_nil(w);
	if (subject != NULL)
		wire_put_cstr(w, subject);
	else
		wire_put_nil(w);
	if (after != NULL)
		wire_put_cstr(w, after);
	else
		wire_put_nil(w);
	wire_put_u64(w, limit);
	wire_put_bool(w, history);
}

static void
test_export(void **state)
{
	union request q;
	struct wbuf w;
	uint8_t rid[RID_LEN];
	char cursor[CTL_EXPORT_CURSOR];
	int64_t rkey;

	(void)state;
	wire_init(&w);
	put_export(&w, NULL, NULL, NULL, NULL, 1000, 0);
	expect(request_decode_export, &w, &q, 0, NULL);
	assert_string_equal(q.export.collection, "");
	assert_string_equal(q.export.circle, "");
	assert_false(q.export.has_subject);
	assert_false(q.export.has_after);
	assert_int_equal(q.export.limit, 1000);
	assert_false(q.export.history);

	/* The cursor goes back as it came. */
	assert_int_equal(rid_decode(rid, rid_text, RID_TEXTLEN), 0);
	request_cursor_format(cursor, rid, 1234567);
	assert_string_equal(cursor, "01JD5ZQ8X2M4N6P8R0T2V4W6Y8.1234567");
	put_export(&w, "case", "team", NULL, cursor, 5, 1);
	expect(request_decode_export, &w, &q, 0, NULL);
	assert_string_equal(q.export.collection, "case");
	assert_string_equal(q.export.circle, "team");
	assert_true(q.export.has_after);
	assert_memory_equal(q.export.after_rid, rid, RID_LEN);
	assert_int_equal(q.export.after_rkey, 1234567);
	assert_true(q.export.history);
	assert_int_equal(request_cursor_parse("01JD5ZQ8X2M4N6P8R0T2V4W6Y8.",
	    27, rid, &rkey), -1);
	assert_int_equal(request_cursor_parse("01JD5ZQ8X2M4N6P8R0T2V4W6Y8."
	    "99999999999999999999", 47, rid, &rkey), -1);
	assert_int_equal(request_cursor_parse("01JD5ZQ8X2M4N6P8R0T2V4W6Y8."
	    "9223372036854775808", 46, rid, &rkey), -1);
	assert_int_equal(request_cursor_parse("01JD5ZQ8X2M4N6P8R0T2V4W6Y8."
	    "9223372036854775807", 46, rid, &rkey), 0);
	assert_true(rkey == INT64_MAX);

	put_export(&w, NULL, NULL, rid_text, NULL, 10, 0);
	expect(request_decode_export, &w, &q, 0, NULL);
	assert_true(q.export.has_subject);
	assert_memory_equal(q.export.subject, rid, RID_LEN);

	/* Refusals. */
	put_export(&w, "Case", NULL, NULL, NULL, 10, 0);
	expect(request_decode_export, &w, &q, SAMEN_EINVAL,
	    "invalid collection name 'Case'");
	put_export(&w, NULL, "bad name", NULL, NULL, 10, 0);
	expect(request_decode_export, &w, &q, SAMEN_EINVAL, NULL);
	put_export(&w, "case", NULL, rid_text, NULL, 10, 0);
	expect(request_decode_export, &w, &q, SAMEN_EINVAL, "an export of a "
	    "subject takes no collection and no circle");
	put_export(&w, NULL, NULL, "nope", NULL, 10, 0);
	expect(request_decode_export, &w, &q, SAMEN_EINVAL,
	    "invalid record id");
	put_export(&w, NULL, NULL, NULL, "01JD5ZQ8X2M4N6P8R0T2V4W6Y8", 10, 0);
	expect(request_decode_export, &w, &q, SAMEN_EINVAL,
	    "invalid export cursor");
	put_export(&w, NULL, NULL, NULL, NULL, 0, 0);
	expect(request_decode_export, &w, &q, SAMEN_EINVAL, NULL);
	put_export(&w, NULL, NULL, NULL, NULL, CTL_EXPORT_MAX_LIMIT + 1, 0);
	expect(request_decode_export, &w, &q, SAMEN_EINVAL, NULL);
	put_export(&w, NULL, NULL, NULL, NULL, CTL_EXPORT_MAX_LIMIT, 0);
	expect(request_decode_export, &w, &q, 0, NULL);
	wire_put_array(&w, 5);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_u64(&w, 1);
	expect(request_decode_export, &w, &q, SAMEN_EPROTO, NULL);
	wire_free(&w);
}

static void
put_assign3(struct wbuf *w, unsigned how, const char *field,
    const char *value)
{
	wire_put_array(w, 3);
	wire_put_u64(w, how);
	wire_put_cstr(w, field);
	wire_put_cstr(w, value);
}

static void
test_import(void **state)
{
	struct request_assign as[CTL_MAX_ASSIGNS];
	union request q;
	struct wire_reader r;
	struct wbuf w;
	char *why = NULL;
	uint32_t n;

	(void)state;
	wire_init(&w);
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	wire_put_array(&w, 2);
	wire_put_array(&w, 2);
	put_assign3(&w, CTL_ASSIGN_SET, "name", "Jansen");
	put_assign3(&w, CTL_ASSIGN_ADD, "tags", "a;b");
	wire_put_array(&w, 1);
	put_assign3(&w, CTL_ASSIGN_SET, "name", "");
	wire_reader_init(&r, wire_data(&w), wire_len(&w));
	assert_int_equal(request_decode_import(&r, &q, &why), 0);
	assert_null(why);
	assert_int_equal(wire_remaining(&r), 0);
	assert_string_equal(q.import.collection, "case");
	assert_string_equal(q.import.circle, "");
	assert_false(q.import.dry_run);
	assert_int_equal(q.import.nrows, 2);
	/* The rows read again, as the act reads them. */
	r = q.import.rows;
	assert_int_equal(request_import_row(&r, as, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(as[1].how, CTL_ASSIGN_ADD);
	assert_int_equal(as[1].value_len, 3);
	assert_memory_equal(as[1].value, "a;b", 3);
	assert_int_equal(request_import_row(&r, as, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(as[0].value_len, 0);
	wire_reset(&w);

	/* A row that removes, an empty row, a field set twice, no rows. */
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_cstr(&w, "team");
	wire_put_bool(&w, 1);
	wire_put_array(&w, 2);
	wire_put_array(&w, 1);
	put_assign3(&w, CTL_ASSIGN_SET, "name", "x");
	wire_put_array(&w, 1);
	put_assign3(&w, CTL_ASSIGN_REM, "tags", "x");
	expect(request_decode_import, &w, &q, SAMEN_EINVAL, "row 2: an "
	    "import row only sets fields and adds elements");
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	wire_put_array(&w, 1);
	wire_put_array(&w, 0);
	expect(request_decode_import, &w, &q, SAMEN_EINVAL, "row 1: an "
	    "import row is empty");
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	wire_put_array(&w, 1);
	wire_put_array(&w, 2);
	put_assign3(&w, CTL_ASSIGN_SET, "name", "x");
	put_assign3(&w, CTL_ASSIGN_SET, "name", "y");
	expect(request_decode_import, &w, &q, SAMEN_EINVAL, "row 1: field "
	    "'name' is assigned twice");
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	wire_put_array(&w, 0);
	expect(request_decode_import, &w, &q, SAMEN_EINVAL,
	    "nothing to import");
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	wire_put_array(&w, 1);
	wire_put_array(&w, 1);
	put_assign3(&w, CTL_ASSIGN_SET, "bad name", "x");
	expect(request_decode_import, &w, &q, SAMEN_EINVAL, "row 1: invalid "
	    "field name 'bad name'");
	/* Trailing bytes after the rows. */
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	wire_put_array(&w, 1);
	wire_put_array(&w, 1);
	put_assign3(&w, CTL_ASSIGN_SET, "name", "x");
	wire_put_nil(&w);
	expect(request_decode_import, &w, &q, SAMEN_EPROTO, NULL);
	wire_free(&w);
}

static void
purge_args(struct wbuf *w, const char *coll, const char *rid, int cascade,
    const char *reason)
{
	wire_put_array(w, 4);
	wire_put_cstr(w, coll);
	wire_put_cstr(w, rid);
	wire_put_bool(w, cascade);
	wire_put_cstr(w, reason);
}

static void
test_erasure(void **state)
{
	char long_reason[REQUEST_MAX_REASON + 2];
	union request q;
	struct wbuf w;

	(void)state;
	wire_init(&w);
	purge_args(&w, "case", rid_text, 1, "AVG request");
	expect(request_decode_purge, &w, &q, 0, NULL);
	assert_string_equal(q.purge.collection, "case");
	assert_int_equal(q.purge.cascade, 1);
	assert_int_equal(q.purge.reason_len, 11);
	assert_memory_equal(q.purge.reason, "AVG request", 11);
	purge_args(&w, "case", rid_text, 0, "x");
	expect(request_decode_purge, &w, &q, 0, NULL);
	assert_int_equal(q.purge.cascade, 0);
	/* No reason, a reason too long, a bad record: refused. */
	purge_args(&w, "case", rid_text, 0, "");
	expect(request_decode_purge, &w, &q, SAMEN_EINVAL, "a purge needs a "
	    "reason (--reason TEXT): who asked, and why");
	memset(long_reason, 'x', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	purge_args(&w, "case", rid_text, 0, long_reason);
	expect(request_decode_purge, &w, &q, SAMEN_EINVAL, NULL);
	purge_args(&w, "Case", rid_text, 0, "x");
	expect(request_decode_purge, &w, &q, SAMEN_EINVAL, NULL);
	purge_args(&w, "case", "nope", 0, "x");
	expect(request_decode_purge, &w, &q, SAMEN_EINVAL, "invalid record id");
	/* Shapes. */
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "case");
	wire_put_cstr(&w, rid_text);
	wire_put_bool(&w, 0);
	expect(request_decode_purge, &w, &q, SAMEN_EPROTO,
	    "malformed purge request");
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_cstr(&w, rid_text);
	wire_put_u64(&w, 1);
	wire_put_cstr(&w, "x");
	expect(request_decode_purge, &w, &q, SAMEN_EPROTO,
	    "malformed purge request");
	purge_args(&w, "case", rid_text, 0, "x");
	wire_put_nil(&w);	/* trailing */
	expect(request_decode_purge, &w, &q, SAMEN_EPROTO,
	    "malformed purge request");

	/* Retention: set, none, due; and what is refused. */
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "team");
	wire_put_cstr(&w, "note");
	wire_put_u64(&w, 2555);
	expect(request_decode_circle_retention, &w, &q, 0, NULL);
	assert_string_equal(q.retention.name, "team");
	assert_string_equal(q.retention.collection, "note");
	assert_int_equal(q.retention.days, 2555);
	assert_int_equal(q.retention.due, 0);
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "team");
	wire_put_cstr(&w, "note");
	wire_put_u64(&w, 0);
	expect(request_decode_circle_retention, &w, &q, 0, NULL);
	assert_int_equal(q.retention.days, 0);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "team");
	expect(request_decode_circle_retention, &w, &q, 0, NULL);
	assert_int_equal(q.retention.due, 1);
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "team");
	wire_put_cstr(&w, "note");
	wire_put_u64(&w, REQUEST_MAX_KEEP_DAYS + 1);
	expect(request_decode_circle_retention, &w, &q, SAMEN_EINVAL,
	    "invalid retention: 0 (none) to 36500 days");
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "team");
	wire_put_cstr(&w, "Note");
	wire_put_u64(&w, 1);
	expect(request_decode_circle_retention, &w, &q, SAMEN_EINVAL, NULL);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "team");
	wire_put_cstr(&w, "note");
	expect(request_decode_circle_retention, &w, &q, SAMEN_EPROTO,
	    "malformed retention request");
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "no such");
	expect(request_decode_circle_retention, &w, &q, SAMEN_EINVAL,
	    "invalid circle name: 1-64 of A-Z a-z 0-9 _ -");
	wire_free(&w);
}

static void
audit_args(struct wbuf *w, const char *coll, const char *rid,
    const char *dev, int64_t since)
{
	wire_put_array(w, 4);
	if (coll != NULL)
		wire_put_cstr(w, coll);
	else
		wire_put_nil(w);
	if (rid != NULL)
		wire_put_cstr(w, rid);
	else
		wire_put_nil(w);
	if (dev != NULL)
		wire_put_cstr(w, dev);
	else
		wire_put_nil(w);
	if (since >= 0)
		wire_put_u64(w, (uint64_t)since);
	else
		wire_put_nil(w);
}

static void
test_audit(void **state)
{
	char rid[RID_TEXTLEN + 1];
	uint8_t raw[RID_LEN];
	union request q;
	struct wbuf w;

	(void)state;
	memset(raw, 0x42, sizeof(raw));
	rid_encode(rid, raw);
	wire_init(&w);
	/* Everything: no record, no device, no time. */
	audit_args(&w, NULL, NULL, NULL, -1);
	expect(request_decode_audit, &w, &q, 0, NULL);
	assert_false(q.audit.has_record);
	assert_false(q.audit.has_device);
	assert_true(q.audit.since_ms == 0);
	audit_args(&w, "case", rid, dev_text, 1764547200000);
	expect(request_decode_audit, &w, &q, 0, NULL);
	assert_true(q.audit.has_record);
	assert_string_equal(q.audit.collection, "case");
	assert_memory_equal(q.audit.rid, raw, RID_LEN);
	assert_true(q.audit.has_device);
	assert_memory_equal(q.audit.device, dev_key, 32);
	assert_true(q.audit.since_ms == 1764547200000);
	/* A record is a collection and an id, both. */
	audit_args(&w, "case", NULL, NULL, -1);
	expect(request_decode_audit, &w, &q, SAMEN_EINVAL,
	    "invalid record id");
	audit_args(&w, NULL, rid, NULL, -1);
	expect(request_decode_audit, &w, &q, SAMEN_EINVAL,
	    "an audit names a record by its collection and its id, or none");
	audit_args(&w, "Case!", rid, NULL, -1);
	expect(request_decode_audit, &w, &q, SAMEN_EINVAL,
	    "invalid collection name 'Case!'");
	audit_args(&w, NULL, NULL, "bob", -1);
	expect(request_decode_audit, &w, &q, SAMEN_EINVAL, NULL);
	/* A time an hlc cannot hold. */
	audit_args(&w, NULL, NULL, NULL, (int64_t)1 << 48);
	expect(request_decode_audit, &w, &q, SAMEN_EINVAL,
	    "--since is out of range");
	audit_args(&w, NULL, NULL, NULL, ((int64_t)1 << 48) - 1);
	expect(request_decode_audit, &w, &q, 0, NULL);
	/* Shapes. */
	wire_put_array(&w, 3);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_nil(&w);
	expect(request_decode_audit, &w, &q, SAMEN_EPROTO,
	    "malformed audit request");
	audit_args(&w, NULL, NULL, NULL, -1);
	wire_put_nil(&w);
	expect(request_decode_audit, &w, &q, SAMEN_EPROTO,
	    "malformed audit request");
	wire_free(&w);
}

static void
test_decoder(void **state)
{
	(void)state;
	assert_null(request_decoder(0));
	for (uint32_t t = CTL_STATUS; t <= CTL_CIRCLE_USE; t++)
		assert_non_null(request_decoder(t));
	for (uint32_t t = CTL_CIRCLE_ROLE; t <= CTL_DEVICE_REVOKE; t++)
		assert_non_null(request_decoder(t));
	assert_ptr_equal(request_decoder(CTL_PUT), request_decode_put);
	assert_ptr_equal(request_decoder(CTL_METRICS), request_decode_metrics);
	assert_ptr_equal(request_decoder(CTL_EXPORT), request_decode_export);
	assert_ptr_equal(request_decoder(CTL_IMPORT), request_decode_import);
	assert_ptr_equal(request_decoder(CTL_AUDIT), request_decode_audit);
	assert_ptr_equal(request_decoder(CTL_DEVICE_REVOKE),
	    request_decode_device_revoke);
	assert_null(request_decoder(CTL_IMPORT + 1));
	assert_ptr_equal(request_decoder(CTL_LOCK), request_decode_lock);
	assert_ptr_equal(request_decoder(CTL_HANDOVER),
	    request_decode_handover);
	assert_ptr_equal(request_decoder(CTL_PURGE), request_decode_purge);
	assert_ptr_equal(request_decoder(CTL_CIRCLE_RETENTION),
	    request_decode_circle_retention);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_no_args),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_put),
		cmocka_unit_test(test_ls_find),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_unlock),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_circles),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_import),
		cmocka_unit_test(test_membership),
		cmocka_unit_test(test_handover),
		cmocka_unit_test(test_erasure),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_decoder),
	};
	uint8_t sk[64];

	if (sodium_init() < 0)
		return 1;
	crypto_sign_keypair(dev_key, sk);
	devid_encode(dev_text, dev_key);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
