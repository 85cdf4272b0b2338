/* ctl_circles: the control requests on circles: circle new, add, ls, use. */
#ifndef SAMEN_CTL_CIRCLES_H
#define SAMEN_CTL_CIRCLES_H

#include "ctl.h"

/* The policy (who may add whom, what a circle is) is circle.h's. */
ctl_act_fn ctl_circles_new;
ctl_act_fn ctl_circles_add;
ctl_act_fn ctl_circles_ls;
ctl_act_fn ctl_circles_use;

#endif
