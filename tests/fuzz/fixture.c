/* fixture: fixed keys and samples shared by the fuzz targets and mkseeds. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ops.h"

const uint8_t fixture_key[CS_KEYLEN] = {
	0x73, 0x61, 0x6d, 0x65, 0x6e, 0x2d, 0x66, 0x75,
	0x7a, 0x7a, 0x2d, 0x63, 0x69, 0x72, 0x63, 0x6c,
	0x65, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x31,
	0x02, 0x03, 0x05, 0x07, 0x0b, 0x0d, 0x11, 0x13,
};

static uint8_t pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t sk[crypto_sign_SECRETKEYBYTES];
static uint8_t devices[FIXTURE_NDEVICES][crypto_sign_PUBLICKEYBYTES];
static int ready;

void
fixture_init(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	if (ready)
		return;
	if (sodium_init() < 0) {
		fprintf(stderr, "fixture: sodium_init failed\n");
		abort();
	}
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(0xa0 + i);
	crypto_sign_seed_keypair(pk, sk, seed);
	for (unsigned d = 0; d < FIXTURE_NDEVICES; d++) {
		uint8_t dsk[crypto_sign_SECRETKEYBYTES];

		memset(seed, 0xd0 + d, sizeof(seed));
		crypto_sign_seed_keypair(devices[d], dsk, seed);
	}
	ready = 1;
}

const uint8_t *
fixture_device(unsigned i)
{
	return devices[i % FIXTURE_NDEVICES];
}

const uint8_t *
fixture_sk(void)
{
	return sk;
}

void
fixture_header(struct cs_header *h, uint64_t seq)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->author, pk, sizeof(h->author));
	for (size_t i = 0; i < sizeof(h->circle); i++)
		h->circle[i] = (uint8_t)(0xc0 + i);
	h->epoch = 1;
	h->seq = seq;
	if (seq > 1)
		for (size_t i = 0; i < sizeof(h->prev); i++)
			h->prev[i] = (uint8_t)(seq + i);
	/* 48 bits of ms (2024-01-01) and a counter of 3. */
	h->hlc = (1704067200000ULL << 16) | 3;
}

/* Value ids as a writer would name them: ops of a fixed change set. */
static void
vids(uint8_t *out, uint32_t n)
{
	uint8_t csid[CS_IDLEN];

	memset(csid, 0x5a, sizeof(csid));
	for (uint32_t i = 0; i < n; i++)
		ops_vid(out + (size_t)i * VID_LEN, csid, i / 4, i % 4);
}

static struct op
op_str(enum op_type type, const char *field, const char *value,
    const uint8_t *refs, uint32_t nrefs)
{
	struct op o;

	memset(&o, 0, sizeof(o));
	o.type = type;
	o.field = field;
	o.field_len = strlen(field);
	o.value = value;
	o.value_len = strlen(value);
	o.refs = nrefs ? refs : NULL;
	o.nrefs = nrefs;
	return o;
}

static struct op
op_exist(int alive, const uint8_t *refs, uint32_t nrefs)
{
	struct op o;

	memset(&o, 0, sizeof(o));
	o.type = OP_EXIST;
	o.alive = alive;
	o.refs = nrefs ? refs : NULL;
	o.nrefs = nrefs;
	return o;
}

void
fixture_ops(struct wbuf *w, unsigned i)
{
	static const char *const colls[FIXTURE_NOPS] = {
		"note", "case", "contact", "task", "case", "contact",
		"case_archive-2",
	};
	static char field64[OPS_MAX_FIELD + 1], value[301], element[41];
	static char tags[20][8];
	uint8_t refs[32 * VID_LEN];
	struct op ops[24];
	struct ops_chunk c;
	uint32_t n = 0;

	vids(refs, 32);
	memset(&c, 0, sizeof(c));
	c.collection = colls[i % FIXTURE_NOPS];
	c.collection_len = strlen(c.collection);
	for (size_t k = 0; k < RID_LEN; k++)
		c.rid[k] = (uint8_t)(i * 16 + k);
	switch (i % FIXTURE_NOPS) {
	case 0:
		ops[n++] = op_str(OP_SET, "text", "hello", NULL, 0);
		break;
	case 1:
		ops[n++] = op_str(OP_SET, "name", "Jansen", refs, 1);
		ops[n++] = op_str(OP_SET, "status", "open", refs + 16, 2);
		ops[n++] = op_str(OP_ADD, "tags", "urgent", NULL, 0);
		ops[n++] = op_str(OP_REM, "tags", "old", refs + 48, 1);
		ops[n++] = op_exist(1, refs + 64, 1);
		break;
	case 2:
		ops[n++] = op_exist(0, NULL, 0);
		break;
	case 3:
		break;
	case 4:
		/* Longest field; str8 and str16 forms; multi-byte UTF-8. */
		memset(field64, 'F', OPS_MAX_FIELD);
		field64[OPS_MAX_FIELD] = '\0';
		for (size_t k = 0; k + 4 <= 300; k += 4)
			memcpy(value + k,
			    k % 8 ? "\xc3\xa9" "ab" : "\xe2\x82\xac.", 4);
		value[300] = '\0';
		memset(element, 'e', 40);
		element[40] = '\0';
		ops[n++] = op_str(OP_SET, field64, value, refs, 3);
		ops[n++] = op_str(OP_ADD, "Tags_2", element, NULL, 0);
		ops[n++] = op_str(OP_ADD, "Tags_2", "\xf0\x9f\x98\x80", NULL,
		    0);
		break;
	case 5:
		/* More than 15 ops: an array16 header. */
		for (n = 0; n < 20; n++) {
			snprintf(tags[n], sizeof(tags[n]), "t%u", n);
			ops[n] = op_str(OP_ADD, "partners", tags[n], NULL, 0);
		}
		break;
	case 6:
		/* More than 15 refs; a field with '-' and '_'. */
		ops[n++] = op_str(OP_REM, "9lead-org_x", "wijkteam", refs,
		    20);
		ops[n++] = op_exist(0, refs + 20 * VID_LEN, 12);
		break;
	}
	c.ops = ops;
	c.nops = n;
	ops_encode(w, &c);
}

void
fixture_changeset(struct wbuf *hdr, struct wbuf *payload,
    struct cs_header *h, uint64_t seq, unsigned first, unsigned n)
{
	struct cs_plain *plain = calloc(n ? n : 1, sizeof(*plain));
	uint8_t *nonces = calloc(n ? n : 1, CS_NONCELEN);
	struct wbuf *pt = calloc(n ? n : 1, sizeof(*pt));
	uint8_t id[CS_IDLEN];
	struct ops_chunk oc;

	if (plain == NULL || nonces == NULL || pt == NULL)
		abort();
	fixture_header(h, seq);
	for (unsigned i = 0; i < n; i++) {
		wire_init(&pt[i]);
		fixture_ops(&pt[i], first + i);
		/* The rtag of the record the plaintext names. */
		if (ops_decode(&oc, wire_data(&pt[i]), wire_len(&pt[i])) != 0)
			abort();
		changeset_rtag(plain[i].rtag, fixture_key, oc.collection,
		    oc.collection_len, oc.rid);
		ops_chunk_free(&oc);
		plain[i].data = wire_data(&pt[i]);
		plain[i].len = wire_len(&pt[i]);
		for (size_t k = 0; k < CS_NONCELEN; k++)
			nonces[i * CS_NONCELEN + k] =
			    (uint8_t)(seq * 7 + i + k);
	}
	changeset_build(hdr, payload, id, h, sk, fixture_key, plain, n,
	    nonces);
	for (unsigned i = 0; i < n; i++)
		wire_free(&pt[i]);
	free(pt);
	free(nonces);
	free(plain);
}

/* ops.h: one encoding per chunk; what decodes re-encodes to the input. */
static void
receive_ops(const uint8_t *p, size_t n)
{
	struct ops_chunk c;
	struct wbuf w;

	if (ops_decode(&c, p, n) != 0)
		return;
	wire_init(&w);
	ops_encode(&w, &c);
	if (wire_len(&w) != n || memcmp(wire_data(&w), p, n) != 0) {
		fprintf(stderr, "fuzz: ops re-encoding differs\n");
		abort();
	}
	wire_free(&w);
	ops_chunk_free(&c);
}

void
fixture_receive(const uint8_t *hdr, size_t hdr_len, const uint8_t *payload,
    size_t payload_len)
{
	struct cs_header h;
	struct cs_payload pl;
	struct wbuf w;
	uint8_t id[CS_IDLEN], *plain;
	size_t len;
	int rc;

	if (changeset_header_decode(&h, hdr, hdr_len) != 0)
		return;
	wire_init(&w);
	changeset_header_encode(&w, &h);
	if (wire_len(&w) != hdr_len ||
	    memcmp(wire_data(&w), hdr, hdr_len) != 0) {
		fprintf(stderr, "fuzz: header re-encoding differs\n");
		abort();
	}
	wire_free(&w);
	changeset_id(id, hdr, hdr_len);
	rc = changeset_verify(&h);
	(void)rc;

	if (changeset_payload_decode(&pl, payload, payload_len) != 0)
		return;
	rc = changeset_payload_check(&h, &pl, payload_len);
	(void)rc;
	for (uint32_t i = 0; i < pl.nchunks; i++) {
		if (changeset_chunk_open(&plain, &len, &h, &pl.chunks[i],
		    fixture_key) != 0)
			continue;
		receive_ops(plain, len);
		free(plain);
	}
	changeset_payload_free(&pl);
}
