/* members: who belongs to a shared circle, decided from its members chain's signed ops. */
#include "members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "devid.h"
#include "sync.h"
#include "util.h"

_Static_assert(MEMBERS_SEALEDLEN == CS_KEYLEN + crypto_box_SEALBYTES,
    "key1 holds one circle key sealed with crypto_box_seal");

const char *
members_latest(const struct members_op *ops, size_t n,
    const uint8_t author[32], const char *field)
{
	const char *v = NULL;

	for (size_t i = 0; i < n; i++)
		if (ops[i].kind == OP_SET && ops[i].value != NULL &&
		    memcmp(ops[i].author, author, 32) == 0 &&
		    strcmp(ops[i].field, field) == 0)
			v = ops[i].value;
	return v;
}

int
members_deleted(const struct members_op *ops, size_t n,
    const uint8_t author[32])
{
	int deleted = 0;

	for (size_t i = 0; i < n; i++)
		if (ops[i].kind == OP_EXIST &&
		    memcmp(ops[i].author, author, 32) == 0)
			deleted = !ops[i].alive;
	return deleted;
}

const struct members_entry *
members_find(const struct members_view *v, const uint8_t device[32])
{
	for (size_t i = 0; i < v->nmembers; i++)
		if (memcmp(v->members[i].device, device, 32) == 0)
			return &v->members[i];
	return NULL;
}

int
members_is_admin(const struct members_view *v, const uint8_t device[32])
{
	const struct members_entry *m;

	return v->valid && (m = members_find(v, device)) != NULL && m->admin;
}

int
members_can_manage(const struct members_view *v, const uint8_t device[32])
{
	return v->valid && memcmp(v->creator, device, 32) == 0;
}

static int
hex_decode(uint8_t *out, size_t n, const char *hex)
{
	if (hex == NULL || strlen(hex) != 2 * n)
		return -1;
	return sodium_hex2bin(out, n, hex, 2 * n, NULL, NULL, NULL);
}

/*
 * The circle record: its creator must have written the "creator" field
 * itself, and the circle id must derive from that creator and its salt, so
 * that nobody can claim to have created someone else's circle.
 */
static void
build_circle(struct members_view *v, const struct members_op *ops, size_t n)
{
	for (size_t i = 0; i < n && !v->valid; i++) {
		const char *salt, *name;
		uint8_t pk[32], sb[16], id[CS_CIRCLELEN];

		if (ops[i].kind != OP_SET ||
		    strcmp(ops[i].field, "creator") != 0 ||
		    ops[i].value == NULL ||
		    devid_decode(pk, ops[i].value, strlen(ops[i].value)) != 0 ||
		    memcmp(pk, ops[i].author, 32) != 0)
			continue;
		salt = members_latest(ops, n, pk, "salt");
		name = members_latest(ops, n, pk, "name");
		if (hex_decode(sb, sizeof(sb), salt) != 0 || name == NULL ||
		    !ops_field_valid(name, strlen(name)))
			continue;
		sync_circle_id(id, pk, sb);
		if (memcmp(id, v->id, CS_CIRCLELEN) != 0)
			continue;
		snprintf(v->name, sizeof(v->name), "%s", name);
		memcpy(v->creator, pk, 32);
		v->valid = 1;
	}
}

/* A member record, as the creator wrote it. */
static void
build_member(struct members_view *v, const struct members_op *ops, size_t n)
{
	const char *dev, *role, *by, *key;
	struct members_entry m;

	dev = members_latest(ops, n, v->creator, "device");
	memset(&m, 0, sizeof(m));
	if (dev == NULL || members_deleted(ops, n, v->creator) ||
	    devid_decode(m.device, dev, strlen(dev)) != 0 ||
	    members_find(v, m.device) != NULL)
		return;
	role = members_latest(ops, n, v->creator, "role");
	by = members_latest(ops, n, v->creator, "added_by");
	key = members_latest(ops, n, v->creator, "key1");
	m.admin = role != NULL && strcmp(role, "admin") == 0 &&
	    memcmp(m.device, v->creator, 32) == 0;
	if (by != NULL)
		(void)devid_decode(m.added_by, by, strlen(by));
	if (key != NULL && strlen(key) < sizeof(m.key1))
		strcpy(m.key1, key);
	v->members = xreallocarray(v->members, v->nmembers + 1,
	    sizeof(*v->members));
	v->members[v->nmembers++] = m;
}

void
members_build(struct members_view *v, const uint8_t id[CS_CIRCLELEN],
    const struct members_record *recs, size_t n)
{
	memset(v, 0, sizeof(*v));
	memcpy(v->id, id, CS_CIRCLELEN);
	for (size_t i = 0; i < n && !v->valid; i++)
		if (strcmp(recs[i].collection, "circle") == 0)
			build_circle(v, recs[i].ops, recs[i].nops);
	if (!v->valid)
		return;
	for (size_t i = 0; i < n; i++)
		if (strcmp(recs[i].collection, "member") == 0)
			build_member(v, recs[i].ops, recs[i].nops);
}

void
members_view_free(struct members_view *v)
{
	free(v->members);
	v->members = NULL;
	v->nmembers = 0;
}
