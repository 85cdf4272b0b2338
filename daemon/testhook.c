/* testhook: the SAMEND_TEST_* knobs that system tests set, read in one place. */
#include "testhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct testhook hooks;
static int loaded;

static long
env_ms(const char *name)
{
	const char *s = getenv(name);

	return s != NULL ? strtol(s, NULL, 10) : 0;
}

const struct testhook *
testhook(void)
{
	const char *s;

	if (!loaded) {
		hooks.load_delay_ms = env_ms("SAMEND_TEST_LOAD_DELAY_MS");
		hooks.sync_delay_ms = env_ms("SAMEND_TEST_SYNC_DELAY_MS");
		hooks.sync_fail = getenv("SAMEND_TEST_SYNC_FAIL") != NULL;
		hooks.ckpt_sync_fail =
		    getenv("SAMEND_TEST_CKPT_SYNC_FAIL") != NULL;
		hooks.ckpt_delay_ms = env_ms("SAMEND_TEST_CKPT_DELAY_MS");
		hooks.export_page = env_ms("SAMEND_TEST_EXPORT_PAGE");
		hooks.erase_delay_ms = env_ms("SAMEND_TEST_ERASE_DELAY_MS");
		hooks.audit_ship_ms = env_ms("SAMEND_TEST_AUDIT_SHIP_MS");
		hooks.roster_max_ops = env_ms("SAMEND_TEST_ROSTER_MAX_OPS");
		if ((s = getenv("SAMEND_TEST_CLOCK_OFFSET_MS")) != NULL)
			hooks.clock_offset_ms = strtoll(s, NULL, 10);
		hooks.retention_now_file =
		    getenv("SAMEND_TEST_RETENTION_NOW_FILE");
		if ((s = getenv("SAMEND_TEST_AUDIT")) != NULL) {
			hooks.audit_off = strcmp(s, "off") == 0;
			hooks.audit_nosync = strcmp(s, "wal") == 0;
		}
		loaded = 1;
	}
	return &hooks;
}

unsigned long long
testhook_retention_now(void)
{
	const char *path = testhook()->retention_now_file;
	char line[32];
	FILE *f;
	unsigned long long t = 0;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) != NULL)
		t = strtoull(line, NULL, 10);
	fclose(f);
	return t;
}
