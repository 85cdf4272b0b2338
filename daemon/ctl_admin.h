/* ctl_admin: the control requests on the daemon itself: status, unlock, lock, rebuild, metrics. */
#ifndef SAMEN_CTL_ADMIN_H
#define SAMEN_CTL_ADMIN_H

#include "ctl.h"

ctl_act_fn ctl_admin_status;
/*
 * Runs argon2id on the thread pool and answers the request itself when
 * done (it sets res->req NULL); answers at once if already unlocked or
 * unlocking.
 */
ctl_act_fn ctl_admin_unlock;
ctl_act_fn ctl_admin_rebuild;
/* Collects (ctl_admin_collect) and renders the metrics' text. */
ctl_act_fn ctl_admin_metrics;
/* ctl_collect's work: the gauges of p->env.metrics read now. */
void ctl_admin_collect(struct ctl_parts *p);
/*
 * Locks (ctl_lock), and answers once every secret is dropped; "already
 * locked" at once.  Keys without a passphrase are refused (SAMEN_EINVAL).
 */
ctl_act_fn ctl_admin_lock;
/* The same, synchronously (start-up without a passphrase). */
int ctl_admin_unlock_now(struct ctl_parts *p, const char *passphrase,
    size_t len);

#endif
