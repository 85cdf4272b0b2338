/* fixture: fixed keys and samples shared by the fuzz targets and mkseeds. */
#ifndef SAMEN_FUZZ_FIXTURE_H
#define SAMEN_FUZZ_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "changeset.h"
#include "wire.h"

/*
 * Everything here is a constant of the harness, not a secret: the seeds are
 * encrypted and signed with these keys so that the targets, which hold the
 * same keys, get past authenticated decryption on them and on any mutation
 * that keeps the sealed bytes intact.
 */
extern const uint8_t fixture_key[CS_KEYLEN];

/* Calls sodium_init() and derives the signing key pair; call once first. */
void fixture_init(void);
/* The author's ed25519 secret key (64 bytes), valid after fixture_init(). */
const uint8_t *fixture_sk(void);

/*
 * Public keys of FIXTURE_NDEVICES more devices (fixed seeds), for the
 * members chains of fuzz_members: device i, i < FIXTURE_NDEVICES, valid
 * after fixture_init().
 */
#define FIXTURE_NDEVICES 4
const uint8_t *fixture_device(unsigned i);

/*
 * Fills author, circle, epoch, seq, prev (zero for seq 1, else a fixed
 * non-zero hash) and hlc; the rest is zero until changeset_build().
 */
void fixture_header(struct cs_header *h, uint64_t seq);

/* How many chunk plaintexts fixture_ops() knows. */
#define FIXTURE_NOPS 7
/* Appends chunk plaintext i (0 <= i < FIXTURE_NOPS), encoded by ops_encode. */
void fixture_ops(struct wbuf *w, unsigned i);

/*
 * Builds a signed change set with seq and n chunks, whose plaintexts are
 * fixture_ops(first), fixture_ops(first + 1), ... (modulo FIXTURE_NOPS),
 * with fixed nonces.  Appends the header to hdr and the payload to payload,
 * and fills h.
 */
void fixture_changeset(struct wbuf *hdr, struct wbuf *payload,
    struct cs_header *h, uint64_t seq, unsigned first, unsigned n);

/*
 * Runs one change set through the receive path: header decode (and the
 * canonical round trip, abort() if it fails), id, verify, payload decode,
 * check, chunk open with fixture_key, ops_decode (and its round trip) of
 * every plaintext.  Goes on past a bad signature or payload hash, so that
 * mutated payloads still reach the decoders behind them.
 */
void fixture_receive(const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len);

/* libFuzzer's entry points, which every target defines. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
