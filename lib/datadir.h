/* datadir: where a device's data directory is, found the same way by samend and samen. */
#ifndef SAMEN_DATADIR_H
#define SAMEN_DATADIR_H

/*
 * The data directory: opt (-d DIR) when it is given and not empty, else
 * $SAMEN_HOME, else $XDG_DATA_HOME/samen, else $HOME/.local/share/samen,
 * the home taken from the password database when $HOME is unset or empty
 * (a service started without one still finds the directory `samen init`
 * made).  An empty variable counts as unset.  Trailing slashes are
 * dropped, so that both programs name the directory, and its socket, with
 * the same string; "/" stays "/".  Returns a new string (free with
 * free()), or NULL when there is no home to start from.
 */
char *datadir_find(const char *opt);

#endif
