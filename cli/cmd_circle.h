/* cmd_circle: samen circle new, add, role, rm, quarantine, accept, ls and use, and device revoke: the circles records are shared in, and who is in them. */
#ifndef SAMEN_CMD_CIRCLE_H
#define SAMEN_CMD_CIRCLE_H

#include "cmd.h"

/* Handlers (cmd.h): each returns an exit code and prints its own errors. */
int cmd_circle_new(struct cmd_ctx *);
int cmd_circle_add(struct cmd_ctx *);
int cmd_circle_role(struct cmd_ctx *);
int cmd_circle_rm(struct cmd_ctx *);
int cmd_circle_quarantine(struct cmd_ctx *);
int cmd_circle_accept(struct cmd_ctx *);
int cmd_circle_ls(struct cmd_ctx *);
int cmd_circle_use(struct cmd_ctx *);
int cmd_circle_retention(struct cmd_ctx *);
/* samen device revoke. */
int cmd_circle_revoke(struct cmd_ctx *);

#endif
