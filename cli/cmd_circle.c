/* cmd_circle: samen circle new, add, ls and use: the circles records are shared in. */
#include "cmd_circle.h"

#include "argcheck.h"
#include "devid.h"
#include "output.h"

/* Requests of the shape [name]. */
static int
run_name(struct cmd_ctx *c, enum ctl_type type,
    void (*human)(FILE *, const struct reply_node *))
{
	struct wbuf w;
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_circle(c->argv[0], &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, type, 1);
	wire_put_cstr(&w, c->argv[0]);
	return cmd_run(c, &w, human);
}

int
cmd_circle_new(struct cmd_ctx *c)
{
	return run_name(c, CTL_CIRCLE_NEW, output_circle_new);
}

int
cmd_circle_add(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_circle(c->argv[0], &cause)) != 0 ||
	    (rc = argcheck_devid(c->argv[1], dev, &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_CIRCLE_ADD, 2);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_cstr(&w, dev);
	return cmd_run(c, &w, output_circle_add);
}

int
cmd_circle_ls(struct cmd_ctx *c)
{
	struct wbuf w;

	cmd_request(&w, CTL_CIRCLE_LS, 0);
	return cmd_run(c, &w, output_circles);
}

int
cmd_circle_use(struct cmd_ctx *c)
{
	return run_name(c, CTL_CIRCLE_USE, output_circle_use);
}
