/* keyfile: the device's key file on disk, and the data directory that holds it. */
#ifndef SAMEN_KEYFILE_H
#define SAMEN_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define KEYFILE_NAME "keys"	/* in the data directory */
#define KEYFILE_MAX 65536	/* a key file is a few hundred bytes */

/*
 * 1 if dir holds a key file (or anything else under its name, which init
 * must not overwrite either), 0 if not, or -errno and *cause (free with
 * free()).
 */
int keyfile_exists(const char *dir, char **cause);
/*
 * Reads dir's key file into *buf (free with free()) and *len.  Returns 0,
 * -ENOENT when there is none, another -errno, or SAMEN_EKEYFILE when it is
 * larger than any key file.
 */
int keyfile_read(const char *dir, uint8_t **buf, size_t *len);
/*
 * Writes p[0..n) as dir's key file, mode 0600, so that a crash leaves the
 * old state or the new one: a temporary file, fsync, rename, fsync of the
 * directory.  0, or -errno and *cause naming the file that failed.
 */
int keyfile_write(const char *dir, const uint8_t *p, size_t n, char **cause);
/*
 * mkdir -p dir: parents get the usual 0777 less umask, dir itself 0700
 * (other users of the machine must not reach the control socket).  An
 * existing empty directory is made 0700 as well; a directory already in
 * use keeps the mode its owner gave it.  0, or -errno and *cause.
 */
int keyfile_make_dir(const char *dir, char **cause);

#endif
