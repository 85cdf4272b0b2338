/* ctl_circles: the control requests on circles and their members: circle new, add, role, rm, accept, quarantine, ls, use, retention; device revoke. */
#include "ctl_circles.h"

#include <stdlib.h>
#include <string.h>

#include "circle.h"
#include "error.h"
#include "util.h"
#include "writer.h"

/* The policy (who may do what to whom, what a circle is) is circle.h's. */

static void
done_out(struct ctl_reply *res, const struct circle_done *d,
    const uint8_t *device)
{
	struct render_circle *out = &res->out.circle;

	memcpy(out->id, d->id, CS_CIRCLELEN);
	out->name = d->name;
	out->device = device;
	out->role = d->role;
	out->epoch = d->epoch;
	out->cut = d->cut;
}

int
ctl_circles_new(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_circle *rq = &q->circle;
	struct circle_done d;
	char *cause = NULL;
	int rc;

	if (strcmp(rq->name, "private") == 0)
		return ctl_fail(res, SAMEN_EEXIST, "'private' is this device's "
		    "own circle");
	if (circle_name_taken(p->circle, rq->name))
		return ctl_fail(res, SAMEN_EEXIST, "a circle named '%s' exists",
		    rq->name);
	if ((rc = circle_create(p->circle, rq->name, &d, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	done_out(res, &d, NULL);
	return 0;
}

int
ctl_circles_add(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_circle *rq = &q->circle;
	struct circle_done d;
	char *cause = NULL;
	int rc;

	if ((rc = circle_add(p->circle, rq->name, rq->device, rq->role,
	    !rq->no_history, &d, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	done_out(res, &d, rq->device);
	return 0;
}

int
ctl_circles_role(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_circle *rq = &q->circle;
	struct circle_done d;
	char *cause = NULL;
	int rc;

	if ((rc = circle_set_role(p->circle, rq->name, rq->device, rq->role,
	    &d, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	done_out(res, &d, rq->device);
	return 0;
}

int
ctl_circles_rm(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_circle *rq = &q->circle;
	struct circle_done d;
	char *cause = NULL;
	int rc;

	if ((rc = circle_remove(p->circle, rq->name, rq->device, &d,
	    &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	done_out(res, &d, rq->device);
	return 0;
}

int
ctl_circles_accept(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_circle *rq = &q->circle;
	struct circle_done d;
	char *cause = NULL;
	int rc;

	if ((rc = circle_accept(p->circle, rq->name, rq->device, rq->has_seq,
	    rq->seq, &d, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	done_out(res, &d, rq->device);
	return 0;
}

int
ctl_circles_quarantine(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	struct render_quarantine *out = &res->out.quarantine;
	char *cause = NULL;
	int rc;

	if ((rc = circle_quarantine(p->circle, q->circle.name, &out->info,
	    &out->held, &out->n, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	return 0;
}

int
ctl_circles_revoke(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_revoke *rq = &q->revoke;
	struct circle_done d;
	char *cause = NULL;
	int rc;

	if ((rc = circle_revoke(p->circle, rq->device, rq->reason,
	    rq->reason_len, &d, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	res->out.revoke.device = rq->device;
	res->out.revoke.ncircles = d.ncircles;
	return 0;
}

int
ctl_circles_ls(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	struct render_circles *out = &res->out.circles;
	const struct store_circle *d = circle_default(p->circle);
	const struct circle_info *c, *stuck;
	size_t n;

	(void)q;
	c = circle_list(p->circle, &n);
	/* A default that cannot be resolved is still the default (put
	 * refuses it), not the private circle circle_default falls to. */
	stuck = circle_default_unresolved(p->circle);
	/* The private circle first, then the shared ones we hold. */
	out->items = xreallocarray(NULL, n + 1, sizeof(*out->items));
	out->items[0].priv = circle_private(p->circle);
	out->items[0].info = NULL;
	out->items[0].is_default = stuck == NULL && d == out->items[0].priv;
	out->n = 1;
	for (size_t i = 0; i < n; i++) {
		out->items[out->n].priv = NULL;
		out->items[out->n].info = &c[i];
		out->items[out->n].is_default = &c[i] == stuck ||
		    (stuck == NULL && d != NULL &&
		    d != circle_private(p->circle) &&
		    memcmp(d->id, c[i].id, CS_CIRCLELEN) == 0);
		out->n++;
	}
	return 0;
}

int
ctl_circles_use(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_circle *rq = &q->circle;
	const struct store_circle *circ;
	int rc;

	if ((circ = circle_by_name(p->circle, rq->name)) == NULL)
		return ctl_no_writer(p, res, rq->name);
	if ((rc = circle_use(p->circle, circ->id)) != 0)
		return ctl_fail(res, rc, "could not save the default circle");
	memcpy(res->out.circle.id, circ->id, CS_CIRCLELEN);
	res->out.circle.name = rq->name;
	return 0;
}

int
ctl_circles_retention(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_retention *rq = &q->retention;
	struct render_retention *out = &res->out.retention;
	const struct circle_info *info;
	struct circle_done d;
	char *cause = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	out->due = rq->due;
	if (rq->due) {
		if ((rc = circle_retention_due(p->circle, rq->name, &info,
		    &out->items, &out->n, &cause)) != 0)
			return ctl_fail_cause(res, rc, cause);
		memcpy(out->id, info->id, CS_CIRCLELEN);
		out->name = info->name;
		return 0;
	}
	if ((rc = circle_retention(p->circle, rq->name, rq->collection,
	    rq->days, &d, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	memcpy(out->id, d.id, CS_CIRCLELEN);
	out->name = d.name;
	out->collection = rq->collection;
	out->days = rq->days;
	return 0;
}
