/* confdoc: samen.conf(5)'s options and the example samen.conf, written from samend's own table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

/*
 *   confdoc man TEMPLATE   TEMPLATE with its ".\" @OPTIONS@" line replaced
 *                          by the options, in mdoc
 *   confdoc conf           the example configuration file
 *
 * Both come from conf_option(), the table samend parses with, so that the
 * page and the file cannot drift from the daemon (tests/system/
 * test_install.py checks the file in the tree is this program's output).
 */

#define MARK ".\\\" @OPTIONS@"
#define WIDTH 72

static void
usage(void)
{
	fputs("usage: confdoc man TEMPLATE | confdoc conf\n", stderr);
	exit(2);
}

/* "From 1 to 65536" or "0 or 1"; "" for what is not a number. */
static void
range(char *buf, size_t size, const struct conf_option *o)
{
	*buf = '\0';
	if (strcmp(o->type, "number") != 0)
		return;
	if (o->max == o->min + 1)
		snprintf(buf, size, "%ld or %ld", o->min, o->max);
	else
		snprintf(buf, size, "%ld to %ld", o->min, o->max);
}

static const char *
when(const struct conf_option *o)
{
	return o->reloadable ? "Reloadable." : "Takes effect at restart.";
}

/*
 * One roff line of text: a backslash is \e, and a line may not start with
 * a control character.
 */
static void
put_roff_line(FILE *f, const char *p, size_t n)
{
	if (n > 0 && (*p == '.' || *p == '\''))
		fputs("\\&", f);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\')
			fputs("\\e", f);
		else
			fputc(p[i], f);
	}
	fputc('\n', f);
}

/*
 * Each sentence starts a line (mdoc's rule: the formatter then knows where
 * sentences end), and lines break between words before WIDTH columns.
 */
static void
put_sentences(FILE *f, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		const char *end = strstr(p, ". ");
		size_t n = end != NULL ? (size_t)(end - p) + 1 : strlen(p);

		while (n > 0) {
			size_t cut = n;

			if (n > WIDTH) {
				cut = WIDTH;
				while (cut > 0 && p[cut] != ' ')
					cut--;
				if (cut == 0)
					cut = strcspn(p, " ") < n ?
					    strcspn(p, " ") : n;
			}
			put_roff_line(f, p, cut);
			p += cut;
			n -= cut;
			while (n > 0 && *p == ' ') {
				p++;
				n--;
			}
		}
		while (*p == ' ')
			p++;
	}
}

static void
put_options_mdoc(FILE *f)
{
	struct conf_option o;
	char r[64];

	fputs(".Bl -tag -width Ds\n", f);
	for (size_t i = 0; i < conf_noptions(); i++) {
		conf_option(i, &o);
		fprintf(f, ".It Cm %s No = Ar %s\n", o.name, o.type);
		put_sentences(f, o.doc);
		range(r, sizeof(r), &o);
		if (*r != '\0')
			fprintf(f, "%c%s.\n", r[0], r + 1);
		if (*o.def == '\0')
			fputs("Default: empty.\n", f);
		else
			fprintf(f, "Default:\n.Cm %s .\n", o.def);
		fprintf(f, "%s\n", when(&o));
	}
	fputs(".El\n", f);
}

static int
man(const char *template)
{
	FILE *in = fopen(template, "r");
	char line[4096];
	int found = 0;

	if (in == NULL) {
		perror(template);
		return 1;
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, MARK, strlen(MARK)) == 0) {
			put_options_mdoc(stdout);
			found = 1;
		} else
			fputs(line, stdout);
	}
	fclose(in);
	if (!found) {
		fprintf(stderr, "confdoc: %s has no %s line\n", template, MARK);
		return 1;
	}
	return 0;
}

/* text as "# " comment lines of at most WIDTH columns. */
static void
put_comment(FILE *f, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		size_t n = strlen(p), cut = n;

		if (n > WIDTH - 2) {
			cut = WIDTH - 2;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = strcspn(p, " ");
		}
		fprintf(f, "# %.*s\n", (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

/*
 * The file's comments end sentences with two spaces, as the rest of the
 * tree does; the table's with one.  out holds 2 * strlen(in) + 1.
 */
static void
two_spaces(char *out, const char *in)
{
	for (; *in != '\0'; in++) {
		*out++ = *in;
		if (*in == '.' && in[1] == ' ')
			*out++ = ' ';
	}
	*out = '\0';
}

static int
conf(void)
{
	struct conf_option o;
	char r[64], *text;
	size_t n;

	put_comment(stdout, "samend configuration: DATA_DIR/samen.conf (or "
	    "samend -c FILE).  Every option is shown with its default.  "
	    "\"samend --check-config\" prints the configuration samend would "
	    "use; SIGHUP (systemctl --user reload samend) re-reads this file: "
	    "a file with errors is refused and the running configuration "
	    "kept.");
	put_comment(stdout, "Written from samend's own table (daemon/conf.c) "
	    "by man/confdoc.c; samen.conf(5) says the same.");
	fputs("\n[samend]\n", stdout);
	for (size_t i = 0; i < conf_noptions(); i++) {
		conf_option(i, &o);
		range(r, sizeof(r), &o);
		/* Twice the room: each ". " of the table becomes ".  ". */
		n = 2 * strlen(o.doc) + strlen(r) + 64;
		text = xmalloc(n);
		two_spaces(text, o.doc);
		snprintf(text + strlen(text), n - strlen(text), "%s%s%s  %s",
		    *r ? "  " : "", r, *r ? "." : "", when(&o));
		fputc('\n', stdout);
		put_comment(stdout, text);
		printf("%s =%s%s\n", o.name, *o.def ? " " : "", o.def);
		free(text);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc == 3 && strcmp(argv[1], "man") == 0)
		rc = man(argv[2]);
	else if (argc == 2 && strcmp(argv[1], "conf") == 0)
		rc = conf();
	else
		usage();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("confdoc: stdout");
		rc = 1;
	}
	return rc;
}
