/* keyfile: the device's key file on disk, and the data directory that holds it. */
#include "keyfile.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "util.h"

static int
os_error(const char *what, char **cause)
{
	int err = errno;

	*cause = xasprintf("%s: %s", what, strerror(err));
	return -err;
}

int
keyfile_exists(const char *dir, char **cause)
{
	char *path = xasprintf("%s/%s", dir, KEYFILE_NAME);
	struct stat sb;
	int rc = 1;

	if (lstat(path, &sb) != 0)
		rc = errno == ENOENT || errno == ENOTDIR ? 0 :
		    os_error(path, cause);
	free(path);
	return rc;
}

int
keyfile_read(const char *dir, uint8_t **buf, size_t *len)
{
	char *path = xasprintf("%s/%s", dir, KEYFILE_NAME);
	uint8_t *p;
	size_t n = 0;
	ssize_t r;
	int fd, rc = 0;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return -errno;
	p = xmalloc(KEYFILE_MAX + 1);
	while (n <= KEYFILE_MAX &&
	    (r = read(fd, p + n, KEYFILE_MAX + 1 - n)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	if (rc == 0 && n > KEYFILE_MAX)
		rc = SAMEN_EKEYFILE;
	if (rc != 0) {
		free(p);
		return rc;
	}
	*buf = p;
	*len = n;
	return 0;
}

int
keyfile_write(const char *dir, const uint8_t *p, size_t n, char **cause)
{
	char *path = xasprintf("%s/%s", dir, KEYFILE_NAME);
	char *tmp = xasprintf("%s.tmp", path);
	const char *what = tmp;
	size_t off = 0;
	ssize_t r;
	int fd, dfd, err = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		err = errno;
		goto out;
	}
	/* A stale temporary file keeps its old mode through O_TRUNC. */
	if (fchmod(fd, 0600) == -1)
		err = errno;
	while (err == 0 && off < n) {
		if ((r = write(fd, p + off, n - off)) == -1) {
			if (errno != EINTR)
				err = errno;
			continue;
		}
		off += (size_t)r;
	}
	if (err == 0 && fsync(fd) == -1)
		err = errno;
	if (close(fd) == -1 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, path) == -1)
		err = errno;
	if (err != 0) {
		unlink(tmp);
		goto out;
	}
	/* The rename itself is durable only once the directory is synced. */
	what = dir;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1)
		err = errno;
	if (dfd != -1)
		close(dfd);
out:
	if (err != 0)
		*cause = xasprintf("%s: %s", what, strerror(err));
	free(tmp);
	free(path);
	return -err;
}

static int
dir_is_empty(const char *path)
{
	DIR *d;
	struct dirent *de;
	int empty = 1;

	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

int
keyfile_make_dir(const char *dir, char **cause)
{
	char *p = xstrdup(dir), *s;
	struct stat sb;
	int rc;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) == -1 && errno != EEXIST) {
			rc = os_error(p, cause);
			free(p);
			return rc;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(dir, 0700) == 0) {
		/* The umask may have taken bits we want. */
		if (chmod(dir, 0700) == -1)
			return os_error(dir, cause);
		return 0;
	}
	if (errno != EEXIST)
		return os_error(dir, cause);
	if (stat(dir, &sb) == -1)
		return os_error(dir, cause);
	if (!S_ISDIR(sb.st_mode)) {
		*cause = xasprintf("%s: not a directory", dir);
		return -ENOTDIR;
	}
	if ((sb.st_mode & 07777) != 0700 && dir_is_empty(dir) &&
	    chmod(dir, 0700) == -1)
		return os_error(dir, cause);
	return 0;
}
