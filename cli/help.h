/* help: samen's usage, its commands' help, and the help command. */
#ifndef SAMEN_HELP_H
#define SAMEN_HELP_H

#include <stdio.h>

#include "cmd.h"

/*
 * "samen --help": the global usage and one line per command, a group's
 * commands each on its own line.
 */
void help_usage(FILE *fp, const struct cmd_entry *table);
/*
 * "samen CMD --help", "samen GROUP CMD --help" (group is NULL for a
 * command of the top level), and "samen GROUP --help" (e is the group,
 * group NULL), which lists the group's commands.
 */
void help_entry(FILE *fp, const struct cmd_entry *group,
    const struct cmd_entry *e);
/*
 * One line on stderr when a group is given without a known command ("samen
 * peer", "samen peer frob"); word is the unknown word or NULL.  Returns
 * CMD_EXIT_USAGE.
 */
int help_group_error(const struct cmd_entry *group, const char *word);
/* The handler of "samen help [COMMAND [SUBCOMMAND]]" (cmd.h). */
int help_run(struct cmd_ctx *c);

#endif
