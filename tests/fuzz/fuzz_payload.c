/* fuzz_payload: the payload decoder, the check against a header, chunk open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changeset.h"
#include "fixture.h"

/*
 * The header of mkseeds' first change set: the payload seeds share its
 * author, circle and seq (the associated data), so their chunks open, and
 * the first of them also passes the check.
 */
static struct cs_header hdr;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct wbuf h, p;

	(void)argc;
	(void)argv;
	fixture_init();
	wire_init(&h);
	wire_init(&p);
	fixture_changeset(&h, &p, &hdr, 1, 0, 3);
	wire_free(&h);
	wire_free(&p);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_payload pl;
	const struct cs_chunk *c;
	uint8_t *plain;
	size_t len;
	int rc;

	if (changeset_payload_decode(&pl, data, size) != 0) {
		/* On error *out is empty (changeset.h). */
		if (pl.chunks != NULL || pl.nchunks != 0)
			abort();
		return 0;
	}
	if (pl.nchunks > CS_MAX_CHUNKS)
		abort();
	/* A mismatch is an answer; the check must only not crash. */
	rc = changeset_payload_check(&hdr, &pl, size);
	(void)rc;
	for (uint32_t i = 0; i < pl.nchunks; i++) {
		c = &pl.chunks[i];
		/* Sealed chunks borrow their ciphertext from the input. */
		if (!c->purged && (c->ct_len < CS_ABYTES ||
		    c->ct_len > CS_MAX_CHUNK || c->ct < data ||
		    c->ct_len > size || c->ct > data + size - c->ct_len))
			abort();
		if (changeset_chunk_open(&plain, &len, &hdr, c,
		    fixture_key) != 0) {
			if (plain != NULL || len != 0)
				abort();
			continue;
		}
		if (c->purged || len != c->ct_len - CS_ABYTES)
			abort();
		free(plain);
	}
	/* Read ahead as samend's pool does (daemon/peer.c): all or none. */
	{
		struct cs_opened op;

		if (changeset_open(&op, &hdr, &pl, fixture_key) != 0) {
			if (op.chunks != NULL || op.n != 0)
				abort();
		} else {
			if (op.n != pl.nchunks)
				abort();
			for (uint32_t i = 0; i < op.n; i++)
				if ((op.chunks[i].plain == NULL) !=
				    pl.chunks[i].purged)
					abort();
		}
		changeset_opened_free(&op);
	}
	changeset_payload_free(&pl);
	return 0;
}
