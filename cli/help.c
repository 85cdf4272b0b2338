/* help: samen's usage, its commands' help, and the help command. */
#include "help.h"

#include <stddef.h>
#include <string.h>

#define USAGE_COLS 26		/* where the summaries of samen --help start */

/* "  name args", then the summary at USAGE_COLS or on a line of its own. */
static void
usage_line(FILE *fp, const struct cmd_entry *group, const struct cmd_entry *e)
{
	char name[CMD_NAME_MAX];
	size_t n;

	n = (size_t)fprintf(fp, "  %s%s%s", cmd_name(name, group, e),
	    e->args[0] != '\0' ? " " : "", e->args);
	if (n + 2 > USAGE_COLS)
		fprintf(fp, "\n%*s", USAGE_COLS, "");
	else
		fprintf(fp, "%*s", (int)(USAGE_COLS - n), "");
	fprintf(fp, "%s\n", e->summary);
}

void
help_usage(FILE *fp, const struct cmd_entry *table)
{
	const struct cmd_entry *e, *sub;

	fputs("usage: samen [-d DIR] [--json] COMMAND [ARGS...]\n"
	    "       samen --version | --help | COMMAND --help\n\n"
	    "options (before or after the command):\n"
	    "  -d, --dir DIR  data directory (else $SAMEN_HOME, "
	    "$XDG_DATA_HOME/samen,\n"
	    "                 ~/.local/share/samen)\n"
	    "  --json         print the reply as JSON\n"
	    "  -h, --help     this help, or the command's\n"
	    "  --version      print the version\n\n"
	    "commands:\n", fp);
	/* Long usages put their summary on a line of its own. */
	for (e = table; e->name != NULL; e++) {
		if (e->sub == NULL) {
			usage_line(fp, NULL, e);
			continue;
		}
		for (sub = e->sub; sub->name != NULL; sub++)
			usage_line(fp, e, sub);
	}
	fputs("\nexit: 0 ok, 1 refused or failed, 2 usage, 3 samend not "
	    "running, 4 locked\n", fp);
}

void
help_entry(FILE *fp, const struct cmd_entry *group, const struct cmd_entry *e)
{
	const struct cmd_entry *sub;
	char name[CMD_NAME_MAX];

	fprintf(fp, "usage: samen [-d DIR] [--json] %s%s%s\n\n%s\n",
	    cmd_name(name, group, e), e->args[0] != '\0' ? " " : "", e->args,
	    e->summary);
	if (e->help != NULL)
		fprintf(fp, "\n%s", e->help);
	if (e->sub == NULL)
		return;
	fputs("\nsubcommands:\n", fp);
	for (sub = e->sub; sub->name != NULL; sub++)
		usage_line(fp, e, sub);
	fprintf(fp, "\nsamen %s SUBCOMMAND --help shows the help of one.\n",
	    e->name);
}

int
help_group_error(const struct cmd_entry *group, const char *word)
{
	const struct cmd_entry *sub;

	fputs("samen: ", stderr);
	if (word != NULL)
		fprintf(stderr, "unknown subcommand \"%s %s\"", group->name,
		    word);
	else
		fprintf(stderr, "%s needs a subcommand", group->name);
	fputs(": one of", stderr);
	for (sub = group->sub; sub->name != NULL; sub++)
		fprintf(stderr, "%s %s", sub == group->sub ? "" : ",",
		    sub->name);
	fprintf(stderr, " (samen %s --help)\n", group->name);
	return CMD_EXIT_USAGE;
}

int
help_run(struct cmd_ctx *c)
{
	const struct cmd_entry *e, *sub;

	if (c->argc == 0) {
		help_usage(stdout, c->table);
		return 0;
	}
	if ((e = cmd_find(c->table, c->argv[0])) == NULL)
		return cmd_complain(CMD_EXIT_USAGE, "unknown command \"%s\" "
		    "(samen help lists them)", c->argv[0]);
	if (c->argc == 1) {
		help_entry(stdout, NULL, e);
		return 0;
	}
	if (e->sub == NULL)
		return cmd_complain(CMD_EXIT_USAGE, "%s has no subcommands "
		    "(samen help %s)", e->name, e->name);
	if ((sub = cmd_find(e->sub, c->argv[1])) == NULL)
		return help_group_error(e, c->argv[1]);
	help_entry(stdout, e, sub);
	return 0;
}
