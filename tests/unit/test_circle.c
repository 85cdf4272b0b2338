/* test_circle: circles held, created, joined, and their rosters written through the real writer, on several devices in one process. */
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
#include "circle_fixture.h"
#include "devid.h"
#include "error.h"
#include "index.h"
#include "log.h"
#include "roster.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "writer.h"

/* A circle name no log line may show: it could name a family. */
#define SECRET_NAME "family-de-vries"

/* Makes circle name on d; returns it. */
static const struct store_circle *
make_circle(struct dev *d, const char *name, uint8_t id[CS_CIRCLELEN])
{
	struct circle_done done;
	char *cause = NULL;

	assert_int_equal(circle_create(d->cs, name, &done, &cause), 0);
	assert_null(cause);
	assert_string_equal(done.name, name);
	assert_int_equal(done.epoch, ROSTER_FIRST_EPOCH);
	memcpy(id, done.id, CS_CIRCLELEN);
	dev_commit(d);
	return circle_by_id(d->cs, id);
}

/* d adds who to circle name with role (history unless no_history). */
static void
add(struct dev *d, const char *name, const struct dev *who,
    enum roster_role role, int history)
{
	struct circle_done done;
	char *cause = NULL;

	assert_int_equal(circle_add(d->cs, name, dev_key(who), role, history,
	    &done, &cause), 0);
	assert_null(cause);
	assert_int_equal(done.role, role);
	dev_commit(d);
}

/* An op d must refuse: code, a one-line cause holding what, nothing
 * written. */
static void
refused(struct dev *d, int got, char *cause, int code, const char *what)
{
	struct store_stats before, after;

	if (got != code || cause == NULL || strchr(cause, '\n') != NULL ||
	    strstr(cause, what) == NULL)
		fail_msg("expected %d \"...%s...\", got %d \"%s\"", code, what,
		    got, cause ? cause : "(null)");
	free(cause);
	assert_int_equal(store_stats(d->st, &before), 0);
	dev_commit(d);
	assert_int_equal(store_stats(d->st, &after), 0);
	assert_int_equal(before.changesets, after.changesets);
}

/* A case written on d in circle id; its id into rid. */
static void
put_case(struct dev *d, const uint8_t id[CS_CIRCLELEN], const char *name,
    uint8_t rid[RID_LEN])
{
	struct writer_ops *l = xcalloc(1, sizeof(*l));
	const struct store_circle *c = circle_by_id(d->cs, id);
	char *cause = NULL;

	assert_non_null(c);
	writer_ops_init(l);
	writer_ops_add(l, OP_SET, "name", 4, name, strlen(name));
	writer_new_rid(d->w, rid);
	assert_int_equal(writer_record(d->w, c, "case", rid, NULL, 1, l,
	    &cause), 0);
	writer_ops_free(l);
	free(l);
	dev_commit(d);
}

static const struct circle_info *
info(const struct dev *d, const char *name)
{
	const struct circle_info *c = circle_find(d->cs, name);

	assert_non_null(c);
	return c;
}

/* device's role and state in circle id as d's roster has it. */
static void
role_is(const struct dev *d, const uint8_t id[CS_CIRCLELEN],
    const struct dev *who, enum roster_role role, enum roster_state state)
{
	enum roster_state got;
	enum roster_role r = circle_role(d->cs, id, dev_key(who), &got);

	if (r != role || got != state)
		fail_msg("role %d state %d, expected %d %d", r, got, role,
		    state);
}

static void
test_private(void **state)
{
	struct dev a;
	const struct store_circle *p;
	uint8_t id[CS_CIRCLELEN];
	size_t n;

	(void)state;
	dev_open(&a);
	assert_non_null(p = circle_private(a.cs));
	memcpy(id, p->id, CS_CIRCLELEN);
	assert_ptr_equal(circle_by_name(a.cs, "private"), p);
	assert_ptr_equal(circle_by_id(a.cs, id), p);
	assert_ptr_equal(circle_default(a.cs), p);
	assert_false(circle_is_chain(a.cs, id));
	(void)circle_list(a.cs, &n);
	assert_int_equal(n, 0);
	/* Never shared with anyone. */
	assert_true(circle_refuses(a.cs, id, dev_key(&a)));
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
	const struct circle_info *c;
	uint8_t id[CS_CIRCLELEN], (*shared)[CS_CIRCLELEN], (*members)[32];
	char hex[2 * CS_CIRCLELEN + 1];

	(void)state;
	dev_open(&a);
	dev_open(&b);
	assert_non_null(team = make_circle(&a, "team", id));
	assert_ptr_equal(circle_by_name(a.cs, "team"), team);
	assert_true(circle_name_taken(a.cs, "team"));
	assert_false(circle_name_taken(a.cs, "other"));
	assert_non_null(chain = circle_chain_of(a.cs, id));
	assert_true(circle_is_chain(a.cs, chain->id));
	c = info(&a, "team");
	assert_true(c->named);
	assert_non_null(c->r);
	assert_true(roster_circle_valid(c->r));
	assert_memory_equal(roster_creator(c->r), dev_key(&a), 32);
	assert_true(roster_is_admin(c->r, dev_key(&a)));
	assert_int_equal(c->epoch, ROSTER_FIRST_EPOCH);
	assert_true(c->writable);
	assert_int_equal(c->role, ROSTER_ADMIN);
	assert_int_equal(team->epoch, ROSTER_FIRST_EPOCH);
	/* It goes by the start of its id too. */
	hex_encode(hex, id, CS_CIRCLELEN);
	hex[8] = '\0';
	assert_ptr_equal(circle_find(a.cs, hex), c);
	hex[7] = '\0';
	assert_null(circle_find(a.cs, hex));

	/* Nobody else yet: b is refused the circle, and shares nothing. */
	assert_true(circle_refuses(a.cs, id, dev_key(&b)));
	assert_false(circle_refuses(a.cs, id, dev_key(&a)));
	assert_int_equal(circle_shared(a.cs, dev_key(&b), &shared), 0);
	assert_null(shared);
	role_is(&a, id, &b, ROSTER_NOROLE, 0);

	add(&a, "team", &b, ROSTER_MEMBER, 1);
	role_is(&a, id, &b, ROSTER_MEMBER, ROSTER_CURRENT);
	assert_false(circle_refuses(a.cs, id, dev_key(&b)));
	assert_int_equal(circle_shared(a.cs, dev_key(&b), &shared), 1);
	assert_memory_equal(shared[0], id, CS_CIRCLELEN);
	free(shared);
	assert_int_equal(circle_members(a.cs, &members), 2);
	free(members);

	/* A circle we do not know: not ours to refuse. */
	memset(id, 7, sizeof(id));
	assert_false(circle_refuses(a.cs, id, dev_key(&b)));
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

/* Reads what fd 2 got. */
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
 * merges what it already held of the circle but could not read.  Its
 * name, sealed in the create op, reads on b, and no log line holds it.
 */
static void
test_join(void **state)
{
	struct dev a, b;
	uint8_t id[CS_CIRCLELEN], rid[RID_LEN], chain[CS_CIRCLELEN];
	uint8_t (*join)[CS_CIRCLELEN], stranger[32];
	char hex[2 * CS_CIRCLELEN + 1], logpath[96], *log;
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

	(void)make_circle(&a, SECRET_NAME, id);
	memcpy(chain, circle_chain_of(a.cs, id)->id, CS_CIRCLELEN);
	add(&a, SECRET_NAME, &b, ROSTER_MEMBER, 1);
	put_case(&a, id, "Jansen", rid);

	/* b holds the circle's change sets before it may read them. */
	assert_int_equal(dev_copy_chain(&a, &b, id), 1);
	assert_null(index_get(b.ix, "case", rid));
	assert_null(circle_by_id(b.cs, id));
	/* It joins: the members chain comes in, with the key sealed to b. */
	join = xcalloc(1, sizeof(*join));
	memcpy(join[0], id, CS_CIRCLELEN);
	circle_join(b.cs, join, 1);
	free(join);
	assert_non_null(circle_chain_of(b.cs, id));
	/* Joining: not known well enough to refuse anyone. */
	assert_false(circle_refuses(b.cs, id, dev_key(&a)));
	assert_int_equal(dev_copy_chain(&a, &b, chain), 2);
	assert_non_null(circle_by_id(b.cs, id));
	assert_non_null(circle_by_name(b.cs, SECRET_NAME));
	assert_true(info(&b, SECRET_NAME)->named);
	assert_false(circle_refuses(b.cs, id, dev_key(&a)));
	randombytes_buf(stranger, sizeof(stranger));
	assert_true(circle_refuses(b.cs, id, stranger));
	assert_non_null(index_get(b.ix, "case", rid));
	/* The same roster on both. */
	{
		uint8_t da[32], db[32];

		roster_digest(info(&a, SECRET_NAME)->r, da);
		roster_digest(info(&b, SECRET_NAME)->r, db);
		assert_memory_equal(da, db, 32);
	}

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log = read_log(logpath);
	hex_encode(hex, id, CS_CIRCLELEN);
	if (strstr(log, SECRET_NAME) != NULL)
		fail_msg("a log line names the circle:\n%s", log);
	if (strstr(log, "joined circle") == NULL || strstr(log, hex) == NULL)
		fail_msg("the log does not say which circle by id:\n%s", log);
	free(log);
	dev_close(&a);
	dev_close(&b);
}

/*
 * The roster as the circle module resolves it from a members chain the
 * real writer wrote: roles, a role change, a relay, a --no-history
 * member, a removal; the epochs and who holds which key.
 */
static void
test_roster_from_chain(void **state)
{
	struct dev a, b, r, x, n;
	const struct circle_info *c;
	struct circle_done done;
	uint8_t id[CS_CIRCLELEN], rid[RID_LEN];
	char *cause = NULL;
	uint32_t first;
	size_t nn;

	(void)state;
	dev_open(&a);
	dev_open(&b);
	dev_open(&r);
	dev_open(&x);
	dev_open(&n);
	(void)make_circle(&a, "team", id);
	add(&a, "team", &b, ROSTER_MEMBER, 1);
	add(&a, "team", &r, ROSTER_RELAY, 1);
	add(&a, "team", &x, ROSTER_MEMBER, 1);
	role_is(&a, id, &b, ROSTER_MEMBER, ROSTER_CURRENT);
	role_is(&a, id, &r, ROSTER_RELAY, ROSTER_CURRENT);
	/* b made admin: two admins now. */
	assert_int_equal(circle_set_role(a.cs, "team", dev_key(&b), ROSTER_ADMIN,
	    &done, &cause), 0);
	dev_commit(&a);
	role_is(&a, id, &b, ROSTER_ADMIN, ROSTER_CURRENT);
	c = info(&a, "team");
	assert_int_equal(c->nepochs, 1);
	assert_int_equal(roster_count(c->r, ROSTER_VALID), 5);

	/* b receives it all: it reads, it is admin, it holds epoch 1. */
	dev_sync_circle(&a, &b, id);
	c = info(&b, "team");
	assert_int_equal(c->role, ROSTER_ADMIN);
	assert_true(c->writable);
	assert_true(roster_is_admin(c->r, dev_key(&b)));

	/*
	 * b removes the relay: a new epoch, but the first one is exposed to
	 * nobody (a relay never held it), so writers keep it.
	 */
	assert_int_equal(circle_remove(b.cs, "team", dev_key(&r), &done, &cause),
	    0);
	assert_null(cause);
	dev_commit(&b);
	assert_true(done.epoch & 0x80000000u);
	c = info(&b, "team");
	assert_int_equal(c->nepochs, 2);
	assert_int_equal(c->epoch, ROSTER_FIRST_EPOCH);
	role_is(&b, id, &r, ROSTER_RELAY, ROSTER_REMOVED);
	/* b removes x, which held the first key: its new epoch is the one. */
	assert_int_equal(circle_remove(b.cs, "team", dev_key(&x), &done, &cause),
	    0);
	dev_commit(&b);
	first = done.epoch;
	c = info(&b, "team");
	assert_int_equal(c->nepochs, 3);
	assert_int_equal(c->epoch, first);
	assert_true(c->writable);
	role_is(&b, id, &x, ROSTER_MEMBER, ROSTER_REMOVED);
	/* a learns it and writes with the new epoch too. */
	dev_sync_circle(&b, &a, id);
	assert_int_equal(info(&a, "team")->epoch, first);
	assert_int_equal(circle_by_id(a.cs, id)->epoch, first);
	put_case(&a, id, "after", rid);

	/* n, added with --no-history, gets the current key alone. */
	add(&a, "team", &n, ROSTER_MEMBER, 0);
	dev_sync_circle(&a, &n, id);
	c = circle_list(n.cs, &nn);
	assert_int_equal(nn, 1);
	assert_true(c->writable);
	assert_int_equal(c->epoch, first);
	/* It reads what is written now, and cannot read the circle's name
	 * (sealed under the first key): it shows the id's start instead. */
	assert_non_null(index_get(n.ix, "case", rid));
	assert_false(c->named);
	assert_null(circle_find(n.cs, "team"));
	assert_int_equal(a.aborts + b.aborts + n.aborts, 0);
	dev_close(&a);
	dev_close(&b);
	dev_close(&r);
	dev_close(&x);
	dev_close(&n);
}

/*
 * A, B, C in a circle; A removes C and writes: C, even holding that
 * change set, cannot read it (it lacks the new epoch's key); B can.  What
 * C wrote before it knew (past its cut) is quarantined on A: not in A's
 * replica, listed, and let in by an accept.
 */
static void
test_remove_quarantine_accept(void **state)
{
	struct dev a, b, c;
	struct circle_done done;
	struct circle_held *held;
	const struct circle_info *ci;
	uint8_t id[CS_CIRCLELEN], canary[RID_LEN], early[RID_LEN];
	uint8_t late[RID_LEN];
	char *cause = NULL;
	size_t n;

	(void)state;
	dev_open(&a);
	dev_open(&b);
	dev_open(&c);
	(void)make_circle(&a, "team", id);
	add(&a, "team", &b, ROSTER_MEMBER, 1);
	add(&a, "team", &c, ROSTER_MEMBER, 1);
	dev_sync_circle(&a, &b, id);
	dev_sync_circle(&a, &c, id);
	/* C writes once, which A gets before the removal: within its cut. */
	put_case(&c, id, "early", early);
	dev_sync_circle(&c, &a, id);
	assert_non_null(index_get(a.ix, "case", early));

	assert_int_equal(circle_remove(a.cs, "team", dev_key(&c), &done, &cause),
	    0);
	dev_commit(&a);
	assert_int_equal(done.cut, 1);
	put_case(&a, id, "canary", canary);
	/* C writes again, not knowing. */
	put_case(&c, id, "late", late);

	/* C is handed everything A holds: it reads none of the new. */
	dev_sync_circle(&a, &c, id);
	assert_null(index_get(c.ix, "case", canary));
	assert_null(circle_by_id(c.cs, id));
	ci = info(&c, "team");
	assert_int_equal(ci->state, ROSTER_REMOVED);
	assert_false(ci->writable);
	/* B reads it. */
	dev_sync_circle(&a, &b, id);
	assert_non_null(index_get(b.ix, "case", canary));

	/* C's late write reaches A: held back, listed, not merged. */
	dev_sync_circle(&c, &a, id);
	assert_null(index_get(a.ix, "case", late));
	ci = info(&a, "team");
	assert_int_equal(ci->quarantined, 1);
	assert_int_equal(circle_quarantine(a.cs, "team", &ci, &held, &n,
	    &cause), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(held[0].author, dev_key(&c), 32);
	assert_int_equal(held[0].seq, 2);
	assert_true(held[0].readable);
	assert_int_equal(held[0].nrecs, 1);
	assert_string_equal(held[0].recs[0].collection, "case");
	assert_memory_equal(held[0].recs[0].rid, late, RID_LEN);
	circle_held_free(held, n);

	/* Nothing beyond what is held, nothing at or below the cut. */
	assert_int_equal(circle_accept(a.cs, "team", dev_key(&c), 1, 3, &done,
	    &cause), SAMEN_EINVAL);
	refused(&a, SAMEN_EINVAL, cause, SAMEN_EINVAL, "up to seq 2 only");
	cause = NULL;
	assert_int_equal(circle_accept(a.cs, "team", dev_key(&c), 1, 1, &done,
	    &cause), SAMEN_EINVAL);
	refused(&a, SAMEN_EINVAL, cause, SAMEN_EINVAL, "nothing to accept");
	cause = NULL;
	/* The accept: merged, out of the quarantine. */
	assert_int_equal(circle_accept(a.cs, "team", dev_key(&c), 0, 0, &done,
	    &cause), 0);
	dev_commit(&a);
	assert_int_equal(done.cut, 2);
	assert_non_null(index_get(a.ix, "case", late));
	assert_int_equal(info(&a, "team")->quarantined, 0);
	/* And B, which gets the accept and C's write, merges it too. */
	dev_sync_circle(&a, &b, id);
	assert_non_null(index_get(b.ix, "case", late));
	assert_int_equal(a.aborts + b.aborts + c.aborts, 0);
	dev_close(&a);
	dev_close(&b);
	dev_close(&c);
}

/*
 * A relay member: it resolves the roster (the members key derives from
 * the circle's id), holds no key, so it cannot write, stores the data
 * change sets it cannot read, and is shared with like any member.
 */
static void
test_relay(void **state)
{
	struct dev a, r;
	uint8_t id[CS_CIRCLELEN], rid[RID_LEN], (*shared)[CS_CIRCLELEN];
	const struct circle_info *c;
	struct store_stats s;
	size_t n;

	(void)state;
	dev_open(&a);
	dev_open(&r);
	(void)make_circle(&a, "team", id);
	add(&a, "team", &r, ROSTER_RELAY, 1);
	put_case(&a, id, "Jansen", rid);
	dev_sync_circle(&a, &r, id);
	c = circle_list(r.cs, &n);
	assert_int_equal(n, 1);
	assert_int_equal(c->role, ROSTER_RELAY);
	assert_int_equal(c->state, ROSTER_CURRENT);
	assert_false(c->writable);
	assert_false(c->named);
	assert_null(circle_by_id(r.cs, id));
	assert_null(index_get(r.ix, "case", rid));
	assert_int_equal(store_stats(r.st, &s), 0);
	assert_int_equal(s.pending, 1);
	assert_int_equal(circle_shared(r.cs, dev_key(&a), &shared), 1);
	free(shared);
	assert_int_equal(circle_shared(a.cs, dev_key(&r), &shared), 1);
	free(shared);
	assert_int_equal(roster_count(c->r, ROSTER_VALID), 2);
	dev_close(&a);
	dev_close(&r);
}

/*
 * Every refusal is one line and writes nothing: not an admin, an unknown
 * device, the last admin, a relay given a key, a revoked device added
 * again, one already a member, a circle nobody knows.
 */
static void
test_refusals(void **state)
{
	struct dev a, b, d;
	struct circle_done done;
	uint8_t id[CS_CIRCLELEN], stranger[32];
	char *cause = NULL;
	int rc;

	(void)state;
	dev_open(&a);
	dev_open(&b);
	dev_open(&d);
	randombytes_buf(stranger, sizeof(stranger));
	(void)make_circle(&a, "team", id);
	add(&a, "team", &b, ROSTER_MEMBER, 1);
	dev_sync_circle(&a, &b, id);

	rc = circle_add(b.cs, "team", dev_key(&d), ROSTER_MEMBER, 1, &done, &cause);
	refused(&b, rc, cause, SAMEN_EINVAL, "only an admin");
	cause = NULL;
	rc = circle_remove(b.cs, "team", dev_key(&a), &done, &cause);
	refused(&b, rc, cause, SAMEN_EINVAL, "only an admin");
	cause = NULL;
	rc = circle_remove(a.cs, "team", stranger, &done, &cause);
	refused(&a, rc, cause, SAMEN_ENOTFOUND, "not a member");
	cause = NULL;
	rc = circle_remove(a.cs, "team", dev_key(&a), &done, &cause);
	refused(&a, rc, cause, SAMEN_EINVAL, "last admin");
	cause = NULL;
	rc = circle_set_role(a.cs, "team", dev_key(&a), ROSTER_MEMBER, &done,
	    &cause);
	refused(&a, rc, cause, SAMEN_EINVAL, "last admin");
	cause = NULL;
	rc = circle_set_role(a.cs, "team", dev_key(&b), ROSTER_MEMBER, &done,
	    &cause);
	refused(&a, rc, cause, SAMEN_EEXIST, "already a member");
	cause = NULL;
	rc = circle_add(a.cs, "team", dev_key(&b), ROSTER_MEMBER, 1, &done, &cause);
	refused(&a, rc, cause, SAMEN_EEXIST, "already a member");
	cause = NULL;
	rc = circle_add(a.cs, "team", dev_key(&b), ROSTER_ADMIN, 1, &done, &cause);
	refused(&a, rc, cause, SAMEN_EEXIST, "circle role changes it");
	cause = NULL;
	/* A relay asked to be given the current key: the key code says no. */
	rc = circle_add(a.cs, "team", dev_key(&d), ROSTER_RELAY, 0, &done, &cause);
	refused(&a, rc, cause, SAMEN_EINVAL, "a relay holds no key");
	cause = NULL;
	rc = circle_add(a.cs, "nope", dev_key(&d), ROSTER_MEMBER, 1, &done, &cause);
	refused(&a, rc, cause, SAMEN_ENOTFOUND, "no shared circle");
	cause = NULL;
	rc = circle_accept(a.cs, "team", dev_key(&b), 0, 0, &done, &cause);
	refused(&a, rc, cause, SAMEN_EINVAL, "nothing of it is held back");
	cause = NULL;

	/* Revoked (lost): in every circle a administers; never again. */
	add(&a, "team", &d, ROSTER_MEMBER, 1);
	rc = circle_revoke(a.cs, dev_key(&a), NULL, 0, &done, &cause);
	refused(&a, rc, cause, SAMEN_EINVAL, "cannot revoke itself");
	cause = NULL;
	assert_int_equal(circle_revoke(a.cs, dev_key(&d), "stolen", 6, &done,
	    &cause), 0);
	dev_commit(&a);
	assert_int_equal(done.ncircles, 1);
	role_is(&a, id, &d, ROSTER_MEMBER, ROSTER_REVOKED);
	rc = circle_add(a.cs, "team", dev_key(&d), ROSTER_MEMBER, 1, &done, &cause);
	refused(&a, rc, cause, SAMEN_EINVAL, "never added again");
	cause = NULL;
	rc = circle_revoke(a.cs, dev_key(&d), NULL, 0, &done, &cause);
	refused(&a, rc, cause, SAMEN_ENOTFOUND, "no circle this device");
	cause = NULL;
	assert_int_equal(a.aborts + b.aborts, 0);
	dev_close(&a);
	dev_close(&b);
	dev_close(&d);
}

/*
 * Two admins, apart, each remove a member: two concurrent epochs, each
 * sealed to a device that is no longer a reader.  Once each has the
 * other's ops, the roster owes a new epoch; an admin's refresh writes it
 * (maintenance), and after one more exchange both write with the same
 * preferred epoch and owe nothing.
 */
static void
test_maintenance(void **state)
{
	struct dev a, b, c, d;
	struct circle_done done;
	const uint8_t (*lack)[32];
	uint8_t id[CS_CIRCLELEN], da[32], db[32];
	char *cause = NULL;
	size_t nlack;

	(void)state;
	dev_open(&a);
	dev_open(&b);
	dev_open(&c);
	dev_open(&d);
	(void)make_circle(&a, "team", id);
	add(&a, "team", &b, ROSTER_ADMIN, 1);
	add(&a, "team", &c, ROSTER_MEMBER, 1);
	add(&a, "team", &d, ROSTER_MEMBER, 1);
	dev_sync_circle(&a, &b, id);
	assert_int_equal(circle_remove(a.cs, "team", dev_key(&c), &done, &cause),
	    0);
	dev_commit(&a);
	assert_int_equal(circle_remove(b.cs, "team", dev_key(&d), &done, &cause),
	    0);
	dev_commit(&b);
	assert_int_not_equal(info(&a, "team")->epoch,
	    info(&b, "team")->epoch);

	/* b learns of a's: it owes a new epoch and writes it at once. */
	dev_sync_circle(&a, &b, id);
	assert_int_equal(roster_needs(info(&b, "team")->r, dev_key(&b), &lack,
	    &nlack), 0);
	assert_int_equal(info(&b, "team")->nepochs, 4);
	/* a gets b's ops and the new epoch: nothing owed there either. */
	dev_sync_circle(&b, &a, id);
	assert_int_equal(roster_needs(info(&a, "team")->r, dev_key(&a), &lack,
	    &nlack), 0);
	assert_int_equal(info(&a, "team")->epoch, info(&b, "team")->epoch);
	assert_int_equal(circle_by_id(a.cs, id)->epoch,
	    circle_by_id(b.cs, id)->epoch);
	roster_digest(info(&a, "team")->r, da);
	roster_digest(info(&b, "team")->r, db);
	assert_memory_equal(da, db, 32);
	role_is(&a, id, &c, ROSTER_MEMBER, ROSTER_REMOVED);
	role_is(&a, id, &d, ROSTER_MEMBER, ROSTER_REMOVED);
	assert_int_equal(a.aborts + b.aborts, 0);
	dev_close(&a);
	dev_close(&b);
	dev_close(&c);
	dev_close(&d);
}

/* 1 if id is among list[0..n). */
static int
listed(uint8_t (*list)[CS_CIRCLELEN], size_t n, const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list[i], id, CS_CIRCLELEN) == 0)
			return 1;
	return 0;
}

/*
 * Exiles (docs/sync.md, "Exile sessions"): whom A holds exiled from what,
 * what an exile is handed of the members chain (the ops that name it and
 * their past, not what came after), the exile's own view (its
 * departures), and a circle departed is never joined again.
 */
static void
test_exile(void **state)
{
	struct dev a, b, c, d;
	struct circle_done done;
	struct roster_dep *cap;
	struct store_erased e;
	uint8_t id[CS_CIRCLELEN], (*ex)[CS_CIRCLELEN], (*devs)[32];
	uint8_t (*join)[CS_CIRCLELEN];
	char *cause = NULL;
	size_t n;

	(void)state;
	dev_open(&a);
	dev_open(&b);
	dev_open(&c);
	dev_open(&d);
	(void)make_circle(&a, "team", id);	/* A's op 1 */
	add(&a, "team", &b, ROSTER_MEMBER, 1);	/* 2 */
	add(&a, "team", &c, ROSTER_MEMBER, 1);	/* 3 */
	dev_sync_circle(&a, &b, id);
	dev_sync_circle(&a, &c, id);
	assert_int_equal(circle_exiled(a.cs, dev_key(&c), &ex), 0);
	assert_null(ex);
	assert_int_equal(circle_exile_cap(a.cs, id, dev_key(&c), &cap), 0);

	assert_int_equal(circle_remove(a.cs, "team", dev_key(&c), &done, &cause),
	    0);					/* 4 */
	dev_commit(&a);
	add(&a, "team", &d, ROSTER_MEMBER, 1);	/* 5 */
	assert_int_equal(circle_exiled(a.cs, dev_key(&c), &ex), 1);
	assert_memory_equal(ex[0], id, CS_CIRCLELEN);
	free(ex);
	assert_int_equal(circle_exiled(a.cs, dev_key(&b), &ex), 0);
	assert_false(circle_revoked(a.cs, dev_key(&c)));
	n = circle_exiles(a.cs, &devs);
	assert_int_equal(n, 1);
	assert_memory_equal(devs[0], dev_key(&c), 32);
	free(devs);
	/* Up to its removal, A's op 4; the add of D is not for C. */
	assert_int_equal(circle_exile_cap(a.cs, id, dev_key(&c), &cap), 1);
	assert_memory_equal(cap[0].author, dev_key(&a), 32);
	assert_int_equal(cap[0].seq, 4);
	free(cap);
	assert_int_equal(circle_exile_cap(a.cs, id, dev_key(&b), &cap), 0);

	/* C, handed it, departs: not revoked. */
	dev_sync_circle(&a, &c, id);
	assert_int_equal(circle_departures(c.cs, &ex, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(ex[0], id, CS_CIRCLELEN);
	free(ex);
	assert_int_equal(circle_departures(a.cs, &ex, &n), 0);
	assert_int_equal(n, 0);
	/* Erased, it is departed: refused when offered, never joined. */
	assert_int_equal(store_erase_circle(c.st, id, 1, 0, &e), 0);
	store_erased_free(&e);
	assert_int_equal(circle_refresh(c.cs), 0);
	assert_true(circle_departed(c.cs, id));
	assert_null(circle_find(c.cs, "team"));
	assert_true(circle_refuses(c.cs, id, dev_key(&a)));
	join = xcalloc(1, sizeof(*join));
	memcpy(join[0], id, CS_CIRCLELEN);
	circle_join(c.cs, join, 1);
	free(join);
	assert_null(circle_chain_of(c.cs, id));

	/* B revoked: exiled, revoked, and its own view says so. */
	assert_int_equal(circle_revoke(a.cs, dev_key(&b), NULL, 0, &done, &cause),
	    0);
	dev_commit(&a);
	assert_true(circle_revoked(a.cs, dev_key(&b)));
	assert_int_equal(circle_exiled(a.cs, dev_key(&b), &ex), 1);
	free(ex);
	assert_true(circle_exile_cap(a.cs, id, dev_key(&b), &cap) >= 1);
	free(cap);
	dev_sync_circle(&a, &b, id);
	assert_int_equal(circle_departures(b.cs, &ex, &n), 1);
	assert_int_equal(n, 1);
	assert_true(listed(ex, n, id));
	free(ex);
	assert_int_equal(a.aborts + b.aborts + c.aborts + d.aborts, 0);
	dev_close(&a);
	dev_close(&b);
	dev_close(&c);
	dev_close(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private),
		cmocka_unit_test(test_create_and_add),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_roster_from_chain),
		cmocka_unit_test(test_remove_quarantine_accept),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_maintenance),
		cmocka_unit_test(test_exile),
	};

	if (sodium_init() < 0)
		return 1;
	log_init(1, LOG_LEVEL_INFO, "test_circle");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
