/* circle_exile: removed and revoked devices: who is exiled from what, what an exile is handed, and our own departures. */
#include "circle_int.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * docs/sync.md, "Exile sessions".  A device that a valid op of a roster
 * removed or revoked is exiled from that circle: peers that know hand it
 * the ops that concern it (and their causal past, so that it can check
 * them), take what it offers (its own change sets land in quarantine),
 * and send it nothing else.  This file answers the sync layer's questions
 * about exiles from the rosters circle.c resolved, and tells the daemon
 * when this device is the exile (circle_departures).
 */

static const uint8_t *
me(const struct circle *cs)
{
	return vault_public_key(cs->env.vault);
}

/* device's state in v's roster: 0 if not listed (or no valid roster). */
static enum roster_state
state_in(const struct view *v, const uint8_t device[32])
{
	const struct roster_member *m;

	if (v->r == NULL || !roster_circle_valid(v->r) ||
	    (m = roster_member(v->r, device)) == NULL)
		return 0;
	return m->state;
}

static int
exiled(enum roster_state st)
{
	return st == ROSTER_REMOVED || st == ROSTER_REVOKED;
}

int
circle_revoked(const struct circle *cs, const uint8_t device[32])
{
	for (size_t i = 0; i < cs->nviews; i++)
		if (state_in(&cs->views[i], device) == ROSTER_REVOKED)
			return 1;
	return 0;
}

size_t
circle_exiled(const struct circle *cs, const uint8_t device[32],
    uint8_t (**out)[CS_CIRCLELEN])
{
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];

		/* Only a current member hands out a circle's ops. */
		if (state_in(v, me(cs)) != ROSTER_CURRENT ||
		    !exiled(state_in(v, device)))
			continue;
		*out = xreallocarray(*out, n + 1, sizeof(**out));
		memcpy((*out)[n++], v->info.id, CS_CIRCLELEN);
	}
	return n;
}

size_t
circle_exiles(const struct circle *cs, uint8_t (**out)[32])
{
	size_t n = 0, nm;

	*out = NULL;
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];
		const struct roster_member *m;

		if (state_in(v, me(cs)) != ROSTER_CURRENT)
			continue;
		m = roster_members(v->r, &nm);
		for (size_t k = 0; k < nm; k++) {
			if (!exiled(m[k].state))
				continue;
			*out = xreallocarray(*out, n + 1, sizeof(**out));
			memcpy((*out)[n++], m[k].device, 32);
		}
	}
	return n;
}

/* Raises the cap of author in *caps (of *n, sorted by author) to seq. */
static void
cap_raise(struct roster_dep **caps, size_t *n, const uint8_t author[32],
    uint64_t seq)
{
	size_t i;
	int d = 1;

	for (i = 0; i < *n; i++)
		if ((d = memcmp((*caps)[i].author, author, 32)) >= 0)
			break;
	if (i < *n && d == 0) {
		if ((*caps)[i].seq < seq)
			(*caps)[i].seq = seq;
		return;
	}
	*caps = xreallocarray(*caps, *n + 1, sizeof(**caps));
	memmove(&(*caps)[i + 1], &(*caps)[i], (*n - i) * sizeof(**caps));
	memcpy((*caps)[i].author, author, 32);
	(*caps)[i].seq = seq;
	(*n)++;
}

size_t
circle_exile_cap(const struct circle *cs, const uint8_t base[CS_CIRCLELEN],
    const uint8_t device[32], struct roster_dep **out)
{
	const struct view *v = NULL;
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < cs->nviews && v == NULL; i++)
		if (memcmp(cs->views[i].info.id, base, CS_CIRCLELEN) == 0)
			v = &cs->views[i];
	if (v == NULL || !exiled(state_in(v, device)))
		return 0;
	/*
	 * The valid ops that name it (its removal or revocation, an accept
	 * that moved its cut) and, from their deps, everything they were
	 * decided on: its own roster then finds them valid as ours did.
	 */
	for (size_t k = 0; k < v->nops; k++) {
		const struct roster_op *op = &v->ops[k];

		if (roster_verdict(v->r, k) != ROSTER_VALID ||
		    (op->type != ROSTER_REMOVE && op->type != ROSTER_REVOKE &&
		    op->type != ROSTER_ACCEPT) ||
		    memcmp(op->target, device, 32) != 0)
			continue;
		cap_raise(out, &n, op->author, op->seq);
		for (size_t d = 0; d < op->ndeps; d++)
			cap_raise(out, &n, op->deps[d].author, op->deps[d].seq);
	}
	return n;
}

int
circle_departures(const struct circle *cs, uint8_t (**out)[CS_CIRCLELEN],
    size_t *n)
{
	int revoked = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < cs->nviews; i++) {
		const struct view *v = &cs->views[i];
		enum roster_state st = state_in(v, me(cs));

		if (!exiled(st))
			continue;
		revoked |= st == ROSTER_REVOKED;
		*out = xreallocarray(*out, *n + 1, sizeof(**out));
		memcpy((*out)[(*n)++], v->info.id, CS_CIRCLELEN);
	}
	return revoked;
}

int
circle_departed(const struct circle *cs, const uint8_t base[CS_CIRCLELEN])
{
	for (size_t i = 0; i < cs->ndeparted; i++)
		if (memcmp(cs->departed[i].circle, base, CS_CIRCLELEN) == 0)
			return 1;
	return 0;
}
