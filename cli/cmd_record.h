/* cmd_record: samen put, get, ls, find, rm, log, note, conflicts, rebuild, handover, purge and audit. */
#ifndef SAMEN_CMD_RECORD_H
#define SAMEN_CMD_RECORD_H

#include "cmd.h"

/* Handlers (cmd.h): each returns an exit code and prints its own errors. */
int cmd_record_put(struct cmd_ctx *);
int cmd_record_get(struct cmd_ctx *);
int cmd_record_ls(struct cmd_ctx *);
int cmd_record_find(struct cmd_ctx *);
int cmd_record_rm(struct cmd_ctx *);
int cmd_record_log(struct cmd_ctx *);
int cmd_record_note(struct cmd_ctx *);
int cmd_record_conflicts(struct cmd_ctx *);
int cmd_record_rebuild(struct cmd_ctx *);
int cmd_record_handover(struct cmd_ctx *);
int cmd_record_purge(struct cmd_ctx *);
int cmd_record_audit(struct cmd_ctx *);

#endif
