/* roster_apply: apply(V), a device's state in a set of valid membership ops. */
#include "roster_int.h"

#include <string.h>

static enum roster_role
setter_role(const struct roster_ctx *x, uint32_t i)
{
	return typeof_node(x, i) == ROSTER_CREATE ? ROSTER_ADMIN :
	    opof(x, i)->role;
}

/*
 * The ops of the set that name device d: valid[i] and in set (or i ==
 * extra, an op judged with its own effect).  Gathers them in x->sbuf and
 * the removals among them in x->rbuf.
 */
uint32_t
roster_apply_gather(struct roster_ctx *x, uint32_t d, const uint8_t *valid,
    const uint64_t *set, uint32_t extra, uint32_t *nr)
{
	uint32_t k, i, ns = 0;
	enum roster_type t;

	*nr = 0;
	for (k = x->toff[d]; k < x->toff[d + 1]; k++) {
		i = x->tlist[k];
		if (!valid[i] || (i != extra && !inset(x, set, i)))
			continue;
		x->sbuf[ns++] = i;
		t = typeof_node(x, i);
		if (t == ROSTER_REMOVE || t == ROSTER_REVOKE)
			x->rbuf[(*nr)++] = i;
	}
	return ns;
}

/* An add or a role op survives unless a removal did not see it. */
int
roster_apply_survives(const struct roster_ctx *x, uint32_t i, uint32_t nr)
{
	uint32_t k;

	for (k = 0; k < nr; k++)
		if (!inpast(x, x->rbuf[k], i))
			return 0;
	return 1;
}

static int
is_setter(enum roster_type t)
{
	return t == ROSTER_ADD || t == ROSTER_CREATE || t == ROSTER_ROLE;
}

/*
 * apply() for one device.  all: the role it last had, whether or not a
 * removal dominates its role setters (for a device that is not current).
 */
void
roster_apply_eval(struct roster_ctx *x, uint32_t d, const uint8_t *valid,
    const uint64_t *set, uint32_t extra, int all, struct roster_dstate *st)
{
	uint32_t ns, nr, k, j, i, nset = 0;
	enum roster_type t;
	int maximal;

	memset(st, 0, sizeof(*st));
	if (d == NIL)
		return;
	ns = roster_apply_gather(x, d, valid, set, extra, &nr);
	for (k = 0; k < ns; k++) {
		i = x->sbuf[k];
		t = typeof_node(x, i);
		if (t == ROSTER_REVOKE)
			st->revoked = 1;
		if (t == ROSTER_ADD || t == ROSTER_CREATE || t == ROSTER_REMOVE ||
		    t == ROSTER_REVOKE)
			st->listed = 1;
		if (!is_setter(t))
			continue;
		if (roster_apply_survives(x, i, nr)) {
			if (t != ROSTER_ROLE)
				st->current = 1;
		} else if (!all)
			continue;
		/* Keep the setters at the front of sbuf. */
		x->sbuf[k] = x->sbuf[nset];
		x->sbuf[nset++] = i;
	}
	if (st->revoked)
		st->current = 0;
	/* The maximal setters; of concurrent ones the least privileged. */
	for (k = 0; k < nset; k++) {
		maximal = 1;
		for (j = 0; j < nset && maximal; j++)
			if (j != k && inpast(x, x->sbuf[k], x->sbuf[j]))
				maximal = 0;
		if (maximal && (st->role == ROSTER_NOROLE ||
		    setter_role(x, x->sbuf[k]) < st->role))
			st->role = setter_role(x, x->sbuf[k]);
	}
}

int
roster_apply_admin(struct roster_ctx *x, uint32_t d, const uint8_t *valid,
    const uint64_t *set)
{
	struct roster_dstate st;

	roster_apply_eval(x, d, valid, set, NIL, 0, &st);
	return st.current && st.role == ROSTER_ADMIN;
}
