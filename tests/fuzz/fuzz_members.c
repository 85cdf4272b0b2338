/* fuzz_members: who counts in a circle, from a members chain's history decoded from the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devid.h"
#include "fixture.h"
#include "members.h"
#include "util.h"

/*
 * Input, msgpack (what mkseeds writes):
 *   [circle bin16, records]
 *   records = array (at most 8) of [collection str, ops]
 *   ops     = array (at most 32) of [author u8, kind u8, field str,
 *             value str | nil, alive bool]
 * author is an index into fixture_device() (FIXTURE_NDEVICES keys), so
 * that a seed's creator can sign its circle id's derivation; kind is
 * enum op_type (its low 3 bits; 0 and 5-7 are no op type: ignored).
 */
#define MAX_RECS 8
#define MAX_OPS 32
#define MAX_STR 256

struct input {
	uint8_t circle[CS_CIRCLELEN];
	struct members_record recs[MAX_RECS];
	struct members_op ops[MAX_RECS][MAX_OPS];
	char *strs[MAX_RECS * (1 + 2 * MAX_OPS)];
	size_t nstrs;
	size_t nrecs;
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_init();
	return 0;
}

static char *
keep(struct input *in, const char *s, size_t n)
{
	return in->strs[in->nstrs++] = xstrndup(s, n);
}

static int
decode(struct input *in, const uint8_t *data, size_t size)
{
	struct wire_reader r;
	uint32_t nrecs;

	wire_reader_init(&r, data, size);
	if (wire_get_array_n(&r, 2) ||
	    wire_get_bin_fixed(&r, in->circle, CS_CIRCLELEN) ||
	    wire_get_array(&r, &nrecs, MAX_RECS))
		return -1;
	for (uint32_t i = 0; i < nrecs; i++) {
		struct members_record *rec = &in->recs[i];
		const char *s;
		size_t n;
		uint32_t nops;

		if (wire_get_array_n(&r, 2) ||
		    wire_get_str(&r, &s, &n, MAX_STR) ||
		    wire_get_array(&r, &nops, MAX_OPS))
			return -1;
		rec->collection = keep(in, s, n);
		rec->ops = in->ops[i];
		rec->nops = nops;
		in->nrecs++;
		for (uint32_t k = 0; k < nops; k++) {
			struct members_op *o = &in->ops[i][k];
			uint8_t author, kind;

			memset(o, 0, sizeof(*o));
			if (wire_get_array_n(&r, 5) ||
			    wire_get_u8(&r, &author) ||
			    wire_get_u8(&r, &kind) ||
			    wire_get_str(&r, &s, &n, MAX_STR))
				return -1;
			o->author = fixture_device(author);
			/* Within the enum's range: 0-7 (1-4 are op types). */
			o->kind = (enum op_type)(kind & 7);
			o->field = keep(in, s, n);
			o->hlc = k;
			if (wire_peek(&r) == WIRE_NIL)
				wire_get_nil(&r);
			else if (wire_get_str(&r, &s, &n, MAX_STR))
				return -1;
			else
				o->value = keep(in, s, n);
			if (wire_get_bool(&r, &o->alive))
				return -1;
		}
	}
	return wire_end(&r);
}

static void
check(const struct members_view *v, const struct input *in)
{
	if (memcmp(v->id, in->circle, CS_CIRCLELEN) != 0)
		abort();
	if (!v->valid) {
		/* No circle, no members, nobody manages it. */
		if (v->nmembers != 0 || v->members != NULL ||
		    members_can_manage(v, v->creator))
			abort();
		return;
	}
	if (!ops_field_valid(v->name, strlen(v->name)) ||
	    !members_can_manage(v, v->creator))
		abort();
	for (size_t i = 0; i < v->nmembers; i++) {
		const struct members_entry *m = &v->members[i];

		/* Only the creator is ever admin. */
		if (m->admin && memcmp(m->device, v->creator, 32) != 0)
			abort();
		if (strlen(m->key1) > MEMBERS_KEY1LEN)
			abort();
		/* One entry per device. */
		if (members_find(v, m->device) != m)
			abort();
		if (members_is_admin(v, m->device) != m->admin)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input *in = calloc(1, sizeof(*in));
	struct members_view v, again;

	if (in == NULL)
		abort();
	if (decode(in, data, size) != 0)
		goto out;
	members_build(&v, in->circle, in->recs, in->nrecs);
	check(&v, in);
	/* The same ops give the same view. */
	members_build(&again, in->circle, in->recs, in->nrecs);
	if (again.valid != v.valid || again.nmembers != v.nmembers ||
	    strcmp(again.name, v.name) != 0 ||
	    memcmp(again.creator, v.creator, 32) != 0 ||
	    (v.nmembers > 0 && memcmp(again.members, v.members,
	    v.nmembers * sizeof(*v.members)) != 0))
		abort();
	members_view_free(&again);
	members_view_free(&v);
out:
	for (size_t i = 0; i < in->nstrs; i++)
		free(in->strs[i]);
	free(in);
	return 0;
}
