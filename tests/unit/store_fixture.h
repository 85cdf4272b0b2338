/* store_fixture: what the store's unit tests share: a store in a temporary directory, devices writing to a circle, and ways to compare what they read. */
#ifndef SAMEN_STORE_FIXTURE_H
#define SAMEN_STORE_FIXTURE_H

/*
 * Each tests/unit/test_store_<area>.c links store_fixture.o (the Makefile's
 * STORE_TESTS).  setup() gives every test a fresh world w: a store with
 * its key in a temporary directory, a circle, two devices; teardown()
 * checks that store_record_foreach hands out every record as
 * store_record_load reads it and that the schema's references hold, then
 * removes the directory.
 */

#include <stddef.h>
#include <stdint.h>

#include "changeset.h"
#include "ops.h"
#include "store.h"
#include "wire.h"

/* The most chunks build() puts in one change set. */
#define MAXCHUNKS 4

/* A device that writes: its keys and its chain in the test circle. */
struct dev {
	uint8_t pk[32];
	uint8_t sk[64];
	uint64_t seq;
	uint8_t head[CS_IDLEN];
};

/* One test's world: a store in a temp dir, a circle, two devices. */
struct world {
	char dir[64];
	char path[96];
	struct store *st;
	uint8_t skey[32];
	struct store_circle circle;
	struct dev a, b;
};

extern struct world w;		/* setup() fills it for each test */

/* A change set built but not stored. */
struct built {
	struct cs_header h;
	uint8_t id[CS_IDLEN];
	struct wbuf hdr, pay;
};

/* Frees b's header and payload buffers (not b). */
void built_free(struct built *b);

/* A new device: fresh keys, an empty chain. */
void dev_init(struct dev *d);

/* A record id whose time part is ms, the rest random. */
void mkrid(uint8_t rid[RID_LEN], uint64_t ms);

/*
 * Ops for chunk(): the strings and preds (or tags) are borrowed, and must
 * outlive the change set's build.
 */
struct op op_set(const char *field, const char *value, const uint8_t *preds,
    uint32_t n);

struct op op_exist(int alive, const uint8_t *preds, uint32_t n);

struct op op_add(const char *field, const char *elem);

struct op op_rem(const char *field, const char *elem, const uint8_t *tags,
    uint32_t n);

/* A chunk of ops[0..n) on (coll, rid); borrows coll and ops. */
struct ops_chunk chunk(const char *coll, const uint8_t rid[RID_LEN],
    struct op *ops, uint32_t n);

/*
 * Builds a signed change set of chunks, each sealed under key, into b:
 * free with built_free().
 */
void build(struct built *b, const struct dev *d, const struct store_circle *c,
    const uint8_t key[CS_KEYLEN], uint64_t seq, const uint8_t prev[CS_IDLEN],
    uint64_t hlc, const struct ops_chunk *chunks, size_t n);

/* store_cs_insert of b (stored, not merged). */
int insert(struct store *st, const struct built *b);

/*
 * Next change set of d in the circle, stored by ins; its id into id (may
 * be NULL).
 */
void write_cs_by(struct store *st, int (*ins)(struct store *,
    const struct built *), struct dev *d, uint64_t hlc,
    const struct ops_chunk *chunks, size_t n, uint8_t id[CS_IDLEN]);

/* write_cs_by with insert. */
void write_cs(struct store *st, struct dev *d, uint64_t hlc,
    const struct ops_chunk *chunks, size_t n, uint8_t id[CS_IDLEN]);

/* One chunk of ops on (coll, rid). */
void write1(struct store *st, struct dev *d, uint64_t hlc, const char *coll,
    const uint8_t rid[RID_LEN], struct op *ops, uint32_t nops,
    uint8_t id[CS_IDLEN]);

/* The vid of op op_i of chunk chunk_i of change set id. */
void vid(uint8_t out[VID_LEN], const uint8_t id[CS_IDLEN], uint32_t chunk_i,
    uint32_t op_i);

/* store_merge_pending in a transaction of its own, asserting it worked. */
void merge(struct store *st);

/*
 * The record (w's circle, coll, rid), which must exist: free with
 * store_record_free().
 */
struct store_record *load(struct store *st, const char *coll,
    const uint8_t rid[RID_LEN]);

/* r's field name (a set if is_set), or NULL; points into r. */
const struct store_field *field(const struct store_record *r, const char *name,
    int is_set);

/* Opens w.path into *st, with w's storage key if with_key. */
void open_store(struct store **st, int with_key);

/* cmocka's setup and teardown of every store test (see above). */
int setup(void **state);

int teardown(void **state);

/* touched() collects rkeys. */
struct touched {
	int64_t keys[16];
	size_t n;
};

/* store_merge_pending's touched(): adds rkey to the struct touched arg. */
void touched_cb(void *arg, int64_t rkey);

/* merge(), collecting the records it touched into t. */
void merge_t(struct store *st, struct touched *t);

/* Two loaded records hold the same thing, value for value, in order. */
void record_same(const struct store_record *a, const struct store_record *b);

/*
 * count(*) of table in the database at path, read from a connection of its
 * own; table may carry a WHERE (PACKED).
 */
int count_rows(const char *path, const char *table);

/* A canonical text of every record, for comparing replicas. */
struct dump {
	char **lines;
	size_t n;
};

/*
 * Appends to the string *s (a new one each time; the old is freed): p in
 * hex and a space, or add.
 */
void hexcat(char **s, const uint8_t *p, size_t n);
void strcat_free(char **s, const char *add);
/* qsort's comparison of two char *. */
int cmp_str(const void *a, const void *b);

/* Every record of st, sorted: free with dump_free(). */
void dump(struct store *st, struct dump *d);
/* Asserts that two dumps hold the same records. */
void dump_equal(const struct dump *x, const struct dump *y);
void dump_free(struct dump *d);

/* A history of edits, conflicts, deletes and sets on a few records. */
void scenario(struct store *st);

/*
 * The row's shown vid and deleted equal what a full load computes from
 * every live existence value with merge_order.  Returns deleted; the shown
 * vid into vid if not NULL.
 */
int check_shown(struct store *st, const char *path, const uint8_t rid[RID_LEN],
    uint8_t vid[VID_LEN]);

/*
 * A storm on one record: a create, then STORM devices that saw only it and
 * each set the existence (some delete) and a field, with hlcs that tie;
 * then a device whose clock is behind kills the three shown existence
 * values, so the merge must find the next one.
 */
#define STORM 40

struct storm {
	struct dev d[STORM + 1];
	struct built b[STORM + 2];
	uint8_t rid[RID_LEN];
	uint8_t shown[VID_LEN];		/* expected at the end */
	int deleted;
	uint8_t digest[32];		/* expected: the live vids' */
};

/* Builds s's change sets (free with storm_free) and what they must give. */
void storm_build(struct storm *s);
void storm_free(struct storm *s);

/* Inserts s->b in the order of perm, merging after every batch of them. */
void storm_apply(struct store *st, const char *path, struct storm *s,
    const size_t *perm, size_t batch);

/* The records whose row holds a pack. */
#define PACKED "records WHERE pkeys IS NOT NULL"

/*
 * Runs q on w's database from a connection of its own: what another
 * program, or an older samend, would have done to it.
 */
void peer_sql(const char *q);

/* As host_merge then the commit: in the caller's open transaction. */
void merge_commit(struct store *st, struct touched *t);

/* store_cs_insert_merged of b. */
int insert_merged(struct store *st, const struct built *b);

/*
 * Byte strings a test looks for in every file of a directory (db, wal,
 * shm, anything else): each in windows of NEEDLE_WINDOW bytes, so that a
 * part of one left behind is found too.  needle_add copies p.
 */
#define NEEDLE_WINDOW 16
struct needles {
	uint8_t **p;
	size_t *n;
	size_t count;
};
void needle_add(struct needles *nd, const void *p, size_t n);
void needles_free(struct needles *nd);
/*
 * How many of the needles some file of dir holds a window of.  With
 * $NEEDLES_VERBOSE set, each find is told on stderr.
 */
size_t dir_finds(const char *dir, const struct needles *nd);
/* The file at path, whole (new: free()), or NULL if it cannot be read. */
uint8_t *file_read(const char *path, size_t *n);
void file_copy(const char *from, const char *to);

/*
 * The plaintexts of chunks[0..n), as store_cs_insert_own takes them: pl[i]
 * points into pw[i], which the caller frees (wire_free).
 */
void plains(struct wbuf pw[MAXCHUNKS], struct cs_plain pl[MAXCHUNKS],
    const struct ops_chunk *chunks, size_t n);

#endif
