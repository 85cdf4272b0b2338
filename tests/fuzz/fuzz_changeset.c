/* fuzz_changeset: the whole receive path of one change set from a peer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changeset.h"
#include "fixture.h"
#include "ops.h"

/*
 * Input: [header length, u16 big-endian][header][payload].  The daemon
 * stops at the first gate that fails (signature, payload hash, decryption);
 * this target goes on past the first two, so that mutated payloads still
 * reach the payload decoder and the chunk opener behind a mutated header.
 * Past decryption nothing can be forged; the ops target covers that decoder
 * on its own.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_init();
	return 0;
}

static void
check_ops(const uint8_t *p, size_t n)
{
	struct ops_chunk c;
	struct wbuf w;

	if (ops_decode(&c, p, n) != 0)
		return;
	wire_init(&w);
	ops_encode(&w, &c);
	if (wire_len(&w) != n || memcmp(wire_data(&w), p, n) != 0) {
		fprintf(stderr, "fuzz_changeset: ops re-encoding differs\n");
		abort();
	}
	wire_free(&w);
	ops_chunk_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_header h;
	struct cs_payload pl;
	struct wbuf w;
	const uint8_t *payload;
	uint8_t id[CS_IDLEN], *plain;
	size_t hlen, plen, len;
	int rc;

	if (size < 2)
		return 0;
	hlen = (size_t)data[0] << 8 | data[1];
	if (hlen > size - 2)
		return 0;
	payload = data + 2 + hlen;
	plen = size - 2 - hlen;

	if (changeset_header_decode(&h, data + 2, hlen) != 0)
		return 0;
	wire_init(&w);
	changeset_header_encode(&w, &h);
	if (wire_len(&w) != hlen || memcmp(wire_data(&w), data + 2, hlen)) {
		fprintf(stderr, "fuzz_changeset: header re-encoding differs\n");
		abort();
	}
	wire_free(&w);
	changeset_id(id, data + 2, hlen);
	rc = changeset_verify(&h);
	(void)rc;

	if (changeset_payload_decode(&pl, payload, plen) != 0)
		return 0;
	rc = changeset_payload_check(&h, &pl, plen);
	(void)rc;
	for (uint32_t i = 0; i < pl.nchunks; i++) {
		if (changeset_chunk_open(&plain, &len, &h, &pl.chunks[i],
		    fixture_key) != 0)
			continue;
		check_ops(plain, len);
		free(plain);
	}
	changeset_payload_free(&pl);
	return 0;
}
