/* depart: this device leaves: a circle it was removed from is erased, and everything, keys too, once it is revoked. */
#ifndef SAMEN_DEPART_H
#define SAMEN_DEPART_H

/*
 * docs/sync.md, "Departures".  When a roster this device resolves says it
 * was removed from a circle, it erases that circle from its disk
 * (store_erase_circle: both chains, records, keys, cuts; the index and
 * the WAL follow) and never joins it again; when one says it was revoked,
 * it stops syncing, erases everything (store_erase_all), deletes its key
 * file (vault_revoke) and from then on answers only `samen status`.
 * Either waits until no session about what goes is under way
 * (peers_busy): the session that told it is the one in which it offered
 * its own change sets (they land in the peer's quarantine).  It waits at
 * most DEPART_PATIENCE_MS, then ends those sessions.
 */
struct ctl_parts;
struct depart;

/* Borrows p (the ctl's parts), which must outlive it. */
struct depart *depart_open(struct ctl_parts *p);
/*
 * The circles changed (a refresh): if a roster says we were removed or
 * revoked, the erase is planned, on the loop, soon.
 */
void depart_check(struct depart *d);
/* At shutdown, before the loop's last run: nothing more is erased. */
void depart_stop(struct depart *d);
/* Frees d, after the loop has run out. */
void depart_close(struct depart *d);

#endif
