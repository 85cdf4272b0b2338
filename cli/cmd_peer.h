/* cmd_peer: samen peer add, ls and rm, and samen sync: the devices this one syncs with. */
#ifndef SAMEN_CMD_PEER_H
#define SAMEN_CMD_PEER_H

#include "cmd.h"

/* Handlers (cmd.h): each returns an exit code and prints its own errors. */
int cmd_peer_add(struct cmd_ctx *);
int cmd_peer_ls(struct cmd_ctx *);
int cmd_peer_rm(struct cmd_ctx *);
/*
 * samen sync: starts the sessions; with --wait, polls peer ls until each
 * is over (docs/api.md), showing progress on stderr, then one line per
 * peer.
 */
int cmd_peer_sync(struct cmd_ctx *);

#endif
