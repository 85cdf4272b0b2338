/* fuzz_header: the change-set header decoder, its canonical form and verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changeset.h"
#include "fixture.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_header h;
	struct wbuf w;
	uint8_t id[CS_IDLEN];
	int rc;

	if (changeset_header_decode(&h, data, size) != 0)
		return 0;
	/*
	 * One byte sequence per header (DESIGN, "Canonical encoding"): what
	 * the decoder accepts, the encoder must give back byte for byte, or
	 * two peers could hold one header under two ids.
	 */
	wire_init(&w);
	changeset_header_encode(&w, &h);
	if (wire_len(&w) != size || memcmp(wire_data(&w), data, size) != 0) {
		fprintf(stderr, "fuzz_header: re-encoding differs from the "
		    "input (%zu vs %zu bytes)\n", wire_len(&w), size);
		abort();
	}
	wire_free(&w);
	changeset_id(id, data, size);
	/* A forged or damaged signature is an answer, never a crash. */
	rc = changeset_verify(&h);
	(void)rc;
	return 0;
}
