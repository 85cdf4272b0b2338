/* testhook: the SAMEND_TEST_* knobs that system tests set, read in one place. */
#include "testhook.h"

#include <stdlib.h>

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
	if (!loaded) {
		hooks.load_delay_ms = env_ms("SAMEND_TEST_LOAD_DELAY_MS");
		hooks.sync_delay_ms = env_ms("SAMEND_TEST_SYNC_DELAY_MS");
		hooks.sync_fail = getenv("SAMEND_TEST_SYNC_FAIL") != NULL;
		hooks.ckpt_sync_fail =
		    getenv("SAMEND_TEST_CKPT_SYNC_FAIL") != NULL;
		hooks.export_page = env_ms("SAMEND_TEST_EXPORT_PAGE");
		loaded = 1;
	}
	return &hooks;
}
