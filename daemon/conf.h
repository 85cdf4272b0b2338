/* conf: the daemon's configuration, parsed and validated from one table. */
#ifndef SAMEN_CONF_H
#define SAMEN_CONF_H

#include <stddef.h>
#include <stdio.h>

/*
 * The file is INI-like: "name = value" lines, '#' or ';' comments, blank
 * lines; an optional "[samend]" section header.  Every option, its type,
 * bounds, default and whether SIGHUP may change it live in one table in
 * conf.c; parsing, --check-config, the example file and reload all use it.
 */
#define CONF_STRLEN 1024

struct conf {
	int log_level;		/* enum log_level */
	int batch_max;		/* control requests per group commit */
	int wal_autocheckpoint;	/* WAL pages before an automatic checkpoint */
	char listen[CONF_STRLEN];	/* tcp://ADDR:PORT, or "" for none */
	char peers[CONF_STRLEN];	/* "DEVICE@tcp://H:P, ..." static peers */
	int sync_interval;	/* seconds between syncs with each peer; 0 off */
	int beacon;		/* 1: announce and listen on the LAN */
	int beacon_port;	/* UDP port of the beacon */
	char beacon_addr[CONF_STRLEN];	/* where beacons are broadcast */
	int max_clock_skew;	/* seconds a change set may be dated ahead */
	char metrics_file[CONF_STRLEN];	/* Prometheus text file, or "" */
	int metrics_interval;	/* seconds between writes of metrics_file */
	int lock_after_idle;	/* seconds unused before samend locks; 0 off */
	int audit_retention;	/* days the read audit's events are kept */
};

void conf_defaults(struct conf *c);
/*
 * Reads path into *c (starting from the defaults).  A missing file is fine
 * when must_exist is 0.  On error returns a negative code and *cause,
 * "path:line: reason" (free with free()); *c is then unspecified, so load
 * into a scratch struct and copy on success.
 */
int conf_load(struct conf *c, const char *path, int must_exist, char **cause);
/*
 * The same for the file's contents text[0..len) (borrowed), named name in
 * the messages: what conf_load does once the file is open (for the tests
 * and the fuzzer).
 */
int conf_parse(struct conf *c, const char *text, size_t len, const char *name,
    char **cause);
/* Prints the normalised configuration, every option, as the file takes it. */
void conf_print(FILE *f, const struct conf *c);
/*
 * Copies the reloadable options of next into cur.  Options that differ but
 * need a restart are named in *ignored ("a, b"; free with free()), or NULL.
 */
void conf_apply_reload(struct conf *cur, const struct conf *next,
    char **ignored);

/*
 * The table itself, for the documentation generated from it (samen.conf(5)
 * and conf/samen.conf, by man/confdoc.c), so that neither can drift from
 * what samend parses.  Every string is static.
 */
struct conf_option {
	const char *name;
	const char *type;	/* "number", "level" or "string" */
	long min;		/* a number's bounds */
	long max;
	char def[32];		/* the default as the file writes it */
	int reloadable;		/* 1: SIGHUP applies it */
	const char *help;	/* one line, as --check-config prints it */
	const char *doc;	/* sentences, each ending with ". " but the last */
};

/* How many options there are. */
size_t conf_noptions(void);
/* Option i (below conf_noptions()) into *o. */
void conf_option(size_t i, struct conf_option *o);

#endif
