/* fuzz_ops: the chunk plaintext decoder and its canonical form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "ops.h"

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
	struct ops_chunk c;
	struct wbuf w;
	size_t refs = 0;

	if (ops_decode(&c, data, size) != 0) {
		/* On error nothing needs freeing (ops.h). */
		if (c.ops != NULL || c.nops != 0)
			abort();
		return 0;
	}
	/* The schema's limits hold for everything the decoder accepts. */
	if (c.nops > OPS_MAX_OPS ||
	    !ops_collection_valid(c.collection, c.collection_len))
		abort();
	for (uint32_t i = 0; i < c.nops; i++) {
		const struct op *o = &c.ops[i];

		if (o->nrefs > OPS_MAX_REFS ||
		    (o->nrefs != 0) != (o->refs != NULL))
			abort();
		if (o->type != OP_EXIST &&
		    !ops_field_valid(o->field, o->field_len))
			abort();
		/* Reads every ref: ASan sees one past the allocation. */
		for (uint32_t j = 0; j < o->nrefs; j++)
			refs += o->refs[(size_t)j * VID_LEN + VID_LEN - 1];
	}
	(void)refs;
	/*
	 * ops.h: the encoding is canonical msgpack and the reader accepts only
	 * the shortest form, so there is one encoding per chunk: re-encoding
	 * what was decoded must give the input back, byte for byte.
	 */
	wire_init(&w);
	ops_encode(&w, &c);
	if (wire_len(&w) != size || memcmp(wire_data(&w), data, size) != 0) {
		fprintf(stderr, "fuzz_ops: re-encoding differs from the input "
		    "(%zu vs %zu bytes)\n", wire_len(&w), size);
		abort();
	}
	wire_free(&w);
	ops_chunk_free(&c);
	return 0;
}
