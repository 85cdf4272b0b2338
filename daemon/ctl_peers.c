/* ctl_peers: the control requests on peers and sync: peer add, rm, ls, sync. */
#include "ctl_peers.h"

#include <string.h>

#include "devid.h"
#include "error.h"
#include "peer.h"

int
ctl_peers_add(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_peer_add *rq = &q->peer_add;
	const char *addr = rq->has_addr ? rq->addr : NULL;
	int rc;

	if (memcmp(rq->device, vault_public_key(p->env.vault), 32) == 0)
		return ctl_fail(res, SAMEN_EINVAL, "that is this device's own "
		    "id");
	if ((rc = store_peer_put(p->env.store, rq->device, addr)) != 0)
		return ctl_fail(res, rc, "could not store the peer: %s",
		    samen_strerror(rc));
	if (p->peers != NULL)
		peers_refresh(p->peers);
	res->out.peer.device = rq->device;
	res->out.peer.addr = addr;
	return 0;
}

int
ctl_peers_rm(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_device *rq = &q->device;
	char dev[DEVID_TEXTLEN + 1];
	int rc;

	if ((rc = store_peer_rm(p->env.store, rq->device)) != 0) {
		devid_encode(dev, rq->device);
		return ctl_fail(res, rc, rc == SAMEN_ENOTFOUND ? "%.12s is not "
		    "a peer" : "could not remove the peer", dev);
	}
	if (p->peers != NULL)
		peers_refresh(p->peers);
	res->out.peer.device = rq->device;
	res->out.peer.addr = NULL;
	return 0;
}

int
ctl_peers_ls(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	struct render_peers *out = &res->out.peers;
	int rc;

	(void)q;
	out->sp = NULL;
	out->st = NULL;
	out->n = 0;
	out->live = p->peers != NULL;
	if (!out->live) {
		/* Locked: the stored peers, without live state. */
		if ((rc = store_peer_list(p->env.store, &out->sp,
		    &out->n)) != 0)
			return ctl_fail(res, rc, "storage error");
		return 0;
	}
	if ((rc = peers_snapshot(p->peers, &out->st, &out->n)) != 0)
		return ctl_fail(res, rc, "storage error");
	return 0;
}

int
ctl_peers_sync(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_device *rq = &q->device;
	int rc;

	if (p->peers == NULL)
		return ctl_fail(res, SAMEN_EINVAL, "sync is not running");
	rc = peers_sync(p->peers, rq->has_device ? rq->device : NULL,
	    res->body);
	if (rc == SAMEN_ENOTFOUND)
		return ctl_fail(res, rc, "not a peer: samen peer add it first");
	if (rc == SAMEN_EINVAL)
		return ctl_fail(res, rc, rq->has_device ? "that peer has no "
		    "address: it syncs when it connects to us" : "no peer has "
		    "an address (samen peer add DEVICE_ID tcp://HOST:PORT)");
	if (rc != 0)
		return ctl_fail(res, rc, "%s", samen_strerror(rc));
	return 0;
}
