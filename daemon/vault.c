/* vault: the device's key file, and its secrets once unlocked. */
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "error.h"
#include "util.h"

#define MAX_KEYFILE 4096

struct vault {
	uint8_t *file;
	size_t len;
	struct keywrap_info info;
	struct keywrap_secrets *secrets;	/* sodium_malloc; NULL if locked */
};

static int
read_file(const char *path, uint8_t **out, size_t *len)
{
	uint8_t *buf;
	ssize_t n;
	size_t got = 0;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	buf = xmalloc(MAX_KEYFILE + 1);
	while ((n = read(fd, buf + got, MAX_KEYFILE + 1 - got)) > 0)
		got += (size_t)n;
	saved = errno;
	close(fd);
	if (n < 0) {
		free(buf);
		return -saved;
	}
	if (got > MAX_KEYFILE) {
		free(buf);
		return SAMEN_EKEYFILE;
	}
	*out = buf;
	*len = got;
	return 0;
}

int
vault_open(struct vault **out, const char *dir, char **cause)
{
	struct vault *v;
	char *path;
	int rc;

	*cause = NULL;
	v = xcalloc(1, sizeof(*v));
	path = xasprintf("%s/%s", dir, VAULT_FILE);
	if ((rc = read_file(path, &v->file, &v->len)) != 0) {
		if (rc == -ENOENT)
			*cause = xasprintf("%s has no device identity (no %s): "
			    "run 'samen -d %s init' first", dir, VAULT_FILE,
			    dir);
		else
			*cause = xasprintf("%s: %s", path, samen_strerror(rc));
		goto fail;
	}
	if ((rc = keywrap_info(&v->info, v->file, v->len)) != 0) {
		*cause = xasprintf("%s: %s", path, samen_strerror(rc));
		goto fail;
	}
	free(path);
	*out = v;
	return 0;
fail:
	free(path);
	free(v->file);
	free(v);
	return rc;
}

void
vault_close(struct vault *v)
{
	if (v == NULL)
		return;
	if (v->secrets)
		sodium_free(v->secrets);	/* wipes */
	free(v->file);
	free(v);
}

const uint8_t *
vault_public_key(const struct vault *v)
{
	return v->info.public_key;
}

int
vault_has_passphrase(const struct vault *v)
{
	return v->info.kdf != KEYWRAP_KDF_NONE;
}

int
vault_locked(const struct vault *v)
{
	return v->secrets == NULL;
}

int
vault_try(const struct vault *v, const char *passphrase, size_t len,
    struct keywrap_secrets *s)
{
	return keywrap_open(s, v->file, v->len, passphrase, len);
}

void
vault_install(struct vault *v, struct keywrap_secrets *s)
{
	if (v->secrets == NULL) {
		v->secrets = sodium_malloc(sizeof(*v->secrets));
		if (v->secrets == NULL)
			die_oom(sizeof(*v->secrets));
	}
	memcpy(v->secrets, s, sizeof(*s));
	sodium_memzero(s, sizeof(*s));
}

void
vault_lock(struct vault *v)
{
	if (v->secrets == NULL)
		return;
	sodium_free(v->secrets);	/* wipes */
	v->secrets = NULL;
}

const uint8_t *
vault_sign_sk(const struct vault *v)
{
	return v->secrets ? v->secrets->sign_sk : NULL;
}

const uint8_t *
vault_storage_key(const struct vault *v)
{
	return v->secrets ? v->secrets->storage_key : NULL;
}
