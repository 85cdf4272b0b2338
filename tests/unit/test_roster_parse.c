/* test_roster_parse: one membership op alone: its rules, its order, its codec. */
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
#include "error.h"
#include "ops.h"
#include "roster.h"
#include "util.h"
#include "wire.h"

#include "roster_fixture.h"

/* ---- the codec ----------------------------------------------------------------- */

/* One op of every type with every field it may carry. */
static void
full_op(struct roster_op *op, enum roster_type t)
{
	size_t k;

	memset(op, 0, sizeof(*op));
	memset(op->id, 0x42, 32);
	memcpy(op->author, dev[A], 32);
	op->seq = 7;
	op->hlc = 123456;
	op->type = t;
	if (t != ROSTER_CREATE) {
		op->ndeps = 2;
		op->deps = xcalloc(2, sizeof(*op->deps));
		memcpy(op->deps[0].author, dev[B], 32);
		memcpy(op->deps[1].author, dev[C], 32);
		op->deps[0].seq = 3;
		op->deps[1].seq = 0x0102030405060708ULL;
		qsort(op->deps, 2, sizeof(*op->deps), cmp_dep);
	}
	memcpy(op->target, dev[X], 32);
	op->nseals = 3;
	op->seals = xcalloc(3, sizeof(*op->seals));
	for (k = 0; k < 3; k++) {
		op->seals[k].epoch = k == 0 ? 0 : k == 1 ? 1 : 0x80000005u;
		memcpy(op->seals[k].device, dev[Y + k], 32);
		memset(op->seals[k].sealed, (int)k + 1, ROSTER_SEALLEN);
	}
	op->has_audit = 1;
	memset(op->audit, 0xaa, 32);
	switch (t) {
	case ROSTER_CREATE:
		memcpy(op->salt, salt, 16);
		op->epoch = 1;
		op->name_len = 5;
		op->name = (uint8_t *)xstrdup("named");
		break;
	case ROSTER_ADD:
	case ROSTER_ROLE:
		op->role = ROSTER_RELAY;
		break;
	case ROSTER_REMOVE:
	case ROSTER_REVOKE:
	case ROSTER_ACCEPT:
		op->cut_seq = 18446744073709551615ULL;
		memset(op->cut_id, 0xcd, 32);
		if (t != ROSTER_ACCEPT) {
			op->reason_len = 3;
			op->reason = (uint8_t *)xstrdup("why");
		}
		break;
	case ROSTER_RETENTION:
		strcpy(op->coll, "notes");
		op->keep = 2555;
		break;
	case ROSTER_PURGE:
		op->ntags = 2;
		op->tags = xcalloc(2, ROSTER_TAGLEN);
		op->tags[0][3] = 3;
		op->rids_len = 4;
		op->rids = (uint8_t *)xstrdup("rids");
		op->reason_len = 1;
		op->reason = (uint8_t *)xstrdup("r");
		break;
	default:
		break;
	}
	if (t == ROSTER_REMOVE || t == ROSTER_REVOKE || t == ROSTER_EPOCH)
		op->epoch = roster_epoch_id(chain, op->author, op->seq);
}

static int
parse_chunk(struct roster_op *out, const struct ops_chunk *c,
    const struct roster_op *like)
{
	return roster_op_parse(out, c, circle, like->id, like->author,
	    like->seq, like->hlc);
}

static void
assert_same_op(const struct roster_op *a, const struct roster_op *b)
{
	size_t k;

	assert_memory_equal(a->id, b->id, 32);
	assert_memory_equal(a->author, b->author, 32);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->hlc, b->hlc);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->ndeps, b->ndeps);
	for (k = 0; k < a->ndeps; k++) {
		assert_memory_equal(a->deps[k].author, b->deps[k].author, 32);
		assert_int_equal(a->deps[k].seq, b->deps[k].seq);
	}
	assert_memory_equal(a->target, b->target, 32);
	assert_int_equal(a->role, b->role);
	assert_int_equal(a->cut_seq, b->cut_seq);
	assert_memory_equal(a->cut_id, b->cut_id, 32);
	assert_int_equal(a->epoch, b->epoch);
	assert_int_equal(a->nseals, b->nseals);
	for (k = 0; k < a->nseals; k++) {
		assert_int_equal(a->seals[k].epoch, b->seals[k].epoch);
		assert_memory_equal(a->seals[k].device, b->seals[k].device, 32);
		assert_memory_equal(a->seals[k].sealed, b->seals[k].sealed,
		    ROSTER_SEALLEN);
	}
	assert_memory_equal(a->salt, b->salt, 16);
	assert_int_equal(a->has_audit, b->has_audit);
	assert_memory_equal(a->audit, b->audit, 32);
	assert_string_equal(a->coll, b->coll);
	assert_int_equal(a->keep, b->keep);
	assert_int_equal(a->ntags, b->ntags);
	if (a->ntags)
		assert_memory_equal(a->tags, b->tags, a->ntags * ROSTER_TAGLEN);
	assert_int_equal(a->name_len, b->name_len);
	if (a->name_len)
		assert_memory_equal(a->name, b->name, a->name_len);
	assert_int_equal(a->reason_len, b->reason_len);
	if (a->reason_len)
		assert_memory_equal(a->reason, b->reason, a->reason_len);
	assert_int_equal(a->rids_len, b->rids_len);
	if (a->rids_len)
		assert_memory_equal(a->rids, b->rids, a->rids_len);
}

/* encode, ops_encode, ops_decode, parse: the op comes back. */
static void
test_codec_roundtrip(void **state)
{
	struct roster_op op, back;
	struct ops_chunk c, d;
	struct wbuf w;
	int t;

	(void)state;
	for (t = ROSTER_CREATE; t <= ROSTER_PURGE; t++) {
		full_op(&op, (enum roster_type)t);
		assert_int_equal(roster_op_encode(&c, &op, rid), 0);
		wire_init(&w);
		ops_encode(&w, &c);
		assert_int_equal(ops_decode(&d, wire_data(&w), wire_len(&w)),
		    0);
		assert_int_equal(d.nops, c.nops);
		assert_int_equal(parse_chunk(&back, &d, &op), 0);
		/* Fields the type does not carry do not come back. */
		if (t != ROSTER_ADD && t != ROSTER_REMOVE && t != ROSTER_ROLE &&
		    t != ROSTER_REVOKE && t != ROSTER_ACCEPT)
			memset(op.target, 0, 32);
		if (t != ROSTER_ADD && t != ROSTER_ROLE)
			op.role = ROSTER_NOROLE;
		assert_same_op(&op, &back);
		assert_int_equal(roster_op_check(&back, circle), 0);
		roster_op_free(&back);
		ops_chunk_free(&d);
		ops_chunk_free(&c);
		wire_free(&w);
		roster_op_free(&op);
	}
}

/* The writer refuses what the reader would. */
static void
test_encode_refuses(void **state)
{
	struct roster_op op;
	struct ops_chunk c;

	(void)state;
	full_op(&op, ROSTER_ADD);
	op.role = 9;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	assert_null(c.ops);
	op.role = ROSTER_MEMBER;
	op.deps[0].seq = 0;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	op.deps[0].seq = 1;
	op.type = 42;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	op.type = ROSTER_ADD;
	/* 283 seals are 65,656 hex characters: over OPS_MAX_VALUE. */
	op.seals = xreallocarray(op.seals, 283, sizeof(*op.seals));
	memset(op.seals, 0, 283 * sizeof(*op.seals));
	op.nseals = 283;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_ETOOBIG);
	op.nseals = 282;
	assert_int_equal(roster_op_encode(&c, &op, rid), 0);
	ops_chunk_free(&c);
	op.nseals = ROSTER_MAX_SEALS + 1;
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_ETOOBIG);
	op.nseals = 1;
	roster_op_free(&op);
	full_op(&op, ROSTER_REMOVE);
	op.cut_seq = 0;		/* seq 0 with a non-zero head */
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	roster_op_free(&op);
	full_op(&op, ROSTER_EPOCH);
	op.epoch = 5;		/* never derived */
	assert_int_equal(roster_op_encode(&c, &op, rid), SAMEN_EINVAL);
	roster_op_free(&op);
}

/*
 * Parses the chunk of a full op of type t with field f set to value (NULL:
 * removed; "+dup": twice), and returns the code.  On error the op must be
 * a placeholder that holds nothing.
 */
static int
parse_with(enum roster_type t, const char *f, const char *value)
{
	struct roster_op op, out;
	struct ops_chunk c, m;
	struct op ops[32];
	uint32_t k, n = 0;
	int rc, found = 0;

	full_op(&op, t);
	assert_int_equal(roster_op_encode(&c, &op, rid), 0);
	for (k = 0; k < c.nops; k++) {
		if (c.ops[k].field && strlen(f) == c.ops[k].field_len &&
		    memcmp(f, c.ops[k].field, c.ops[k].field_len) == 0) {
			found = 1;
			if (value == NULL)
				continue;
			if (strcmp(value, "+dup") == 0)
				ops[n++] = c.ops[k];
			else {
				ops[n] = c.ops[k];
				ops[n].value = value;
				ops[n++].value_len = strlen(value);
				continue;
			}
		}
		ops[n++] = c.ops[k];
	}
	if (value && !found) {
		/* The field was not there: add it. */
		memset(&ops[n], 0, sizeof(ops[n]));
		ops[n].type = OP_SET;
		ops[n].field = f;
		ops[n].field_len = strlen(f);
		ops[n].value = value;
		ops[n++].value_len = strlen(value);
	}
	m = c;
	m.ops = ops;
	m.nops = n;
	rc = parse_chunk(&out, &m, &op);
	if (rc != 0) {
		assert_int_equal(out.type, ROSTER_NONE);
		assert_null(out.deps);
		assert_null(out.seals);
		assert_null(out.tags);
		assert_null(out.name);
		assert_memory_equal(out.id, op.id, 32);
		assert_int_equal(out.seq, op.seq);
	}
	roster_op_free(&out);
	ops_chunk_free(&c);
	roster_op_free(&op);
	return rc;
}

static char *
repeat(const char *unit, size_t n)
{
	size_t len = strlen(unit), k;
	char *s = xmalloc(len * n + 1);

	for (k = 0; k < n; k++)
		memcpy(s + k * len, unit, len);
	s[len * n] = '\0';
	return s;
}

static void
test_parse_fields(void **state)
{
	char text[DEVID_TEXTLEN + 1], *big;
	int rc;

	(void)state;
	/* The unchanged chunk parses, and unknown fields are ignored. */
	assert_int_equal(parse_with(ROSTER_ADD, "zz", NULL), 0);
	assert_int_equal(parse_with(ROSTER_ADD, "later", "anything"), 0);
	/* Version and type. */
	assert_int_equal(parse_with(ROSTER_ADD, "v", "2"), SAMEN_EVERSION);
	assert_int_equal(parse_with(ROSTER_ADD, "v", NULL), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_ADD, "type", "join"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_ADD, "type", NULL), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_ADD, "type", "+dup"), SAMEN_EPROTO);
	/* A field the type needs, missing; one it does not use, present. */
	assert_int_equal(parse_with(ROSTER_ADD, "target", NULL), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_ADD, "deps", NULL), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_ADD, "cut", "0:" "0000000000000000"
	    "000000000000000000000000000000000000000000000000"), SAMEN_EPROTO);
	assert_int_equal(parse_with(ROSTER_EPOCH, "salt",
	    "00000000000000000000000000000000"), SAMEN_EPROTO);
	/* deps: odd, upper case, not a whole entry, unsorted, seq 0. */
	assert_int_equal(parse_with(ROSTER_ADD, "deps", "0"), SAMEN_EVALUE);
	big = repeat("AB", 40);
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_EVALUE);
	free(big);
	big = repeat("ab", 41);
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_EVALUE);
	free(big);
	big = repeat("ab", 80);	/* two entries with one author */
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_EVALUE);
	free(big);
	big = repeat("00", 40);
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_EVALUE);
	free(big);
	big = repeat("ab", 40 * (ROSTER_MAX_DEPS + 1));
	assert_int_equal(parse_with(ROSTER_ADD, "deps", big), SAMEN_ETOOBIG);
	free(big);
	/* create has no deps. */
	big = repeat("ab", 40);
	assert_int_equal(parse_with(ROSTER_CREATE, "deps", big), SAMEN_EVALUE);
	free(big);
	/* target: not a device id, wrong checksum, upper case. */
	assert_int_equal(parse_with(ROSTER_ADD, "target", "x"), SAMEN_EVALUE);
	devid_encode(text, dev[B]);
	text[5] = text[5] == 'a' ? 'b' : 'a';
	assert_int_equal(parse_with(ROSTER_ADD, "target", text),
	    SAMEN_EVALUE);
	devid_encode(text, dev[B]);
	for (rc = 0; text[rc]; rc++)
		if (text[rc] >= 'a' && text[rc] <= 'z')
			text[rc] = (char)(text[rc] - 'a' + 'A');
	assert_int_equal(parse_with(ROSTER_ADD, "target", text),
	    SAMEN_EVALUE);
	/* role. */
	assert_int_equal(parse_with(ROSTER_ADD, "role", "owner"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_ROLE, "role", ""), SAMEN_EVALUE);
	/* cut: no colon, a leading zero, seq 0 with a head, short hex. */
	assert_int_equal(parse_with(ROSTER_REMOVE, "cut", "5"), SAMEN_EVALUE);
	big = repeat("cd", 32);
	{
		char cut[100];

		snprintf(cut, sizeof(cut), "05:%s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut),
		    SAMEN_EVALUE);
		snprintf(cut, sizeof(cut), "0:%s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut),
		    SAMEN_EVALUE);
		snprintf(cut, sizeof(cut), "18446744073709551616:%s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut),
		    SAMEN_EVALUE);
		snprintf(cut, sizeof(cut), "5:%.62s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut),
		    SAMEN_EVALUE);
		snprintf(cut, sizeof(cut), "5:%s", big);
		assert_int_equal(parse_with(ROSTER_REMOVE, "cut", cut), 0);
	}
	free(big);
	/* epoch: not derived, 0, not a number; create's must be 1. */
	assert_int_equal(parse_with(ROSTER_REMOVE, "epoch", "2147483653"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_EPOCH, "epoch", "0"), SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_EPOCH, "epoch", "-1"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_EPOCH, "epoch", "4294967296"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_CREATE, "epoch", "2"), SAMEN_EVALUE);
	/* keys: a partial seal, a seal to epoch 5, too many. */
	big = repeat("00", 115);
	assert_int_equal(parse_with(ROSTER_ADD, "keys", big), SAMEN_EVALUE);
	free(big);
	big = repeat("05", 116);
	assert_int_equal(parse_with(ROSTER_ADD, "keys", big), SAMEN_EVALUE);
	free(big);
	big = repeat("00", 116 * 283);
	assert_int_equal(parse_with(ROSTER_ADD, "keys", big), SAMEN_ETOOBIG);
	free(big);
	/* salt, audit: wrong lengths and digits. */
	assert_int_equal(parse_with(ROSTER_CREATE, "salt", "00"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_CREATE, "salt",
	    "0000000000000000000000000000000g"), SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_ADD, "audit", "aa"), SAMEN_EVALUE);
	/* Blobs: odd length, not hex, too long. */
	assert_int_equal(parse_with(ROSTER_CREATE, "name", "abc"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_REVOKE, "reason", "zz"),
	    SAMEN_EVALUE);
	big = repeat("ab", OPS_MAX_VALUE / 2 + 1);
	assert_int_equal(parse_with(ROSTER_PURGE, "rids", big), SAMEN_ETOOBIG);
	free(big);
	/* retention. */
	assert_int_equal(parse_with(ROSTER_RETENTION, "coll", "Notes"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_RETENTION, "keep", "7y"),
	    SAMEN_EVALUE);
	assert_int_equal(parse_with(ROSTER_RETENTION, "keep", ""),
	    SAMEN_EVALUE);
	/* purge: a partial tag, too many. */
	assert_int_equal(parse_with(ROSTER_PURGE, "rec", "00"), SAMEN_EVALUE);
	big = repeat("00", 16 * (ROSTER_MAX_TAGS + 1));
	assert_int_equal(parse_with(ROSTER_PURGE, "rec", big), SAMEN_ETOOBIG);
	free(big);
	assert_int_equal(parse_with(ROSTER_PURGE, "rids", NULL), SAMEN_EPROTO);
}

/* The chunk's shape: collection, EXIST, preds, other op types. */
static void
test_parse_shape(void **state)
{
	struct roster_op op, out;
	struct ops_chunk c, m;
	struct op ops[32];
	uint8_t ref[VID_LEN] = { 1 };
	uint32_t k;

	(void)state;
	full_op(&op, ROSTER_ADD);
	assert_int_equal(roster_op_encode(&c, &op, rid), 0);
	assert_true(c.nops < 31);
	memcpy(ops, c.ops, c.nops * sizeof(*ops));
	m = c;
	m.ops = ops;
	assert_int_equal(parse_chunk(&out, &m, &op), 0);
	roster_op_free(&out);
	m.collection = "mops";
	m.collection_len = 4;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	m.collection = c.collection;
	m.collection_len = c.collection_len;
	/* No EXIST; a dead one; two. */
	m.ops = ops + 1;
	m.nops = c.nops - 1;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	m.ops = ops;
	m.nops = c.nops;
	ops[0].alive = 0;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	ops[0].alive = 1;
	ops[c.nops] = ops[0];
	m.nops = c.nops + 1;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	m.nops = c.nops;
	/* A pred: not a creation. */
	ops[1].refs = ref;
	ops[1].nrefs = 1;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	ops[1].refs = NULL;
	ops[1].nrefs = 0;
	/* An ADD op. */
	ops[1].type = OP_ADD;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	ops[1].type = OP_SET;
	/* A bad field name. */
	for (k = 1; k < c.nops; k++)
		if (ops[k].field_len == 4 && memcmp(ops[k].field, "role", 4) == 0)
			ops[k].field = "_ole";
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EPROTO);
	/* seq 0 in the header. */
	memcpy(ops, c.ops, c.nops * sizeof(*ops));
	op.seq = 0;
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EVALUE);
	op.seq = 7;
	/* deps that name the author. */
	memcpy(op.author, dev[B], 32);
	assert_int_equal(parse_chunk(&out, &m, &op), SAMEN_EVALUE);
	ops_chunk_free(&c);
	roster_op_free(&op);
}

/* Random mutations of encoded chunks: parse is an error or a valid op. */
static void
test_parse_mutations(void **state)
{
	struct roster_op op, out;
	struct ops_chunk c, d;
	struct wbuf w;
	uint8_t *buf;
	uint64_t seed = 7;
	size_t len, k;
	int t, i, rc;

	(void)state;
	for (t = ROSTER_CREATE; t <= ROSTER_PURGE; t++) {
		full_op(&op, (enum roster_type)t);
		assert_int_equal(roster_op_encode(&c, &op, rid), 0);
		wire_init(&w);
		ops_encode(&w, &c);
		len = wire_len(&w);
		buf = xmalloc(len);
		for (i = 0; i < 300; i++) {
			memcpy(buf, wire_data(&w), len);
			for (k = 0; k < 1 + rnd(&seed) % 4; k++)
				buf[rnd(&seed) % len] = (uint8_t)rnd(&seed);
			if (ops_decode(&d, buf, len) != 0)
				continue;
			rc = parse_chunk(&out, &d, &op);
			if (rc == 0)
				assert_int_equal(roster_op_check(&out, circle),
				    0);
			else
				assert_int_equal(out.type, ROSTER_NONE);
			roster_op_free(&out);
			ops_chunk_free(&d);
		}
		free(buf);
		wire_free(&w);
		ops_chunk_free(&c);
		roster_op_free(&op);
	}
}

static void
test_epoch_id(void **state)
{
	uint32_t e;
	uint64_t s;

	(void)state;
	for (s = 1; s < 200; s++) {
		e = roster_epoch_id(chain, dev[s % NDEV], s);
		assert_true(e & 0x80000000u);
		assert_int_not_equal(e, roster_epoch_id(chain, dev[s % NDEV],
		    s + 1));
	}
}


int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_shape),
		cmocka_unit_test(test_parse_mutations),
		cmocka_unit_test(test_epoch_id),
	};

	if (sodium_init() < 0)
		return 1;
	roster_fixture_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
