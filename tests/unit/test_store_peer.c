/* test_store_peer: the peers table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "changeset.h"
#include "error.h"
#include "hlc.h"
#include "merge.h"
#include "ops.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "wire.h"

#include "store_fixture.h"

static void
peer_dev(uint8_t d[32], uint8_t first)
{
	randombytes_buf(d, 32);
	d[0] = first;
}

static uint64_t
wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
test_peers(void **state)
{
	uint8_t d1[32], d2[32], d3[32], d4[32], dg[32], dg2[32], zero[32];
	struct timespec pause = { 0, 3 * 1000 * 1000 };
	struct store_peer *p;
	uint64_t t0, t1, added;
	size_t n;

	(void)state;
	memset(zero, 0, sizeof(zero));
	randombytes_buf(dg, sizeof(dg));
	randombytes_buf(dg2, sizeof(dg2));
	peer_dev(d1, 0xf0);
	peer_dev(d2, 0x10);
	peer_dev(d3, 0x80);
	peer_dev(d4, 0x01);
	store_peer_list_free(NULL, 0);
	p = (struct store_peer *)&n;
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_null(p);
	assert_int_equal(n, 0);

	/* Listed in the order added, whatever the device bytes. */
	t0 = wall_now_ms();
	assert_int_equal(store_peer_put(w.st, d1, "tcp://10.0.0.1:7000"), 0);
	t1 = wall_now_ms();
	nanosleep(&pause, NULL);
	assert_int_equal(store_peer_put(w.st, d2, NULL), 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(p[0].device, d1, 32);
	assert_string_equal(p[0].addr, "tcp://10.0.0.1:7000");
	assert_true(p[0].added_ms >= t0 && p[0].added_ms <= t1);
	assert_int_equal(p[0].last_sync_ms, 0);
	assert_int_equal(p[0].sent, 0);
	assert_int_equal(p[0].received, 0);
	assert_int_equal(p[0].rejected, 0);
	assert_memory_equal(p[0].digest, zero, 32);
	assert_memory_equal(p[1].device, d2, 32);
	assert_null(p[1].addr);
	assert_true(p[1].added_ms > p[0].added_ms);
	added = p[0].added_ms;
	store_peer_list_free(p, n);

	/* Putting it again changes the address only. */
	nanosleep(&pause, NULL);
	assert_int_equal(store_peer_put(w.st, d1, "tcp://[::1]:7001"), 0);
	assert_int_equal(store_peer_note(w.st, d1, 1234, dg, 5, 6, 1), 0);
	assert_int_equal(store_peer_note(w.st, d1, 2000, dg2, 1, 1, 1), 0);
	assert_int_equal(store_peer_put(w.st, d2, "tcp://10.0.0.2:7000"), 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(p[0].device, d1, 32);
	assert_string_equal(p[0].addr, "tcp://[::1]:7001");
	assert_int_equal(p[0].added_ms, added);
	assert_int_equal(p[0].last_sync_ms, 2000);
	assert_memory_equal(p[0].digest, dg2, 32);
	assert_int_equal(p[0].sent, 6);
	assert_int_equal(p[0].received, 7);
	assert_int_equal(p[0].rejected, 2);
	assert_string_equal(p[1].addr, "tcp://10.0.0.2:7000");
	assert_int_equal(p[1].last_sync_ms, 0);
	store_peer_list_free(p, n);
	/* ...and NULL clears it. */
	assert_int_equal(store_peer_put(w.st, d1, NULL), 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_null(p[0].addr);
	assert_int_equal(p[0].sent, 6);
	store_peer_list_free(p, n);

	/* Not peers. */
	assert_int_equal(store_peer_note(w.st, d3, 1, dg, 1, 1, 1),
	    SAMEN_ENOTFOUND);
	assert_int_equal(store_peer_rm(w.st, d3), SAMEN_ENOTFOUND);

	/* Inside a transaction: gone with a rollback, kept with a commit. */
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_peer_put(w.st, d3, "tcp://10.0.0.3:7000"), 0);
	assert_int_equal(store_peer_note(w.st, d3, 7, dg, 1, 2, 3), 0);
	store_rollback(w.st);
	assert_int_equal(store_peer_rm(w.st, d3), SAMEN_ENOTFOUND);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_peer_put(w.st, d3, "tcp://10.0.0.3:7000"), 0);
	assert_int_equal(store_peer_put(w.st, d4, NULL), 0);
	assert_int_equal(store_peer_note(w.st, d3, 7, dg, 1, 2, 3), 0);
	assert_int_equal(store_commit(w.st), 0);

	/* Added in the same millisecond: by device bytes. */
	peer_sql("UPDATE peers SET added_ms = 42");
	assert_int_equal(store_peer_rm(w.st, d2), 0);
	assert_int_equal(store_peer_rm(w.st, d2), SAMEN_ENOTFOUND);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(p[0].device, d4, 32);
	assert_memory_equal(p[1].device, d3, 32);
	assert_memory_equal(p[2].device, d1, 32);
	store_peer_list_free(p, n);

	/* Peers need no key, and survive a reopen. */
	store_close(w.st);
	open_store(&w.st, 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(p[0].device, d4, 32);
	assert_null(p[0].addr);
	assert_memory_equal(p[1].device, d3, 32);
	assert_string_equal(p[1].addr, "tcp://10.0.0.3:7000");
	assert_int_equal(p[1].last_sync_ms, 7);
	assert_memory_equal(p[1].digest, dg, 32);
	assert_int_equal(p[1].sent, 1);
	assert_int_equal(p[1].received, 2);
	assert_int_equal(p[1].rejected, 3);
	assert_int_equal(p[1].added_ms, 42);
	assert_memory_equal(p[2].device, d1, 32);
	assert_int_equal(p[2].sent, 6);
	assert_memory_equal(p[2].digest, dg2, 32);
	store_peer_list_free(p, n);
	assert_int_equal(store_peer_rm(w.st, d1), 0);
	assert_int_equal(store_peer_put(w.st, d1, "tcp://10.0.0.1:7000"), 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	/* Added again: a new entry, counters from zero, listed last. */
	assert_int_equal(n, 3);
	assert_memory_equal(p[2].device, d1, 32);
	assert_int_equal(p[2].sent, 0);
	assert_true(p[2].added_ms >= t1);
	store_peer_list_free(p, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_peers, setup, teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
