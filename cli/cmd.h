/* cmd: samen's command table and what its handlers share: one request, one reply. */
#ifndef SAMEN_CMD_H
#define SAMEN_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "protocol.h"
#include "reply.h"
#include "wire.h"

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
#define CMD_OPT_ROLE 0x40	/* --role ROLE */
#define CMD_OPT_NOHISTORY 0x80	/* --no-history */
#define CMD_OPT_REASON 0x100	/* --reason TEXT */
#define CMD_OPT_FORMAT 0x200	/* --format NAME */
#define CMD_OPT_OUTPUT 0x400	/* -o FILE, --output FILE */
#define CMD_OPT_HISTORY 0x800	/* --with-history */
#define CMD_OPT_SUBJECT 0x1000	/* --subject CASE_ID */
#define CMD_OPT_DRYRUN 0x2000	/* --dry-run */
#define CMD_OPT_CASCADE 0x4000	/* --cascade */
#define CMD_OPT_DUE 0x8000	/* --due */
#define CMD_OPT_DEVICE 0x10000	/* --device DEVICE_ID */
#define CMD_OPT_SINCE 0x20000	/* --since TIME */

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
	const char *role;		/* ROLE, unchecked; NULL if not given */
	int no_history;
	const char *reason;		/* TEXT, unchecked; NULL if not given */
	const char *format;		/* --format, unchecked; NULL if not given */
	const char *output;		/* -o FILE; NULL: stdout */
	int with_history;
	const char *subject;		/* CASE_ID, unchecked; NULL if not given */
	int dry_run;
	int cascade;
	int due;
	const char *device;		/* --device, unchecked; NULL if not given */
	const char *since;		/* --since, unchecked; NULL if not given */
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

/*
 * What the handlers share (cmd.c): the handlers themselves are in
 * cmd_device.c, cmd_record.c, cmd_peer.c, cmd_circle.c and cmd_bulk.c,
 * "help" in help.c.  Each handler returns an exit code and prints its own
 * errors.
 */

/* The entry called name, or NULL. */
const struct cmd_entry *cmd_find(const struct cmd_entry *table,
    const char *name);
/*
 * The full name of e as typed ("status", "peer add") into buf, which holds
 * CMD_NAME_MAX bytes; group is NULL for the top level.  Returns buf.
 */
const char *cmd_name(char buf[CMD_NAME_MAX], const struct cmd_entry *group,
    const struct cmd_entry *e);

/* "samen: " and the message on stderr; returns code. */
int cmd_complain(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Prints cause (and frees it) as cmd_complain does; returns the exit code
 * for rc: CMD_EXIT_USAGE for -EINVAL (the command line is wrong), else
 * CMD_EXIT_FAIL.
 */
int cmd_failed(int rc, char *cause);

/* Starts w as a request of type with nargs arguments to follow. */
void cmd_request(struct wbuf *w, enum ctl_type type, uint32_t nargs);
/*
 * Sends the request in w (wiping and freeing w: it may hold a passphrase
 * or a record's values), parses the reply into *rp.  Returns 0 with *rp
 * to free (reply_free()), or the exit code after printing why.
 */
int cmd_call(struct cmd_ctx *c, struct wbuf *w, struct reply *rp);
/*
 * cmd_call, then the reply's body printed by human() (NULL: nothing), or
 * as JSON with --json.  Returns the exit code.
 */
int cmd_run(struct cmd_ctx *c, struct wbuf *w,
    void (*human)(FILE *, const struct reply_node *));
/* The exit code for a code of client.h (client_call, client_probe). */
int cmd_exit_for_client(int rc);

#endif
