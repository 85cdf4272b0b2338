/* test_lock: what a lock drops, module by module (ctl.c's order), and that unlock brings it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

/* Its statics (record_wipe), and the store's insides (store_int.h). */
#include "../../daemon/store_record.c"

#include "circle.h"
#include "error.h"
#include "index.h"
#include "keywrap.h"
#include "loader.h"
#include "log.h"
#include "vault.h"
#include "writer.h"

/* What no memory of a locked daemon may hold. */
#define CANARY "Kanarie-Vogelzang-42"

/* One device: keys, store, index, and what writes and reads them. */
struct dev {
	char dir[64];
	struct vault *vault;
	struct store *st;
	struct index *ix;
	struct loader *ld;
	struct writer *w;
	struct circle *cs;
};

static size_t
aborted_cb(void *arg, int code)
{
	(void)arg;
	(void)code;
	fail_msg("a batch was aborted");
	return 0;
}

static void
loaded_cb(void *arg)
{
	(void)arg;
}

static void
write_keys(const char *dir)
{
	struct keywrap_secrets s;
	uint8_t pk[32], salt[16], nonce[24], *file;
	size_t len;
	char *path = xasprintf("%s/%s", dir, VAULT_FILE);
	FILE *f;

	crypto_sign_keypair(pk, s.sign_sk);
	randombytes_buf(s.storage_key, sizeof(s.storage_key));
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(nonce, sizeof(nonce));
	assert_int_equal(keywrap_seal(&file, &len, &s, NULL, 0, salt, nonce),
	    0);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(file, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	sodium_memzero(&s, sizeof(s));
	free(file);
	free(path);
}

/* The unlock of ctl_admin.c, without the thread pool. */
static void
dev_unlock(struct dev *d)
{
	struct keywrap_secrets s;
	uint64_t max_hlc;

	assert_int_equal(vault_try(d->vault, NULL, 0, &s), 0);
	vault_install(d->vault, &s);
	store_set_key(d->st, vault_storage_key(d->vault));
	assert_int_equal(circle_unlock(d->cs), 0);
	assert_int_equal(store_max_hlc(d->st, &max_hlc), 0);
	writer_start(d->w, max_hlc);
	assert_int_equal(loader_load_now(d->ld), 0);
	assert_int_equal(circle_refresh(d->cs), 0);
}

/* The lock of ctl.c (drop_secrets), without sync. */
static void
dev_lock(struct dev *d)
{
	loader_lock(d->ld);
	writer_lock(d->w);
	circle_lock(d->cs);
	store_forget_key(d->st);
	vault_lock(d->vault);
}

static void
dev_open(struct dev *d)
{
	struct loader_env le;
	struct writer_env we;
	struct circle_env ce;
	char *cause = NULL, *db;

	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/samen-lock-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	write_keys(d->dir);
	assert_int_equal(vault_open(&d->vault, d->dir, &cause), 0);
	db = xasprintf("%s/samen.db", d->dir);
	assert_int_equal(store_open(&d->st, db, &cause), 0);
	free(db);
	d->ix = index_open();
	memset(&le, 0, sizeof(le));
	le.store = d->st;
	le.index = d->ix;
	le.loaded = loaded_cb;
	d->ld = loader_open(&le);
	memset(&we, 0, sizeof(we));
	we.store = d->st;
	we.vault = d->vault;
	we.touched = loader_touched;
	we.touched_arg = d->ld;
	we.aborted = aborted_cb;
	we.arg = d;
	d->w = writer_open(&we);
	memset(&ce, 0, sizeof(ce));
	ce.store = d->st;
	ce.vault = d->vault;
	ce.writer = d->w;
	ce.loader = d->ld;
	ce.dir = d->dir;
	d->cs = circle_open(&ce);
	dev_unlock(d);
}

static void
dev_close(struct dev *d)
{
	char *cmd = xasprintf("rm -rf '%s'", d->dir);

	circle_close(d->cs);
	writer_close(d->w);
	loader_close(d->ld);
	index_close(d->ix);
	store_close(d->st);
	vault_close(d->vault);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* A case of name in the private circle, committed and in the index. */
static void
put_case(struct dev *d, const char *name, uint8_t rid[RID_LEN])
{
	struct writer_ops l;
	uint64_t ticket = 0;
	char *cause = NULL;

	writer_new_rid(d->w, rid);
	writer_ops_init(&l);
	writer_ops_add(&l, OP_SET, "name", 4, name, strlen(name));
	assert_int_equal(writer_record(d->w, circle_private(d->cs), "case",
	    rid, NULL, 1, &l, &cause), 0);
	writer_ops_free(&l);
	assert_int_equal(writer_commit(d->w, &ticket), 0);
	(void)loader_refresh(d->ld, d->cs);
}

static int
all_zero(const void *p, size_t n)
{
	return sodium_is_zero(p, n);
}

static void
test_lock_drops_and_unlock_restores(void **state)
{
	struct dev d;
	struct store_record *r;
	const struct store_record *ir;
	uint8_t rid[RID_LEN], priv[CS_CIRCLELEN];
	int64_t rkey;

	(void)state;
	dev_open(&d);
	put_case(&d, CANARY, rid);
	assert_int_equal(index_count(d.ix), 1);
	memcpy(priv, circle_private(d.cs)->id, CS_CIRCLELEN);
	rkey = index_at(d.ix, 0)->rkey;
	/* A read leaves plaintext in the store's scratch buffer. */
	assert_int_equal(store_record_load(d.st, rkey, &r), 0);
	store_record_free(r);
	assert_false(all_zero(d.st->keys, sizeof(*d.st->keys)));

	dev_lock(&d);
	assert_true(vault_locked(d.vault));
	assert_null(vault_storage_key(d.vault));
	assert_null(vault_sign_sk(d.vault));
	assert_int_equal(index_count(d.ix), 0);
	assert_null(circle_private(d.cs));
	assert_null(circle_by_id(d.cs, priv));
	assert_null(circle_default(d.cs));
	assert_false(store_has_key(d.st));
	/* The key block, the scratch buffer, the packs, the fresh cache. */
	assert_true(all_zero(d.st->keys, sizeof(*d.st->keys)));
	assert_true(d.st->buf == NULL || all_zero(d.st->buf, d.st->bufcap));
	assert_true(all_zero(d.st->nonce_base, sizeof(d.st->nonce_base)));
	assert_true(all_zero(d.st->rec.coll, sizeof(d.st->rec.coll)));
	assert_int_equal(d.st->rdvp.ptlen, 0);
	assert_int_equal(d.st->fresh.len, 0);
	/* It reads as a locked store does. */
	assert_int_equal(store_record_load(d.st, rkey, &r), SAMEN_ELOCKED);
	assert_null(r);
	assert_int_equal(loader_load_now(d.ld), SAMEN_ELOCKED);
	assert_int_equal(index_count(d.ix), 0);
	/* Locking twice is harmless. */
	dev_lock(&d);

	/* Unlock: the same record, the same circle, and writes work. */
	dev_unlock(&d);
	assert_int_equal(index_count(d.ix), 1);
	assert_non_null(ir = index_get(d.ix, "case", rid));
	assert_string_equal(index_field(ir, "name", 0)->vals[0].value,
	    CANARY);
	assert_memory_equal(circle_private(d.cs)->id, priv, CS_CIRCLELEN);
	put_case(&d, "Familie Jansen", rid);
	assert_int_equal(index_count(d.ix), 2);
	dev_close(&d);
}

/* A record's strings are wiped before it is freed: packed or not. */
static void
test_record_wipe(void **state)
{
	struct dev d;
	struct store_record *r;
	uint8_t rid[RID_LEN];
	size_t len;

	(void)state;
	dev_open(&d);
	put_case(&d, CANARY, rid);
	assert_int_equal(store_record_load(d.st, index_at(d.ix, 0)->rkey, &r),
	    0);
	assert_true(r->packed);
	len = r->fields[0].vals[0].value_len;
	assert_int_equal(len, strlen(CANARY));
	record_wipe(r);
	assert_true(all_zero(r->fields[0].vals[0].value, len));
	assert_true(all_zero(r->fields[0].name, 4));
	assert_true(all_zero(r->collection, 4));
	store_record_free(r);

	/* One built by hand (index.h's tests make them so). */
	r = xcalloc(1, sizeof(*r));
	r->collection = xstrdup("case");
	r->nfields = 1;
	r->fields = xcalloc(1, sizeof(*r->fields));
	r->fields[0].name = xstrdup("name");
	r->fields[0].nvals = 1;
	r->fields[0].vals = xcalloc(1, sizeof(*r->fields[0].vals));
	r->fields[0].vals[0].value = xstrdup(CANARY);
	r->fields[0].vals[0].value_len = strlen(CANARY);
	record_wipe(r);
	assert_true(all_zero(r->fields[0].vals[0].value, strlen(CANARY)));
	assert_true(all_zero(r->collection, 4));
	store_record_free(r);
	dev_close(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_drops_and_unlock_restores),
		cmocka_unit_test(test_record_wipe),
	};

	if (sodium_init() < 0)
		return 1;
	log_init(1, LOG_LEVEL_WARN, "test_lock");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
