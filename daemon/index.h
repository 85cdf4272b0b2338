/* index: the materialised records, in memory after unlock, for fast reads and search. */
#ifndef SAMEN_INDEX_H
#define SAMEN_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * Every record the store holds (deleted ones too, flagged), decrypted, in one
 * array sorted by (rid, rkey): rids are time-ordered, so that is creation
 * order, lookups are binary searches and ls needs no sort.  Reads (get, ls,
 * find, conflicts) are served from here; writes read the store, inside their
 * transaction, and refresh the index after commit.  The index owns its
 * records.  One thread at a time: the loop's, or a loader's that builds an
 * index of its own (index_swap then hands it over).
 */
struct index;

struct index *index_open(void);
void index_close(struct index *ix);
/* Drops every record. */
void index_clear(struct index *ix);
/* Adds r, or replaces the record with the same rkey.  Takes ownership. */
void index_put(struct index *ix, struct store_record *r);
/*
 * index_put of each of rs[0..n), in one pass over the array instead of
 * one move of its tail per new record.  Takes ownership of the records;
 * borrows rs, whose order it changes.  Of two with one rkey, the later in
 * rs wins, as with index_put one after the other.
 */
void index_put_many(struct index *ix, struct store_record **rs, size_t n);
/*
 * For loading many records at once: index_append adds r at the end without
 * looking (takes ownership; its rkey must not be in the index yet) and
 * leaves the index unsorted until index_sort, which must come before any
 * other call.  n appends and one sort cost O(n log n) where n puts in
 * rkey order cost O(n^2) moves: rkeys are arrival order, not rid order.
 */
void index_append(struct index *ix, struct store_record *r);
void index_sort(struct index *ix);
/*
 * Drops (and frees) the records whose rkey is one of rkeys[0..n), which
 * must be ascending: an erase took them (store_erase_*).  Rkeys it does
 * not hold are passed over.  One pass over the index.  Borrows rkeys.
 */
void index_remove(struct index *ix, const int64_t *rkeys, size_t n);
/* Exchanges the contents of a and b (for an index built elsewhere). */
void index_swap(struct index *a, struct index *b);
size_t index_count(const struct index *ix);
/* The i'th record in (rid, rkey) order; borrowed until the next put. */
const struct store_record *index_at(const struct index *ix, size_t i);
/*
 * The record of collection with this rid, or NULL.  If several circles hold
 * one (a peer's doing), the lowest rkey wins.  Borrowed until the next put.
 */
const struct store_record *index_get(const struct index *ix,
    const char *collection, const uint8_t rid[RID_LEN]);

/*
 * The position of the first record after (rid, rkey) in index order: where
 * a walk that stopped at that record goes on, even if it is gone since.
 */
size_t index_after(const struct index *ix, const uint8_t rid[RID_LEN],
    int64_t rkey);

/* Shown value of a register field, or NULL if the record has none. */
const struct store_field *index_field(const struct store_record *r,
    const char *name, int is_set);
/*
 * Case-insensitive (ASCII) substring search over the shown values and set
 * elements of r.  Returns how many fields matched and writes up to max of
 * them to out (borrowed).
 */
size_t index_match(const struct store_record *r, const char *needle,
    size_t len, const struct store_field **out, size_t max);

#endif
