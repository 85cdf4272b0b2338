/* cmd_circle: samen circle new, add, role, rm, quarantine, accept, ls, use and retention, and device revoke: the circles records are shared in, and who is in them. */
#include "cmd_circle.h"

#include <string.h>

#include "argcheck.h"
#include "devid.h"
#include "output_circles.h"
#include "request.h"

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

/* NAME DEVICE_ID, checked; dev gets the device id's canonical text. */
static int
name_device(struct cmd_ctx *c, char dev[DEVID_TEXTLEN + 1])
{
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_circle(c->argv[0], &cause)) != 0 ||
	    (rc = argcheck_devid(c->argv[1], dev, &cause)) != 0)
		return cmd_failed(rc, cause);
	return 0;
}

int
cmd_circle_new(struct cmd_ctx *c)
{
	return run_name(c, CTL_CIRCLE_NEW, output_circles_new);
}

int
cmd_circle_add(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = name_device(c, dev)) != 0)
		return rc;
	if (c->role != NULL && (rc = argcheck_role(c->role, &cause)) != 0)
		return cmd_failed(rc, cause);
	/* The short form unless an option asks for more: older daemons. */
	if (c->role == NULL && !c->no_history) {
		cmd_request(&w, CTL_CIRCLE_ADD, 2);
		wire_put_cstr(&w, c->argv[0]);
		wire_put_cstr(&w, dev);
	} else {
		cmd_request(&w, CTL_CIRCLE_ADD, 4);
		wire_put_cstr(&w, c->argv[0]);
		wire_put_cstr(&w, dev);
		if (c->role != NULL)
			wire_put_cstr(&w, c->role);
		else
			wire_put_nil(&w);
		wire_put_bool(&w, c->no_history);
	}
	return cmd_run(c, &w, output_circles_add);
}

int
cmd_circle_role(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = name_device(c, dev)) != 0)
		return rc;
	if ((rc = argcheck_role(c->argv[2], &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_CIRCLE_ROLE, 3);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_cstr(&w, dev);
	wire_put_cstr(&w, c->argv[2]);
	return cmd_run(c, &w, output_circles_role);
}

int
cmd_circle_rm(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	int rc;

	if ((rc = name_device(c, dev)) != 0)
		return rc;
	cmd_request(&w, CTL_CIRCLE_RM, 2);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_cstr(&w, dev);
	return cmd_run(c, &w, output_circles_rm);
}

int
cmd_circle_quarantine(struct cmd_ctx *c)
{
	return run_name(c, CTL_CIRCLE_QUARANTINE, output_circles_quarantine);
}

int
cmd_circle_accept(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	uint64_t seq = 0;
	int rc;

	if ((rc = name_device(c, dev)) != 0)
		return rc;
	if (c->argc == 3 && (rc = argcheck_seq(c->argv[2], &seq,
	    &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_CIRCLE_ACCEPT, 3);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_cstr(&w, dev);
	if (c->argc == 3)
		wire_put_u64(&w, seq);
	else
		wire_put_nil(&w);
	return cmd_run(c, &w, output_circles_accept);
}

int
cmd_circle_ls(struct cmd_ctx *c)
{
	struct wbuf w;

	cmd_request(&w, CTL_CIRCLE_LS, 0);
	return cmd_run(c, &w, output_circles_ls);
}

int
cmd_circle_use(struct cmd_ctx *c)
{
	return run_name(c, CTL_CIRCLE_USE, output_circles_use);
}

int
cmd_circle_revoke(struct cmd_ctx *c)
{
	struct wbuf w;
	char dev[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	int rc;

	if ((rc = argcheck_devid(c->argv[0], dev, &cause)) != 0 ||
	    (c->reason != NULL && (rc = argcheck_text("--reason", c->reason,
	    REQUEST_MAX_REASON, &cause)) != 0))
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_DEVICE_REVOKE, 2);
	wire_put_cstr(&w, dev);
	if (c->reason != NULL)
		wire_put_cstr(&w, c->reason);
	else
		wire_put_nil(&w);
	return cmd_run(c, &w, output_circles_revoke);
}

int
cmd_circle_retention(struct cmd_ctx *c)
{
	struct wbuf w;
	char *cause = NULL;
	uint32_t days;
	int rc;

	if ((rc = argcheck_circle(c->argv[0], &cause)) != 0)
		return cmd_failed(rc, cause);
	if (c->argc != (c->due ? 1 : 3))
		return cmd_complain(CMD_EXIT_USAGE, "usage: samen circle "
		    "retention NAME COLLECTION DURATION, or NAME --due");
	if (c->due) {
		cmd_request(&w, CTL_CIRCLE_RETENTION, 1);
		wire_put_cstr(&w, c->argv[0]);
		return cmd_run(c, &w, output_circles_retention);
	}
	if ((rc = argcheck_collection(c->argv[1], &cause)) != 0 ||
	    (rc = argcheck_duration(c->argv[2], &days, &cause)) != 0)
		return cmd_failed(rc, cause);
	cmd_request(&w, CTL_CIRCLE_RETENTION, 3);
	wire_put_cstr(&w, c->argv[0]);
	wire_put_cstr(&w, c->argv[1]);
	wire_put_u64(&w, days);
	return cmd_run(c, &w, output_circles_retention);
}
