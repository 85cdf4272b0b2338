/* fuzz_audit: the read audit's event blocks and sealed boxes, as an admin decodes what members wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "error.h"
#include "fixture.h"
#include "wire.h"

/*
 * The input's first byte chooses: even, the rest is a block
 * (audit_block_decode); odd, a box (audit_box_parse), opened with a key
 * fixed from the seed's audit key pair.  A member writes both; an admin
 * decodes them.
 *
 * Asserts: on error nothing is left (the block is empty); a block that
 * decodes holds its caps, valid actions and collections, and is written
 * back (audit_put_event, audit_put_block) to the very same bytes; a box
 * that parses lies inside the input and is written back the same; one
 * that opens holds its length less the MAC.
 */

static uint8_t key[AUDIT_KEYLEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t apk[32], ask[32], epk[32], esk[32];
	uint8_t seed[32];

	(void)argc;
	(void)argv;
	fixture_init();
	/* As mkseeds seals its boxes: fixed key pairs. */
	memset(seed, 0xa1, sizeof(seed));
	crypto_box_seed_keypair(apk, ask, seed);
	memset(seed, 0xe2, sizeof(seed));
	crypto_box_seed_keypair(epk, esk, seed);
	if (crypto_box_beforenm(key, epk, ask) != 0)
		abort();
	return 0;
}

static void
block(const uint8_t *p, size_t n)
{
	struct audit_block b;
	struct wbuf ev, w;
	int rc;

	if ((rc = audit_block_decode(&b, p, n)) != 0) {
		if (b.events != NULL || b.recs != NULL || b.nevents != 0 ||
		    rc >= 0)
			abort();
		return;
	}
	wire_init(&ev);
	wire_init(&w);
	for (size_t i = 0; i < b.nevents; i++) {
		const struct audit_event *e = &b.events[i];

		if (audit_action_name(e->action) == NULL ||
		    e->nrecs > AUDIT_MAX_RECS)
			abort();
		for (size_t k = 0; k < e->nrecs; k++)
			if (!ops_collection_valid(e->recs[k].collection,
			    strlen(e->recs[k].collection)))
				abort();
		audit_put_event(&ev, e->hlc, e->action, e->recs, e->nrecs);
	}
	audit_put_block(&w, b.circle, b.device, wire_data(&ev), wire_len(&ev),
	    (uint32_t)b.nevents);
	if (wire_len(&w) != n || memcmp(wire_data(&w), p, n) != 0)
		abort();
	wire_free(&ev);
	wire_free(&w);
	audit_block_free(&b);
}

static void
box(const uint8_t *p, size_t n)
{
	struct audit_box b;
	struct wbuf w;
	uint8_t *plain;
	size_t len;

	if (audit_box_parse(&b, p, n) != 0)
		return;
	if (b.ct < p || b.ct + b.ct_len > p + n || b.ct_len < AUDIT_MACLEN)
		abort();
	wire_init(&w);
	wire_put_array(&w, 5);
	wire_put_u64(&w, AUDIT_VERSION);
	wire_put_bin(&w, b.hint, AUDIT_HINTLEN);
	wire_put_bin(&w, b.eph, 32);
	wire_put_bin(&w, b.nonce, AUDIT_NONCELEN);
	wire_put_bin(&w, b.ct, b.ct_len);
	if (wire_len(&w) != n || memcmp(wire_data(&w), p, n) != 0)
		abort();
	wire_free(&w);
	if (audit_box_open(&plain, &len, &b, key) == 0) {
		if (len != b.ct_len - AUDIT_MACLEN)
			abort();
		block(plain, len);
		free(plain);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		block(data + 1, size - 1);
	else
		box(data + 1, size - 1);
	return 0;
}
