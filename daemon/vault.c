/* vault: the device's key file, and its secrets once unlocked. */
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "devid.h"
#include "error.h"
#include "util.h"

#define MAX_KEYFILE 4096

struct vault {
	uint8_t *file;			/* NULL once revoked */
	size_t len;
	struct keywrap_info info;
	struct keywrap_secrets *secrets;	/* sodium_malloc; NULL if locked */
	int revoked;
};

/* The first line of DIR/revoked; the device id follows it. */
#define REVOKED_MAGIC "samen-revoked-1 "

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

/*
 * DIR/revoked says this device was revoked (vault_revoke): v keeps its
 * public key and nothing else.  A key file left of it (a crash between
 * the two steps) goes now; one of another device is refused.  1 if
 * revoked, 0 if there is no such file, or a negative code and *cause.
 */
static int
open_revoked(struct vault *v, const char *dir, char **cause)
{
	char *path = xasprintf("%s/%s", dir, VAULT_REVOKED_FILE);
	struct keywrap_info info;
	uint8_t *buf, *file;
	size_t len, flen, m = sizeof(REVOKED_MAGIC) - 1;
	int rc;

	rc = read_file(path, &buf, &len);
	free(path);
	if (rc == -ENOENT)
		return 0;
	if (rc == 0) {
		if (len < m + DEVID_TEXTLEN ||
		    memcmp(buf, REVOKED_MAGIC, m) != 0 ||
		    devid_decode(v->info.public_key, (const char *)buf + m,
		    DEVID_TEXTLEN) != 0)
			rc = SAMEN_EKEYFILE;
		free(buf);
	}
	if (rc != 0) {
		*cause = xasprintf("%s/%s: %s", dir, VAULT_REVOKED_FILE,
		    samen_strerror(rc));
		return rc;
	}
	path = xasprintf("%s/%s", dir, VAULT_FILE);
	if (read_file(path, &file, &flen) == 0) {
		rc = keywrap_info(&info, file, flen);
		if (rc == 0 && memcmp(info.public_key, v->info.public_key,
		    32) == 0 && unlink(path) != 0)
			rc = -errno;
		else if (rc == 0 && memcmp(info.public_key,
		    v->info.public_key, 32) != 0)
			rc = SAMEN_EEXIST;
		sodium_memzero(file, flen);
		free(file);
		if (rc != 0) {
			*cause = xasprintf("%s holds the keys of another "
			    "device than the revoked one %s names: %s", dir,
			    VAULT_REVOKED_FILE, samen_strerror(rc));
			free(path);
			return rc;
		}
	}
	free(path);
	v->revoked = 1;
	return 1;
}

int
vault_open(struct vault **out, const char *dir, char **cause)
{
	struct vault *v;
	char *path;
	int rc;

	*cause = NULL;
	v = xcalloc(1, sizeof(*v));
	if ((rc = open_revoked(v, dir, cause)) != 0) {
		if (rc < 0) {
			free(v);
			return rc;
		}
		*out = v;
		return 0;
	}
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
	if (v->file != NULL)
		sodium_memzero(v->file, v->len);
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
	if (v->file == NULL)
		return SAMEN_EKEYFILE;
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

int
vault_revoked(const struct vault *v)
{
	return v->revoked;
}

/* Writes DIR/revoked naming v's device, synced, in place at once. */
static int
write_revoked(const struct vault *v, const char *dir)
{
	char id[DEVID_TEXTLEN + 1], *path, *tmp, *text;
	size_t len;
	int fd, rc = 0;

	devid_encode(id, v->info.public_key);
	text = xasprintf("%s%s\n", REVOKED_MAGIC, id);
	len = strlen(text);
	path = xasprintf("%s/%s", dir, VAULT_REVOKED_FILE);
	tmp = xasprintf("%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		rc = -errno;
	else {
		errno = 0;
		if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
			rc = errno ? -errno : -EIO;
		if (close(fd) != 0 && rc == 0)
			rc = -errno;
	}
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	free(text);
	free(tmp);
	free(path);
	return rc;
}

/* fsync of directory dir: a rename or unlink in it is on disk. */
static int
sync_dir(const char *dir)
{
	int fd, rc = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
vault_revoke(struct vault *v, const char *dir)
{
	char *path;
	int rc;

	vault_lock(v);
	if (v->file != NULL) {
		sodium_memzero(v->file, v->len);
		free(v->file);
		v->file = NULL;
		v->len = 0;
	}
	v->revoked = 1;
	/* The mark first: a crash after it finishes the job at start. */
	if ((rc = write_revoked(v, dir)) != 0)
		return rc;
	path = xasprintf("%s/%s", dir, VAULT_FILE);
	if (unlink(path) != 0 && errno != ENOENT)
		rc = -errno;
	free(path);
	if (rc == 0)
		rc = sync_dir(dir);
	return rc;
}
