/* test_zmtp: the CLI's ZMTP 3.0 codec: greeting, READY, ERROR, PING, frames. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

#include "../../cli/zmtp.c"

/* Helpers. */

/* A greeting as libzmq 4.3 sends it: its padding holds a ZMTP 1.0 identity
 * length (1), the version is 3.1. */
static void
libzmq_greeting(uint8_t g[ZMTP_GREETING_SIZE])
{
	memset(g, 0, ZMTP_GREETING_SIZE);
	g[0] = 0xff;
	g[8] = 0x01;
	g[9] = 0x7f;
	g[10] = 3;
	g[11] = 1;
	memcpy(g + 12, "NULL", 4);
}

/* Checks g in every prefix; returns the result of the whole greeting, and
 * fails if any prefix is rejected before *reject_at (or accepted as whole). */
static int
check_prefixes(const uint8_t *g, size_t reject_at)
{
	const char *why = NULL;
	size_t n;
	int rc;

	for (n = 0; n < ZMTP_GREETING_SIZE; n++) {
		why = NULL;
		rc = zmtp_greeting_check(g, n, &why);
		if (n < reject_at)
			assert_int_equal(rc, 0);
		else {
			assert_int_equal(rc, -EPROTO);
			assert_non_null(why);
		}
	}
	why = NULL;
	rc = zmtp_greeting_check(g, ZMTP_GREETING_SIZE, &why);
	if (rc < 0)
		assert_non_null(why);
	return rc;
}

/* Appends a property to p; returns the byte after. */
static uint8_t *
prop(uint8_t *p, const char *name, const void *value, uint32_t vlen)
{
	size_t n = strlen(name);

	*p++ = (uint8_t)n;
	memcpy(p, name, n);
	p += n;
	*p++ = (uint8_t)(vlen >> 24);
	*p++ = (uint8_t)(vlen >> 16);
	*p++ = (uint8_t)(vlen >> 8);
	*p++ = (uint8_t)vlen;
	memcpy(p, value, vlen);
	return p + vlen;
}

/* Greeting. */

static void
test_greeting_bytes(void **state)
{
	uint8_t g[ZMTP_GREETING_SIZE], want[ZMTP_GREETING_SIZE];

	(void)state;
	memset(g, 0xaa, sizeof(g));
	zmtp_greeting(g);
	memset(want, 0, sizeof(want));
	want[0] = 0xff;
	want[9] = 0x7f;
	want[10] = 3;		/* ZMTP 3.0 */
	want[11] = 0;
	memcpy(want + 12, "NULL", 4);	/* then 16 zero bytes */
	/* as-server (byte 32) and the 31 bytes of filler: zero. */
	assert_memory_equal(g, want, sizeof(want));
	/* Our own greeting passes our own check. */
	assert_int_equal(check_prefixes(g, SIZE_MAX), 1);
}

static void
test_greeting_accept(void **state)
{
	uint8_t g[ZMTP_GREETING_SIZE];

	(void)state;
	libzmq_greeting(g);
	assert_int_equal(check_prefixes(g, SIZE_MAX), 1);
	/* Higher versions are accepted (spec 23), so is as-server 1 (NULL has
	 * no roles) and filler we do not read. */
	g[10] = 4;
	g[11] = 7;
	g[32] = 1;
	g[63] = 0x55;
	assert_int_equal(check_prefixes(g, SIZE_MAX), 1);
	/* Bytes past the greeting (the peer's READY) are not looked at. */
	{
		uint8_t more[ZMTP_GREETING_SIZE + 4];
		const char *why = NULL;

		libzmq_greeting(more);
		memset(more + ZMTP_GREETING_SIZE, 0xff, 4);
		assert_int_equal(zmtp_greeting_check(more, sizeof(more),
		    &why), 1);
	}
}

static void
test_greeting_reject(void **state)
{
	uint8_t g[ZMTP_GREETING_SIZE];
	const char *why = NULL;

	(void)state;
	/* Not ZeroMQ: told from the first byte. */
	libzmq_greeting(g);
	g[0] = 'G';
	assert_int_equal(check_prefixes(g, 1), -EPROTO);
	/* ZMTP 1.0 (no 0x7F at byte 9): from the tenth byte. */
	libzmq_greeting(g);
	g[9] = 0x00;
	assert_int_equal(check_prefixes(g, 10), -EPROTO);
	/* ZMTP 2.0 (version 1) and a claimed version 2: from byte 11. */
	libzmq_greeting(g);
	g[10] = 1;
	assert_int_equal(check_prefixes(g, 11), -EPROTO);
	libzmq_greeting(g);
	g[10] = 2;
	g[11] = 9;
	assert_int_equal(check_prefixes(g, 11), -EPROTO);
	zmtp_greeting_check(g, 11, &why);
	assert_non_null(strstr(why, "3.0"));
	/* Another mechanism: from its first differing byte. */
	libzmq_greeting(g);
	memcpy(g + 12, "CURVE", 5);
	assert_int_equal(check_prefixes(g, 13), -EPROTO);
	zmtp_greeting_check(g, ZMTP_GREETING_SIZE, &why);
	assert_non_null(strstr(why, "NULL"));
	libzmq_greeting(g);
	memcpy(g + 12, "PLAIN", 5);
	assert_int_equal(check_prefixes(g, 13), -EPROTO);
	/* "NULL" must be zero-padded: "NULLX" and "NUL" are not NULL. */
	libzmq_greeting(g);
	g[16] = 'X';
	assert_int_equal(check_prefixes(g, 17), -EPROTO);
	libzmq_greeting(g);
	g[15] = 0;
	assert_int_equal(check_prefixes(g, 16), -EPROTO);
	libzmq_greeting(g);
	g[31] = ' ';
	assert_int_equal(check_prefixes(g, 32), -EPROTO);
}

/* Frame headers and READY. */

static void
test_header(void **state)
{
	uint8_t h[ZMTP_HEADER_MAX];
	const uint8_t long256[] = { 0x03, 0, 0, 0, 0, 0, 0, 1, 0 };
	const uint8_t longbig[] = { 0x06, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	    0x07, 0x08 };

	(void)state;
	assert_int_equal(zmtp_header(h, 0, 0), 2);
	assert_int_equal(h[0], 0x00);
	assert_int_equal(h[1], 0);
	assert_int_equal(zmtp_header(h, ZMTP_MORE, 0), 2);
	assert_int_equal(h[0], 0x01);
	assert_int_equal(zmtp_header(h, 0, 255), 2);
	assert_int_equal(h[0], 0x00);
	assert_int_equal(h[1], 255);
	/* 256 is the first long size: LONG set, 8 bytes big-endian. */
	assert_int_equal(zmtp_header(h, ZMTP_MORE, 256), 9);
	assert_memory_equal(h, long256, 9);
	assert_int_equal(zmtp_header(h, ZMTP_COMMAND, 0x0102030405060708ull),
	    9);
	assert_memory_equal(h, longbig, 9);
}

static void
test_ready_encode(void **state)
{
	uint8_t out[ZMTP_READY_MAX], want[64], *p = want;
	struct zmtp_command cmd;
	struct zmtp_frame f;
	const uint8_t *v;
	const char *why = NULL;
	size_t n, need, vlen;

	(void)state;
	n = zmtp_ready(out, "REQ");
	/* 0x04 size "\5READY" "\13Socket-Type" 00 00 00 03 "REQ" */
	*p++ = 0x04;
	*p++ = 6 + 1 + 11 + 4 + 3;
	*p++ = 5;
	memcpy(p, "READY", 5);
	p += 5;
	p = prop(p, "Socket-Type", "REQ", 3);
	assert_int_equal(n, (size_t)(p - want));
	assert_memory_equal(out, want, n);

	/* It reads back with the decoders. */
	assert_int_equal(zmtp_frame_decode(out, n, 0, &f, &need, &why), 1);
	assert_int_equal(f.flags, ZMTP_COMMAND);
	assert_int_equal(f.size, n);
	assert_int_equal(zmtp_command_parse(f.body, f.len, &cmd, &why), 0);
	assert_true(zmtp_command_is(&cmd, "READY"));
	assert_false(zmtp_command_is(&cmd, "READ"));
	assert_false(zmtp_command_is(&cmd, "ERROR"));
	assert_int_equal(zmtp_property(cmd.data, cmd.datalen, "Socket-Type",
	    &v, &vlen, &why), 1);
	assert_int_equal(vlen, 3);
	assert_memory_equal(v, "REQ", 3);

	/* The longest socket type fits. */
	n = zmtp_ready(out, "0123456789abcdef");
	assert_true(n <= ZMTP_READY_MAX);
	assert_int_equal(out[1], n - 2);
}

/* Frames. */

static void
test_frame_short(void **state)
{
	const uint8_t buf[] = { 0x01, 0x00, 0x00, 0x03, 'a', 'b', 'c', 0x99 };
	struct zmtp_frame f;
	const char *why = NULL;
	size_t need = 0;

	(void)state;
	/* The empty delimiter with MORE. */
	assert_int_equal(zmtp_frame_decode(buf, sizeof(buf), 100, &f, &need,
	    &why), 1);
	assert_int_equal(f.flags, ZMTP_MORE);
	assert_int_equal(f.len, 0);
	assert_int_equal(f.size, 2);
	/* Then the body, last frame; the byte after it is not read. */
	assert_int_equal(zmtp_frame_decode(buf + 2, sizeof(buf) - 2, 100, &f,
	    &need, &why), 1);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.len, 3);
	assert_ptr_equal(f.body, buf + 4);
	assert_memory_equal(f.body, "abc", 3);
	assert_int_equal(f.size, 5);
	/* A body of exactly max is taken. */
	assert_int_equal(zmtp_frame_decode(buf + 2, 5, 3, &f, &need, &why), 1);
}

static void
test_frame_long(void **state)
{
	uint8_t buf[9 + 300];
	struct zmtp_frame f;
	const char *why = NULL;
	size_t need = 0, n;

	(void)state;
	n = zmtp_header(buf, ZMTP_MORE, 300);
	assert_int_equal(n, 9);
	memset(buf + 9, 'x', 300);
	assert_int_equal(zmtp_frame_decode(buf, sizeof(buf), 300, &f, &need,
	    &why), 1);
	assert_int_equal(f.flags, ZMTP_MORE);
	assert_int_equal(f.len, 300);
	assert_int_equal(f.size, sizeof(buf));
	assert_ptr_equal(f.body, buf + 9);
	/* A long size under 256 is wasteful but valid (libzmq takes it). */
	memset(buf, 0, 9);
	buf[0] = ZMTP_LONG;
	buf[8] = 2;
	assert_int_equal(zmtp_frame_decode(buf, 11, 10, &f, &need, &why), 1);
	assert_int_equal(f.len, 2);
	assert_int_equal(f.flags, 0);	/* LONG is not reported */
	assert_int_equal(f.size, 11);
}

static void
test_frame_truncated(void **state)
{
	uint8_t buf[9 + 300];
	const uint8_t shortf[] = { 0x00, 0x04, 'a', 'b', 'c', 'd' };
	struct zmtp_frame f;
	const char *why = NULL;
	size_t need, n;

	(void)state;
	/* Every prefix of a short frame asks for the next piece. */
	for (n = 0; n < sizeof(shortf); n++) {
		need = 0;
		assert_int_equal(zmtp_frame_decode(shortf, n, 100, &f, &need,
		    &why), 0);
		assert_int_equal(need, n == 0 ? 1 : n < 2 ? 2 : 6);
		assert_true(need > n);
	}
	/* Every prefix of a long one: 1, then the 9-byte header, then all. */
	zmtp_header(buf, 0, 300);
	memset(buf + 9, 'y', 300);
	for (n = 0; n < sizeof(buf); n++) {
		need = 0;
		assert_int_equal(zmtp_frame_decode(buf, n, 300, &f, &need,
		    &why), 0);
		assert_int_equal(need, n == 0 ? 1 : n < 9 ? 9 : sizeof(buf));
	}
	assert_int_equal(zmtp_frame_decode(buf, sizeof(buf), 300, &f, &need,
	    &why), 1);
}

static void
test_frame_oversized(void **state)
{
	uint8_t buf[ZMTP_HEADER_MAX];
	struct zmtp_frame f;
	const char *why;
	size_t need;

	(void)state;
	/* One byte over the cap: refused from the header alone, before any
	 * body byte, so that nobody reads or allocates it. */
	zmtp_header(buf, 0, 1001);
	why = NULL;
	assert_int_equal(zmtp_frame_decode(buf, 9, 1000, &f, &need, &why),
	    -EMSGSIZE);
	assert_non_null(why);
	assert_int_equal(zmtp_frame_decode(buf, 9, 1001, &f, &need, &why), 0);
	assert_int_equal(need, 9 + 1001);
	/* Short frames too. */
	zmtp_header(buf, ZMTP_MORE, 5);
	assert_int_equal(zmtp_frame_decode(buf, 2, 4, &f, &need, &why),
	    -EMSGSIZE);
	assert_int_equal(zmtp_frame_decode(buf, 2, 0, &f, &need, &why),
	    -EMSGSIZE);
	/* The largest sizes do not wrap anything, whatever max says. */
	memset(buf, 0xff, sizeof(buf));
	buf[0] = ZMTP_LONG;
	assert_int_equal(zmtp_frame_decode(buf, 9, SIZE_MAX, &f, &need, &why),
	    -EMSGSIZE);
	assert_int_equal(zmtp_frame_decode(buf, 9, 64u << 20, &f, &need, &why),
	    -EMSGSIZE);
	zmtp_header(buf, 0, SIZE_MAX - ZMTP_HEADER_MAX);
	assert_int_equal(zmtp_frame_decode(buf, 9, SIZE_MAX, &f, &need, &why),
	    0);
	assert_int_equal(need, SIZE_MAX);
	zmtp_header(buf, 0, SIZE_MAX - ZMTP_HEADER_MAX + 1);
	assert_int_equal(zmtp_frame_decode(buf, 9, SIZE_MAX, &f, &need, &why),
	    -EMSGSIZE);
	memset(buf, 0xff, sizeof(buf));
	buf[0] = ZMTP_LONG;
	buf[1] = 0x80;
	assert_int_equal(zmtp_frame_decode(buf, 9, 64u << 20, &f, &need, &why),
	    -EMSGSIZE);
	/* Commands have their own cap, whatever max says. */
	zmtp_header(buf, ZMTP_COMMAND, ZMTP_COMMAND_MAX + 1);
	assert_int_equal(zmtp_frame_decode(buf, 9, 64u << 20, &f, &need, &why),
	    -EMSGSIZE);
	zmtp_header(buf, ZMTP_COMMAND, ZMTP_COMMAND_MAX);
	assert_int_equal(zmtp_frame_decode(buf, 9, 0, &f, &need, &why), 0);
	assert_int_equal(need, 9 + ZMTP_COMMAND_MAX);
}

static void
test_frame_flags(void **state)
{
	uint8_t buf[4] = { 0, 2, 'h', 'i' };
	struct zmtp_frame f;
	const char *why;
	size_t need;
	unsigned fl;

	(void)state;
	for (fl = 0; fl < 256; fl++) {
		buf[0] = (uint8_t)fl;
		why = NULL;
		if (fl & 0xf8) {
			assert_int_equal(zmtp_frame_decode(buf, sizeof(buf), 10,
			    &f, &need, &why), -EPROTO);
			assert_non_null(why);
		} else if ((fl & ZMTP_COMMAND) && (fl & ZMTP_MORE)) {
			/* Commands are single frames. */
			assert_int_equal(zmtp_frame_decode(buf, sizeof(buf), 10,
			    &f, &need, &why), -EPROTO);
			assert_non_null(why);
		} else if (fl & ZMTP_LONG) {
			/* Two bytes of a 9-byte header. */
			assert_int_equal(zmtp_frame_decode(buf, sizeof(buf), 10,
			    &f, &need, &why), 0);
			assert_int_equal(need, 9);
		} else {
			assert_int_equal(zmtp_frame_decode(buf, sizeof(buf), 10,
			    &f, &need, &why), 1);
			assert_int_equal(f.flags, fl);
			assert_int_equal(!!(f.flags & ZMTP_MORE),
			    !!(fl & ZMTP_MORE));
			assert_int_equal(f.len, 2);
		}
	}
}

/* Commands. */

static void
test_command_parse(void **state)
{
	const uint8_t ok[] = { 4, 'P', 'I', 'N', 'G', 0, 1, 'c' };
	const uint8_t noname[] = { 0, 'x' };
	const uint8_t cut[] = { 5, 'R', 'E', 'A', 'D' };
	const uint8_t bare[] = { 5, 'R', 'E', 'A', 'D', 'Y' };
	struct zmtp_command cmd;
	const char *why;

	(void)state;
	assert_int_equal(zmtp_command_parse(ok, sizeof(ok), &cmd, &why), 0);
	assert_true(zmtp_command_is(&cmd, "PING"));
	assert_int_equal(cmd.namelen, 4);
	assert_int_equal(cmd.datalen, 3);
	assert_ptr_equal(cmd.data, ok + 5);
	assert_int_equal(zmtp_command_parse(bare, sizeof(bare), &cmd, &why),
	    0);
	assert_true(zmtp_command_is(&cmd, "READY"));
	assert_int_equal(cmd.datalen, 0);
	why = NULL;
	assert_int_equal(zmtp_command_parse(ok, 0, &cmd, &why), -EPROTO);
	assert_non_null(why);
	assert_int_equal(zmtp_command_parse(noname, sizeof(noname), &cmd,
	    &why), -EPROTO);
	assert_int_equal(zmtp_command_parse(cut, sizeof(cut), &cmd, &why),
	    -EPROTO);
}

static void
test_ready_properties(void **state)
{
	uint8_t md[256], *p;
	const uint8_t *v;
	const char *why;
	size_t vlen, n;

	(void)state;
	/* What a libzmq 4.3 ROUTER sends: Socket-Type, then an empty
	 * Identity.  Names are case-insensitive. */
	p = prop(md, "Socket-Type", "ROUTER", 6);
	p = prop(p, "Identity", "", 0);
	n = (size_t)(p - md);
	assert_int_equal(zmtp_property(md, n, "socket-type", &v, &vlen, &why),
	    1);
	assert_int_equal(vlen, 6);
	assert_memory_equal(v, "ROUTER", 6);
	assert_true(zmtp_req_peer_ok(v, vlen));
	assert_int_equal(zmtp_property(md, n, "Identity", &v, &vlen, &why), 1);
	assert_int_equal(vlen, 0);
	assert_int_equal(zmtp_property(md, n, "Resource", &v, &vlen, &why), 0);
	assert_null(v);
	/* Empty metadata: nothing, and well-formed. */
	assert_int_equal(zmtp_property(md, 0, "Socket-Type", &v, &vlen, &why),
	    0);

	/* Every cut of the metadata is malformed, wherever it falls. */
	for (n = 1; n < (size_t)(p - md); n++) {
		if (n == (size_t)(prop(md, "Socket-Type", "ROUTER", 6) - md))
			continue;	/* between the two properties */
		why = NULL;
		assert_int_equal(zmtp_property(md, n, "Identity", &v, &vlen,
		    &why), -EPROTO);
		assert_non_null(why);
	}

	/* A value length past the end, up to 4 GiB. */
	p = prop(md, "Socket-Type", "REP", 3);
	md[12] = 0xff;
	assert_int_equal(zmtp_property(md, (size_t)(p - md), "Socket-Type", &v,
	    &vlen, &why), -EPROTO);
	/* A name of length 0. */
	md[0] = 0;
	assert_int_equal(zmtp_property(md, 1, "Socket-Type", &v, &vlen, &why),
	    -EPROTO);
	/* The same property twice. */
	p = prop(md, "Socket-Type", "ROUTER", 6);
	p = prop(p, "SOCKET-TYPE", "PUB", 3);
	assert_int_equal(zmtp_property(md, (size_t)(p - md), "Socket-Type", &v,
	    &vlen, &why), -EPROTO);
	assert_null(v);
	/* Found, then a malformed property: nothing is handed out (fuzz_zmtp
	 * found this one). */
	p = prop(md, "Socket-Type", "ROUTER", 6);
	*p++ = 8;
	memcpy(p, "Identity", 8);
	p += 8;
	*p++ = 0;
	assert_int_equal(zmtp_property(md, (size_t)(p - md), "Socket-Type", &v,
	    &vlen, &why), -EPROTO);
	assert_null(v);
	assert_int_equal(vlen, 0);
}

static void
test_req_peers(void **state)
{
	(void)state;
	assert_true(zmtp_req_peer_ok((const uint8_t *)"ROUTER", 6));
	assert_true(zmtp_req_peer_ok((const uint8_t *)"REP", 3));
	assert_false(zmtp_req_peer_ok((const uint8_t *)"DEALER", 6));
	assert_false(zmtp_req_peer_ok((const uint8_t *)"REQ", 3));
	assert_false(zmtp_req_peer_ok((const uint8_t *)"PUB", 3));
	assert_false(zmtp_req_peer_ok((const uint8_t *)"router", 6));
	assert_false(zmtp_req_peer_ok((const uint8_t *)"ROUTERX", 7));
	assert_false(zmtp_req_peer_ok((const uint8_t *)"REP", 2));
	assert_false(zmtp_req_peer_ok((const uint8_t *)"", 0));
}

static void
test_error_command(void **state)
{
	/* As libzmq's NULL mechanism sends it after a ZAP refusal. */
	uint8_t frame[] = { 0x04, 10, 5, 'E', 'R', 'R', 'O', 'R', 3, '4', '0',
	    '0' };
	struct zmtp_command cmd;
	struct zmtp_frame f;
	const uint8_t *r;
	const char *why;
	size_t need, rlen;

	(void)state;
	assert_int_equal(zmtp_frame_decode(frame, sizeof(frame), 0, &f, &need,
	    &why), 1);
	assert_int_equal(zmtp_command_parse(f.body, f.len, &cmd, &why), 0);
	assert_true(zmtp_command_is(&cmd, "ERROR"));
	assert_int_equal(zmtp_error_reason(&cmd, &r, &rlen, &why), 0);
	assert_int_equal(rlen, 3);
	assert_memory_equal(r, "400", 3);
	/* An empty reason. */
	cmd.datalen = 1;
	frame[8] = 0;
	assert_int_equal(zmtp_error_reason(&cmd, &r, &rlen, &why), 0);
	assert_int_equal(rlen, 0);
	/* A reason longer than the command, or none at all. */
	frame[8] = 4;
	cmd.datalen = 4;
	why = NULL;
	assert_int_equal(zmtp_error_reason(&cmd, &r, &rlen, &why), -EPROTO);
	assert_non_null(why);
	assert_null(r);
	cmd.datalen = 0;
	assert_int_equal(zmtp_error_reason(&cmd, &r, &rlen, &why), -EPROTO);
}

static void
test_ping_pong(void **state)
{
	const uint8_t ping[] = { 4, 'P', 'I', 'N', 'G', 0x00, 0x64, 'c', 't',
	    'x' };
	const uint8_t want[] = { 0x04, 8, 4, 'P', 'O', 'N', 'G', 'c', 't',
	    'x' };
	uint8_t out[ZMTP_PONG_MAX], big[5 + 2 + 17];
	struct zmtp_command cmd;
	const char *why;
	int n;

	(void)state;
	assert_int_equal(zmtp_command_parse(ping, sizeof(ping), &cmd, &why),
	    0);
	n = zmtp_pong(out, &cmd, &why);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* Without a context. */
	cmd.datalen = 2;
	assert_int_equal(zmtp_pong(out, &cmd, &why), 7);
	assert_int_equal(out[1], 5);
	/* Without a TTL, or with a context over 16 bytes. */
	cmd.datalen = 1;
	why = NULL;
	assert_int_equal(zmtp_pong(out, &cmd, &why), -EPROTO);
	assert_non_null(why);
	memset(big, 'z', sizeof(big));
	memcpy(big, "\4PING", 5);
	assert_int_equal(zmtp_command_parse(big, sizeof(big), &cmd, &why), 0);
	assert_int_equal(zmtp_pong(out, &cmd, &why), -EPROTO);
	assert_int_equal(zmtp_command_parse(big, sizeof(big) - 1, &cmd, &why),
	    0);
	assert_int_equal(zmtp_pong(out, &cmd, &why), ZMTP_PONG_MAX);
}

/* Random bytes never crash a decoder, and what they accept is in bounds. */
static void
test_random_input(void **state)
{
	uint8_t buf[64];
	struct zmtp_command cmd;
	struct zmtp_frame f;
	const uint8_t *v;
	const char *why;
	size_t need, vlen, n, i;
	unsigned seed = 20261125;
	int k, rc;

	(void)state;
	for (k = 0; k < 100000; k++) {
		n = (size_t)(rand_r(&seed) % (sizeof(buf) + 1));
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		if (n > 0 && k % 2)
			buf[0] &= 0x07;
		rc = zmtp_frame_decode(buf, n, 40, &f, &need, &why);
		if (rc == 1) {
			assert_true(f.size <= n);
			assert_true(f.len <= ((f.flags & ZMTP_COMMAND) ?
			    ZMTP_COMMAND_MAX : 40));
			assert_ptr_equal(f.body + f.len, buf + f.size);
		} else if (rc == 0)
			assert_true(need > n);
		if (zmtp_command_parse(buf, n, &cmd, &why) == 0) {
			assert_true(cmd.data + cmd.datalen == buf + n);
			rc = zmtp_property(cmd.data, cmd.datalen, "Socket-Type",
			    &v, &vlen, &why);
			if (rc == 1)
				assert_true(v + vlen <= buf + n);
		}
		zmtp_greeting_check(buf, n, &why);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_bytes),
		cmocka_unit_test(test_greeting_accept),
		cmocka_unit_test(test_greeting_reject),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_ready_encode),
		cmocka_unit_test(test_frame_short),
		cmocka_unit_test(test_frame_long),
		cmocka_unit_test(test_frame_truncated),
		cmocka_unit_test(test_frame_oversized),
		cmocka_unit_test(test_frame_flags),
		cmocka_unit_test(test_command_parse),
		cmocka_unit_test(test_ready_properties),
		cmocka_unit_test(test_req_peers),
		cmocka_unit_test(test_error_command),
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_random_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
