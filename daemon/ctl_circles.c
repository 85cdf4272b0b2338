/* ctl_circles: the control requests on circles: circle new, add, ls, use. */
#include "ctl_circles.h"

#include <stdlib.h>
#include <string.h>

#include "circle.h"
#include "error.h"
#include "util.h"
#include "writer.h"

int
ctl_circles_new(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_circle *rq = &q->circle;
	char *cause = NULL;
	int rc;

	if (strcmp(rq->name, "private") == 0)
		return ctl_fail(res, SAMEN_EEXIST, "'private' is this device's "
		    "own circle");
	/* The circles are read again as it is made: what is open goes
	 * first. */
	if ((rc = writer_close_all(p->writer, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	if (circle_name_taken(p->circle, rq->name))
		return ctl_fail(res, SAMEN_EEXIST, "a circle named '%s' exists",
		    rq->name);
	if ((rc = circle_create(p->circle, rq->name, res->out.circle.id,
	    &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	res->out.circle.name = rq->name;
	return 0;
}

int
ctl_circles_add(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_circle *rq = &q->circle;
	const struct store_circle *circ;
	const struct members_view *v;
	char *cause = NULL;
	int rc;

	if ((circ = circle_by_name(p->circle, rq->name)) == NULL ||
	    circ == circle_private(p->circle) ||
	    (v = circle_view(p->circle, circ->id)) == NULL ||
	    circle_chain_of(p->circle, circ->id) == NULL)
		return ctl_fail(res, SAMEN_ENOTFOUND, "no shared circle named "
		    "'%s' (samen circle ls)", rq->name);
	if (!members_can_manage(v, vault_public_key(p->env.vault)))
		return ctl_fail(res, SAMEN_EINVAL, "only the circle's admin can "
		    "add members");
	if (members_find(v, rq->device) != NULL)
		return ctl_fail(res, SAMEN_EEXIST, "already a member of %s",
		    rq->name);
	if ((rc = writer_close_all(p->writer, &cause)) != 0 ||
	    (rc = circle_add(p->circle, circ, rq->device, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	memcpy(res->out.circle.id, circ->id, CS_CIRCLELEN);
	res->out.circle.name = rq->name;
	res->out.circle.device = rq->device;
	return 0;
}

int
ctl_circles_ls(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	struct render_circles *out = &res->out.circles;
	const struct store_circle *d = circle_default(p->circle);
	size_t nviews = circle_nviews(p->circle);

	(void)q;
	/* The private circle first, then the shared ones we hold. */
	out->items = xreallocarray(NULL, nviews + 1, sizeof(*out->items));
	out->items[0].sc = circle_private(p->circle);
	out->items[0].v = NULL;
	out->items[0].is_default = d == out->items[0].sc;
	out->n = 1;
	for (size_t i = 0; i < nviews; i++) {
		const struct members_view *v = circle_view_at(p->circle, i);
		const struct store_circle *sc;

		if (!v->valid || (sc = circle_by_id(p->circle, v->id)) == NULL)
			continue;
		out->items[out->n].sc = sc;
		out->items[out->n].v = v;
		out->items[out->n].is_default = d == sc;
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
		return ctl_fail(res, SAMEN_ENOTFOUND, "no circle named '%s' "
		    "(samen circle ls)", rq->name);
	if ((rc = circle_use(p->circle, circ->id)) != 0)
		return ctl_fail(res, rc, "could not save the default circle");
	memcpy(res->out.circle.id, circ->id, CS_CIRCLELEN);
	res->out.circle.name = rq->name;
	return 0;
}
