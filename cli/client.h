/* client: one request to samend over its control socket, one reply back. */
#ifndef SAMEN_CLIENT_H
#define SAMEN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* A Unix socket path holds 108 bytes with its NUL (sun_path). */
#define CLIENT_MAX_SOCKPATH 107
#define CLIENT_TIMEOUT_S 30	/* default; $SAMEN_TIMEOUT overrides */

/*
 * Checks that DIR/ctl.sock fits a Unix socket path.  Returns 0, or
 * -ENAMETOOLONG and *cause (free with free()).
 */
int client_check_path(const char *dir, char **cause);

/*
 * Checks that a daemon listens for dir, without sending anything: so that a
 * command can fail before it asks for a passphrase.  Returns 0 or a code as
 * client_call() does.
 */
int client_probe(const char *dir, char **cause);

/*
 * Sends req[0..reqlen) to the daemon of dir and waits for one reply frame of
 * at most CTL_MAX_REPLY bytes.  Speaks ZMTP 3.0 as a REQ socket (cli/zmtp.h)
 * itself: samen does not link libzmq.  $SAMEN_TIMEOUT bounds the whole
 * exchange.  Borrows req (and does not copy it: it may hold a passphrase).
 * Returns 0 and *rep (free with free()), or a negative code and *cause (free
 * with free()):
 *   -ENAMETOOLONG  the socket path does not fit (nothing was tried)
 *   -EINVAL        $SAMEN_TIMEOUT is not a number of seconds
 *   -ECONNREFUSED  samend is not running for dir (also for ENOENT)
 *   -ETIMEDOUT     samend did not answer in time
 *   -EPROTO        the reply was not one frame of at most CTL_MAX_REPLY
 *                  bytes, or the peer broke ZMTP
 *   -ECONNRESET    samend closed the connection without answering (it
 *                  stopped, or dropped the request)
 *   other -errno   the socket could not be reached (permissions, ...);
 *                  -EACCES also when samend refused the handshake (ERROR)
 */
int client_call(const char *dir, const uint8_t *req, size_t reqlen,
    uint8_t **rep, size_t *replen, char **cause);

#endif
