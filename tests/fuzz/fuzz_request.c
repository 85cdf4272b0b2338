/* fuzz_request: the control requests' decoders, on their args and on the whole frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fixture.h"
#include "hlc.h"
#include "request.h"

/*
 * Input: one byte, then bytes.  A byte that names a request type
 * (one request_decoder knows) feeds the rest to that type's decoder as
 * its args; any other byte takes the rest as a whole request
 * ([version, type, args]: request_frame, then the type's decoder).
 */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_init();
	return 0;
}

static const uint8_t *in_lo, *in_hi;

/* A borrowed string must lie inside the input. */
static void
inside(const char *s, size_t n)
{
	if (n > 0 && ((const uint8_t *)s < in_lo ||
	    (const uint8_t *)s + n > in_hi))
		abort();
}

/* What the decoders promise about what they accept (request.h). */
static void
check(uint32_t type, const union request *q)
{
	switch (type) {
	case CTL_GET: case CTL_RM: case CTL_LOG:
		if (!ops_collection_valid(q->record.collection,
		    strlen(q->record.collection)))
			abort();
		break;
	case CTL_PUT: {
		const struct request_put *p = &q->put;

		if (!ops_collection_valid(p->collection,
		    strlen(p->collection)) ||
		    p->nassigns == 0 || p->nassigns > CTL_MAX_ASSIGNS ||
		    strlen(p->circle) > OPS_MAX_FIELD)
			abort();
		for (uint32_t i = 0; i < p->nassigns; i++) {
			const struct request_assign *a = &p->assigns[i];

			inside(a->field, a->field_len);
			inside(a->value, a->value_len);
			if (!ops_field_valid(a->field, a->field_len) ||
			    a->how > CTL_ASSIGN_REM ||
			    a->value_len > (a->how == CTL_ASSIGN_SET ?
			    OPS_MAX_VALUE : OPS_MAX_ELEMENT))
				abort();
			for (uint32_t j = 0; j < i; j++)
				if (a->how == CTL_ASSIGN_SET &&
				    p->assigns[j].how == CTL_ASSIGN_SET &&
				    p->assigns[j].field_len == a->field_len &&
				    memcmp(p->assigns[j].field, a->field,
				    a->field_len) == 0)
					abort();
		}
		break;
	}
	case CTL_LS:
		if (!ops_collection_valid(q->ls.collection,
		    strlen(q->ls.collection)) ||
		    q->ls.nwhere > REQUEST_MAX_WHERE)
			abort();
		for (uint32_t i = 0; i < q->ls.nwhere; i++) {
			inside(q->ls.where[i].value, q->ls.where[i].len);
			if (strlen(q->ls.where[i].field) > OPS_MAX_FIELD ||
			    q->ls.where[i].len > OPS_MAX_VALUE)
				abort();
		}
		break;
	case CTL_FIND:
		inside(q->find.text, q->find.len);
		if (q->find.len == 0 || q->find.len > OPS_MAX_VALUE)
			abort();
		break;
	case CTL_NOTE:
		inside(q->note.text, q->note.len);
		if (q->note.len == 0 || q->note.len > OPS_MAX_VALUE)
			abort();
		break;
	case CTL_UNLOCK:
		inside(q->unlock.pass, q->unlock.len);
		if (q->unlock.len > 4096)
			abort();
		break;
	case CTL_PEER_ADD:
		if (q->peer_add.has_addr &&
		    strncmp(q->peer_add.addr, "tcp://", 6) != 0)
			abort();
		break;
	case CTL_EXPORT: {
		const struct request_export *e = &q->export;

		if ((*e->collection != '\0' && !ops_collection_valid(
		    e->collection, strlen(e->collection))) ||
		    (*e->circle != '\0' &&
		    !ops_field_valid(e->circle, strlen(e->circle))) ||
		    (e->has_subject && (*e->collection || *e->circle)) ||
		    e->limit == 0 || e->limit > CTL_EXPORT_MAX_LIMIT ||
		    (e->has_after && e->after_rkey < 0))
			abort();
		break;
	}
	case CTL_AUDIT: {
		const struct request_audit *a = &q->audit;

		if ((a->has_record && !ops_collection_valid(a->collection,
		    strlen(a->collection))) ||
		    (!a->has_record && *a->collection != '\0') ||
		    a->since_ms > HLC_MS(UINT64_MAX))
			abort();
		break;
	}
	case CTL_IMPORT: {
		const struct request_import *m = &q->import;
		struct request_assign *as = malloc(CTL_MAX_ASSIGNS * sizeof(*as));
		struct wire_reader rows = m->rows;
		char *why = NULL;
		uint32_t n;

		if (as == NULL || !ops_collection_valid(m->collection,
		    strlen(m->collection)) || m->nrows == 0 ||
		    m->nrows > CTL_IMPORT_MAX_ROWS)
			abort();
		/* Every row the decoder took reads again, as the act reads. */
		for (uint32_t i = 0; i < m->nrows; i++) {
			if (request_import_row(&rows, as, &n, &why) != 0 ||
			    n == 0 || n > CTL_MAX_ASSIGNS)
				abort();
			for (uint32_t j = 0; j < n; j++) {
				inside(as[j].field, as[j].field_len);
				inside(as[j].value, as[j].value_len);
				if (as[j].how == CTL_ASSIGN_REM ||
				    !ops_field_valid(as[j].field,
				    as[j].field_len))
					abort();
			}
		}
		if (wire_remaining(&rows) != 0)
			abort();
		free(as);
		break;
	}
	case CTL_CIRCLE_NEW: case CTL_CIRCLE_ADD: case CTL_CIRCLE_USE:
	case CTL_CIRCLE_ROLE: case CTL_CIRCLE_RM: case CTL_CIRCLE_QUARANTINE:
	case CTL_CIRCLE_ACCEPT:
		if (!ops_field_valid(q->circle.name, strlen(q->circle.name)) ||
		    q->circle.role < ROSTER_RELAY ||
		    q->circle.role > ROSTER_ADMIN ||
		    (q->circle.has_seq && (q->circle.seq == 0 ||
		    q->circle.seq > INT64_MAX)))
			abort();
		break;
	case CTL_DEVICE_REVOKE:
		if (q->revoke.reason != NULL) {
			if (q->revoke.reason_len > REQUEST_MAX_REASON)
				abort();
			inside(q->revoke.reason, q->revoke.reason_len);
		}
		break;
	case CTL_PURGE:
		inside(q->purge.reason, q->purge.reason_len);
		if (!ops_collection_valid(q->purge.collection,
		    strlen(q->purge.collection)) || q->purge.reason_len == 0 ||
		    q->purge.reason_len > REQUEST_MAX_REASON)
			abort();
		break;
	case CTL_CIRCLE_RETENTION:
		if (!ops_field_valid(q->retention.name,
		    strlen(q->retention.name)) ||
		    (!q->retention.due && (!ops_collection_valid(
		    q->retention.collection, strlen(q->retention.collection)) ||
		    q->retention.days > REQUEST_MAX_KEEP_DAYS)))
			abort();
		break;
	case CTL_HANDOVER:
		if (memcmp(q->handover.from, q->handover.to,
		    DEVID_KEYLEN) == 0 || (*q->handover.circle != '\0' &&
		    !ops_field_valid(q->handover.circle,
		    strlen(q->handover.circle))))
			abort();
		break;
	}
}

static void
run(request_decode_fn *decode, uint32_t type, struct wire_reader *r)
{
	union request *q = malloc(sizeof(*q));
	char *cause = NULL;
	int rc;

	if (q == NULL)
		abort();
	rc = decode(r, q, &cause);
	if (rc == 0) {
		/* Accepted: nothing to say, and nothing left over. */
		if (cause != NULL || wire_remaining(r) != 0)
			abort();
		check(type, q);
	} else if ((rc != SAMEN_EPROTO && rc != SAMEN_EINVAL) ||
	    cause == NULL || *cause == '\0')
		abort();
	free(cause);
	free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_reader r;
	request_decode_fn *decode;
	char *cause = NULL;
	uint32_t type;
	int rc;

	if (size == 0)
		return 0;
	in_lo = data + 1;
	in_hi = data + size;
	wire_reader_init(&r, data + 1, size - 1);
	if ((decode = request_decoder(data[0])) != NULL) {
		run(decode, data[0], &r);
		return 0;
	}
	rc = request_frame(&r, &type, &cause);
	if (rc != 0) {
		if ((rc != SAMEN_EPROTO && rc != SAMEN_EVERSION) ||
		    cause == NULL)
			abort();
		free(cause);
		return 0;
	}
	if (cause != NULL)
		abort();
	if ((decode = request_decoder(type)) != NULL)
		run(decode, type, &r);
	return 0;
}
