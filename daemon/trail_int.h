/* trail_int: what trail.c (noting, sealing, expiry) and trail_query.c (opening, the timeline) share; nothing else includes it. */
#ifndef SAMEN_TRAIL_INT_H
#define SAMEN_TRAIL_INT_H

#include "circle.h"
#include "trail.h"

struct pend;
struct seal_key;

struct trail {
	struct trail_env env;
	struct pend *pend;
	size_t npend;
	struct seal_key *keys;
	size_t nkeys;
	uint64_t noted;			/* events noted since open */
	int days;			/* audit_retention */
	uv_timer_t timer;
	int stopped;
	/* The journal: bytes of boxes written since the last ship, and
	 * when the first of them was (clock_mono_ms); jknown 0 until a ship
	 * has looked (rows of before a restart). */
	uint64_t jbytes;
	uint64_t jsince;
	int jknown;
	/*
	 * trail_query.c: trail_events' reads of one circle, kept while
	 * nothing was committed (trail_cache_drop forgets them).
	 */
	struct {
		int valid;
		uint8_t circle[CS_CIRCLELEN];
		uint64_t commits;	/* store_wal_commits when read */
		int readable;
		struct trail_list reads;
	} cache;
};

/* trail.c: the shared circle id as circle_list has it, or NULL. */
const struct circle_info *trail_info_of(struct trail *t,
    const uint8_t id[CS_CIRCLELEN]);
/* trail_query.c: forgets the reads trail_events kept. */
void trail_cache_drop(struct trail *t);

#endif
