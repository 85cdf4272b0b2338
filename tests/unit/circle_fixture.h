/* circle_fixture: devices in one process with the modules circles use (keys, store, index, loader, writer, circle, read audit), for test_circle and test_trail. */
#ifndef SAMEN_CIRCLE_FIXTURE_H
#define SAMEN_CIRCLE_FIXTURE_H

/*
 * Each device is a data directory under /tmp with its own key file and
 * store, the modules opened as ctl_open opens them, and the circles
 * unlocked.  Syncing is copying the change sets of a chain from one
 * store into another, as a session's batch would store them.  The tests
 * that link circle_fixture.o are listed in the Makefile (CIRCLE_TESTS).
 */

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "changeset.h"
#include "circle.h"
#include "ctl.h"

struct dev {
	char dir[64];
	uv_loop_t loop;
	struct vault *vault;
	struct store *st;
	struct index *ix;
	struct loader *ld;
	struct writer *w;
	struct circle *cs;
	struct trail *t;
	struct ctl_parts p;	/* what trail_read is given */
	size_t aborts;		/* batches rolled back */
	int changed;		/* circle_env.changed calls */
};

/* A fresh device, unlocked, with no circle but its private one. */
void dev_open(struct dev *d);
/* Closes every module and removes its directory. */
void dev_close(struct dev *d);
/*
 * The end of a batch of control requests, as ctl.c's flush does it: the
 * reads noted, the commit, the index refreshed, the circles after it.
 */
void dev_commit(struct dev *d);
/* The device's public key. */
const uint8_t *dev_key(const struct dev *d);
/* Every change set from holds of chain, stored (and merged) by to in one
 * batch, as a session would; how many were new to it. */
size_t dev_copy_chain(struct dev *from, struct dev *to,
    const uint8_t chain[CS_CIRCLELEN]);
/* The members chain and the data chain of circle id, members first (to
 * joins the circle if it did not hold it): one session's worth. */
void dev_sync_circle(struct dev *from, struct dev *to,
    const uint8_t id[CS_CIRCLELEN]);

#endif
