/* fuzz_sync: the sync protocol's message decoder, and the change sets in it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "sync.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_init();
	return 0;
}

/* Writes m again with the encoders; 0 if its type has none. */
static int
reencode(struct wbuf *w, const struct sync_msg *m)
{
	char text[SYNC_MAX_TEXT + 1];

	switch (m->type) {
	case SYNC_HELLO:
		sync_put_hello(w, m->session, m->digest, m->circles,
		    m->ncircles);
		return 1;
	case SYNC_VECTOR:
		sync_put_vector(w, m->session, m->chain, m->heads, m->nheads);
		return 1;
	case SYNC_BATCH:
		sync_put_batch_start(w, m->session, m->chain, m->ncs);
		for (uint32_t i = 0; i < m->ncs; i++)
			sync_put_batch_cs(w, m->cs[i].hdr, m->cs[i].hdr_len,
			    m->cs[i].payload, m->cs[i].payload_len);
		return 1;
	case SYNC_ACK:
		sync_put_ack(w, m->session, m->chain, m->accepted,
		    m->rejected, m->digest, m->held, m->ahead_ms);
		return 1;
	case SYNC_DONE:
		sync_put_done(w, m->session, m->chain, m->sent, m->digest);
		return 1;
	case SYNC_ERROR:
		/* The decoder refuses NUL bytes and texts past the cap. */
		if (m->text_len > SYNC_MAX_TEXT ||
		    memchr(m->text, '\0', m->text_len) != NULL)
			abort();
		memcpy(text, m->text, m->text_len);
		text[m->text_len] = '\0';
		sync_put_error(w, m->session, m->code, text);
		return 1;
	default:
		return 0;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sync_msg m;
	struct wbuf w;

	if (sync_decode(&m, data, size) != 0) {
		/* On error nothing needs freeing (sync.h). */
		if (m.circles != NULL || m.heads != NULL || m.cs != NULL)
			abort();
		return 0;
	}
	/*
	 * sync.h: each message is "a canonical msgpack array", and the
	 * encoders assert what the decoder refuses: so what decodes, the
	 * encoders write back byte for byte, without tripping an assertion.
	 */
	wire_init(&w);
	if (!reencode(&w, &m)) {
		fprintf(stderr, "fuzz_sync: decoded unknown type %u\n",
		    m.type);
		abort();
	}
	if (wire_len(&w) != size || memcmp(wire_data(&w), data, size) != 0) {
		fprintf(stderr, "fuzz_sync: re-encoding differs from the "
		    "input (%zu vs %zu bytes)\n", wire_len(&w), size);
		abort();
	}
	wire_free(&w);
	/* What a BATCH carries goes on to the change-set receive path. */
	for (uint32_t i = 0; i < m.ncs; i++)
		fixture_receive(m.cs[i].hdr, m.cs[i].hdr_len, m.cs[i].payload,
		    m.cs[i].payload_len);
	sync_msg_free(&m);
	return 0;
}
