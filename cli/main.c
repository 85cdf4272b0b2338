/* main: samen's entry point: global options, the command table, dispatch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd.h"
#include "cmd_bulk.h"
#include "cmd_circle.h"
#include "cmd_device.h"
#include "cmd_peer.h"
#include "cmd_record.h"
#include "datadir.h"
#include "help.h"
#include "protocol.h"
#include "util.h"
#include "version.h"

/*
 * Groups: "samen peer add ..." finds "peer" below, then "add" here.  The
 * NULL rows end each table.
 */
static const struct cmd_entry peer_commands[] = {
	{ "add", "DEVICE_ID [tcp://HOST:PORT]",
	  "add a peer, or change its address",
	  "DEVICE_ID is the 56-character id that samen id prints on the\n"
	  "peer.  With an address, this device connects to the peer; without\n"
	  "one, the peer may only connect to this device.  PORT: 1-65535;\n"
	  "HOST: a name, an IPv4 address or an IPv6 address in brackets.\n",
	  1, 2, 0, cmd_peer_add, NULL },
	{ "ls", "", "the peers: address, state, last sync, counts", NULL,
	  0, 0, 0, cmd_peer_ls, NULL },
	{ "rm", "DEVICE_ID", "forget a peer", NULL,
	  1, 1, 0, cmd_peer_rm, NULL },
	{ NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL },
};

static const struct cmd_entry circle_commands[] = {
	{ "new", "NAME", "create a shared circle, with this device as admin",
	  "NAME: 1-64 of A-Z a-z 0-9 _ -.\n",
	  1, 1, 0, cmd_circle_new, NULL },
	{ "add", "NAME DEVICE_ID [--role admin|member|relay] [--no-history]",
	  "add a device to a circle (admins only)",
	  "A member (the default) or admin is given every key of the circle,\n"
	  "so it reads its history; with --no-history only the current one.\n"
	  "A relay carries the circle's change sets and is given no key.\n",
	  2, 2, CMD_OPT_ROLE | CMD_OPT_NOHISTORY, cmd_circle_add, NULL },
	{ "role", "NAME DEVICE_ID ROLE",
	  "make a member admin, member or relay (admins only)", NULL,
	  3, 3, 0, cmd_circle_role, NULL },
	{ "rm", "NAME DEVICE_ID", "remove a device from a circle (admins only)",
	  "Starts a new epoch: what is written after it, the removed device\n"
	  "cannot read.  What it wrote after the removal is held back\n"
	  "(samen circle quarantine).\n",
	  2, 2, 0, cmd_circle_rm, NULL },
	{ "quarantine", "NAME",
	  "what removed devices wrote after their removal, held back", NULL,
	  1, 1, 0, cmd_circle_quarantine, NULL },
	{ "accept", "NAME DEVICE_ID [SEQ]",
	  "let in what a removed device wrote, up to SEQ (admins only)", NULL,
	  2, 3, 0, cmd_circle_accept, NULL },
	{ "ls", "", "the circles, their members, roles and epochs", NULL,
	  0, 0, 0, cmd_circle_ls, NULL },
	{ "use", "NAME", "make NAME the circle of new records", NULL,
	  1, 1, 0, cmd_circle_use, NULL },
	{ "retention", "NAME COLLECTION DURATION | NAME --due",
	  "how long a circle keeps a collection (admins only)",
	  "Every device erases the records of COLLECTION whose last change\n"
	  "is older than DURATION: 30d, 18m (30 days each), 7y (365 days\n"
	  "each), or none to keep them.  --due lists what would go now.\n",
	  1, 3, CMD_OPT_DUE, cmd_circle_retention, NULL },
	{ NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL },
};

static const struct cmd_entry device_commands[] = {
	{ "revoke", "DEVICE_ID [--reason TEXT]",
	  "revoke a lost device in every circle this device administers",
	  "A removal marked as a loss, in each of those circles; a revoked\n"
	  "device is never added again.  TEXT: up to 1 KiB, sealed so that\n"
	  "only the circles' members read it.\n",
	  1, 1, CMD_OPT_REASON, cmd_circle_revoke, NULL },
	{ NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL },
};

static const struct cmd_entry commands[] = {
	{ "init", "[--passphrase-file FILE | --no-passphrase]",
	  "create the data directory and this device's identity",
	  "The passphrase comes from the first line of FILE, else\n"
	  "$SAMEN_PASSPHRASE, else the terminal (asked twice).\n"
	  "--no-passphrase stores the keys unprotected.  Prints the device "
	  "id.\n",
	  0, 0, CMD_OPT_PASSFILE | CMD_OPT_NOPASS, cmd_device_init, NULL },
	{ "unlock", "[--passphrase-file FILE]",
	  "give samend the passphrase to unlock its keys",
	  "The passphrase comes from the first line of FILE, else\n"
	  "$SAMEN_PASSPHRASE, else the terminal.\n",
	  0, 0, CMD_OPT_PASSFILE, cmd_device_unlock, NULL },
	{ "lock", "", "lock samend: drop its keys, stop syncing",
	  "samend forgets its keys, the circle keys and every record it\n"
	  "holds in memory, and stops syncing, until samen unlock.\n"
	  "Keys made with samen init --no-passphrase cannot lock.\n",
	  0, 0, 0, cmd_device_lock, NULL },
	{ "id", "", "print this device's id (no daemon needed)", NULL,
	  0, 0, 0, cmd_device_id, NULL },
	{ "status", "", "device, lock state, counts, replica digest", NULL,
	  0, 0, 0, cmd_device_status, NULL },
	{ "metrics", "", "samend's counters in the Prometheus text format",
	  "Counts, sessions, bytes, refusals, lock state and commit and sync\n"
	  "latencies, for monitoring (docs/metrics.md).  Works while locked.\n",
	  0, 0, 0, cmd_device_metrics, NULL },
	{ "put", "[--circle NAME] COLLECTION [ID] ASSIGNMENT...",
	  "create a record (prints its id), or update record ID",
	  "Assignments:\n"
	  "  FIELD=VALUE      set the field (also resolves a conflict)\n"
	  "  FIELD+=ELEMENT   add an element to a set field\n"
	  "  FIELD-=ELEMENT   remove an element from a set field\n"
	  "COLLECTION: 1-32 of a-z 0-9 _ -, starting with a letter.\n"
	  "FIELD: 1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit.\n"
	  "VALUE: up to 64 KiB of UTF-8; ELEMENT: up to 1 KiB.\n"
	  "--circle NAME puts a new record into that circle instead of the\n"
	  "one samen circle use chose; an update keeps the record's circle.\n",
	  2, -1, CMD_OPT_CIRCLE, cmd_record_put, NULL },
	{ "get", "COLLECTION ID",
	  "show a record, its conflicts and a case's notes", NULL,
	  2, 2, 0, cmd_record_get, NULL },
	{ "ls", "COLLECTION [--where FIELD=VALUE]...",
	  "list the live records of a collection, oldest first",
	  "Each --where must equal the shown value, or be an element of the\n"
	  "set field.\n",
	  1, 1, CMD_OPT_WHERE, cmd_record_ls, NULL },
	{ "find", "TEXT",
	  "search every value and set element, ignoring case", NULL,
	  1, 1, 0, cmd_record_find, NULL },
	{ "rm", "COLLECTION ID", "delete a record", NULL,
	  2, 2, 0, cmd_record_rm, NULL },
	{ "log", "COLLECTION ID", "a record's history, oldest first", NULL,
	  2, 2, 0, cmd_record_log, NULL },
	{ "note", "CASE_ID TEXT", "add a note to a case (prints its id)",
	  NULL, 2, 2, 0, cmd_record_note, NULL },
	{ "conflicts", "",
	  "every field with more than one surviving value", NULL,
	  0, 0, 0, cmd_record_conflicts, NULL },
	{ "rebuild", "",
	  "recompute the replica, print its digest",
	  NULL, 0, 0, 0, cmd_record_rebuild, NULL },
	{ "purge", "COLLECTION ID [--cascade] --reason TEXT",
	  "erase a record everywhere (admins of its circle only)",
	  "Every device and relay that hears of the purge erases the\n"
	  "record's values from its disk; with --cascade also every record\n"
	  "that links to it (a case's notes).  samen log COLLECTION ID then\n"
	  "shows who purged it, when and why.  TEXT: up to 1 KiB, sealed.\n",
	  2, 2, CMD_OPT_CASCADE | CMD_OPT_REASON, cmd_record_purge, NULL },
	{ "handover", "FROM_DEVICE TO_DEVICE [--circle NAME]",
	  "make TO the lead of every live case FROM leads",
	  "Every live case whose lead is FROM_DEVICE, in circle NAME or in\n"
	  "every circle this device writes to, gets lead TO_DEVICE: ordinary\n"
	  "writes by this device, so samen log still names who wrote before.\n"
	  "A case whose lead is in conflict is left as it is, and listed.\n"
	  "TO_DEVICE must be a member of the circles of those cases.\n",
	  2, 2, CMD_OPT_CIRCLE, cmd_record_handover, NULL },
	{ "export", "[COLLECTION | --subject CASE_ID] [--circle NAME] "
	  "[--format FORMAT] [--with-history] [-o FILE]",
	  "write out the live records, or everything held about one case",
	  "Without --subject: the live records of COLLECTION (or of every\n"
	  "collection), of --circle NAME (or of every circle), as FORMAT csv\n"
	  "(the default: a header row, then one row per record), json (an\n"
	  "array) or ndjson (one object per line); --with-history adds each\n"
	  "record's history (json, ndjson).\n"
	  "--subject CASE_ID: the case, every record that links to it, their\n"
	  "history and who looked at them, as json (the default) or html (a\n"
	  "page to hand to the resident or print).\n"
	  "-o FILE, --output FILE writes FILE (mode 0600, whole or not at\n"
	  "all) instead of stdout.\n",
	  0, 1, CMD_OPT_CIRCLE | CMD_OPT_FORMAT | CMD_OPT_OUTPUT |
	  CMD_OPT_HISTORY | CMD_OPT_SUBJECT, cmd_bulk_export, NULL },
	{ "import", "COLLECTION FILE [--circle NAME] [--dry-run]",
	  "create one record per row of a CSV file",
	  "The header row names the fields (NAME[] for a set field, whose\n"
	  "cell holds its elements separated by ';'); _id and _conflicts are\n"
	  "ignored, so an export imports as it is.  Every row is checked\n"
	  "before any is written: a problem is reported with its line and\n"
	  "nothing is imported.  New records get new ids.  --dry-run checks\n"
	  "and writes nothing.  FILE - reads stdin.\n",
	  2, 2, CMD_OPT_CIRCLE | CMD_OPT_DRYRUN, cmd_bulk_import, NULL },
	{ "audit", "[COLLECTION ID] [--device DEVICE_ID] [--since TIME]",
	  "who read or changed a record, or anything (admins only)",
	  "The reads (get, ls, find, log, conflicts, export) and the writes\n"
	  "of record ID, or of every record of every circle this device\n"
	  "administers, oldest first, with the device and the time.  Only a\n"
	  "circle's admins can read its audit.  --device: that device's\n"
	  "only; --since TIME: from TIME on (UTC: YYYY-MM-DD or\n"
	  "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]).\n",
	  0, 2, CMD_OPT_DEVICE | CMD_OPT_SINCE, cmd_record_audit, NULL },
	{ "peer", "SUBCOMMAND ...", "the devices this one syncs with", NULL,
	  0, 0, 0, NULL, peer_commands },
	{ "sync", "[DEVICE_ID] [--wait [--timeout SECONDS]]",
	  "sync with DEVICE_ID, or every peer with an address",
	  "Without --wait, starts the sessions and returns.  With --wait,\n"
	  "shows progress on stderr until every session has ended, then one\n"
	  "line per peer; exit 1 if any failed or after --timeout SECONDS\n"
	  "(default 60).\n",
	  0, 1, CMD_OPT_WAIT | CMD_OPT_TIMEOUT, cmd_peer_sync, NULL },
	{ "circle", "SUBCOMMAND ...", "the circles records are shared in", NULL,
	  0, 0, 0, NULL, circle_commands },
	{ "device", "SUBCOMMAND ...", "other devices: revoke a lost one", NULL,
	  0, 0, 0, NULL, device_commands },
	{ "help", "[COMMAND [SUBCOMMAND]]", "this list, or the help of COMMAND",
	  NULL, 0, 2, 0, help_run, NULL },
	{ NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL },
};

/* Options of the commands, allowed after the command that takes them. */
static const struct {
	const char *name;
	int flag;	/* CMD_OPT_* */
	int hasarg;
} options[] = {
	{ "--passphrase-file", CMD_OPT_PASSFILE, 1 },
	{ "--no-passphrase", CMD_OPT_NOPASS, 0 },
	{ "--where", CMD_OPT_WHERE, 1 },
	{ "--wait", CMD_OPT_WAIT, 0 },
	{ "--timeout", CMD_OPT_TIMEOUT, 1 },
	{ "--circle", CMD_OPT_CIRCLE, 1 },
	{ "--role", CMD_OPT_ROLE, 1 },
	{ "--no-history", CMD_OPT_NOHISTORY, 0 },
	{ "--reason", CMD_OPT_REASON, 1 },
	{ "--format", CMD_OPT_FORMAT, 1 },
	{ "-o", CMD_OPT_OUTPUT, 1 },
	{ "--output", CMD_OPT_OUTPUT, 1 },
	{ "--with-history", CMD_OPT_HISTORY, 0 },
	{ "--subject", CMD_OPT_SUBJECT, 1 },
	{ "--dry-run", CMD_OPT_DRYRUN, 0 },
	{ "--cascade", CMD_OPT_CASCADE, 0 },
	{ "--due", CMD_OPT_DUE, 0 },
	{ "--device", CMD_OPT_DEVICE, 1 },
	{ "--since", CMD_OPT_SINCE, 1 },
};

#define usage_error(...) cmd_complain(CMD_EXIT_USAGE, __VA_ARGS__)

/*
 * Splits "--name=value" so that both spellings work.  Returns the name part
 * in buf (or arg itself) and the value, or NULL if arg has none.
 */
static const char *
split_long(const char *arg, char *buf, size_t bufsize, const char **value)
{
	const char *eq;

	*value = NULL;
	if (strncmp(arg, "--", 2) != 0 || (eq = strchr(arg, '=')) == NULL ||
	    (size_t)(eq - arg) >= bufsize)
		return arg;
	memcpy(buf, arg, (size_t)(eq - arg));
	buf[eq - arg] = '\0';
	*value = eq + 1;
	return buf;
}

int
main(int argc, char **argv)
{
	struct cmd_ctx c;
	const struct cmd_entry *e;
	const char *arg, *name, *value, *diropt = NULL;
	char namebuf[32], cmdname[CMD_NAME_MAX];
	char *dir = NULL;
	size_t j;
	int i, rc, help = 0, version = 0, dashdash = 0;

	if (sodium_init() < 0) {
		fputs("samen: cannot initialise libsodium\n", stderr);
		return CMD_EXIT_FAIL;
	}
	memset(&c, 0, sizeof(c));
	c.table = commands;
	c.argv = xcalloc((size_t)argc, sizeof(*c.argv));
	c.where = xcalloc((size_t)argc, sizeof(*c.where));

	/* Global options may stand anywhere before "--". */
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (dashdash || arg[0] != '-' || arg[1] == '\0') {
			if (c.entry == NULL) {
				if ((c.entry = cmd_find(commands, arg)) ==
				    NULL) {
					rc = usage_error("unknown command "
					    "\"%s\" (samen --help lists them)",
					    arg);
					goto out;
				}
			} else if (c.entry->sub != NULL) {
				/* The word after a group names its command. */
				c.group = c.entry;
				if ((c.entry = cmd_find(c.group->sub,
				    arg)) == NULL) {
					rc = help_group_error(c.group, arg);
					goto out;
				}
			} else
				c.argv[c.argc++] = argv[i];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			dashdash = 1;
			continue;
		}
		name = split_long(arg, namebuf, sizeof(namebuf), &value);
		if (strcmp(name, "-d") == 0 || strcmp(name, "--dir") == 0 ||
		    strncmp(name, "-d", 2) == 0) {
			if (value == NULL && strcmp(name, "-d") != 0 &&
			    strcmp(name, "--dir") != 0)
				value = name + 2;	/* -dDIR */
			else if (value == NULL && ++i < argc)
				value = argv[i];
			if (value == NULL || *value == '\0') {
				rc = usage_error("%s needs a directory", name);
				goto out;
			}
			diropt = value;
			continue;
		}
		if (value == NULL && strcmp(name, "--json") == 0) {
			c.json = 1;
			continue;
		}
		if (value == NULL && (strcmp(name, "-h") == 0 ||
		    strcmp(name, "--help") == 0)) {
			help = 1;
			continue;
		}
		if (value == NULL && strcmp(name, "--version") == 0) {
			version = 1;
			continue;
		}
		for (j = 0; j < sizeof(options) / sizeof(options[0]); j++)
			if (strcmp(name, options[j].name) == 0)
				break;
		if (j == sizeof(options) / sizeof(options[0]) ||
		    (value != NULL && !options[j].hasarg)) {
			rc = usage_error("unknown option %s", arg);
			goto out;
		}
		if (c.entry == NULL || !(c.entry->options & options[j].flag)) {
			rc = c.entry == NULL ?
			    usage_error("%s belongs after its command", name) :
			    usage_error("%s takes no %s", cmd_name(cmdname,
			    c.group, c.entry), name);
			goto out;
		}
		if (options[j].hasarg && value == NULL) {
			if (++i >= argc) {
				rc = usage_error("%s needs an argument", name);
				goto out;
			}
			value = argv[i];
		}
		switch (options[j].flag) {
		case CMD_OPT_PASSFILE:
			c.passphrase_file = value;
			break;
		case CMD_OPT_NOPASS:
			c.no_passphrase = 1;
			break;
		case CMD_OPT_WHERE:
			c.where[c.nwhere++] = (char *)value;
			break;
		case CMD_OPT_WAIT:
			c.wait = 1;
			break;
		case CMD_OPT_TIMEOUT:
			c.timeout = value;
			break;
		case CMD_OPT_CIRCLE:
			c.circle = value;
			break;
		case CMD_OPT_ROLE:
			c.role = value;
			break;
		case CMD_OPT_NOHISTORY:
			c.no_history = 1;
			break;
		case CMD_OPT_REASON:
			c.reason = value;
			break;
		case CMD_OPT_FORMAT:
			c.format = value;
			break;
		case CMD_OPT_OUTPUT:
			c.output = value;
			break;
		case CMD_OPT_HISTORY:
			c.with_history = 1;
			break;
		case CMD_OPT_SUBJECT:
			c.subject = value;
			break;
		case CMD_OPT_DRYRUN:
			c.dry_run = 1;
			break;
		case CMD_OPT_CASCADE:
			c.cascade = 1;
			break;
		case CMD_OPT_DUE:
			c.due = 1;
			break;
		case CMD_OPT_DEVICE:
			c.device = value;
			break;
		case CMD_OPT_SINCE:
			c.since = value;
			break;
		}
	}

	if (version) {
		printf("samen %s (protocol %d, schema %d)\n", SAMEN_VERSION,
		    SAMEN_PROTOCOL_VERSION, SAMEN_SCHEMA_VERSION);
		rc = CMD_EXIT_OK;
		goto out;
	}
	if (help) {
		if (c.entry != NULL)
			help_entry(stdout, c.group, c.entry);
		else
			help_usage(stdout, commands);
		rc = CMD_EXIT_OK;
		goto out;
	}
	if ((e = c.entry) == NULL) {
		help_usage(stderr, commands);
		rc = CMD_EXIT_USAGE;
		goto out;
	}
	if (e->sub != NULL) {
		rc = help_group_error(e, NULL);
		goto out;
	}
	if (c.argc < e->minargs || (e->maxargs >= 0 && c.argc > e->maxargs)) {
		rc = usage_error("usage: samen %s%s%s", cmd_name(cmdname,
		    c.group, e), e->args[0] != '\0' ? " " : "", e->args);
		goto out;
	}
	if (e->exec != help_run) {
		if ((dir = datadir_find(diropt)) == NULL) {
			rc = usage_error("no data directory: use -d DIR or "
			    "set SAMEN_HOME");
			goto out;
		}
		c.dir = dir;
	}
	rc = e->exec(&c);

out:
	/* A full disk or a closed pipe must not pass for success. */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "samen: stdout: %s\n", strerror(errno));
		if (rc == CMD_EXIT_OK)
			rc = CMD_EXIT_FAIL;
	}
	free(dir);
	free(c.argv);
	free(c.where);
	return rc;
}
