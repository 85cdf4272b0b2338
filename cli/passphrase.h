/* passphrase: where samen gets the passphrase: a file, the environment or the terminal. */
#ifndef SAMEN_PASSPHRASE_H
#define SAMEN_PASSPHRASE_H

#include <stddef.h>

#define PASSPHRASE_MAX 1024	/* bytes */

/*
 * A passphrase, NUL-terminated in buf, len bytes without the NUL.  It lives
 * in the caller's memory, never in stdio's buffers, so that
 * passphrase_wipe() reaches every copy samen made.
 */
struct passphrase {
	char buf[PASSPHRASE_MAX + 2];
	size_t len;
};

/*
 * The first line of file when file is not NULL, else $SAMEN_PASSPHRASE,
 * else the terminal (/dev/tty): asked twice when confirm is set (a new
 * passphrase), once otherwise; the prompt names dir.  Returns 0, or a
 * negative code and *cause (free with free()): -EINVAL for a passphrase
 * refused (empty, too long, with a NUL byte) or no terminal to ask,
 * SAMEN_EPASSPHRASE when the two answers differ, -errno when a file or
 * the terminal fails.  Wipe p with passphrase_wipe() in every case.
 */
int passphrase_get(struct passphrase *p, const char *file, const char *dir,
    int confirm, char **cause);
void passphrase_wipe(struct passphrase *p);

#endif
