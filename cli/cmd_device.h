/* cmd_device: samen init, id, unlock, lock, status and metrics: this device's identity, keys and daemon. */
#ifndef SAMEN_CMD_DEVICE_H
#define SAMEN_CMD_DEVICE_H

#include "cmd.h"

/* Handlers (cmd.h): each returns an exit code and prints its own errors. */
int cmd_device_init(struct cmd_ctx *);
int cmd_device_id(struct cmd_ctx *);
int cmd_device_unlock(struct cmd_ctx *);
int cmd_device_lock(struct cmd_ctx *);
int cmd_device_status(struct cmd_ctx *);
int cmd_device_metrics(struct cmd_ctx *);

#endif
