/* test_audit: the read audit's format: event blocks encoded and decoded, boxes sealed and opened. */
#define _GNU_SOURCE	/* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit.h"
#include "error.h"
#include "hlc.h"
#include "wire.h"

static void
recs3(struct audit_rec r[3])
{
	memset(r, 0, 3 * sizeof(*r));
	strcpy(r[0].collection, "case");
	strcpy(r[1].collection, "note");
	strcpy(r[2].collection, "note");
	for (int i = 0; i < 3; i++)
		memset(r[i].rid, 0x40 + i, RID_LEN);
}

/* A block of two events (a get of three records, a find of one). */
static void
block2(struct wbuf *blk, const uint8_t circle[16], const uint8_t dev[32])
{
	struct audit_rec r[3];
	struct wbuf ev;

	recs3(r);
	wire_init(&ev);
	audit_put_event(&ev, HLC_MAKE(1764547200000ULL, 3), AUDIT_GET, r, 3);
	audit_put_event(&ev, HLC_MAKE(1764547200001ULL, 0), AUDIT_FIND, r + 2,
	    1);
	audit_put_block(blk, circle, dev, wire_data(&ev), wire_len(&ev), 2);
	wire_free(&ev);
}

static int
decodes(const struct wbuf *w)
{
	struct audit_block b;
	int rc = audit_block_decode(&b, wire_data(w), wire_len(w));

	if (rc == 0)
		audit_block_free(&b);
	else
		assert_null(b.events);
	return rc;
}

/* A block of one ls event, written by hand up to its runs (nruns). */
static void
ls_head(struct wbuf *w, const uint8_t circle[16], const uint8_t dev[32],
    uint32_t nruns)
{
	wire_reset(w);
	wire_put_array(w, 4);
	wire_put_u64(w, AUDIT_VERSION);
	wire_put_bin(w, circle, 16);
	wire_put_bin(w, dev, 32);
	wire_put_array(w, 1);
	wire_put_array(w, 3);
	wire_put_u64(w, 5);
	wire_put_u64(w, AUDIT_LS);
	wire_put_array(w, nruns);
}

static void
test_block(void **state)
{
	uint8_t circle[16], dev[32];
	struct audit_rec r[3];
	struct audit_block b;
	struct wbuf w, ev;

	(void)state;
	memset(circle, 7, sizeof(circle));
	memset(dev, 9, sizeof(dev));
	recs3(r);
	wire_init(&w);
	block2(&w, circle, dev);
	assert_int_equal(audit_block_decode(&b, wire_data(&w), wire_len(&w)),
	    0);
	assert_memory_equal(b.circle, circle, 16);
	assert_memory_equal(b.device, dev, 32);
	assert_int_equal(b.nevents, 2);
	assert_true(b.events[0].hlc == HLC_MAKE(1764547200000ULL, 3));
	assert_int_equal(b.events[0].action, AUDIT_GET);
	assert_int_equal(b.events[0].nrecs, 3);
	assert_memory_equal(b.events[0].recs, r, sizeof(r));
	assert_int_equal(b.events[1].action, AUDIT_FIND);
	assert_int_equal(b.events[1].nrecs, 1);
	assert_memory_equal(&b.events[1].recs[0], &r[2], sizeof(r[2]));
	assert_string_equal(audit_action_name(b.events[1].action), "find");
	audit_block_free(&b);
	assert_int_equal(audit_action_parse("conflicts"), AUDIT_CONFLICTS);
	assert_int_equal(audit_action_parse("put"), 0);
	assert_null(audit_action_name(0));
	assert_null(audit_action_name(AUDIT_NACTIONS));

	/* Whatever it refuses, it refuses whole. */
	wire_init(&ev);
	audit_put_event(&ev, 1, AUDIT_NACTIONS, r, 1);
	wire_reset(&w);
	audit_put_block(&w, circle, dev, wire_data(&ev), wire_len(&ev), 1);
	assert_int_equal(decodes(&w), SAMEN_EVALUE);
	wire_reset(&ev);
	audit_put_event(&ev, 1, 0, r, 1);
	wire_reset(&w);
	audit_put_block(&w, circle, dev, wire_data(&ev), wire_len(&ev), 1);
	assert_int_equal(decodes(&w), SAMEN_EVALUE);
	/* A collection no record can be of. */
	wire_reset(&ev);
	strcpy(r[0].collection, "Case!");
	audit_put_event(&ev, 1, AUDIT_LS, r, 1);
	wire_reset(&w);
	audit_put_block(&w, circle, dev, wire_data(&ev), wire_len(&ev), 1);
	assert_int_equal(decodes(&w), SAMEN_EVALUE);
	recs3(r);
	/* Two runs of one collection in a row: not as it is written. */
	ls_head(&w, circle, dev, 2);
	for (int k = 0; k < 2; k++) {
		wire_put_array(&w, 2);
		wire_put_cstr(&w, "note");
		wire_put_array(&w, 1);
		wire_put_bin(&w, r[1].rid, RID_LEN);
	}
	assert_int_equal(decodes(&w), SAMEN_ENONCANON);
	/* Another version; a byte too many; a count it cannot hold. */
	wire_reset(&w);
	wire_put_array(&w, 4);
	wire_put_u64(&w, AUDIT_VERSION + 1);
	wire_put_bin(&w, circle, 16);
	wire_put_bin(&w, dev, 32);
	wire_put_array(&w, 0);
	assert_int_equal(decodes(&w), SAMEN_EVERSION);
	wire_reset(&w);
	block2(&w, circle, dev);
	wire_put_nil(&w);
	assert_int_equal(decodes(&w), SAMEN_ETRAILING);
	ls_head(&w, circle, dev, 1);
	wire_put_array(&w, 2);
	wire_put_cstr(&w, "note");
	wire_put_array(&w, 1000);	/* 1000 rids said, one given */
	wire_put_bin(&w, r[1].rid, RID_LEN);
	assert_int_equal(decodes(&w), SAMEN_ETRUNC);
	wire_free(&ev);
	wire_free(&w);
}

static void
test_box(void **state)
{
	uint8_t apk[32], ask[32], epk[32], esk[32], k[32], k2[32], other[32];
	uint8_t nonce[AUDIT_NONCELEN], circle[16], dev[32], *plain;
	struct audit_box box;
	struct wbuf blk, w;
	size_t len;

	(void)state;
	memset(circle, 1, sizeof(circle));
	memset(dev, 2, sizeof(dev));
	crypto_box_keypair(apk, ask);
	crypto_box_keypair(epk, esk);
	assert_int_equal(crypto_box_beforenm(k, apk, esk), 0);
	randombytes_buf(nonce, sizeof(nonce));
	wire_init(&blk);
	wire_init(&w);
	block2(&blk, circle, dev);
	audit_seal(&w, apk, epk, k, nonce, wire_data(&blk), wire_len(&blk));
	/* The block is nowhere in the box. */
	assert_null(memmem(wire_data(&w), wire_len(&w), wire_data(&blk) + 4,
	    16));
	assert_int_equal(audit_box_parse(&box, wire_data(&w), wire_len(&w)),
	    0);
	assert_true(audit_box_for(&box, apk));
	assert_memory_equal(box.eph, epk, 32);
	/* The admin's side: the audit secret and the ephemeral key. */
	assert_int_equal(crypto_box_beforenm(k2, box.eph, ask), 0);
	assert_int_equal(audit_box_open(&plain, &len, &box, k2), 0);
	assert_int_equal(len, wire_len(&blk));
	assert_memory_equal(plain, wire_data(&blk), len);
	free(plain);
	/* Without the audit secret: another key pair opens nothing. */
	crypto_box_keypair(other, ask);
	assert_false(audit_box_for(&box, other));
	assert_int_equal(crypto_box_beforenm(k2, box.eph, ask), 0);
	assert_int_equal(audit_box_open(&plain, &len, &box, k2),
	    SAMEN_EDECRYPT);
	/* A byte changed: refused. */
	assert_int_equal(crypto_box_beforenm(k2, box.eph, esk), 0);
	((uint8_t *)wire_data(&w))[wire_len(&w) - 3] ^= 1;
	assert_int_equal(audit_box_parse(&box, wire_data(&w), wire_len(&w)),
	    0);
	assert_int_equal(audit_box_open(&plain, &len, &box, k),
	    SAMEN_EDECRYPT);
	wire_reset(&w);
	wire_put_array(&w, 5);
	wire_put_u64(&w, AUDIT_VERSION + 1);
	wire_put_bin(&w, apk, AUDIT_HINTLEN);
	wire_put_bin(&w, epk, 32);
	wire_put_bin(&w, nonce, AUDIT_NONCELEN);
	wire_put_bin(&w, nonce, AUDIT_MACLEN);
	assert_int_equal(audit_box_parse(&box, wire_data(&w), wire_len(&w)),
	    SAMEN_EVERSION);
	wire_free(&blk);
	wire_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block),
		cmocka_unit_test(test_box),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
