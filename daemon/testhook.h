/* testhook: the SAMEND_TEST_* knobs that system tests set, read in one place. */
#ifndef SAMEND_TESTHOOK_H
#define SAMEND_TESTHOOK_H

/*
 * Each knob stands in for something a test cannot arrange cheaply (a slow
 * disk, a failing disk, a huge replica).  Nothing else reads them, and
 * with none set samend behaves as in production.  Read once, from the
 * environment, at the first call; the result is static (never freed).
 */
struct testhook {
	long load_delay_ms;	/* SAMEND_TEST_LOAD_DELAY_MS: the index load */
	long sync_delay_ms;	/* SAMEND_TEST_SYNC_DELAY_MS: every WAL sync */
	int sync_fail;		/* SAMEND_TEST_SYNC_FAIL: every WAL sync fails */
	int ckpt_sync_fail;	/* SAMEND_TEST_CKPT_SYNC_FAIL: checkpoints' */
	/* SAMEND_TEST_CKPT_DELAY_MS: at the end of each checkpoint on the
	 * pool, as on a busy machine or a slow disk. */
	long ckpt_delay_ms;
	long export_page;	/* SAMEND_TEST_EXPORT_PAGE: records per export
				 * page at most (0: as asked) */
	/* SAMEND_TEST_ERASE_DELAY_MS: after each change set an erase
	 * rewrites, so that a kill can land in the middle of one. */
	long erase_delay_ms;
	/* SAMEND_TEST_RETENTION_NOW_FILE: see testhook_retention_now. */
	const char *retention_now_file;
	/*
	 * SAMEND_TEST_AUDIT: "off" notes no read (the bench's figures
	 * without the read audit, beside those with it); "wal" answers a
	 * batch of reads once its events are committed to the WAL, without
	 * waiting for its sync (the bench's other choice).  NEN 7513
	 * logging is not a person's to turn off: there is no setting.
	 */
	int audit_off;
	int audit_nosync;
	/* SAMEND_TEST_AUDIT_SHIP_MS: how long the read audit's journal
	 * waits to be shipped (0: TRAIL_SHIP_MS), so that a test can kill
	 * samend with events in it. */
	long audit_ship_ms;

	/*
	 * SAMEND_TEST_CLOCK_OFFSET_MS: added to the wall clock (may be
	 * negative): a laptop whose clock is days ahead, without setting
	 * the host's.
	 */
	long long clock_offset_ms;
	/*
	 * SAMEND_TEST_ROSTER_MAX_OPS: the ops of a members chain read at
	 * most before its roster is given up as too big (0: ROSTER_MAX_OPS),
	 * so that a test need not write 4,097.
	 */
	long roster_max_ops;
};

const struct testhook *testhook(void);
/*
 * The time the retention check reads as now, in ms since 1970, so that a
 * test need not wait years: the number on the first line of the file
 * SAMEND_TEST_RETENTION_NOW_FILE names, read at each call (a test moves
 * time by writing it); 0 (the wall clock) if unset, missing or empty.
 */
unsigned long long testhook_retention_now(void);

#endif
