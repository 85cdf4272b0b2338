/* datadir: where a device's data directory is, found the same way by samend and samen. */
#include "datadir.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* The length of s without its trailing slashes, keeping a leading one. */
static size_t
trimmed_len(const char *s)
{
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		n--;
	return n;
}

/* base/name, without doubling a slash that ends base. */
static char *
join(const char *base, const char *name)
{
	size_t n = trimmed_len(base);

	if (n == 1 && base[0] == '/')
		n = 0;
	return xasprintf("%.*s/%s", (int)n, base, name);
}

static const char *
env(const char *name)
{
	const char *s = getenv(name);

	return s != NULL && *s != '\0' ? s : NULL;
}

char *
datadir_find(const char *opt)
{
	const struct passwd *pw;
	const char *s;

	if (opt != NULL && *opt != '\0')
		return xstrndup(opt, trimmed_len(opt));
	if ((s = env("SAMEN_HOME")) != NULL)
		return xstrndup(s, trimmed_len(s));
	if ((s = env("XDG_DATA_HOME")) != NULL)
		return join(s, "samen");
	if ((s = env("HOME")) == NULL) {
		if ((pw = getpwuid(getuid())) == NULL || pw->pw_dir == NULL ||
		    *pw->pw_dir == '\0')
			return NULL;
		s = pw->pw_dir;
	}
	return join(s, ".local/share/samen");
}
