/* notify: tells systemd (Type=notify) that samend is ready, reloading or stopping. */
#ifndef SAMEN_NOTIFY_H
#define SAMEN_NOTIFY_H

/*
 * sd_notify(3) without libsystemd: one datagram to the AF_UNIX socket that
 * $NOTIFY_SOCKET names (a path, or "@name" for the abstract namespace).
 * Without $NOTIFY_SOCKET (not started by systemd, or Type=simple) each call
 * does nothing and returns 0.  Otherwise each returns 0 once the datagram
 * is sent, or a negative code: -EINVAL for a $NOTIFY_SOCKET that is not an
 * absolute path or "@name", -ENAMETOOLONG for one too long for a socket
 * address, -errno of socket(2) or sendto(2).  The caller logs.
 */

/* "READY=1": the control socket is bound (after start, and after a reload). */
int notify_ready(void);
/*
 * "RELOADING=1" with "MONOTONIC_USEC=" (what Type=notify-reload expects):
 * samend re-reads its configuration; notify_ready follows when it is done.
 */
int notify_reloading(void);
/* "STOPPING=1": samend shuts down. */
int notify_stopping(void);
/* Sends state (e.g. "STATUS=...") as it is.  Borrows state. */
int notify_send(const char *state);

#endif
