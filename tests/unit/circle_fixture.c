/* circle_fixture: devices in one process with the modules circles use, for the unit tests that need several of them. */
#include "circle_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "error.h"
#include "index.h"
#include "keywrap.h"
#include "loader.h"
#include "store.h"
#include "sync.h"
#include "trail.h"
#include "util.h"
#include "vault.h"
#include "writer.h"

static size_t
aborted_cb(void *arg, int code)
{
	struct dev *d = arg;

	(void)code;
	d->aborts++;
	loader_forget(d->ld);
	trail_drop(d->t);
	return 0;
}

static void
changed_cb(void *arg)
{
	((struct dev *)arg)->changed++;
}

static void
loaded_cb(void *arg)
{
	(void)arg;
}

/* A key file without a passphrase in dir, as samen init writes it. */
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

void
dev_open(struct dev *d)
{
	struct keywrap_secrets s;
	struct loader_env le;
	struct writer_env we;
	struct circle_env ce;
	struct trail_env te;
	char *cause = NULL, *db;

	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/samen-circle-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	assert_int_equal(uv_loop_init(&d->loop), 0);
	write_keys(d->dir);
	assert_int_equal(vault_open(&d->vault, d->dir, &cause), 0);
	assert_int_equal(vault_try(d->vault, NULL, 0, &s), 0);
	vault_install(d->vault, &s);
	db = xasprintf("%s/samen.db", d->dir);
	assert_int_equal(store_open(&d->st, db, &cause), 0);
	free(db);
	store_set_key(d->st, vault_storage_key(d->vault));
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
	ce.changed = changed_cb;
	ce.arg = d;
	d->cs = circle_open(&ce);
	memset(&te, 0, sizeof(te));
	te.loop = &d->loop;
	te.store = d->st;
	te.vault = d->vault;
	te.circle = d->cs;
	te.writer = d->w;
	d->t = trail_open(&te);
	d->p.env.store = d->st;
	d->p.env.vault = d->vault;
	d->p.env.index = d->ix;
	d->p.circle = d->cs;
	d->p.writer = d->w;
	d->p.loader = d->ld;
	d->p.trail = d->t;
	assert_int_equal(circle_unlock(d->cs), 0);
	assert_int_equal(circle_refresh(d->cs), 0);
}

void
dev_close(struct dev *d)
{
	char *cmd = xasprintf("rm -rf '%s'", d->dir);

	trail_stop(d->t);
	assert_int_equal(uv_run(&d->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&d->loop), 0);
	trail_close(d->t);
	circle_close(d->cs);
	writer_close(d->w);
	loader_close(d->ld);
	index_close(d->ix);
	store_close(d->st);
	vault_close(d->vault);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

void
dev_commit(struct dev *d)
{
	uint64_t ticket = 0;
	char *cause = NULL;

	assert_int_equal(trail_flush(d->t, 1, &cause), 0);
	assert_null(cause);
	assert_int_equal(writer_commit(d->w, &ticket), 0);
	(void)loader_refresh(d->ld, d->cs);
	loader_forget(d->ld);
	circle_refresh_pending(d->cs);
}

const uint8_t *
dev_key(const struct dev *d)
{
	return vault_public_key(d->vault);
}

struct copy {
	struct dev *to;
	size_t n;
};

static int
copy_cb(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct copy *cp = arg;
	struct cs_header h;
	uint8_t id[CS_IDLEN];
	int rc;

	assert_int_equal(changeset_header_decode(&h, hdr, hdr_len), 0);
	changeset_id(id, hdr, hdr_len);
	rc = store_cs_insert_merged(cp->to->st, &h, id, hdr, hdr_len, payload,
	    payload_len);
	assert_true(rc == 0 || rc == SAMEN_EEXIST);
	cp->n += rc == 0;
	return 0;
}

size_t
dev_copy_chain(struct dev *from, struct dev *to,
    const uint8_t chain[CS_CIRCLELEN])
{
	struct copy cp = { to, 0 };

	/* One batch: stored and merged by one commit (peer.c's order). */
	assert_int_equal(store_begin(to->st), 0);
	assert_int_equal(store_chain_each(from->st, chain, copy_cb, &cp), 0);
	loader_merge(to->ld);
	assert_int_equal(store_commit(to->st), 0);
	circle_stored(to->cs, 1);
	return cp.n;
}

void
dev_sync_circle(struct dev *from, struct dev *to,
    const uint8_t id[CS_CIRCLELEN])
{
	uint8_t chain[CS_CIRCLELEN];
	uint8_t (*join)[CS_CIRCLELEN];

	if (circle_chain_of(to->cs, id) == NULL) {
		join = xcalloc(1, sizeof(*join));
		memcpy(join[0], id, CS_CIRCLELEN);
		circle_join(to->cs, join, 1);
		free(join);
	}
	sync_members_circle(chain, id);
	(void)dev_copy_chain(from, to, chain);
	(void)dev_copy_chain(from, to, id);
}
