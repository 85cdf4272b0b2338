/* circle_ops: the membership ops this device writes: create, add, role, remove, accept, revoke, and an admin's new epochs. */
#include "circle_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "devid.h"
#include "error.h"
#include "keyring.h"
#include "loader.h"
#include "log.h"
#include "sync.h"
#include "util.h"
#include "writer.h"

/*
 * Every op is checked against the roster as it stands before anything is
 * written: a refusal is one line for the person (*cause) and writes
 * nothing.  An op is one change set of our members chain, written in the
 * batch's transaction (the groups open before it are built first), its
 * deps the roster's frontier; the rosters are reloaded at once, so that
 * the next request of the batch sees it, and again after the commit.
 */

static const uint8_t *
me(const struct circle *cs)
{
	return vault_public_key(cs->env.vault);
}

static const char *
role_word(enum roster_role r)
{
	switch (r) {
	case ROSTER_ADMIN:
		return "admin";
	case ROSTER_MEMBER:
		return "member";
	case ROSTER_RELAY:
		return "relay";
	default:
		return "nothing";
	}
}

/* A device's short id, for messages. */
static const char *
short_dev(char out[DEVID_TEXTLEN + 1], const uint8_t dev[32])
{
	devid_encode(out, dev);
	out[DEVID_SHORTLEN] = '\0';
	return out;
}

/* Seals grown one at a time into an op (which owns them). */
static void
seal_push(struct roster_op *op, const struct roster_seal *s)
{
	op->seals = xreallocarray(op->seals, op->nseals + 1,
	    sizeof(*op->seals));
	op->seals[op->nseals++] = *s;
}

static size_t
count_admins(const struct roster *r)
{
	const struct roster_member *m;
	size_t n, k = 0;

	m = roster_members(r, &n);
	for (size_t i = 0; i < n; i++)
		k += m[i].state == ROSTER_CURRENT && m[i].role == ROSTER_ADMIN;
	return k;
}

/* A device that is a reader now: a current member or admin. */
static int
reader(const struct roster_member *m)
{
	return m->state == ROSTER_CURRENT && m->role != ROSTER_RELAY;
}

/*
 * The view called name, valid, of which we are an admin, for an op that
 * does what (for the refusal).  NULL and *cause if not.
 */
static struct view *
admin_view(struct circle *cs, const char *name, const char *what, int *rc,
    char **cause)
{
	const struct circle_info *c;
	struct view *v;

	if ((c = circle_find(cs, name)) == NULL) {
		*rc = samen_fail(cause, SAMEN_ENOTFOUND, "no shared circle named '%s' "
		    "(samen circle ls)", name);
		return NULL;
	}
	v = circle_view_of(cs, c->id);
	if (v->r == NULL || !roster_circle_valid(v->r)) {
		*rc = samen_fail(cause, SAMEN_ENOTFOUND, "circle '%s' has no valid "
		    "member list on this device yet", name);
		return NULL;
	}
	if (!roster_is_admin(v->r, me(cs))) {
		*rc = samen_fail(cause, SAMEN_EINVAL, "only an admin of '%s' can %s",
		    name, what);
		return NULL;
	}
	return v;
}

/* A current member of v (any role), or NULL and *cause. */
static const struct roster_member *
current_member(const struct view *v, const char *name,
    const uint8_t device[32], int *rc, char **cause)
{
	const struct roster_member *m = roster_member(v->r, device);
	char dev[DEVID_TEXTLEN + 1];

	if (m == NULL || m->state != ROSTER_CURRENT) {
		*rc = samen_fail(cause, SAMEN_ENOTFOUND, "%s is not a member of '%s'",
		    short_dev(dev, device), name);
		return NULL;
	}
	return m;
}

/* 1 if device is revoked in any circle we hold: never admitted again. */
static int
revoked_anywhere(const struct circle *cs, const uint8_t device[32])
{
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct roster_member *m;

		if (cs->views[i].r != NULL &&
		    (m = roster_member(cs->views[i].r, device)) != NULL &&
		    m->state == ROSTER_REVOKED)
			return 1;
	}
	return 0;
}

/*
 * The keys a device that becomes role is given in v: every epoch key we
 * hold (history), or the preferred epoch's only; and to an admin the
 * current audit secret.  The key code decides who may hold what
 * (keyring_seal): asking it to seal a key to a relay is an error.
 */
static int
seal_keys(struct circle *cs, const struct view *v, struct roster_op *op,
    const uint8_t device[32], enum roster_role role, int history)
{
	const struct roster_epoch *e, *p = roster_preferred(v->r);
	const struct store_circle *row;
	const uint8_t *audit = roster_audit(v->r);
	struct roster_seal s;
	size_t n;
	int rc;

	e = roster_epochs(v->r, &n);
	for (size_t i = 0; i < n; i++) {
		if (!history && (p == NULL || e[i].id != p->id))
			continue;
		if ((row = circle_row(cs, v->info.id, e[i].id)) == NULL)
			continue;
		if ((rc = keyring_seal(&s, e[i].id, row->key, device,
		    role)) != 0)
			return rc;
		seal_push(op, &s);
	}
	if (role == ROSTER_ADMIN && audit != NULL &&
	    (row = circle_row(cs, v->info.id, ROSTER_AUDIT_EPOCH)) != NULL) {
		if ((rc = keyring_seal(&s, ROSTER_AUDIT_EPOCH, row->key,
		    device, role)) != 0)
			return rc;
		seal_push(op, &s);
	}
	return 0;
}

/*
 * Opens the batch and builds its open groups: an op is a change set of
 * its own, and the seq it gets (which an epoch's id derives from) is
 * fixed from here until it is written.
 */
static int
op_begin(struct circle *cs, const struct view *v, uint64_t *seq,
    char **cause)
{
	uint8_t prev[CS_IDLEN];
	int rc;

	if ((rc = writer_begin(cs->env.writer, cause)) != 0 ||
	    (rc = writer_close_all(cs->env.writer, cause)) != 0)
		return rc;
	if ((rc = store_cs_head(cs->env.store, me(cs), v->chain, seq,
	    prev)) != 0) {
		writer_abort(cs->env.writer, rc);
		return samen_fail(cause, rc, "storage error: %s",
		    samen_strerror(rc));
	}
	(*seq)++;
	return 0;
}

/*
 * Writes op into v's members chain, its deps the roster's frontier, and
 * reloads the rosters (v is stale after).  A failure after the op is in
 * the transaction rolls the batch back.
 */
static int
op_write(struct circle *cs, struct view *v, struct roster_op *op,
    char **cause)
{
	const struct store_circle *chain = circle_chain_of(cs, v->info.id);
	struct ops_chunk c;
	uint8_t rid[RID_LEN];
	int rc;

	if (chain == NULL)
		return samen_fail(cause, SAMEN_ENOTFOUND, "the circle's members chain "
		    "is missing");
	if (op->type != ROSTER_CREATE && v->r != NULL &&
	    (rc = roster_frontier(v->r, me(cs), &op->deps, &op->ndeps)) != 0)
		return samen_fail(cause, rc, "the circle has too many writers of its "
		    "member list");
	writer_new_rid(cs->env.writer, rid);
	if ((rc = roster_op_encode(&c, op, rid)) != 0)
		return samen_fail(cause, rc, "the change to the member list is too "
		    "big");
	rc = writer_chunk(cs->env.writer, chain, &c, cause);
	ops_chunk_free(&c);
	if (rc == 0)
		rc = writer_close_all(cs->env.writer, cause);
	if (rc != 0)
		return rc;
	cs->stale = 1;
	if ((rc = circle_reload(cs)) != 0) {
		writer_abort(cs->env.writer, rc);
		return samen_fail(cause, rc, "could not read the circles again: %s",
		    samen_strerror(rc));
	}
	return 0;
}

/* Keeps a key we made (a new epoch's, an audit secret) at rest. */
static int
put_key(struct circle *cs, const uint8_t id[CS_CIRCLELEN], uint32_t epoch,
    const uint8_t key[CS_KEYLEN], char **cause)
{
	struct store_circle sc;
	int rc;

	memset(&sc, 0, sizeof(sc));
	memcpy(sc.id, id, CS_CIRCLELEN);
	sc.epoch = epoch;
	sc.kind = STORE_CIRCLE_SHARED;
	memcpy(sc.key, key, CS_KEYLEN);
	sc.name = xmalloc(2 * CS_CIRCLELEN + 1);
	hex_encode(sc.name, id, CS_CIRCLELEN);
	rc = store_circle_put(cs->env.store, &sc);
	store_circle_clear(&sc);
	if (rc != 0) {
		writer_abort(cs->env.writer, rc);
		return samen_fail(cause, rc, "could not store the circle's key: %s",
		    samen_strerror(rc));
	}
	return 0;
}

/* Fills out from the circle's info, once the op is written. */
static void
done(struct circle *cs, const uint8_t id[CS_CIRCLELEN],
    struct circle_done *out)
{
	struct view *v = circle_view_of(cs, id);

	memcpy(out->id, id, CS_CIRCLELEN);
	out->name = v != NULL ? v->label : "";
}

int
circle_create(struct circle *cs, const char *name, struct circle_done *out,
    char **cause)
{
	uint8_t salt[16], key[CS_KEYLEN], ask[32], id[CS_CIRCLELEN];
	char hex[2 * CS_CIRCLELEN + 1];
	struct roster_seal s;
	struct roster_op op;
	struct view *v;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&op, 0, sizeof(op));
	randombytes_buf(salt, sizeof(salt));
	sync_circle_id(id, me(cs), salt);
	randombytes_buf(key, sizeof(key));
	crypto_box_keypair(op.audit, ask);
	op.has_audit = 1;
	op.type = ROSTER_CREATE;
	op.epoch = ROSTER_FIRST_EPOCH;
	memcpy(op.salt, salt, sizeof(salt));
	if ((rc = keyring_seal(&s, ROSTER_FIRST_EPOCH, key, me(cs),
	    ROSTER_ADMIN)) != 0)
		goto out;
	seal_push(&op, &s);
	if ((rc = keyring_seal(&s, ROSTER_AUDIT_EPOCH, ask, me(cs),
	    ROSTER_ADMIN)) != 0)
		goto out;
	seal_push(&op, &s);
	keyring_blob_seal(&op.name, &op.name_len, key, id, "name", name,
	    strlen(name));

	if ((rc = writer_begin(cs->env.writer, cause)) != 0 ||
	    (rc = writer_close_all(cs->env.writer, cause)) != 0)
		goto out;
	if ((rc = put_key(cs, id, ROSTER_FIRST_EPOCH, key, cause)) != 0 ||
	    (rc = put_key(cs, id, ROSTER_AUDIT_EPOCH, ask, cause)) != 0)
		goto out;
	if ((rc = circle_put_chain(cs, id)) != 0 ||
	    (rc = circle_reload(cs)) != 0) {
		writer_abort(cs->env.writer, rc);
		rc = samen_fail(cause, rc, "could not create the circle: %s",
		    samen_strerror(rc));
		goto out;
	}
	if ((v = circle_view_of(cs, id)) == NULL) {
		writer_abort(cs->env.writer, SAMEN_ESTORE);
		rc = samen_fail(cause, SAMEN_ESTORE, "could not create the circle");
		goto out;
	}
	if ((rc = op_write(cs, v, &op, cause)) != 0)
		goto out;
	done(cs, id, out);
	out->role = ROSTER_ADMIN;
	out->epoch = ROSTER_FIRST_EPOCH;
	/* Ids only in the log: a circle's name can name a family. */
	hex_encode(hex, id, CS_CIRCLELEN);
	log_info("created circle %s", hex);
out:
	if (rc != 0 && *cause == NULL)
		*cause = xstrdup(samen_strerror(rc));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ask, sizeof(ask));
	roster_op_free(&op);
	return rc;
}

int
circle_add(struct circle *cs, const char *name, const uint8_t device[32],
    enum roster_role role, int history, struct circle_done *out,
    char **cause)
{
	const struct roster_member *m;
	char dev[DEVID_TEXTLEN + 1], hex[2 * CS_CIRCLELEN + 1];
	uint8_t id[CS_CIRCLELEN], cpk[32];
	struct roster_op op;
	struct view *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((v = admin_view(cs, name, "add members", &rc, cause)) == NULL)
		return rc;
	short_dev(dev, device);
	if (revoked_anywhere(cs, device))
		return samen_fail(cause, SAMEN_EINVAL, "%s was revoked as lost: it is "
		    "never added again", dev);
	if ((m = roster_member(v->r, device)) != NULL &&
	    m->state == ROSTER_CURRENT) {
		if (m->role == role)
			return samen_fail(cause, SAMEN_EEXIST, "%s is already a %s of "
			    "'%s'", dev, role_word(role), name);
		return samen_fail(cause, SAMEN_EEXIST, "%s is already in '%s' as %s "
		    "(samen circle role changes it)", dev, name,
		    role_word(m->role));
	}
	if (crypto_sign_ed25519_pk_to_curve25519(cpk, device) != 0)
		return samen_fail(cause, SAMEN_EINVAL, "that device id is not a usable "
		    "key");
	memset(&op, 0, sizeof(op));
	op.type = ROSTER_ADD;
	memcpy(op.target, device, 32);
	op.role = role;
	/* A relay is given nothing; asked for the current key, it is
	 * refused (the key code's rule). */
	if ((role != ROSTER_RELAY || !history) &&
	    (rc = seal_keys(cs, v, &op, device, role, history)) != 0) {
		roster_op_free(&op);
		if (role == ROSTER_RELAY)
			return samen_fail(cause, rc, "a relay holds no key of '%s' "
			    "(--no-history gives it the current one)", name);
		return samen_fail(cause, rc, "cannot seal the circle's keys to %s",
		    dev);
	}
	memcpy(id, v->info.id, CS_CIRCLELEN);
	rc = op_write(cs, v, &op, cause);
	roster_op_free(&op);
	if (rc != 0)
		return rc;
	done(cs, id, out);
	out->role = role;
	hex_encode(hex, id, CS_CIRCLELEN);
	log_info("added a device as %s to circle %s", role_word(role), hex);
	return 0;
}

int
circle_set_role(struct circle *cs, const char *name,
    const uint8_t device[32], enum roster_role role, struct circle_done *out,
    char **cause)
{
	const struct roster_member *m;
	char dev[DEVID_TEXTLEN + 1], hex[2 * CS_CIRCLELEN + 1];
	uint8_t id[CS_CIRCLELEN];
	struct roster_op op;
	struct view *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((v = admin_view(cs, name, "change roles", &rc, cause)) == NULL ||
	    (m = current_member(v, name, device, &rc, cause)) == NULL)
		return rc;
	short_dev(dev, device);
	if (m->role == role)
		return samen_fail(cause, SAMEN_EEXIST, "%s is already a %s of '%s'",
		    dev, role_word(role), name);
	if (m->role == ROSTER_ADMIN && count_admins(v->r) == 1)
		return samen_fail(cause, SAMEN_EINVAL, "%s is the last admin of '%s' "
		    "(make another device admin first)", dev, name);
	memset(&op, 0, sizeof(op));
	op.type = ROSTER_ROLE;
	memcpy(op.target, device, 32);
	op.role = role;
	/*
	 * A relay made a reader gets the keys as an add gives them; a member
	 * made admin the audit secret.  A reader made a relay keeps what it
	 * had (nothing can take that back): the maintenance that follows
	 * starts an epoch it does not get.
	 */
	if (role != ROSTER_RELAY) {
		rc = 0;
		if (m->role == ROSTER_RELAY)
			rc = seal_keys(cs, v, &op, device, role, 1);
		else if (role == ROSTER_ADMIN) {
			const struct store_circle *row = circle_row(cs,
			    v->info.id, ROSTER_AUDIT_EPOCH);
			struct roster_seal s;

			if (row != NULL && roster_audit(v->r) != NULL &&
			    (rc = keyring_seal(&s, ROSTER_AUDIT_EPOCH, row->key,
			    device, role)) == 0)
				seal_push(&op, &s);
		}
		if (rc != 0) {
			roster_op_free(&op);
			return samen_fail(cause, rc, "cannot seal the circle's keys "
			    "to %s", dev);
		}
	}
	memcpy(id, v->info.id, CS_CIRCLELEN);
	rc = op_write(cs, v, &op, cause);
	roster_op_free(&op);
	if (rc != 0)
		return rc;
	done(cs, id, out);
	out->role = role;
	hex_encode(hex, id, CS_CIRCLELEN);
	log_info("made a device %s of circle %s", role_word(role), hex);
	return 0;
}

/*
 * A new epoch in op: a fresh key (kept at rest unless we leave) sealed
 * to every reader of v but gone (NULL: none); and, if the device that
 * goes was an admin, a new audit key pair for the admins that stay.
 */
static int
new_epoch(struct circle *cs, const struct view *v, struct roster_op *op,
    const uint8_t *gone, int audit, uint8_t key[CS_KEYLEN], char **cause)
{
	const struct roster_member *m;
	char hex[2 * CS_CIRCLELEN + 1];
	uint8_t ask[32];
	struct roster_seal s;
	size_t n;
	int rc = 0, stays = 0;

	hex_encode(hex, v->info.id, CS_CIRCLELEN);
	randombytes_buf(key, CS_KEYLEN);
	if (audit)
		crypto_box_keypair(op->audit, ask);
	op->has_audit = audit;
	m = roster_members(v->r, &n);
	for (size_t i = 0; i < n; i++) {
		if (!reader(&m[i]) || (gone != NULL &&
		    memcmp(m[i].device, gone, 32) == 0))
			continue;
		if (memcmp(m[i].device, me(cs), 32) == 0)
			stays = 1;
		if (keyring_seal(&s, op->epoch, key, m[i].device,
		    m[i].role) != 0) {
			log_warnx("circle %s: a member's key has no X25519 "
			    "form; it is not given the new key", hex);
			continue;
		}
		seal_push(op, &s);
		if (audit && m[i].role == ROSTER_ADMIN && keyring_seal(&s,
		    ROSTER_AUDIT_EPOCH, ask, m[i].device, m[i].role) == 0)
			seal_push(op, &s);
	}
	if (stays && (rc = put_key(cs, v->info.id, op->epoch, key,
	    cause)) == 0 && audit)
		rc = put_key(cs, v->info.id, ROSTER_AUDIT_EPOCH, ask, cause);
	sodium_memzero(ask, sizeof(ask));
	return rc;
}

/*
 * A removal or revocation of device in v: its cut where its chain in the
 * circle ends as we hold it, and a new epoch without it.  reason (a
 * revocation's, may be NULL) is sealed under the new key.
 */
static int
write_removal(struct circle *cs, struct view *v,
    const struct roster_member *m, enum roster_type type, const char *reason,
    size_t reason_len, struct circle_done *out, char **cause)
{
	uint8_t id[CS_CIRCLELEN], key[CS_KEYLEN], gone[32];
	uint64_t seq;
	struct roster_op op;
	int rc;

	memset(&op, 0, sizeof(op));
	op.type = type;
	memcpy(gone, m->device, 32);
	memcpy(op.target, gone, 32);
	memcpy(id, v->info.id, CS_CIRCLELEN);
	if ((rc = store_cs_head(cs->env.store, gone, id, &op.cut_seq,
	    op.cut_id)) != 0)
		return samen_fail(cause, rc, "storage error: %s", samen_strerror(rc));
	if ((rc = op_begin(cs, v, &seq, cause)) != 0)
		return rc;
	op.epoch = roster_epoch_id(v->chain, me(cs), seq);
	if ((rc = new_epoch(cs, v, &op, gone, m->role == ROSTER_ADMIN, key,
	    cause)) != 0)
		goto out;
	if (reason != NULL)
		keyring_blob_seal(&op.reason, &op.reason_len, key, id,
		    "reason", reason, reason_len);
	if ((rc = op_write(cs, v, &op, cause)) != 0)
		goto out;
	done(cs, id, out);
	out->epoch = op.epoch;
	out->cut = op.cut_seq;
out:
	sodium_memzero(key, sizeof(key));
	roster_op_free(&op);
	return rc;
}

int
circle_remove(struct circle *cs, const char *name, const uint8_t device[32],
    struct circle_done *out, char **cause)
{
	const struct roster_member *m;
	struct roster_member copy;
	char dev[DEVID_TEXTLEN + 1], hex[2 * CS_CIRCLELEN + 1];
	struct view *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((v = admin_view(cs, name, "remove members", &rc, cause)) == NULL ||
	    (m = current_member(v, name, device, &rc, cause)) == NULL)
		return rc;
	if (m->role == ROSTER_ADMIN && count_admins(v->r) == 1)
		return samen_fail(cause, SAMEN_EINVAL, "%s is the last admin of '%s' "
		    "(make another device admin first)",
		    short_dev(dev, device), name);
	copy = *m;
	if ((rc = write_removal(cs, v, &copy, ROSTER_REMOVE, NULL, 0, out,
	    cause)) != 0)
		return rc;
	out->role = copy.role;
	hex_encode(hex, out->id, CS_CIRCLELEN);
	log_info("removed a device from circle %s: epoch %08x", hex,
	    out->epoch);
	return 0;
}

int
circle_accept(struct circle *cs, const char *name, const uint8_t device[32],
    int has_seq, uint64_t seq, struct circle_done *out, char **cause)
{
	const struct roster_member *m;
	char dev[DEVID_TEXTLEN + 1], hex[2 * CS_CIRCLELEN + 1];
	uint8_t id[CS_CIRCLELEN], headid[CS_IDLEN];
	uint64_t head;
	struct roster_op op;
	struct view *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((v = admin_view(cs, name, "accept change sets", &rc, cause)) ==
	    NULL)
		return rc;
	short_dev(dev, device);
	if ((m = roster_member(v->r, device)) == NULL)
		return samen_fail(cause, SAMEN_ENOTFOUND, "%s is not in '%s'", dev,
		    name);
	if (m->state == ROSTER_CURRENT)
		return samen_fail(cause, SAMEN_EINVAL, "%s is a member of '%s': "
		    "nothing of it is held back", dev, name);
	memcpy(id, v->info.id, CS_CIRCLELEN);
	if ((rc = store_cs_head(cs->env.store, device, id, &head,
	    headid)) != 0)
		return samen_fail(cause, rc, "storage error: %s", samen_strerror(rc));
	if (!has_seq)
		seq = head;
	if (seq > head)
		return samen_fail(cause, SAMEN_EINVAL, "this device holds what %s "
		    "wrote in '%s' up to seq %llu only", dev, name,
		    (unsigned long long)head);
	if (seq <= m->cut_seq)
		return samen_fail(cause, SAMEN_EINVAL, "nothing %s wrote in '%s' "
		    "past its cut (seq %llu) up to seq %llu: nothing to accept",
		    dev, name, (unsigned long long)m->cut_seq,
		    (unsigned long long)seq);
	memset(&op, 0, sizeof(op));
	op.type = ROSTER_ACCEPT;
	memcpy(op.target, device, 32);
	op.cut_seq = seq;
	if ((rc = store_cs_id_at(cs->env.store, id, device, seq,
	    op.cut_id)) != 0)
		return samen_fail(cause, rc, "storage error: %s", samen_strerror(rc));
	rc = op_write(cs, v, &op, cause);
	roster_op_free(&op);
	if (rc != 0)
		return rc;
	done(cs, id, out);
	out->cut = seq;
	hex_encode(hex, id, CS_CIRCLELEN);
	log_info("accepted a removed device's change sets in circle %s up to "
	    "seq %llu", hex, (unsigned long long)seq);
	return 0;
}

int
circle_revoke(struct circle *cs, const uint8_t device[32],
    const char *reason, size_t reason_len, struct circle_done *out,
    char **cause)
{
	uint8_t (*ids)[CS_CIRCLELEN] = NULL;
	struct circle_done one;
	char dev[DEVID_TEXTLEN + 1];
	size_t n = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	short_dev(dev, device);
	if (memcmp(device, me(cs), 32) == 0)
		return samen_fail(cause, SAMEN_EINVAL, "a device cannot revoke "
		    "itself");
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];
		const struct roster_member *m;

		if (v->r == NULL || !roster_is_admin(v->r, me(cs)) ||
		    (m = roster_member(v->r, device)) == NULL ||
		    m->state == ROSTER_REVOKED)
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		memcpy(ids[n++], v->info.id, CS_CIRCLELEN);
	}
	if (n == 0)
		return samen_fail(cause, SAMEN_ENOTFOUND, "%s is in no circle this "
		    "device administers (or is revoked in all of them)", dev);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct view *v = circle_view_of(cs, ids[i]);
		struct roster_member copy;

		copy = *roster_member(v->r, device);
		rc = write_removal(cs, v, &copy, ROSTER_REVOKE, reason,
		    reason_len, &one, cause);
	}
	free(ids);
	if (rc != 0)
		return rc;
	out->ncircles = n;
	log_info("revoked a device in %zu circle%s", n, n == 1 ? "" : "s");
	return 0;
}

/* The quarantine. */

struct listing {
	struct circle *cs;
	const uint8_t *id;
	struct circle_held *h;
	size_t n, cap;
};

/* The records a quarantined change set touches, if we can read it. */
static void
held_records(struct circle_held *x, const struct store_quarantined *q,
    const uint8_t key[CS_KEYLEN])
{
	struct cs_header h;
	struct cs_payload pl;
	struct ops_chunk oc;
	uint8_t *plain;
	size_t plen;

	if (changeset_header_decode(&h, q->hdr, q->hdr_len) != 0 ||
	    changeset_payload_decode(&pl, q->payload, q->payload_len) != 0)
		return;
	x->nchunks = pl.nchunks;
	if (key != NULL) {
		x->readable = 1;
		x->recs = xcalloc(pl.nchunks + 1, sizeof(*x->recs));
	}
	for (uint32_t i = 0; key != NULL && i < pl.nchunks; i++) {
		if (pl.chunks[i].purged || changeset_chunk_read(&plain, &plen,
		    &oc, &h, &pl.chunks[i], key) != 0)
			continue;
		memcpy(x->recs[x->nrecs].collection, oc.collection,
		    oc.collection_len);
		x->recs[x->nrecs].collection[oc.collection_len] = '\0';
		memcpy(x->recs[x->nrecs].rid, oc.rid, RID_LEN);
		x->nrecs++;
		ops_chunk_free(&oc);
		sodium_memzero(plain, plen);
		free(plain);
	}
	changeset_payload_free(&pl);
}

static int
held_cb(void *arg, const struct store_quarantined *q)
{
	struct listing *l = arg;
	const struct store_circle *row;
	struct circle_held *x;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->h = xreallocarray(l->h, l->cap, sizeof(*l->h));
	}
	x = &l->h[l->n++];
	memset(x, 0, sizeof(*x));
	memcpy(x->author, q->author, 32);
	x->seq = q->seq;
	x->hlc = q->hlc;
	x->epoch = q->epoch;
	row = q->epoch != ROSTER_AUDIT_EPOCH ? circle_row(l->cs, l->id,
	    q->epoch) : NULL;
	held_records(x, q, row != NULL ? row->key : NULL);
	return 0;
}

int
circle_quarantine(struct circle *cs, const char *name,
    const struct circle_info **info, struct circle_held **out, size_t *n,
    char **cause)
{
	const struct circle_info *c;
	struct listing l;
	int rc;

	*out = NULL;
	*n = 0;
	if ((c = circle_find(cs, name)) == NULL)
		return samen_fail(cause, SAMEN_ENOTFOUND, "no shared circle named '%s' "
		    "(samen circle ls)", name);
	memset(&l, 0, sizeof(l));
	l.cs = cs;
	l.id = c->id;
	if ((rc = store_quarantine_each(cs->env.store, c->id, held_cb,
	    &l)) != 0) {
		circle_held_free(l.h, l.n);
		return samen_fail(cause, rc, "storage error: %s", samen_strerror(rc));
	}
	*info = c;
	*out = l.h;
	*n = l.n;
	return 0;
}

void
circle_held_free(struct circle_held *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].recs);
	free(h);
}

/* An admin's maintenance. */

/*
 * A new epoch for v sealed to exactly its readers: what roster_needs
 * asks for, either kind.  Nothing if a reader cannot be given it (its
 * key has no X25519 form): the next maintenance would only try again.
 */
static int
write_epoch(struct circle *cs, struct view *v, char **cause)
{
	const struct roster_member *m;
	char hex[2 * CS_CIRCLELEN + 1];
	uint8_t key[CS_KEYLEN], cpk[32];
	struct roster_op op;
	uint64_t seq;
	size_t n;
	int rc;

	hex_encode(hex, v->info.id, CS_CIRCLELEN);
	m = roster_members(v->r, &n);
	for (size_t i = 0; i < n; i++)
		if (reader(&m[i]) && crypto_sign_ed25519_pk_to_curve25519(cpk,
		    m[i].device) != 0) {
			log_warnx("circle %s: a member's key has no X25519 "
			    "form; no new epoch", hex);
			return 0;
		}
	if ((rc = op_begin(cs, v, &seq, cause)) != 0)
		return rc;
	memset(&op, 0, sizeof(op));
	op.type = ROSTER_EPOCH;
	op.epoch = roster_epoch_id(v->chain, me(cs), seq);
	if ((rc = new_epoch(cs, v, &op, NULL, 0, key, cause)) == 0 &&
	    (rc = op_write(cs, v, &op, cause)) == 0)
		log_info("circle %s: new epoch %08x for its readers", hex,
		    op.epoch);
	sodium_memzero(key, sizeof(key));
	roster_op_free(&op);
	return rc == 0 ? 1 : rc;
}

int
circle_maintain(struct circle *cs)
{
	uint8_t (*ids)[CS_CIRCLELEN] = NULL;
	const uint8_t (*lack)[32];
	uint64_t ticket = 0;
	char *cause = NULL;
	size_t n = 0, nlack;
	int rc = 0, wrote = 0;

	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];

		if (v->r == NULL || roster_needs(v->r, me(cs), &lack,
		    &nlack) == 0)
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		memcpy(ids[n++], v->info.id, CS_CIRCLELEN);
	}
	if (n == 0)
		return 0;
	/* Each circle once: what is written now answers what was owed. */
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		struct view *v = circle_view_of(cs, ids[i]);

		if (v == NULL || v->r == NULL ||
		    roster_needs(v->r, me(cs), &lack, &nlack) == 0)
			continue;
		if ((rc = write_epoch(cs, v, &cause)) > 0)
			wrote++;
		free(cause);
		cause = NULL;
	}
	free(ids);
	if (rc < 0) {
		/* Rolled back already, unless it failed before the write. */
		if (writer_in_txn(cs->env.writer))
			writer_abort(cs->env.writer, rc);
		return rc;
	}
	if (wrote == 0)
		return 0;
	if ((rc = writer_commit(cs->env.writer, &ticket)) != 0) {
		loader_forget(cs->env.loader);
		return rc;
	}
	(void)loader_refresh(cs->env.loader, cs);
	if ((rc = circle_reload(cs)) != 0)
		return rc;
	return wrote;
}

int
circle_op_write(struct circle *cs, struct view *v, struct roster_op *op,
    char **cause)
{
	return op_write(cs, v, op, cause);
}
