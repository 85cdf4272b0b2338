/* mkseeds: writes every fuzz target's seed corpus with the real encoders. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "changeset.h"
#include "devid.h"
#include "error.h"
#include "fixture.h"
#include "keyring.h"
#include "ops.h"
#include "protocol.h"
#include "request.h"
#include "rid.h"
#include "roster.h"
#include "sync.h"
#include "util.h"
#include "wire.h"
#include "zmtp.h"

static const char *outdir;

static void
mkdir_p(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "mkseeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/*
 * Removes the seed-* files an earlier run left in dir: seeds are numbered
 * across targets, so one seed more in an earlier target renumbers every
 * later one, and the old highest number would stay and be replayed too.
 */
static void
clear_seeds(const char *dir)
{
	char path[4096];
	struct dirent *e;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "mkseeds: %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "seed-", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) != 0) {
			fprintf(stderr, "mkseeds: %s: %s\n", path,
			    strerror(errno));
			exit(1);
		}
	}
	closedir(d);
}

/* Writes DIR/target/seed-NN; the first time for a target, clears its old. */
static void
put(const char *target, const uint8_t *p, size_t n)
{
	static unsigned count;
	static const char *cleared[64];
	static size_t ncleared;
	char path[4096];
	size_t i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	mkdir_p(path);
	for (i = 0; i < ncleared && strcmp(cleared[i], target) != 0; i++)
		;
	if (i == ncleared) {
		if (ncleared == sizeof(cleared) / sizeof(cleared[0]))
			abort();
		clear_seeds(path);
		cleared[ncleared++] = target;
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%03u", outdir, target,
	    count++);
	if ((f = fopen(path, "wb")) == NULL ||
	    (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		fprintf(stderr, "mkseeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void
put_w(const char *target, const struct wbuf *w)
{
	put(target, wire_data(w), wire_len(w));
}

/* [u16 header length][header][payload], as fuzz_changeset reads it. */
static void
put_changeset(const struct wbuf *hdr, const uint8_t *payload, size_t plen)
{
	size_t hlen = wire_len(hdr);
	uint8_t *buf = malloc(2 + hlen + plen);

	if (buf == NULL)
		abort();
	buf[0] = (uint8_t)(hlen >> 8);
	buf[1] = (uint8_t)hlen;
	memcpy(buf + 2, wire_data(hdr), hlen);
	memcpy(buf + 2 + hlen, payload, plen);
	put("changeset", buf, 2 + hlen + plen);
	free(buf);
}

/*
 * Re-encodes a payload with the chunks whose bit is set in mask purged:
 * replaced by [hash], as a device does after a purge.
 */
static void
purge(struct wbuf *out, const struct wbuf *payload, uint32_t mask)
{
	struct cs_payload pl;
	const struct cs_chunk *c;

	if (changeset_payload_decode(&pl, wire_data(payload),
	    wire_len(payload)) != 0)
		abort();
	wire_put_array(out, pl.nchunks);
	for (uint32_t i = 0; i < pl.nchunks; i++) {
		c = &pl.chunks[i];
		if (mask & (1u << i)) {
			wire_put_array(out, 1);
			wire_put_bin(out, c->hash, CS_HASHLEN);
		} else {
			wire_put_array(out, 3);
			wire_put_bin(out, c->rtag, CS_RTAGLEN);
			wire_put_bin(out, c->nonce, CS_NONCELEN);
			wire_put_bin(out, c->ct, c->ct_len);
		}
	}
	changeset_payload_free(&pl);
}

/* Change sets: headers, payloads, and both together. */
static void
changesets(void)
{
	/* seq, first plaintext, chunks */
	static const unsigned table[][3] = {
		{ 1, 0, 3 }, { 1, 3, 1 }, { 1, 0, 7 }, { 1, 0, 0 },
		{ 2, 1, 2 }, { 3, 4, 3 },
	};
	struct wbuf hdr, payload, purged;
	struct cs_header h;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		wire_init(&hdr);
		wire_init(&payload);
		fixture_changeset(&hdr, &payload, &h, table[i][0],
		    table[i][1], table[i][2]);
		put_w("header", &hdr);
		put_changeset(&hdr, wire_data(&payload), wire_len(&payload));
		if (table[i][0] == 1)
			put_w("payload", &payload);
		if (i == 0) {
			put_w("wire", &hdr);
			put_w("wire", &payload);
			/* Chunk 1 purged, then all 3: the check passes. */
			for (int k = 0; k < 2; k++) {
				wire_init(&purged);
				purge(&purged, &payload, k ? 7 : 2);
				put_w("payload", &purged);
				put_changeset(&hdr, wire_data(&purged),
				    wire_len(&purged));
				wire_free(&purged);
			}
		}
		wire_free(&hdr);
		wire_free(&payload);
	}
}

/* Headers at the edges of their fields' ranges. */
static void
headers(void)
{
	struct cs_header h;
	struct wbuf w;

	for (int i = 0; i < 3; i++) {
		fixture_header(&h, i == 0 ? UINT64_MAX : 1);
		h.version = CS_VERSION;
		h.epoch = i == 1 ? UINT32_MAX : 65536;
		h.hlc = i == 2 ? 0 : UINT64_MAX;
		h.payload_len = i == 0 ? CS_MAX_PAYLOAD : (uint64_t)i * 200;
		memset(h.payload_hash, 0x11 * i, sizeof(h.payload_hash));
		changeset_sign(&h, fixture_sk());
		wire_init(&w);
		changeset_header_encode(&w, &h);
		put_w("header", &w);
		wire_free(&w);
	}
}

static void
ops(void)
{
	struct wbuf w;

	for (unsigned i = 0; i < FIXTURE_NOPS; i++) {
		wire_init(&w);
		fixture_ops(&w, i);
		put_w("ops", &w);
		if (i == 1)
			put_w("wire", &w);
		wire_free(&w);
	}
}

/* Every type the reader knows, in each of its length forms. */
static void
values(void)
{
	static const int64_t ints[] = {
		-1, -32, -33, -128, -129, -32768, -32769, INT32_MIN,
		(int64_t)INT32_MIN - 1, INT64_MIN,
	};
	static const uint64_t uints[] = {
		0, 127, 128, 255, 256, 65535, 65536, UINT32_MAX,
		(uint64_t)UINT32_MAX + 1, UINT64_MAX,
	};
	static const uint8_t floats[] = { 0x92, 0xca, 0, 0, 0, 0, 0xc0 };
	uint8_t big[300];
	struct wbuf w;

	memset(big, 'x', sizeof(big));
	wire_init(&w);
	wire_put_map(&w, 6);
	wire_put_cstr(&w, "ints");
	wire_put_array(&w, sizeof(ints) / sizeof(ints[0]));
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		wire_put_i64(&w, ints[i]);
	wire_put_cstr(&w, "uints");
	wire_put_array(&w, sizeof(uints) / sizeof(uints[0]));
	for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++)
		wire_put_u64(&w, uints[i]);
	wire_put_u64(&w, 7);
	wire_put_array(&w, 4);
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	wire_put_bool(&w, 1);
	wire_put_map(&w, 0);
	wire_put_bin(&w, big, 0);
	wire_put_str(&w, (const char *)big, 31);
	wire_put_bin(&w, big, 255);
	wire_put_str(&w, (const char *)big, 255);
	wire_put_bin(&w, big, 256);
	wire_put_str(&w, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	put_w("wire", &w);
	wire_reset(&w);

	/* Nesting at the limit of fuzz_wire (depth 16), and 16 elements. */
	for (int i = 0; i < 16; i++)
		wire_put_array(&w, 1);
	wire_put_array(&w, 16);
	for (int i = 0; i < 16; i++)
		wire_put_u64(&w, (uint64_t)i);
	put_w("wire", &w);
	wire_free(&w);

	/* Refused: a float inside an array. */
	put("wire", floats, sizeof(floats));
}

/* One message of every type; a BATCH carries two real change sets. */
static void
sync_msgs(void)
{
	struct sync_circle circles[2];
	struct sync_head heads[3];
	struct wbuf w, hdr[2], payload[2];
	struct cs_header h;
	uint8_t chain[CS_CIRCLELEN], digest[32];

	memset(circles, 0, sizeof(circles));
	memset(heads, 0, sizeof(heads));
	fixture_header(&h, 1);
	memcpy(chain, h.circle, sizeof(chain));
	memset(digest, 0xd1, sizeof(digest));
	for (int i = 0; i < 2; i++) {
		memset(circles[i].circle, 0x10 + i, CS_CIRCLELEN);
		memset(circles[i].data, 0x20 + i, 32);
		/* All zero: "I hold nothing of it". */
		memset(circles[i].members, i ? 0 : 0x30, 32);
		memset(circles[i].audit, 0x38 + i, 32);
	}
	for (int i = 0; i < 3; i++) {
		memset(heads[i].author, 0x40 + 0x20 * i, 32);
		heads[i].seq = i == 2 ? UINT64_MAX : (uint64_t)i + 1;
		memset(heads[i].head, 0x50 + i, CS_IDLEN);
	}
	wire_init(&w);
	sync_put_hello(&w, 1, digest, circles, 2);
	put_w("sync", &w);
	wire_reset(&w);
	sync_put_hello(&w, UINT64_MAX, digest, NULL, 0);
	put_w("sync", &w);
	wire_reset(&w);
	sync_put_vector(&w, 2, chain, heads, 3);
	put_w("sync", &w);
	wire_reset(&w);

	for (int i = 0; i < 2; i++) {
		wire_init(&hdr[i]);
		wire_init(&payload[i]);
		fixture_changeset(&hdr[i], &payload[i], &h, (uint64_t)i + 1,
		    (unsigned)i, 2);
	}
	sync_put_batch_start(&w, 3, chain, 2);
	for (int i = 0; i < 2; i++) {
		sync_put_batch_cs(&w, wire_data(&hdr[i]), wire_len(&hdr[i]),
		    wire_data(&payload[i]), wire_len(&payload[i]));
		wire_free(&hdr[i]);
		wire_free(&payload[i]);
	}
	put_w("sync", &w);
	wire_reset(&w);

	sync_put_ack(&w, 4, chain, 2, 0, digest, 0, 0);
	put_w("sync", &w);
	wire_reset(&w);
	/* An ACK that says a change set was held back (from the future). */
	sync_put_ack(&w, 4, chain, 2, 0, digest, 1, 172800000);
	put_w("sync", &w);
	wire_reset(&w);
	sync_put_done(&w, 5, chain, 70000, digest);
	put_w("sync", &w);
	wire_reset(&w);
	sync_put_error(&w, 6, SAMEN_EFORK, "fork: \xc3\xa9\xc3\xa9n keten");
	put_w("sync", &w);
	wire_reset(&w);
	sync_put_error(&w, 7, 0, "");
	put_w("sync", &w);
	wire_free(&w);
}

/* What samend's control socket (libzmq 4.3) sends samen, as fuzz_zmtp
 * reads it: its greeting, then frames. */
static size_t
zmtp_frame(uint8_t *p, uint8_t flags, const void *body, size_t len)
{
	size_t h = zmtp_header(p, flags, len);

	memcpy(p + h, body, len);
	return h + len;
}

static void
zmtp_seeds(void)
{
	static const uint8_t ready[] = "\5READY\13Socket-Type\0\0\0\6ROUTER"
	    "\10Identity\0\0\0\0";
	static const uint8_t ping[] = "\4PING\0\x0a" "ctx";
	static const uint8_t error[] = "\5ERROR\3" "400";
	uint8_t buf[1024], big[300];
	size_t n;

	memset(big, 'x', sizeof(big));
	/* libzmq's greeting: ZMTP 3.1, an identity length in the padding. */
	memset(buf, 0, ZMTP_GREETING_SIZE);
	buf[0] = 0xff;
	buf[8] = 1;
	buf[9] = 0x7f;
	buf[10] = 3;
	buf[11] = 1;
	memcpy(buf + 12, "NULL", 4);
	put("zmtp", buf, ZMTP_GREETING_SIZE);
	/* READY, then a reply [delimiter, body]. */
	n = ZMTP_GREETING_SIZE;
	n += zmtp_frame(buf + n, ZMTP_COMMAND, ready, sizeof(ready) - 1);
	n += zmtp_frame(buf + n, ZMTP_MORE, "", 0);
	n += zmtp_frame(buf + n, 0, "\x93\0\xa0\xc0", 4);
	put("zmtp", buf, n);
	/* A PING on the way and a long body. */
	n = ZMTP_GREETING_SIZE;
	n += zmtp_frame(buf + n, ZMTP_COMMAND, ready, sizeof(ready) - 1);
	n += zmtp_frame(buf + n, ZMTP_COMMAND, ping, sizeof(ping) - 1);
	n += zmtp_frame(buf + n, ZMTP_MORE, "", 0);
	n += zmtp_frame(buf + n, 0, big, sizeof(big));
	put("zmtp", buf, n);
	/* ERROR instead of READY. */
	n = ZMTP_GREETING_SIZE;
	n += zmtp_frame(buf + n, ZMTP_COMMAND, error, sizeof(error) - 1);
	put("zmtp", buf, n);
	/* Our own greeting and READY. */
	zmtp_greeting(buf);
	n = ZMTP_GREETING_SIZE + zmtp_ready(buf + ZMTP_GREETING_SIZE, "REQ");
	put("zmtp", buf, n);
}

/* fuzz_request: [type byte][args], or [0][version, type, args]. */
static void
put_request(uint8_t type, const struct wbuf *w)
{
	uint8_t *buf = malloc(1 + wire_len(w));

	if (buf == NULL)
		abort();
	buf[0] = type;
	memcpy(buf + 1, wire_data(w), wire_len(w));
	put("request", buf, 1 + wire_len(w));
	free(buf);
}

static void
assign(struct wbuf *w, uint8_t how, const char *field, const char *value)
{
	wire_put_array(w, 3);
	wire_put_u64(w, how);
	wire_put_cstr(w, field);
	wire_put_cstr(w, value);
}

/* The args of put: a new case in circle "team", or an update. */
static void
put_args(struct wbuf *w, const char *rid)
{
	wire_put_array(w, rid ? 3 : 4);
	wire_put_cstr(w, "case");
	if (rid)
		wire_put_cstr(w, rid);
	else
		wire_put_nil(w);
	wire_put_array(w, rid ? 1 : 3);
	assign(w, CTL_ASSIGN_SET, "name", "Jansen");
	if (!rid) {
		assign(w, CTL_ASSIGN_ADD, "tags", "urgent");
		assign(w, CTL_ASSIGN_REM, "tags", "old");
		wire_put_cstr(w, "team");
	}
}

static void
request_seeds(void)
{
	static const uint8_t none[] = { CTL_STATUS, CTL_CONFLICTS,
	    CTL_REBUILD, CTL_PEER_LS, CTL_CIRCLE_LS, CTL_METRICS, CTL_LOCK };
	char rid[RID_TEXTLEN + 1], dev[DEVID_TEXTLEN + 1];
	uint8_t raw[RID_LEN];
	struct wbuf w;

	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(0x01 + 3 * i);
	rid_encode(rid, raw);
	devid_encode(dev, fixture_device(1));
	wire_init(&w);
#define SEED(type) do { put_request((type), &w); wire_reset(&w); } while (0)
	for (size_t i = 0; i < sizeof(none); i++) {
		wire_put_array(&w, 0);
		SEED(none[i]);
	}
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "correct horse");
	SEED(CTL_UNLOCK);
	put_args(&w, NULL);
	SEED(CTL_PUT);
	put_args(&w, rid);
	SEED(CTL_PUT);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case");
	wire_put_cstr(&w, rid);
	SEED(CTL_GET);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "note");
	wire_put_cstr(&w, rid);
	SEED(CTL_RM);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case");
	wire_put_cstr(&w, rid);
	SEED(CTL_LOG);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "case");
	wire_put_array(&w, 2);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "status");
	wire_put_cstr(&w, "open");
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "tags");
	wire_put_cstr(&w, "urgent");
	SEED(CTL_LS);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "jans");
	SEED(CTL_FIND);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, rid);
	wire_put_cstr(&w, "called, no answer");
	SEED(CTL_NOTE);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev);
	wire_put_cstr(&w, "tcp://10.0.0.2:7400");
	SEED(CTL_PEER_ADD);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev);
	wire_put_nil(&w);
	SEED(CTL_PEER_ADD);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, dev);
	SEED(CTL_PEER_RM);
	wire_put_array(&w, 1);
	wire_put_nil(&w);
	SEED(CTL_SYNC);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, dev);
	SEED(CTL_SYNC);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "team-north");
	SEED(CTL_CIRCLE_NEW);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "team-north");
	wire_put_cstr(&w, dev);
	SEED(CTL_CIRCLE_ADD);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "private");
	SEED(CTL_CIRCLE_USE);
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "team-north");
	wire_put_cstr(&w, dev);
	wire_put_cstr(&w, "relay");
	wire_put_bool(&w, 1);
	SEED(CTL_CIRCLE_ADD);
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "team-north");
	wire_put_cstr(&w, dev);
	wire_put_cstr(&w, "admin");
	SEED(CTL_CIRCLE_ROLE);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "team-north");
	wire_put_cstr(&w, dev);
	SEED(CTL_CIRCLE_RM);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "0a1b2c3d");
	SEED(CTL_CIRCLE_QUARANTINE);
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "team-north");
	wire_put_cstr(&w, dev);
	wire_put_u64(&w, 7);
	SEED(CTL_CIRCLE_ACCEPT);
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "team-north");
	wire_put_cstr(&w, dev);
	wire_put_nil(&w);
	SEED(CTL_CIRCLE_ACCEPT);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev);
	wire_put_cstr(&w, "left on the train");
	SEED(CTL_DEVICE_REVOKE);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, dev);
	wire_put_nil(&w);
	SEED(CTL_DEVICE_REVOKE);
	wire_put_array(&w, 3);
	wire_put_cstr(&w, dev);
	devid_encode(dev, fixture_device(2));
	wire_put_cstr(&w, dev);
	wire_put_cstr(&w, "team-north");
	SEED(CTL_HANDOVER);
	/* export: a page of a collection, a subject's next page. */
	wire_put_array(&w, 6);
	wire_put_cstr(&w, "case");
	wire_put_cstr(&w, "team-north");
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_u64(&w, 1000);
	wire_put_bool(&w, 1);
	SEED(CTL_EXPORT);
	{
		char cursor[CTL_EXPORT_CURSOR];

		request_cursor_format(cursor, raw, 42);
		wire_put_array(&w, 6);
		wire_put_nil(&w);
		wire_put_nil(&w);
		wire_put_cstr(&w, rid);
		wire_put_cstr(&w, cursor);
		wire_put_u64(&w, 3);
		wire_put_bool(&w, 0);
		SEED(CTL_EXPORT);
	}
	/* audit: everything, and one record from a time by one device. */
	wire_put_array(&w, 4);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_nil(&w);
	wire_put_nil(&w);
	SEED(CTL_AUDIT);
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_cstr(&w, rid);
	devid_encode(dev, fixture_device(1));
	wire_put_cstr(&w, dev);
	wire_put_u64(&w, 1764547200000);
	SEED(CTL_AUDIT);
	/* import: two rows, one with a set. */
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_nil(&w);
	wire_put_bool(&w, 0);
	wire_put_array(&w, 2);
	wire_put_array(&w, 2);
	assign(&w, CTL_ASSIGN_SET, "name", "Jansen");
	assign(&w, CTL_ASSIGN_ADD, "tags", "urgent");
	wire_put_array(&w, 1);
	assign(&w, CTL_ASSIGN_SET, "name", "Bakker");
	SEED(CTL_IMPORT);
	wire_put_array(&w, 4);
	wire_put_cstr(&w, "case");
	wire_put_cstr(&w, rid);
	wire_put_bool(&w, 1);
	wire_put_cstr(&w, "AVG art. 17, request 2026-113");
	SEED(CTL_PURGE);
	wire_put_array(&w, 3);
	wire_put_cstr(&w, "team-north");
	wire_put_cstr(&w, "note");
	wire_put_u64(&w, 2555);
	SEED(CTL_CIRCLE_RETENTION);
	wire_put_array(&w, 1);
	wire_put_cstr(&w, "team-north");
	SEED(CTL_CIRCLE_RETENTION);
	/* Whole requests: a put, another version, an unknown type. */
	wire_put_array(&w, 3);
	wire_put_u64(&w, SAMEN_PROTOCOL_VERSION);
	wire_put_u64(&w, CTL_PUT);
	put_args(&w, NULL);
	SEED(0);
	wire_put_array(&w, 3);
	wire_put_u64(&w, SAMEN_PROTOCOL_VERSION + 1);
	wire_put_u64(&w, CTL_STATUS);
	wire_put_array(&w, 0);
	SEED(0);
	wire_put_array(&w, 3);
	wire_put_u64(&w, SAMEN_PROTOCOL_VERSION);
	wire_put_u64(&w, 99);
	wire_put_array(&w, 0);
	SEED(0);
#undef SEED
	wire_free(&w);
}

/* fuzz_keyring: a name and a reason sealed under fixture_key, and seals. */
static void
keyring_seeds(void)
{
	struct roster_seal s;
	uint8_t circle[16], pk[32], key[32], raw[1 + 4 + 32 + ROSTER_SEALLEN + 1];
	uint8_t *blob, *b;
	size_t len;

	memset(circle, 0x42, sizeof(circle));
	keyring_blob_seal(&blob, &len, fixture_key, circle, "name",
	    "team-north", 10);
	b = malloc(len + 1);
	if (b == NULL)
		abort();
	b[0] = 0;
	memcpy(b + 1, blob, len);
	put("keyring", b, len + 1);
	free(blob);
	free(b);
	keyring_blob_seal(&blob, &len, fixture_key, circle, "reason",
	    "laptop left on the train", 24);
	b = malloc(len + 1);
	if (b == NULL)
		abort();
	b[0] = 2;
	memcpy(b + 1, blob, len);
	put("keyring", b, len + 1);
	free(blob);
	free(b);
	/* Seals: to the author (which opens), as admin, and to another. */
	crypto_sign_ed25519_sk_to_pk(pk, fixture_sk());
	memset(key, 0x17, sizeof(key));
	for (int i = 0; i < 3; i++) {
		if (keyring_seal(&s, i == 1 ? ROSTER_AUDIT_EPOCH : 0x80000007,
		    key, i == 2 ? fixture_device(1) : pk, ROSTER_ADMIN) != 0)
			abort();
		raw[0] = 1;
		put_le32(raw + 1, s.epoch);
		memcpy(raw + 5, s.device, 32);
		memcpy(raw + 37, s.sealed, ROSTER_SEALLEN);
		raw[sizeof(raw) - 1] = (uint8_t)(i == 0 ? ROSTER_MEMBER :
		    ROSTER_ADMIN);
		put("keyring", raw, sizeof(raw));
	}
}

/* fuzz_conf: config files, good and bad. */
static void
conf_seeds(void)
{
	static const char *files[] = {
		"# samend.conf\n[samend]\nlog_level = debug\n"
		"batch_max = 512\nwal_autocheckpoint = 16000\n"
		"listen = tcp://0.0.0.0:7400\n"
		"peers = abc@tcp://10.0.0.2:7400, def@tcp://10.0.0.3:7400\n"
		"sync_interval = 30\nbeacon = 1\nbeacon_port = 7401\n"
		"beacon_addr = 192.168.1.255\nmax_clock_skew = 600\n",
		"; only comments\n\n   # and blanks\n",
		"  listen=tcp://127.0.0.1:9   \nlog_level=warn",
		"batch_max = 0\n",
		"batch_max = 12x\n",
		"log_level = loud\n",
		"no equals sign\n",
		"colour = blue\n",
	};

	char *line;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put("conf", (const uint8_t *)files[i], strlen(files[i]));
	/* A value near the longest a line may hold. */
	line = xasprintf("peers=%01000d\n", 7);
	put("conf", (const uint8_t *)line, strlen(line));
	free(line);
}

/*
 * fuzz_roster's inputs (see its comment): device d's key is BLAKE2b of
 * the int d, device 0 creates the circle with the salt of 0x5a bytes.
 * Each scenario is written both ways: as real chunks (mode 0) and as
 * compact records (mode 1).
 */
#define RS_NDEV 8
#define RS_MAXDEPS 4
#define RS_MAXSEALS 4

struct rs_op {
	uint8_t author, seq, type, target, role;
	uint8_t deps[RS_MAXDEPS][2];	/* (author, seq); seq 0 ends */
	uint8_t seals[RS_MAXSEALS][2];	/* (epoch selector, device) */
	uint8_t nseals;
	uint8_t cut;
};

static uint8_t rs_dev[RS_NDEV][32];
static uint8_t rs_circle[16], rs_chain[16];

static uint32_t
rs_epoch(uint8_t e)
{
	return e < 2 ? e : roster_epoch_id(rs_chain, rs_dev[e & 7], e >> 3);
}

static int
rs_cmp_dep(const void *a, const void *b)
{
	return memcmp(((const struct roster_dep *)a)->author,
	    ((const struct roster_dep *)b)->author, 32);
}

/* One record of mode 1. */
static size_t
rs_record(uint8_t *p, const struct rs_op *o)
{
	size_t n = 4, nd = 0, k;

	while (nd < RS_MAXDEPS && o->deps[nd][1])
		nd++;
	p[0] = (uint8_t)(o->author | o->type << 3);
	p[1] = o->seq;
	p[2] = (uint8_t)(o->target | o->role << 3 | o->cut << 6);
	p[3] = (uint8_t)(nd | o->nseals << 3 | 1 << 6 | 1 << 7);
	for (k = 0; k < nd; k++) {
		p[n++] = o->deps[k][0];
		p[n++] = o->deps[k][1];
	}
	for (k = 0; k < o->nseals; k++) {
		p[n++] = o->seals[k][0];
		p[n++] = o->seals[k][1];
	}
	return n;
}

/* One entry of mode 0: [author, seq, hlc, chunk]. */
static void
rs_chunk(struct wbuf *w, const struct rs_op *o)
{
	struct roster_op op;
	struct roster_seal seals[RS_MAXSEALS];
	struct roster_dep deps[RS_MAXDEPS];
	struct ops_chunk c;
	struct wbuf cw;
	uint8_t rid[RID_LEN] = { o->author, o->seq };
	size_t k;

	memset(&op, 0, sizeof(op));
	memcpy(op.author, rs_dev[o->author], 32);
	op.seq = o->seq;
	op.type = (enum roster_type)o->type;
	op.deps = deps;
	while (op.ndeps < RS_MAXDEPS && o->deps[op.ndeps][1]) {
		memcpy(deps[op.ndeps].author, rs_dev[o->deps[op.ndeps][0]], 32);
		deps[op.ndeps].seq = o->deps[op.ndeps][1];
		op.ndeps++;
	}
	qsort(deps, op.ndeps, sizeof(*deps), rs_cmp_dep);
	memcpy(op.target, rs_dev[o->target], 32);
	op.role = (enum roster_role)o->role;
	if (o->cut) {
		op.cut_seq = o->cut;
		memset(op.cut_id, o->seq | 1, 32);
	}
	op.epoch = op.type == ROSTER_CREATE ? ROSTER_FIRST_EPOCH :
	    roster_epoch_id(rs_chain, op.author, op.seq);
	memset(op.salt, 0x5a, sizeof(op.salt));
	strcpy(op.coll, "notes");
	op.keep = 2555;
	op.seals = seals;
	op.nseals = o->nseals;
	for (k = 0; k < o->nseals; k++) {
		seals[k].epoch = rs_epoch(o->seals[k][0]);
		memcpy(seals[k].device, rs_dev[o->seals[k][1]], 32);
		memset(seals[k].sealed, (int)k, ROSTER_SEALLEN);
	}
	if (roster_op_encode(&c, &op, rid) != 0) {
		fprintf(stderr, "mkseeds: a roster op does not encode\n");
		exit(1);
	}
	wire_init(&cw);
	ops_encode(&cw, &c);
	wire_put_array(w, 4);
	wire_put_u64(w, o->author);
	wire_put_u64(w, o->seq);
	wire_put_u64(w, 1000 + o->seq);
	wire_put_bin(w, wire_data(&cw), wire_len(&cw));
	wire_free(&cw);
	ops_chunk_free(&c);
}

static void
rs_put(const struct rs_op *o, size_t n)
{
	uint8_t buf[4096];
	struct wbuf w;
	size_t k, len = 1;

	wire_init(&w);
	wire_put_raw(&w, "\x00", 1);
	wire_put_array(&w, (uint32_t)n);
	for (k = 0; k < n; k++)
		rs_chunk(&w, &o[k]);
	put_w("roster", &w);
	wire_free(&w);
	buf[0] = 1;
	for (k = 0; k < n; k++)
		len += rs_record(buf + len, &o[k]);
	put("roster", buf, len);
}

enum { RC = ROSTER_CREATE, RA = ROSTER_ADD, RR = ROSTER_REMOVE,
    RL = ROSTER_ROLE, RV = ROSTER_REVOKE, RP = ROSTER_ACCEPT,
    RE = ROSTER_EPOCH, RT = ROSTER_RETENTION, RG = ROSTER_PURGE };
#define ADM ROSTER_ADMIN
#define MEM ROSTER_MEMBER
#define REL ROSTER_RELAY

static void
roster_seeds(void)
{
	/* 0 creates; adds 1 (admin), 2; removes 2 with a new epoch. */
	static const struct rs_op basic[] = {
		{ 0, 1, RC, 0, 0, { { 0 } }, { { 1, 0 } }, 1, 0 },
		{ 0, 2, RA, 1, ADM, { { 0 } }, { { 1, 1 } }, 1, 0 },
		{ 0, 3, RA, 2, MEM, { { 0 } }, { { 1, 2 } }, 1, 0 },
		{ 1, 1, RA, 3, REL, { { 0, 3 } }, { { 0 } }, 0, 0 },
		{ 0, 4, RR, 2, 0, { { 1, 1 } }, { { 4 << 3, 0 }, { 4 << 3, 1 } },
		    2, 2 },
		{ 1, 2, RT, 0, 0, { { 0, 4 } }, { { 0 } }, 0, 0 },
		{ 0, 5, RG, 0, 0, { { 1, 2 } }, { { 0 } }, 0, 0 },
		{ 0, 6, RT, 0, 0, { { 1, 2 } }, { { 0 } }, 0, 0 },
	};
	/* 0 and 1 remove each other; 1 adds 3 meanwhile. */
	static const struct rs_op mutual[] = {
		{ 0, 1, RC, 0, 0, { { 0 } }, { { 0 } }, 0, 0 },
		{ 0, 2, RA, 1, ADM, { { 0 } }, { { 0 } }, 0, 0 },
		{ 0, 3, RR, 1, 0, { { 0 } }, { { 3 << 3, 0 } }, 1, 1 },
		{ 1, 1, RR, 0, 0, { { 0, 2 } }, { { 1 | 8, 1 } }, 1, 1 },
		{ 1, 2, RA, 3, MEM, { { 0, 2 } }, { { 0 } }, 0, 0 },
		{ 0, 4, RE, 0, 0, { { 1, 2 } }, { { 4 << 3, 0 } }, 1, 0 },
	};
	/* 1 removes 2, 2 removes 3, 3 removes 1; 0 stays, or not. */
	static const struct rs_op cycle[] = {
		{ 0, 1, RC, 0, 0, { { 0 } }, { { 0 } }, 0, 0 },
		{ 0, 2, RA, 1, ADM, { { 0 } }, { { 0 } }, 0, 0 },
		{ 0, 3, RA, 2, ADM, { { 0 } }, { { 0 } }, 0, 0 },
		{ 0, 4, RA, 3, ADM, { { 0 } }, { { 0 } }, 0, 0 },
		{ 1, 1, RR, 2, 0, { { 0, 4 } }, { { 0 } }, 0, 0 },
		{ 2, 1, RR, 3, 0, { { 0, 4 } }, { { 0 } }, 0, 0 },
		{ 3, 1, RR, 1, 0, { { 0, 4 } }, { { 0 } }, 0, 0 },
		{ 0, 5, RL, 1, MEM, { { 0 } }, { { 0 } }, 0, 0 },
	};
	/* A member's forged removal, a revoke, an accept, a waiting op. */
	static const struct rs_op forged[] = {
		{ 0, 1, RC, 0, 0, { { 0 } }, { { 1, 0 } }, 1, 0 },
		{ 0, 2, RA, 4, MEM, { { 0 } }, { { 1, 4 } }, 1, 0 },
		{ 4, 1, RR, 0, 0, { { 0, 2 } }, { { 0 } }, 0, 0 },
		{ 0, 3, RV, 4, 0, { { 4, 1 } }, { { 0 } }, 0, 3 },
		{ 0, 4, RP, 4, 0, { { 4, 1 } }, { { 0 } }, 0, 3 },
		{ 0, 5, RA, 5, MEM, { { 4, 1 }, { 6, 9 } }, { { 0 } }, 0, 0 },
	};
	static const struct rs_op *all[] = { basic, mutual, cycle, forged };
	static const size_t len[] = {
		sizeof(basic) / sizeof(basic[0]),
		sizeof(mutual) / sizeof(mutual[0]),
		sizeof(cycle) / sizeof(cycle[0]),
		sizeof(forged) / sizeof(forged[0]),
	};
	uint8_t salt[16];
	size_t k;
	int d;

	for (d = 0; d < RS_NDEV; d++)
		crypto_generichash(rs_dev[d], 32, (const uint8_t *)&d,
		    sizeof(d), NULL, 0);
	memset(salt, 0x5a, sizeof(salt));
	sync_circle_id(rs_circle, rs_dev[0], salt);
	sync_members_circle(rs_chain, rs_circle);
	for (k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		rs_put(all[k], len[k]);
	/* The cycle without its first admin's later op, and nothing. */
	rs_put(cycle, len[2] - 1);
	rs_put(basic, 0);
}

/* fuzz_audit: a block of events, and the same block sealed. */
static void
audit_seeds(void)
{
	struct audit_rec recs[3];
	uint8_t apk[32], ask[32], epk[32], esk[32], seed[32], k[AUDIT_KEYLEN];
	uint8_t circle[16], nonce[AUDIT_NONCELEN];
	struct wbuf ev, blk, w;

	memset(recs, 0, sizeof(recs));
	strcpy(recs[0].collection, "case");
	strcpy(recs[1].collection, "note");
	strcpy(recs[2].collection, "note");
	for (int i = 0; i < 3; i++)
		memset(recs[i].rid, 0x30 + i, RID_LEN);
	memset(circle, 0x77, sizeof(circle));
	wire_init(&ev);
	wire_init(&blk);
	wire_init(&w);
	audit_put_event(&ev, 117743297741586432ULL, AUDIT_GET, recs, 3);
	audit_put_event(&ev, 117743297741586433ULL, AUDIT_FIND, recs + 1, 1);
	audit_put_block(&blk, circle, fixture_device(1), wire_data(&ev),
	    wire_len(&ev), 2);
	wire_put_raw(&w, "\0", 1);
	wire_put_raw(&w, wire_data(&blk), wire_len(&blk));
	put_w("audit", &w);
	/* Sealed as fuzz_audit opens it: fixed key pairs. */
	memset(seed, 0xa1, sizeof(seed));
	crypto_box_seed_keypair(apk, ask, seed);
	memset(seed, 0xe2, sizeof(seed));
	crypto_box_seed_keypair(epk, esk, seed);
	if (crypto_box_beforenm(k, apk, esk) != 0)
		exit(1);
	memset(nonce, 0x5c, sizeof(nonce));
	wire_reset(&w);
	wire_put_raw(&w, "\1", 1);
	audit_seal(&w, apk, epk, k, nonce, wire_data(&blk), wire_len(&blk));
	put_w("audit", &w);
	wire_free(&ev);
	wire_free(&blk);
	wire_free(&w);
}

/* fuzz_csv: tables as a spreadsheet or samen export writes them. */
static void
csv_seeds(void)
{
	static const char *const tables[] = {
		"_id,name,tags[],_conflicts\r\n"
		"01JD5ZQ8X2M4N6P8R0T2V4W6Y8,\"Familie \"\"de Vries\"\", "
		"Noord\",a\\;b;c\\\\d,\r\n",
		"\xef\xbb\xbfname,wijk\nBakker,Noord\n\n\"two\nlines\",\n",
		"a,b\n\"open,\n\"x\"y,z\nq\"r,s\n",
	};

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		put("csv", (const uint8_t *)tables[i], strlen(tables[i]));
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	outdir = argv[1];
	mkdir_p(outdir);
	fixture_init();
	changesets();
	headers();
	ops();
	values();
	sync_msgs();
	zmtp_seeds();
	request_seeds();
	conf_seeds();
	keyring_seeds();
	roster_seeds();
	csv_seeds();
	audit_seeds();
	return 0;
}
