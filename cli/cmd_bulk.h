/* cmd_bulk: samen export and import: many records at once, in CSV, JSON, NDJSON or a resident's page. */
#ifndef SAMEN_CMD_BULK_H
#define SAMEN_CMD_BULK_H

#include "cmd.h"

/* Handlers (cmd.h): each returns an exit code and prints its own errors. */
int cmd_bulk_export(struct cmd_ctx *);
int cmd_bulk_import(struct cmd_ctx *);

#endif
