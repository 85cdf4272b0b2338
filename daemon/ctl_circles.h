/* ctl_circles: the control requests on circles and their members: circle new, add, role, rm, accept, quarantine, ls, use, retention; device revoke. */
#ifndef SAMEN_CTL_CIRCLES_H
#define SAMEN_CTL_CIRCLES_H

#include "ctl.h"

/* The policy (who may do what to whom, what a circle is) is circle.h's. */
ctl_act_fn ctl_circles_new;
ctl_act_fn ctl_circles_add;
ctl_act_fn ctl_circles_role;
ctl_act_fn ctl_circles_rm;
ctl_act_fn ctl_circles_accept;
ctl_act_fn ctl_circles_quarantine;
ctl_act_fn ctl_circles_revoke;
ctl_act_fn ctl_circles_ls;
ctl_act_fn ctl_circles_use;
/* Sets a collection's retention, or lists what it erases now (--due). */
ctl_act_fn ctl_circles_retention;

#endif
