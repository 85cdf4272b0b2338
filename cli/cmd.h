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
#define CMD_OPT_WAIT 0x8	/* --wait */
#define CMD_OPT_TIMEOUT 0x10	/* --timeout SECONDS */
#define CMD_OPT_CIRCLE 0x20	/* --circle NAME */

/* "peer add": a group's name, a space, a subcommand's name, the NUL. */
#define CMD_NAME_MAX 64

struct cmd_entry;

/*
 * What main() parsed for a command.  Every pointer borrows main's argv or
 * its own storage, which outlive the handler.
 */
struct cmd_ctx {
	const struct cmd_entry *entry;	/* a command, never a group */
	const struct cmd_entry *group;	/* entry's group ("peer"), or NULL */
	const struct cmd_entry *table;	/* every command, name NULL last */
	const char *dir;		/* data directory, no trailing '/' */
	int json;
	int argc;			/* positional arguments */
	char **argv;
	const char *passphrase_file;
	int no_passphrase;
	int nwhere;
	char **where;			/* FIELD=VALUE, unparsed */
	int wait;
	const char *timeout;		/* SECONDS, unparsed; NULL if not given */
	const char *circle;		/* NAME, unchecked; NULL if not given */
};

/*
 * One row of the command table (the table itself is in main.c).  A row with
 * sub set is a group ("peer"): the next word of the command line picks one
 * of its rows ("add"), which is then the command; a group has no handler,
 * arguments or options of its own.  Groups do not nest.
 */
struct cmd_entry {
	const char *name;	/* the word that selects it */
	const char *args;	/* what follows the name in the usage line */
	const char *summary;	/* one line for "samen --help" */
	const char *help;	/* more lines for "samen CMD --help", or NULL */
	int minargs;
	int maxargs;		/* -1: no limit */
	int options;		/* CMD_OPT_* */
	int (*exec)(struct cmd_ctx *);
	const struct cmd_entry *sub;	/* a group's rows, name NULL last */
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
int cmd_peer_add(struct cmd_ctx *);
int cmd_peer_ls(struct cmd_ctx *);
int cmd_peer_rm(struct cmd_ctx *);
int cmd_sync(struct cmd_ctx *);
int cmd_circle_new(struct cmd_ctx *);
int cmd_circle_add(struct cmd_ctx *);
int cmd_circle_ls(struct cmd_ctx *);
int cmd_circle_use(struct cmd_ctx *);
int cmd_help(struct cmd_ctx *);

/*
 * "samen --help": the global usage and one line per command, a group's
 * commands each on its own line.
 */
void cmd_usage(FILE *fp, const struct cmd_entry *table);
/*
 * "samen CMD --help", "samen GROUP CMD --help" (group is NULL for a
 * command of the top level), and "samen GROUP --help" (e is the group,
 * group NULL), which lists the group's commands.
 */
void cmd_usage_entry(FILE *fp, const struct cmd_entry *group,
    const struct cmd_entry *e);
/* The entry called name, or NULL. */
const struct cmd_entry *cmd_find_entry(const struct cmd_entry *table,
    const char *name);
/*
 * The full name of e as typed ("status", "peer add") into buf, which holds
 * CMD_NAME_MAX bytes; group is NULL for the top level.  Returns buf.
 */
const char *cmd_name(char buf[CMD_NAME_MAX], const struct cmd_entry *group,
    const struct cmd_entry *e);
/*
 * One line on stderr when a group is given without a known command ("samen
 * peer", "samen peer frob"); word is the unknown word or NULL.  Returns
 * CMD_EXIT_USAGE.
 */
int cmd_group_error(const struct cmd_entry *group, const char *word);

#endif
