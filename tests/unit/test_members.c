/* test_members: which circle records and member records count, from their signed ops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "devid.h"
#include "members.h"
#include "sync.h"
#include "util.h"

/* Three devices: the creator, a member, and someone else. */
struct dev {
	uint8_t pk[32];
	char text[DEVID_TEXTLEN + 1];
};

static struct dev creator, bob, eve;

static void
make_dev(struct dev *d)
{
	uint8_t sk[64];

	crypto_sign_keypair(d->pk, sk);
	devid_encode(d->text, d->pk);
}

/* One record's history, built op by op (strings must outlive it). */
struct rec {
	struct members_op ops[16];
	size_t n;
};

static void
set(struct rec *r, const struct dev *author, const char *field,
    const char *value)
{
	struct members_op *o = &r->ops[r->n++];

	assert_true(r->n <= 16);
	memset(o, 0, sizeof(*o));
	o->author = author->pk;
	o->kind = OP_SET;
	o->field = field;
	o->value = value;
	o->hlc = r->n;
	o->seq = r->n;
}

static void
exist(struct rec *r, const struct dev *author, int alive)
{
	struct members_op *o = &r->ops[r->n++];

	assert_true(r->n <= 16);
	memset(o, 0, sizeof(*o));
	o->author = author->pk;
	o->kind = OP_EXIST;
	o->field = "";
	o->alive = alive;
	o->hlc = r->n;
}

/* A circle made by creator with salt: its id, salt hex and record. */
struct circle {
	uint8_t id[CS_CIRCLELEN];
	char salt[33];
	struct rec rec;
};

static void
make_circle(struct circle *c, const struct dev *by, const char *name)
{
	uint8_t salt[16];

	randombytes_buf(salt, sizeof(salt));
	hex_encode(c->salt, salt, sizeof(salt));
	sync_circle_id(c->id, by->pk, salt);
	memset(&c->rec, 0, sizeof(c->rec));
	exist(&c->rec, by, 1);
	set(&c->rec, by, "name", name);
	set(&c->rec, by, "creator", by->text);
	set(&c->rec, by, "salt", c->salt);
}

static void
member(struct rec *r, const struct dev *by, const struct dev *who,
    const char *role)
{
	memset(r, 0, sizeof(*r));
	exist(r, by, 1);
	set(r, by, "device", who->text);
	set(r, by, "role", role);
	set(r, by, "added_by", by->text);
}

/* Builds the view from records given as (collection, rec) pairs. */
static void
build(struct members_view *v, const uint8_t id[CS_CIRCLELEN], size_t n,
    const char *const *colls, const struct rec *const *recs)
{
	struct members_record mr[8];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		mr[i].collection = colls[i];
		mr[i].ops = recs[i]->ops;
		mr[i].nops = recs[i]->n;
	}
	members_build(v, id, mr, n);
}

static void
test_valid_circle(void **state)
{
	struct circle c;
	struct rec m;
	struct members_view v;
	const struct members_entry *e;

	(void)state;
	make_circle(&c, &creator, "team-north");
	member(&m, &creator, &creator, "admin");
	build(&v, c.id, 2, (const char *[]){ "circle", "member" },
	    (const struct rec *[]){ &c.rec, &m });
	assert_true(v.valid);
	assert_string_equal(v.name, "team-north");
	assert_memory_equal(v.creator, creator.pk, 32);
	assert_memory_equal(v.id, c.id, CS_CIRCLELEN);
	assert_int_equal(v.nmembers, 1);
	assert_non_null(e = members_find(&v, creator.pk));
	assert_true(e->admin);
	assert_memory_equal(e->added_by, creator.pk, 32);
	assert_string_equal(e->key1, "");
	assert_true(members_is_admin(&v, creator.pk));
	assert_true(members_can_manage(&v, creator.pk));
	assert_false(members_can_manage(&v, bob.pk));
	assert_null(members_find(&v, bob.pk));
	members_view_free(&v);
}

/* Bob claims to have made the creator's circle: the creator field must be
 * written by the device it names. */
static void
test_forged_creator(void **state)
{
	struct circle c;
	struct rec forged;
	struct members_view v;

	(void)state;
	make_circle(&c, &creator, "team");
	memset(&forged, 0, sizeof(forged));
	set(&forged, &bob, "name", "team");
	set(&forged, &bob, "creator", creator.text);
	set(&forged, &bob, "salt", c.salt);
	build(&v, c.id, 1, (const char *[]){ "circle" },
	    (const struct rec *[]){ &forged });
	assert_false(v.valid);
	members_view_free(&v);

	/* Naming himself does not work either: the id does not derive. */
	memset(&forged, 0, sizeof(forged));
	set(&forged, &bob, "name", "team");
	set(&forged, &bob, "creator", bob.text);
	set(&forged, &bob, "salt", c.salt);
	build(&v, c.id, 1, (const char *[]){ "circle" },
	    (const struct rec *[]){ &forged });
	assert_false(v.valid);
	assert_false(members_can_manage(&v, bob.pk));
	members_view_free(&v);

	/* A forged record before the real one does not hide it. */
	build(&v, c.id, 2, (const char *[]){ "circle", "circle" },
	    (const struct rec *[]){ &forged, &c.rec });
	assert_true(v.valid);
	assert_memory_equal(v.creator, creator.pk, 32);
	members_view_free(&v);
}

static void
test_wrong_salt(void **state)
{
	struct circle c;
	struct members_view v;

	(void)state;
	make_circle(&c, &creator, "team");
	/* The creator's latest salt counts: a later wrong one breaks it. */
	set(&c.rec, &creator, "salt", "00112233445566778899aabbccddeeff");
	build(&v, c.id, 1, (const char *[]){ "circle" },
	    (const struct rec *[]){ &c.rec });
	assert_false(v.valid);
	members_view_free(&v);

	/* Someone else's salt does not count at all. */
	make_circle(&c, &creator, "team");
	set(&c.rec, &eve, "salt", "00112233445566778899aabbccddeeff");
	build(&v, c.id, 1, (const char *[]){ "circle" },
	    (const struct rec *[]){ &c.rec });
	assert_true(v.valid);
	members_view_free(&v);

	/* Not hex, or too short. */
	make_circle(&c, &creator, "team");
	c.rec.ops[3].value = "zz";
	build(&v, c.id, 1, (const char *[]){ "circle" },
	    (const struct rec *[]){ &c.rec });
	assert_false(v.valid);
	members_view_free(&v);
}

static void
test_bad_name(void **state)
{
	struct circle c;
	struct members_view v;

	(void)state;
	make_circle(&c, &creator, "no spaces");
	build(&v, c.id, 1, (const char *[]){ "circle" },
	    (const struct rec *[]){ &c.rec });
	assert_false(v.valid);
	members_view_free(&v);

	make_circle(&c, &creator, "");
	build(&v, c.id, 1, (const char *[]){ "circle" },
	    (const struct rec *[]){ &c.rec });
	assert_false(v.valid);
	members_view_free(&v);

	/* No name at all. */
	make_circle(&c, &creator, "x");
	c.rec.ops[1].field = "title";
	build(&v, c.id, 1, (const char *[]){ "circle" },
	    (const struct rec *[]){ &c.rec });
	assert_false(v.valid);
	members_view_free(&v);
}

/* Without a valid circle record, no member counts. */
static void
test_no_circle_no_members(void **state)
{
	struct circle c;
	struct rec m;
	struct members_view v;

	(void)state;
	make_circle(&c, &creator, "team");
	member(&m, &creator, &bob, "member");
	build(&v, c.id, 1, (const char *[]){ "member" },
	    (const struct rec *[]){ &m });
	assert_false(v.valid);
	assert_int_equal(v.nmembers, 0);
	members_view_free(&v);
}

static void
test_non_creator_ignored(void **state)
{
	struct circle c;
	struct rec self, byeve, mixed;
	struct members_view v;
	const struct members_entry *e;

	(void)state;
	make_circle(&c, &creator, "team");
	member(&self, &creator, &creator, "admin");
	/* Eve, not the creator, adds herself as admin. */
	member(&byeve, &eve, &eve, "admin");
	/* Bob's record by the creator, with Eve's later writes over it. */
	member(&mixed, &creator, &bob, "member");
	set(&mixed, &eve, "role", "admin");
	set(&mixed, &eve, "device", eve.text);
	build(&v, c.id, 4, (const char *[]){ "circle", "member", "member",
	    "member" }, (const struct rec *[]){ &c.rec, &self, &byeve,
	    &mixed });
	assert_true(v.valid);
	assert_int_equal(v.nmembers, 2);
	assert_null(members_find(&v, eve.pk));
	assert_non_null(e = members_find(&v, bob.pk));
	assert_false(e->admin);
	members_view_free(&v);
}

static void
test_delete(void **state)
{
	struct circle c;
	struct rec m;
	struct members_view v;

	(void)state;
	make_circle(&c, &creator, "team");
	member(&m, &creator, &bob, "member");
	/* Eve deletes Bob's record: ignored. */
	exist(&m, &eve, 0);
	build(&v, c.id, 2, (const char *[]){ "circle", "member" },
	    (const struct rec *[]){ &c.rec, &m });
	assert_non_null(members_find(&v, bob.pk));
	members_view_free(&v);

	/* The creator deletes it: Bob is out. */
	exist(&m, &creator, 0);
	build(&v, c.id, 2, (const char *[]){ "circle", "member" },
	    (const struct rec *[]){ &c.rec, &m });
	assert_null(members_find(&v, bob.pk));
	members_view_free(&v);

	/* And brings it back: in again (the latest word counts). */
	exist(&m, &creator, 1);
	build(&v, c.id, 2, (const char *[]){ "circle", "member" },
	    (const struct rec *[]){ &c.rec, &m });
	assert_non_null(members_find(&v, bob.pk));
	members_view_free(&v);
}

static void
test_latest_wins(void **state)
{
	struct circle c;
	struct rec m;
	struct members_view v;
	char key1[MEMBERS_KEY1LEN + 2];

	(void)state;
	make_circle(&c, &creator, "team");
	member(&m, &creator, &creator, "member");
	set(&m, &creator, "role", "admin");
	set(&m, &creator, "key1", "aa");
	set(&m, &creator, "key1", "bb");
	build(&v, c.id, 2, (const char *[]){ "circle", "member" },
	    (const struct rec *[]){ &c.rec, &m });
	assert_true(members_is_admin(&v, creator.pk));
	assert_string_equal(members_find(&v, creator.pk)->key1, "bb");
	members_view_free(&v);

	assert_string_equal(members_latest(m.ops, m.n, creator.pk, "role"),
	    "admin");
	assert_null(members_latest(m.ops, m.n, bob.pk, "role"));
	assert_null(members_latest(m.ops, m.n, creator.pk, "nothing"));
	assert_false(members_deleted(m.ops, m.n, creator.pk));

	/* A key1 too long to be a sealed key is left out. */
	memset(key1, 'a', sizeof(key1) - 1);
	key1[sizeof(key1) - 1] = '\0';
	set(&m, &creator, "key1", key1);
	build(&v, c.id, 2, (const char *[]){ "circle", "member" },
	    (const struct rec *[]){ &c.rec, &m });
	assert_string_equal(members_find(&v, creator.pk)->key1, "");
	members_view_free(&v);
}

/* Two records name one device: the first counts. */
static void
test_duplicate_device(void **state)
{
	struct circle c;
	struct rec first, second;
	struct members_view v;

	(void)state;
	make_circle(&c, &creator, "team");
	member(&first, &creator, &bob, "member");
	member(&second, &creator, &bob, "admin");
	set(&second, &creator, "key1", "cc");
	build(&v, c.id, 3, (const char *[]){ "circle", "member", "member" },
	    (const struct rec *[]){ &c.rec, &first, &second });
	assert_int_equal(v.nmembers, 1);
	assert_string_equal(members_find(&v, bob.pk)->key1, "");
	members_view_free(&v);
}

/* Only the creator is ever admin, whatever a record's role says. */
static void
test_admin_only_creator(void **state)
{
	struct circle c;
	struct rec self, m;
	struct members_view v;

	(void)state;
	make_circle(&c, &creator, "team");
	member(&self, &creator, &creator, "member");
	member(&m, &creator, &bob, "admin");
	build(&v, c.id, 3, (const char *[]){ "circle", "member", "member" },
	    (const struct rec *[]){ &c.rec, &self, &m });
	assert_int_equal(v.nmembers, 2);
	assert_false(members_is_admin(&v, bob.pk));
	assert_false(members_can_manage(&v, bob.pk));
	/* The creator manages even with a "member" role written. */
	assert_false(members_is_admin(&v, creator.pk));
	assert_true(members_can_manage(&v, creator.pk));
	members_view_free(&v);
}

/* Records of other collections, and unknown ops, change nothing. */
static void
test_other_input(void **state)
{
	struct circle c;
	struct rec m, junk;
	struct members_view v;

	(void)state;
	make_circle(&c, &creator, "team");
	member(&m, &creator, &bob, "member");
	memset(&junk, 0, sizeof(junk));
	set(&junk, &creator, "device", eve.text);
	junk.ops[0].kind = OP_ADD;
	build(&v, c.id, 4, (const char *[]){ "circle", "note", "member",
	    "member" }, (const struct rec *[]){ &c.rec, &m, &junk, &m });
	assert_int_equal(v.nmembers, 1);
	assert_non_null(members_find(&v, bob.pk));
	members_view_free(&v);

	/* A device that is not a device id, or a bad added_by. */
	member(&m, &creator, &bob, "member");
	m.ops[3].value = "not-a-device";
	set(&m, &creator, "device", "not-a-device");
	build(&v, c.id, 2, (const char *[]){ "circle", "member" },
	    (const struct rec *[]){ &c.rec, &m });
	assert_int_equal(v.nmembers, 0);
	members_view_free(&v);

	member(&m, &creator, &bob, "member");
	m.ops[3].value = "not-a-device";
	build(&v, c.id, 2, (const char *[]){ "circle", "member" },
	    (const struct rec *[]){ &c.rec, &m });
	assert_int_equal(v.nmembers, 1);
	assert_true(sodium_is_zero(members_find(&v, bob.pk)->added_by, 32));
	members_view_free(&v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_circle),
		cmocka_unit_test(test_forged_creator),
		cmocka_unit_test(test_wrong_salt),
		cmocka_unit_test(test_bad_name),
		cmocka_unit_test(test_no_circle_no_members),
		cmocka_unit_test(test_non_creator_ignored),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_latest_wins),
		cmocka_unit_test(test_duplicate_device),
		cmocka_unit_test(test_admin_only_creator),
		cmocka_unit_test(test_other_input),
	};

	if (sodium_init() < 0)
		return 1;
	make_dev(&creator);
	make_dev(&bob);
	make_dev(&eve);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
