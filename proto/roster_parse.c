/* roster_parse: a membership op's fields in a "mop" chunk, read and written. */
#include "roster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "devid.h"
#include "error.h"
#include "sync.h"
#include "util.h"

#define EPOCH_PREFIX "samen-epoch-1"
#define EPOCH_TOP 0x80000000u

/* Bytes of one entry of each list field, before hex doubles them. */
#define DEP_BYTES (32 + 8)
#define SEAL_BYTES (4 + 32 + ROSTER_SEALLEN)

/* The "cut" field: decimal seq, a colon, 64 hex digits. */
#define CUT_MAX (20 + 1 + 64)
/* Longest decimal u64. */
#define DEC_MAX 20

enum field {
	F_V, F_TYPE, F_DEPS, F_TARGET, F_ROLE, F_CUT, F_EPOCH, F_KEYS,
	F_SALT, F_NAME, F_AUDIT, F_REASON, F_COLL, F_KEEP, F_REC, F_RIDS,
	NFIELDS
};

static const char *const field_name[NFIELDS] = {
	"v", "type", "deps", "target", "role", "cut", "epoch", "keys",
	"salt", "name", "audit", "reason", "coll", "keep", "rec", "rids",
};

#define B(f) (1u << (f))
#define COMMON (B(F_V) | B(F_TYPE) | B(F_DEPS))
/* Any op may carry seals, and may set the audit key. */
#define ANY (B(F_KEYS) | B(F_AUDIT))

/*
 * Which fields each type must and may carry.  A known field on a type that
 * does not use it is refused rather than ignored: only unknown names are
 * left for later versions, so one op has one meaning.
 */
static const struct {
	const char *name;
	unsigned need;
	unsigned may;
} types[] = {
	[ROSTER_CREATE] = { "create", COMMON | B(F_EPOCH) | B(F_SALT),
	    ANY | B(F_NAME) },
	[ROSTER_ADD] = { "add", COMMON | B(F_TARGET) | B(F_ROLE), ANY },
	[ROSTER_REMOVE] = { "remove",
	    COMMON | B(F_TARGET) | B(F_CUT) | B(F_EPOCH), ANY | B(F_REASON) },
	[ROSTER_ROLE] = { "role", COMMON | B(F_TARGET) | B(F_ROLE), ANY },
	[ROSTER_REVOKE] = { "revoke",
	    COMMON | B(F_TARGET) | B(F_CUT) | B(F_EPOCH), ANY | B(F_REASON) },
	[ROSTER_ACCEPT] = { "accept", COMMON | B(F_TARGET) | B(F_CUT), ANY },
	[ROSTER_EPOCH] = { "epoch", COMMON | B(F_EPOCH), ANY },
	[ROSTER_RETENTION] = { "retention", COMMON | B(F_COLL) | B(F_KEEP),
	    ANY },
	[ROSTER_PURGE] = { "purge", COMMON | B(F_REC) | B(F_RIDS),
	    ANY | B(F_REASON) },
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

static const char *const role_name[] = {
	[ROSTER_RELAY] = "relay",
	[ROSTER_MEMBER] = "member",
	[ROSTER_ADMIN] = "admin",
};

uint32_t
roster_epoch_id(const uint8_t chain[16], const uint8_t author[32],
    uint64_t seq)
{
	crypto_generichash_state st;
	uint8_t h[32], le[8];

	put_le64(le, seq);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)EPOCH_PREFIX,
	    sizeof(EPOCH_PREFIX) - 1);
	crypto_generichash_update(&st, chain, 16);
	crypto_generichash_update(&st, author, 32);
	crypto_generichash_update(&st, le, sizeof(le));
	crypto_generichash_final(&st, h, sizeof(h));
	return get_le32(h) | EPOCH_TOP;
}

static int
starts_epoch(enum roster_type t)
{
	return t == ROSTER_CREATE || t == ROSTER_REMOVE ||
	    t == ROSTER_REVOKE || t == ROSTER_EPOCH;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	while (n-- > 0)
		acc |= *p++;
	return acc == 0;
}

/* Epoch ids a seal may name: the audit secret, the first, or derived. */
static int
seal_epoch_ok(uint32_t e)
{
	return e == ROSTER_AUDIT_EPOCH || e == ROSTER_FIRST_EPOCH ||
	    (e & EPOCH_TOP) != 0;
}

/*
 * The rules of one op that need no other op.  chain is the members chain
 * id of a received op (then seq, the author's absence from deps and the
 * derived epoch are checked too), or NULL for one being written.
 */
static int
check_op(const struct roster_op *op, const uint8_t *chain)
{
	size_t i;

	if (op->type <= ROSTER_NONE || (size_t)op->type >= NTYPES)
		return SAMEN_EVALUE;
	if (op->ndeps > ROSTER_MAX_DEPS || op->nseals > ROSTER_MAX_SEALS ||
	    op->ntags > ROSTER_MAX_TAGS || op->name_len > ROSTER_MAX_BLOB ||
	    op->reason_len > ROSTER_MAX_BLOB || op->rids_len > ROSTER_MAX_BLOB)
		return SAMEN_ETOOBIG;
	if ((op->ndeps && !op->deps) || (op->nseals && !op->seals) ||
	    (op->ntags && !op->tags) || (op->name_len && !op->name) ||
	    (op->reason_len && !op->reason) || (op->rids_len && !op->rids))
		return SAMEN_EVALUE;
	/* Strictly ascending authors: sorted, none twice. */
	for (i = 0; i < op->ndeps; i++) {
		if (op->deps[i].seq == 0 || (i > 0 && memcmp(op->deps[i - 1].author,
		    op->deps[i].author, 32) >= 0))
			return SAMEN_EVALUE;
		if (chain && memcmp(op->deps[i].author, op->author, 32) == 0)
			return SAMEN_EVALUE;
	}
	for (i = 0; i < op->nseals; i++)
		if (!seal_epoch_ok(op->seals[i].epoch))
			return SAMEN_EVALUE;
	if (chain && op->seq == 0)
		return SAMEN_EVALUE;
	switch (op->type) {
	case ROSTER_CREATE:
		if (op->ndeps != 0 || op->epoch != ROSTER_FIRST_EPOCH)
			return SAMEN_EVALUE;
		break;
	case ROSTER_ADD:
	case ROSTER_ROLE:
		if (op->role < ROSTER_RELAY || op->role > ROSTER_ADMIN)
			return SAMEN_EVALUE;
		break;
	case ROSTER_RETENTION:
		if (memchr(op->coll, '\0', sizeof(op->coll)) == NULL ||
		    !ops_collection_valid(op->coll, strlen(op->coll)))
			return SAMEN_EVALUE;
		break;
	default:
		break;
	}
	if (op->type == ROSTER_REMOVE || op->type == ROSTER_REVOKE ||
	    op->type == ROSTER_ACCEPT) {
		/* No head is seq 0 and 64 zeros; a real head is a hash. */
		if ((op->cut_seq == 0) != all_zero(op->cut_id, 32))
			return SAMEN_EVALUE;
	}
	if (starts_epoch(op->type) && op->type != ROSTER_CREATE) {
		if ((op->epoch & EPOCH_TOP) == 0)
			return SAMEN_EVALUE;
		if (chain && op->epoch != roster_epoch_id(chain, op->author,
		    op->seq))
			return SAMEN_EVALUE;
	}
	return 0;
}

int
roster_op_check(const struct roster_op *op, const uint8_t circle[16])
{
	uint8_t chain[16];

	if (circle == NULL)
		return check_op(op, NULL);
	sync_members_circle(chain, circle);
	return check_op(op, chain);
}

#define CMP(a, b) do {							\
	if ((a) != (b))							\
		return (a) < (b) ? -1 : 1;				\
} while (0)

static int
memcmpn(const void *a, size_t an, const void *b, size_t bn)
{
	CMP(an, bn);
	return an ? memcmp(a, b, an) : 0;
}

int
roster_op_cmp(const struct roster_op *a, const struct roster_op *b)
{
	size_t i;
	int c;

	if ((c = memcmp(a->author, b->author, 32)) != 0)
		return c;
	CMP(a->seq, b->seq);
	CMP(a->hlc, b->hlc);
	CMP(a->type, b->type);
	CMP(a->ndeps, b->ndeps);
	for (i = 0; i < a->ndeps; i++) {
		if ((c = memcmp(a->deps[i].author, b->deps[i].author, 32)) != 0)
			return c;
		CMP(a->deps[i].seq, b->deps[i].seq);
	}
	if ((c = memcmp(a->target, b->target, 32)) != 0)
		return c;
	CMP(a->role, b->role);
	CMP(a->cut_seq, b->cut_seq);
	if ((c = memcmp(a->cut_id, b->cut_id, 32)) != 0)
		return c;
	CMP(a->epoch, b->epoch);
	CMP(a->nseals, b->nseals);
	for (i = 0; i < a->nseals; i++) {
		CMP(a->seals[i].epoch, b->seals[i].epoch);
		if ((c = memcmp(a->seals[i].device, b->seals[i].device, 32)) ||
		    (c = memcmp(a->seals[i].sealed, b->seals[i].sealed,
		    ROSTER_SEALLEN)))
			return c;
	}
	if ((c = memcmp(a->salt, b->salt, 16)) != 0)
		return c;
	CMP(a->has_audit != 0, b->has_audit != 0);
	if ((c = memcmp(a->audit, b->audit, 32)) != 0 ||
	    (c = memcmp(a->coll, b->coll, sizeof(a->coll))) != 0)
		return c;
	CMP(a->keep, b->keep);
	if ((c = memcmpn(a->tags, a->ntags * ROSTER_TAGLEN, b->tags,
	    b->ntags * ROSTER_TAGLEN)) != 0 ||
	    (c = memcmpn(a->name, a->name_len, b->name, b->name_len)) != 0 ||
	    (c = memcmpn(a->reason, a->reason_len, b->reason,
	    b->reason_len)) != 0)
		return c;
	return memcmpn(a->rids, a->rids_len, b->rids, b->rids_len);
}

void
roster_op_free(struct roster_op *op)
{
	free(op->deps);
	free(op->seals);
	free(op->tags);
	free(op->name);
	free(op->reason);
	free(op->rids);
	op->deps = NULL;
	op->seals = NULL;
	op->tags = NULL;
	op->name = op->reason = op->rids = NULL;
	op->ndeps = op->nseals = op->ntags = 0;
	op->name_len = op->reason_len = op->rids_len = 0;
}

/* ---- reading ------------------------------------------------------------ */

static uint64_t
get_le64(const uint8_t in[8])
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | in[i];
	return v;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lower-case hex of exactly 2n digits into out[n]. */
static int
unhex(uint8_t *out, const char *s, size_t n)
{
	int hi, lo;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((hi = hexval(s[2 * i])) < 0 || (lo = hexval(s[2 * i + 1])) < 0)
			return SAMEN_EVALUE;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int
get_fixed(uint8_t *out, size_t n, const char *s, size_t len)
{
	if (len != 2 * n)
		return SAMEN_EVALUE;
	return unhex(out, s, n);
}

/*
 * A list of entries of size bytes each: checks the length, then the count
 * against max, before anything is allocated.  Returns the bytes in *out
 * (free()), NULL for an empty list.
 */
static int
get_list(uint8_t **out, size_t *count, size_t size, size_t max,
    const char *s, size_t len)
{
	int rc;

	*out = NULL;
	*count = 0;
	if (len % (2 * size) != 0)
		return SAMEN_EVALUE;
	if (len / (2 * size) > max)
		return SAMEN_ETOOBIG;
	if (len == 0)
		return 0;
	*out = xmalloc(len / 2);
	if ((rc = unhex(*out, s, len / 2)) != 0) {
		free(*out);
		*out = NULL;
		return rc;
	}
	*count = len / (2 * size);
	return 0;
}

static int
get_blob(uint8_t **out, size_t *n, const char *s, size_t len)
{
	if (len % 2 != 0)
		return SAMEN_EVALUE;
	if (len / 2 > ROSTER_MAX_BLOB)
		return SAMEN_ETOOBIG;
	return get_list(out, n, 1, ROSTER_MAX_BLOB, s, len);
}

/* Canonical decimal: "0" or no leading zero; at most max. */
static int
get_dec(uint64_t *v, uint64_t max, const char *s, size_t len)
{
	uint64_t x = 0;
	size_t i;

	if (len == 0 || len > DEC_MAX || (len > 1 && s[0] == '0'))
		return SAMEN_EVALUE;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SAMEN_EVALUE;
		if (x > (max - (uint64_t)(s[i] - '0')) / 10)
			return SAMEN_EVALUE;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

static int
get_u32(uint32_t *v, const char *s, size_t len)
{
	uint64_t x;
	int rc;

	if ((rc = get_dec(&x, UINT32_MAX, s, len)) != 0)
		return rc;
	*v = (uint32_t)x;
	return 0;
}

static int
get_name(int *v, const char *const *names, size_t n, const char *s,
    size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && strlen(names[i]) == len &&
		    memcmp(names[i], s, len) == 0) {
			*v = (int)i;
			return 0;
		}
	return SAMEN_EVALUE;
}

/* Only the canonical text: what devid_encode() writes. */
static int
get_target(uint8_t key[32], const char *s, size_t len)
{
	char text[DEVID_TEXTLEN + 1];

	if (devid_decode(key, s, len) != 0)
		return SAMEN_EVALUE;
	devid_encode(text, key);
	return memcmp(text, s, len) == 0 ? 0 : SAMEN_EVALUE;
}

static int
get_cut(struct roster_op *op, const char *s, size_t len)
{
	const char *colon;

	if (len > CUT_MAX || (colon = memchr(s, ':', len)) == NULL ||
	    get_dec(&op->cut_seq, UINT64_MAX, s, (size_t)(colon - s)) != 0)
		return SAMEN_EVALUE;
	return get_fixed(op->cut_id, 32, colon + 1,
	    len - (size_t)(colon - s) - 1);
}

static int
get_deps(struct roster_op *op, const char *s, size_t len)
{
	uint8_t *raw;
	size_t i;
	int rc;

	if ((rc = get_list(&raw, &op->ndeps, DEP_BYTES, ROSTER_MAX_DEPS, s,
	    len)) != 0)
		return rc;
	if (op->ndeps)
		op->deps = xcalloc(op->ndeps, sizeof(*op->deps));
	for (i = 0; i < op->ndeps; i++) {
		memcpy(op->deps[i].author, raw + i * DEP_BYTES, 32);
		op->deps[i].seq = get_le64(raw + i * DEP_BYTES + 32);
	}
	free(raw);
	return 0;
}

static int
get_keys(struct roster_op *op, const char *s, size_t len)
{
	const uint8_t *p;
	uint8_t *raw;
	size_t i;
	int rc;

	if ((rc = get_list(&raw, &op->nseals, SEAL_BYTES, ROSTER_MAX_SEALS, s,
	    len)) != 0)
		return rc;
	if (op->nseals)
		op->seals = xcalloc(op->nseals, sizeof(*op->seals));
	for (i = 0; i < op->nseals; i++) {
		p = raw + i * SEAL_BYTES;
		op->seals[i].epoch = get_le32(p);
		memcpy(op->seals[i].device, p + 4, 32);
		memcpy(op->seals[i].sealed, p + 36, ROSTER_SEALLEN);
	}
	free(raw);
	return 0;
}

static int
get_field(struct roster_op *op, enum field f, const char *s, size_t len)
{
	uint8_t *raw;
	size_t n;
	int v, rc;

	switch (f) {
	case F_DEPS:
		return get_deps(op, s, len);
	case F_TARGET:
		return get_target(op->target, s, len);
	case F_ROLE:
		if ((rc = get_name(&v, role_name, 4, s, len)) != 0)
			return rc;
		op->role = (enum roster_role)v;
		return 0;
	case F_CUT:
		return get_cut(op, s, len);
	case F_EPOCH:
		return get_u32(&op->epoch, s, len);
	case F_KEYS:
		return get_keys(op, s, len);
	case F_SALT:
		return get_fixed(op->salt, sizeof(op->salt), s, len);
	case F_NAME:
		return get_blob(&op->name, &op->name_len, s, len);
	case F_AUDIT:
		op->has_audit = 1;
		return get_fixed(op->audit, sizeof(op->audit), s, len);
	case F_REASON:
		return get_blob(&op->reason, &op->reason_len, s, len);
	case F_COLL:
		if (!ops_collection_valid(s, len))
			return SAMEN_EVALUE;
		memcpy(op->coll, s, len);
		op->coll[len] = '\0';
		return 0;
	case F_KEEP:
		return get_u32(&op->keep, s, len);
	case F_REC:
		if ((rc = get_list(&raw, &n, ROSTER_TAGLEN, ROSTER_MAX_TAGS, s,
		    len)) != 0)
			return rc;
		op->tags = (uint8_t (*)[ROSTER_TAGLEN])raw;
		op->ntags = n;
		return 0;
	case F_RIDS:
		return get_blob(&op->rids, &op->rids_len, s, len);
	default:
		return 0;	/* v and type: read by the caller */
	}
}

static enum field
field_of(const struct op *o)
{
	int f;

	if (get_name(&f, field_name, NFIELDS, o->field, o->field_len) != 0)
		return NFIELDS;
	return (enum field)f;
}

/*
 * The chunk must be the creation of one record of collection "mop": SETs
 * and the one EXIST alive op that every record write carries, none naming
 * an earlier value (a creation has no pred).  Finds the known fields.
 */
static int
scan_chunk(const struct op *fields[NFIELDS], const struct ops_chunk *c)
{
	const struct op *o;
	uint32_t i, nexist = 0;
	enum field f;

	memset(fields, 0, NFIELDS * sizeof(fields[0]));
	if (c->collection_len != strlen(ROSTER_COLLECTION) ||
	    memcmp(c->collection, ROSTER_COLLECTION, c->collection_len) != 0)
		return SAMEN_EPROTO;
	if (c->nops > OPS_MAX_OPS)
		return SAMEN_ETOOBIG;
	for (i = 0; i < c->nops; i++) {
		o = &c->ops[i];
		if (o->nrefs != 0)
			return SAMEN_EPROTO;
		if (o->type == OP_EXIST) {
			if (!o->alive || nexist++ > 0)
				return SAMEN_EPROTO;
			continue;
		}
		if (o->type != OP_SET || !ops_field_valid(o->field,
		    o->field_len))
			return SAMEN_EPROTO;
		if (o->value_len > OPS_MAX_VALUE)
			return SAMEN_ETOOBIG;
		if ((f = field_of(o)) == NFIELDS)
			continue;	/* a later version's: ignored */
		if (fields[f] != NULL)
			return SAMEN_EPROTO;
		fields[f] = o;
	}
	return nexist == 1 ? 0 : SAMEN_EPROTO;
}

static int
type_of(const struct op *o)
{
	size_t t;

	for (t = 1; t < NTYPES; t++)
		if (strlen(types[t].name) == o->value_len &&
		    memcmp(types[t].name, o->value, o->value_len) == 0)
			return (int)t;
	return ROSTER_NONE;
}

static int
parse(struct roster_op *op, const struct ops_chunk *c,
    const uint8_t circle[16])
{
	const struct op *fields[NFIELDS];
	unsigned have = 0;
	int f, t, rc;

	if ((rc = scan_chunk(fields, c)) != 0)
		return rc;
	/* The version first: another one may mean anything by the rest. */
	if (fields[F_V] == NULL || fields[F_TYPE] == NULL)
		return SAMEN_EPROTO;
	if (fields[F_V]->value_len != 1 || fields[F_V]->value[0] != '1')
		return SAMEN_EVERSION;
	if ((t = type_of(fields[F_TYPE])) == ROSTER_NONE)
		return SAMEN_EVALUE;
	op->type = (enum roster_type)t;
	for (f = 0; f < NFIELDS; f++)
		if (fields[f])
			have |= B(f);
	if ((have & types[t].need) != types[t].need ||
	    (have & ~(types[t].need | types[t].may)) != 0)
		return SAMEN_EPROTO;
	for (f = 0; f < NFIELDS; f++)
		if (fields[f] && (rc = get_field(op, (enum field)f,
		    fields[f]->value, fields[f]->value_len)) != 0)
			return rc;
	return roster_op_check(op, circle);
}

int
roster_op_parse(struct roster_op *op, const struct ops_chunk *c,
    const uint8_t circle[16], const uint8_t id[32], const uint8_t author[32],
    uint64_t seq, uint64_t hlc)
{
	int rc;

	memset(op, 0, sizeof(*op));
	memcpy(op->id, id, 32);
	memcpy(op->author, author, 32);
	op->seq = seq;
	op->hlc = hlc;
	if ((rc = parse(op, c, circle)) == 0)
		return 0;
	/* A placeholder: it keeps the header's place, nothing else. */
	roster_op_free(op);
	memset(op, 0, sizeof(*op));
	memcpy(op->id, id, 32);
	memcpy(op->author, author, 32);
	op->seq = seq;
	op->hlc = hlc;
	return rc;
}

/* ---- writing ------------------------------------------------------------ */

static char *
put_hex(char *p, const uint8_t *in, size_t n)
{
	hex_encode(p, in, n);
	return p + 2 * n;
}

/* The value's length; writes it to p when p is not NULL. */
static size_t
put_value(char *p, const struct roster_op *op, enum field f)
{
	uint8_t buf[SEAL_BYTES];
	char dec[DEC_MAX + 2], text[DEVID_TEXTLEN + 1];
	const char *s = NULL;
	size_t i, len = 0;

	switch (f) {
	case F_V:
		s = "1";
		break;
	case F_TYPE:
		s = types[op->type].name;
		break;
	case F_DEPS:
		if (p)
			for (i = 0; i < op->ndeps; i++) {
				memcpy(buf, op->deps[i].author, 32);
				put_le64(buf + 32, op->deps[i].seq);
				p = put_hex(p, buf, DEP_BYTES);
			}
		return op->ndeps * 2 * DEP_BYTES;
	case F_TARGET:
		devid_encode(text, op->target);
		s = text;
		break;
	case F_ROLE:
		s = role_name[op->role];
		break;
	case F_CUT:
		len = (size_t)snprintf(dec, sizeof(dec), "%llu:",
		    (unsigned long long)op->cut_seq);
		if (p) {
			memcpy(p, dec, len);
			put_hex(p + len, op->cut_id, 32);
		}
		return len + 64;
	case F_EPOCH:
	case F_KEEP:
		snprintf(dec, sizeof(dec), "%lu", (unsigned long)(f == F_EPOCH ?
		    op->epoch : op->keep));
		s = dec;
		break;
	case F_KEYS:
		if (p)
			for (i = 0; i < op->nseals; i++) {
				put_le32(buf, op->seals[i].epoch);
				memcpy(buf + 4, op->seals[i].device, 32);
				memcpy(buf + 36, op->seals[i].sealed,
				    ROSTER_SEALLEN);
				p = put_hex(p, buf, SEAL_BYTES);
			}
		return op->nseals * 2 * SEAL_BYTES;
	case F_SALT:
		if (p)
			put_hex(p, op->salt, sizeof(op->salt));
		return 2 * sizeof(op->salt);
	case F_NAME:
		if (p)
			put_hex(p, op->name, op->name_len);
		return 2 * op->name_len;
	case F_AUDIT:
		if (p)
			put_hex(p, op->audit, sizeof(op->audit));
		return 2 * sizeof(op->audit);
	case F_REASON:
		if (p)
			put_hex(p, op->reason, op->reason_len);
		return 2 * op->reason_len;
	case F_COLL:
		s = op->coll;
		break;
	case F_REC:
		if (p)
			put_hex(p, (const uint8_t *)op->tags,
			    op->ntags * ROSTER_TAGLEN);
		return 2 * op->ntags * ROSTER_TAGLEN;
	case F_RIDS:
		if (p)
			put_hex(p, op->rids, op->rids_len);
		return 2 * op->rids_len;
	default:
		return 0;
	}
	len = strlen(s);
	if (p)
		memcpy(p, s, len);
	return len;
}

/* The fields written: the needed ones, and the optional ones that are set. */
static unsigned
fields_of(const struct roster_op *op)
{
	unsigned set = types[op->type].need;

	if (op->nseals)
		set |= B(F_KEYS);
	if (op->has_audit)
		set |= B(F_AUDIT);
	if (op->name_len && (types[op->type].may & B(F_NAME)))
		set |= B(F_NAME);
	if (op->reason_len && (types[op->type].may & B(F_REASON)))
		set |= B(F_REASON);
	return set;
}

int
roster_op_encode(struct ops_chunk *c, const struct roster_op *op,
    const uint8_t rid[RID_LEN])
{
	size_t len[NFIELDS], total, head;
	unsigned set;
	struct op *o;
	char *p;
	int f, rc;

	memset(c, 0, sizeof(*c));
	if ((rc = check_op(op, NULL)) != 0)
		return rc == SAMEN_ETOOBIG ? rc : SAMEN_EINVAL;
	set = fields_of(op);
	/*
	 * The EXIST op, then one SET per field, then the strings, and a byte
	 * for the NUL that hex_encode() writes after the last.
	 */
	head = (1 + NFIELDS) * sizeof(struct op);
	total = head + sizeof(ROSTER_COLLECTION) + 1;
	for (f = 0; f < NFIELDS; f++) {
		if (!(set & B(f)))
			continue;
		len[f] = put_value(NULL, op, (enum field)f);
		if (len[f] > OPS_MAX_VALUE)
			return SAMEN_ETOOBIG;
		total += strlen(field_name[f]) + len[f];
	}
	c->ops = xcalloc(1, total);
	p = (char *)c->ops + head;
	memcpy(p, ROSTER_COLLECTION, sizeof(ROSTER_COLLECTION));
	c->collection = p;
	c->collection_len = sizeof(ROSTER_COLLECTION) - 1;
	p += sizeof(ROSTER_COLLECTION);
	memcpy(c->rid, rid, RID_LEN);
	c->ops[0].type = OP_EXIST;
	c->ops[0].alive = 1;
	c->nops = 1;
	for (f = 0; f < NFIELDS; f++) {
		if (!(set & B(f)))
			continue;
		o = &c->ops[c->nops++];
		o->type = OP_SET;
		o->field = p;
		o->field_len = strlen(field_name[f]);
		memcpy(p, field_name[f], o->field_len);
		p += o->field_len;
		o->value = p;
		o->value_len = len[f];
		put_value(p, op, (enum field)f);
		p += len[f];
	}
	return 0;
}
