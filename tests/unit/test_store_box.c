/* test_store_box: sealing at rest: no plaintext in the files, and the boxes libsodium's XChaCha20-Poly1305. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "changeset.h"
#include "error.h"
#include "hlc.h"
#include "merge.h"
#include "ops.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "wire.h"

#include "store_fixture.h"
#include "store_int.h"	/* TAGLEN */

static int
file_contains(const char *path, const void *needle, size_t n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, got, i;
	int found;

	if (f == NULL)
		return 0;
	for (;;) {
		buf = xrealloc(buf, len + 65536);
		got = fread(buf + len, 1, 65536, f);
		len += got;
		if (got < 65536)
			break;
	}
	fclose(f);
	found = 0;
	for (i = 0; !found && i + n <= len; i++)
		found = buf[i] == *(const uint8_t *)needle &&
		    memcmp(buf + i, needle, n) == 0;
	free(buf);
	return found;
}

static void
assert_absent(const char *needle)
{
	char p[128];

	snprintf(p, sizeof(p), "%s-wal", w.path);
	assert_false(file_contains(w.path, needle, strlen(needle)));
	assert_false(file_contains(p, needle, strlen(needle)));
}

static void
test_plaintext_absent(void **state)
{
	static const char *secrets[] = {
		"dossiergeheim", "Huisartsnotitie", "Zonnebloemstraat 42 XYZZY",
		"kwartelkoning", "Kringnaam-Vertrouwelijk", "Bewindvoerder"
	};
	uint8_t rid[RID_LEN];
	struct op ops[4];
	struct store_circle c;
	struct store_record *r;
	char p[128];
	size_t i;

	(void)state;
	memset(&c, 0, sizeof(c));
	randombytes_buf(c.id, sizeof(c.id));
	randombytes_buf(c.key, sizeof(c.key));
	c.epoch = 1;
	c.name = (char *)secrets[4];
	assert_int_equal(store_circle_put(w.st, &c), 0);
	mkrid(rid, 1700000004000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set(secrets[1], secrets[2], NULL, 0);
	ops[2] = op_add(secrets[5], secrets[3]);
	ops[3] = op_rem(secrets[5], "ex-partner", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(1, 0), secrets[0], rid, ops, 4, NULL);
	merge(w.st);
	r = load(w.st, secrets[0], rid);
	assert_string_equal(field(r, secrets[1], 0)->vals[0].value,
	    secrets[2]);
	store_record_free(r);

	/* The check can see: the author's key is stored in clear. */
	snprintf(p, sizeof(p), "%s-wal", w.path);
	assert_true(file_contains(w.path, w.a.pk, 32) ||
	    file_contains(p, w.a.pk, 32));
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		assert_absent(secrets[i]);
	assert_absent("ex-partner");

	/* After a rebuild (rows rewritten) and a close (checkpoint). */
	assert_int_equal(store_rebuild(w.st), 0);
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		assert_absent(secrets[i]);
	store_close(w.st);
	w.st = NULL;
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		assert_absent(secrets[i]);
	open_store(&w.st, 1);
}

/*
 * Boxes are XChaCha20-Poly1305 under the storage key, as libsodium seals
 * them, though the store derives the subkey of its nonce prefix once
 * (struct store_keys): a collection's box (in colls, for a packed record,
 * bound to its tag) opens with crypto_aead_xchacha20poly1305_ietf_decrypt.
 * And boxes of two key
 * settings (two nonce prefixes) read back in turn, A, B, A: the subkey
 * kept for reading follows the prefix.
 */
static void
test_boxes_are_xchacha(void **state)
{
	uint8_t rid[2][RID_LEN], ad[1 + TAGLEN], pt[64];
	unsigned long long ptlen;
	struct store_record *r;
	struct op ops[2];
	sqlite3_stmt *s;
	sqlite3 *db;
	const uint8_t *box;
	int n;

	(void)state;
	mkrid(rid[0], 1700000013000ull);
	mkrid(rid[1], 1700000013001ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "first run", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(100, 0), "case", rid[0], ops, 2, NULL);
	merge(w.st);
	store_close(w.st);
	open_store(&w.st, 1);
	ops[1] = op_set("name", "second run", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(101, 0), "note", rid[1], ops, 2, NULL);
	merge(w.st);

	assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT c.name, c.ctag FROM "
	    "records r JOIN colls c ON c.ctag = r.ctag WHERE r.rid = ?1 AND "
	    "length(r.coll) = 0", -1, &s, NULL), SQLITE_OK);
	for (int i = 0; i < 2; i++) {
		sqlite3_bind_blob(s, 1, rid[i], RID_LEN, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		box = sqlite3_column_blob(s, 0);
		n = sqlite3_column_bytes(s, 0);
		assert_true(n > (int)crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
		assert_int_equal(sqlite3_column_bytes(s, 1), TAGLEN);
		ad[0] = 'C';
		memcpy(ad + 1, sqlite3_column_blob(s, 1), TAGLEN);
		assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(pt,
		    &ptlen, NULL,
		    box + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		    (unsigned long long)n -
		    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ad,
		    sizeof(ad), box, w.skey), 0);
		assert_int_equal(ptlen, 4);
		assert_memory_equal(pt, i == 0 ? "case" : "note", 4);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);

	for (int k = 0; k < 3; k++) {
		int i = k % 2;

		r = load(w.st, i == 0 ? "case" : "note", rid[i]);
		assert_string_equal(field(r, "name", 0)->vals[0].value,
		    i == 0 ? "first run" : "second run");
		store_record_free(r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plaintext_absent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_boxes_are_xchacha, setup,
		    teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
