/* test_circle: circles held, created, added to and joined, on two devices in one process. */
#include <fcntl.h>
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

#include "circle.h"
#include "error.h"
#include "index.h"
#include "keywrap.h"
#include "loader.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "vault.h"
#include "writer.h"

/* A circle name no log line may show: it could name a family. */
#define SECRET_NAME "family-de-vries"

/* One device: keys, store, index, and the modules the circle uses. */
struct dev {
	char dir[64];
	struct vault *vault;
	struct store *st;
	struct index *ix;
	struct loader *ld;
	struct writer *w;
	struct circle *cs;
	size_t aborts;
	int changed;
};

static size_t
aborted_cb(void *arg, int code)
{
	struct dev *d = arg;

	(void)code;
	d->aborts++;
	loader_forget(d->ld);
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

static void
dev_open(struct dev *d)
{
	struct keywrap_secrets s;
	struct loader_env le;
	struct writer_env we;
	struct circle_env ce;
	char *cause = NULL, *db;

	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/samen-circle-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
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
	assert_int_equal(circle_unlock(d->cs), 0);
	assert_int_equal(circle_refresh(d->cs), 0);
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

/* The end of a batch of control requests, as ctl.c's flush does it. */
static void
dev_commit(struct dev *d)
{
	uint64_t ticket = 0;

	assert_int_equal(writer_commit(d->w, &ticket), 0);
	(void)loader_refresh(d->ld, d->cs);
	loader_forget(d->ld);
	circle_refresh_pending(d->cs);
}

static const uint8_t *
me(const struct dev *d)
{
	return vault_public_key(d->vault);
}

/* Makes circle name on d; returns it. */
static const struct store_circle *
make_circle(struct dev *d, const char *name, uint8_t id[CS_CIRCLELEN])
{
	char *cause = NULL;

	assert_int_equal(circle_create(d->cs, name, id, &cause), 0);
	assert_null(cause);
	dev_commit(d);
	return circle_by_id(d->cs, id);
}

/* Copies d's change sets of (chain, author) into to, as a sync would. */
struct copy {
	struct dev *to;
	size_t n;
};

static int
copy_cb(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct copy *cp = arg;
	struct cs_header h;
	uint8_t id[CS_IDLEN];

	(void)seq;
	assert_int_equal(changeset_header_decode(&h, hdr, hdr_len), 0);
	changeset_id(id, hdr, hdr_len);
	assert_int_equal(store_cs_insert_merged(cp->to->st, &h, id, hdr,
	    hdr_len, payload, payload_len), 0);
	cp->n++;
	return 0;
}

static size_t
copy_chain(struct dev *from, struct dev *to, const uint8_t chain[CS_CIRCLELEN])
{
	struct copy cp = { to, 0 };

	/* One batch: stored and merged by one commit (peer.c's order). */
	assert_int_equal(store_begin(to->st), 0);
	assert_int_equal(store_cs_range(from->st, chain, me(from), 0, 1000,
	    copy_cb, &cp), 0);
	loader_merge(to->ld);
	assert_int_equal(store_commit(to->st), 0);
	circle_stored(to->cs, 1);
	return cp.n;
}

static void
test_private(void **state)
{
	struct dev a;
	const struct store_circle *p;
	uint8_t id[CS_CIRCLELEN];

	(void)state;
	dev_open(&a);
	assert_non_null(p = circle_private(a.cs));
	memcpy(id, p->id, CS_CIRCLELEN);
	assert_ptr_equal(circle_by_name(a.cs, "private"), p);
	assert_ptr_equal(circle_by_id(a.cs, id), p);
	assert_ptr_equal(circle_default(a.cs), p);
	assert_false(circle_is_chain(a.cs, id));
	assert_int_equal(circle_nviews(a.cs), 0);
	/* Never shared with anyone. */
	assert_true(circle_refuses(a.cs, id, me(&a)));
	assert_int_equal(a.changed, 1);

	/* The next unlock finds the same one. */
	circle_close(a.cs);
	{
		struct circle_env ce;

		memset(&ce, 0, sizeof(ce));
		ce.store = a.st;
		ce.vault = a.vault;
		ce.writer = a.w;
		ce.loader = a.ld;
		ce.dir = a.dir;
		a.cs = circle_open(&ce);
	}
	assert_null(circle_private(a.cs));
	assert_int_equal(circle_unlock(a.cs), 0);
	assert_memory_equal(circle_private(a.cs)->id, id, CS_CIRCLELEN);
	dev_close(&a);
}

static void
test_create_and_add(void **state)
{
	struct dev a, b;
	const struct store_circle *team, *chain;
	const struct members_view *v;
	uint8_t id[CS_CIRCLELEN], (*shared)[CS_CIRCLELEN], (*members)[32];
	char *cause = NULL;

	(void)state;
	dev_open(&a);
	dev_open(&b);
	assert_non_null(team = make_circle(&a, "team", id));
	assert_ptr_equal(circle_by_name(a.cs, "team"), team);
	assert_true(circle_name_taken(a.cs, "team"));
	assert_false(circle_name_taken(a.cs, "other"));
	assert_non_null(chain = circle_chain_of(a.cs, id));
	assert_true(circle_is_chain(a.cs, chain->id));
	assert_non_null(v = circle_view(a.cs, id));
	assert_true(v->valid);
	assert_string_equal(v->name, "team");
	assert_memory_equal(v->creator, me(&a), 32);
	assert_true(members_is_admin(v, me(&a)));
	assert_int_equal(v->nmembers, 1);

	/* Nobody else yet: b is refused the circle, and shares nothing. */
	assert_true(circle_refuses(a.cs, id, me(&b)));
	assert_false(circle_refuses(a.cs, id, me(&a)));
	assert_int_equal(circle_shared(a.cs, me(&b), &shared), 0);
	assert_null(shared);

	assert_int_equal(writer_close_all(a.w, &cause), 0);
	team = circle_by_id(a.cs, id);
	assert_int_equal(circle_add(a.cs, team, me(&b), &cause), 0);
	dev_commit(&a);
	assert_non_null(v = circle_view(a.cs, id));
	assert_int_equal(v->nmembers, 2);
	assert_non_null(members_find(v, me(&b)));
	assert_false(members_is_admin(v, me(&b)));
	assert_false(circle_refuses(a.cs, id, me(&b)));
	assert_int_equal(circle_shared(a.cs, me(&b), &shared), 1);
	assert_memory_equal(shared[0], id, CS_CIRCLELEN);
	free(shared);
	assert_int_equal(circle_members(a.cs, &members), 2);
	free(members);

	/* A circle we do not know: not ours to refuse. */
	memset(id, 7, sizeof(id));
	assert_false(circle_refuses(a.cs, id, me(&b)));
	assert_int_equal(a.aborts, 0);
	dev_close(&a);
	dev_close(&b);
}

static void
test_default(void **state)
{
	struct dev a;
	uint8_t id[CS_CIRCLELEN];
	const struct store_circle *team;

	(void)state;
	dev_open(&a);
	team = make_circle(&a, "team", id);
	assert_int_equal(circle_use(a.cs, id), 0);
	assert_ptr_equal(circle_default(a.cs), circle_by_id(a.cs, id));
	(void)team;
	/* Read again at the next unlock. */
	circle_close(a.cs);
	{
		struct circle_env ce;

		memset(&ce, 0, sizeof(ce));
		ce.store = a.st;
		ce.vault = a.vault;
		ce.writer = a.w;
		ce.loader = a.ld;
		ce.dir = a.dir;
		a.cs = circle_open(&ce);
	}
	assert_int_equal(circle_unlock(a.cs), 0);
	assert_int_equal(circle_refresh(a.cs), 0);
	assert_memory_equal(circle_default(a.cs)->id, id, CS_CIRCLELEN);
	dev_close(&a);
}

/* Reads what fd 2 got since offset. */
static char *
read_log(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = xcalloc(1, 1 << 16);

	assert_non_null(f);
	(void)fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	return buf;
}

/*
 * b is added on a, learns of it (a's HELLO would list the circle: b joins
 * its members chain), receives the chain, takes the key sealed to it, and
 * merges what it already held of the circle but could not read.
 */
static void
test_join(void **state)
{
	struct dev a, b;
	uint8_t id[CS_CIRCLELEN], rid[RID_LEN], chain[CS_CIRCLELEN];
	uint8_t (*join)[CS_CIRCLELEN], stranger[32];
	const struct store_circle *team;
	struct writer_ops *l = xcalloc(1, sizeof(*l));
	char hex[2 * CS_CIRCLELEN + 1], logpath[96], *log, *cause = NULL;
	int saved, fd;

	(void)state;
	dev_open(&a);
	dev_open(&b);
	snprintf(logpath, sizeof(logpath), "%s/log", b.dir);
	fflush(stderr);
	saved = dup(2);
	assert_true((fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC,
	    0600)) >= 0);
	dup2(fd, 2);
	close(fd);

	team = make_circle(&a, SECRET_NAME, id);
	memcpy(chain, circle_chain_of(a.cs, id)->id, CS_CIRCLELEN);
	assert_int_equal(circle_add(a.cs, team, me(&b), &cause), 0);
	dev_commit(&a);
	/* A record in the circle, written on a. */
	team = circle_by_id(a.cs, id);
	writer_ops_init(l);
	writer_ops_add(l, OP_SET, "name", 4, "Jansen", 6);
	writer_new_rid(a.w, rid);
	assert_int_equal(writer_record(a.w, team, "case", rid, NULL, 1, l,
	    &cause), 0);
	writer_ops_free(l);
	dev_commit(&a);

	/* b holds the circle's change sets before it may read them. */
	assert_int_equal(copy_chain(&a, &b, id), 1);
	assert_null(index_get(b.ix, "case", rid));
	assert_null(circle_by_id(b.cs, id));
	/* It joins: the members chain comes in, with the key sealed to b. */
	join = xcalloc(1, sizeof(*join));
	memcpy(join[0], id, CS_CIRCLELEN);
	circle_join(b.cs, join, 1);
	free(join);
	assert_non_null(circle_chain_of(b.cs, id));
	/* Joining: not known well enough to refuse anyone. */
	assert_false(circle_refuses(b.cs, id, me(&a)));
	assert_int_equal(copy_chain(&a, &b, chain), 3);
	assert_non_null(circle_by_id(b.cs, id));
	assert_non_null(circle_by_name(b.cs, SECRET_NAME));
	assert_false(circle_refuses(b.cs, id, me(&a)));
	randombytes_buf(stranger, sizeof(stranger));
	assert_true(circle_refuses(b.cs, id, stranger));
	assert_non_null(index_get(b.ix, "case", rid));

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log = read_log(logpath);
	hex_encode(hex, id, CS_CIRCLELEN);
	if (strstr(log, SECRET_NAME) != NULL)
		fail_msg("a log line names the circle:\n%s", log);
	if (strstr(log, "created circle") == NULL ||
	    strstr(log, "joined circle") == NULL ||
	    strstr(log, hex) == NULL)
		fail_msg("the log does not say which circle by id:\n%s", log);
	free(log);
	free(l);
	dev_close(&a);
	dev_close(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private),
		cmocka_unit_test(test_create_and_add),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_join),
	};

	if (sodium_init() < 0)
		return 1;
	log_init(1, LOG_LEVEL_INFO, "test_circle");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
