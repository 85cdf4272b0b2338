/* cmd: samen's commands: check the arguments, send one request, print the reply. */
#ifndef SAMEN_CMD_H
#define SAMEN_CMD_H

#include <stdio.h>

/* Exit codes (docs/cli.md). */
enum cmd_exit {
	CMD_EXIT_OK = 0,
	CMD_EXIT_FAIL = 1,	/* the daemon refused, or a local step failed */
	CMD_EXIT_USAGE = 2,	/* caught before anything was sent */
	CMD_EXIT_DOWN = 3,	/* samend not running or not answering */
	CMD_EXIT_LOCKED = 4,	/* samend is locked */
};

/* Options a command may take, besides the global ones. */
#define CMD_OPT_PASSFILE 0x1	/* --passphrase-file FILE */
#define CMD_OPT_NOPASS 0x2	/* --no-passphrase */
#define CMD_OPT_WHERE 0x4	/* --where FIELD=VALUE, repeatable */

struct cmd_entry;

/*
 * What main() parsed for a command.  Every pointer borrows main's argv or
 * its own storage, which outlive the handler.
 */
struct cmd_ctx {
	const struct cmd_entry *entry;
	const struct cmd_entry *table;	/* every command, name NULL last */
	const char *dir;		/* data directory, no trailing '/' */
	int json;
	int argc;			/* positional arguments */
	char **argv;
	const char *passphrase_file;
	int no_passphrase;
	int nwhere;
	char **where;			/* FIELD=VALUE, unparsed */
};

/* One row of the command table (the table itself is in main.c). */
struct cmd_entry {
	const char *name;
	const char *args;	/* what follows the name in the usage line */
	const char *summary;	/* one line for "samen --help" */
	const char *help;	/* more lines for "samen CMD --help", or NULL */
	int minargs;
	int maxargs;		/* -1: no limit */
	int options;		/* CMD_OPT_* */
	int (*exec)(struct cmd_ctx *);
};

/* Handlers: each returns an exit code and prints its own errors. */
int cmd_init(struct cmd_ctx *);
int cmd_unlock(struct cmd_ctx *);
int cmd_id(struct cmd_ctx *);
int cmd_status(struct cmd_ctx *);
int cmd_put(struct cmd_ctx *);
int cmd_get(struct cmd_ctx *);
int cmd_ls(struct cmd_ctx *);
int cmd_find(struct cmd_ctx *);
int cmd_rm(struct cmd_ctx *);
int cmd_log(struct cmd_ctx *);
int cmd_note(struct cmd_ctx *);
int cmd_conflicts(struct cmd_ctx *);
int cmd_rebuild(struct cmd_ctx *);
int cmd_help(struct cmd_ctx *);

/* "samen --help": the global usage and one line per command. */
void cmd_usage(FILE *fp, const struct cmd_entry *table);
/* "samen CMD --help". */
void cmd_usage_entry(FILE *fp, const struct cmd_entry *e);
/* The entry called name, or NULL. */
const struct cmd_entry *cmd_find_entry(const struct cmd_entry *table,
    const char *name);

#endif
