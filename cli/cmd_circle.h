/* cmd_circle: samen circle new, add, ls and use: the circles records are shared in. */
#ifndef SAMEN_CMD_CIRCLE_H
#define SAMEN_CMD_CIRCLE_H

#include "cmd.h"

/* Handlers (cmd.h): each returns an exit code and prints its own errors. */
int cmd_circle_new(struct cmd_ctx *);
int cmd_circle_add(struct cmd_ctx *);
int cmd_circle_ls(struct cmd_ctx *);
int cmd_circle_use(struct cmd_ctx *);

#endif
