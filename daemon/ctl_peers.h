/* ctl_peers: the control requests on peers and sync: peer add, rm, ls, sync. */
#ifndef SAMEN_CTL_PEERS_H
#define SAMEN_CTL_PEERS_H

#include "ctl.h"

ctl_act_fn ctl_peers_add;
ctl_act_fn ctl_peers_rm;
ctl_act_fn ctl_peers_ls;
/* Writes the body itself (peers_sync); no render. */
ctl_act_fn ctl_peers_sync;

#endif
