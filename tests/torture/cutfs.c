/* cutfs: a FUSE passthrough for tests that loses, on command, what a power cut would. */
/*
 * cutfs BACKING MOUNTPOINT [-f] [FUSE options]
 *
 * Serves the files of one flat directory, BACKING, at MOUNTPOINT, and
 * passes every operation through to it.  Beside that it remembers what a
 * disk has not been told to keep:
 *
 * - per file (an inode of BACKING): its size at its last fsync or
 *   fdatasync, the bytes every write or truncation since then overwrote
 *   below that size (an undo log, saved once per 4 KiB block), and the
 *   writes and truncations themselves in order (a redo log, with their
 *   bytes);
 * - for the directory: its entries (name -> inode) at its last fsync.  A
 *   file unlinked, or replaced by a rename, while a synced entry still
 *   names it is kept in BACKING/.cutfs-attic/INODE so that a cut can bring
 *   it back.
 *
 * Writing "cut MODE [SEED] [torn]" to MOUNTPOINT/.cutfs is the power cut.
 * The directory gets back its entries of the last sync (a file created
 * since is gone, one unlinked or renamed since is back under its old
 * name), and every file named there gets back its content of its last
 * sync, plus, per MODE:
 *
 *   all       none of the writes since (what kill -9 cannot show);
 *   suffix    its first k writes and truncations since, k random per file
 *             (the rest, a suffix, lost);
 *   subset    each of them kept or lost at random (a disk that reorders).
 *
 * "torn" also writes a random whole number of 512-byte sectors of the
 * first write lost in each file (sector-sized writes stay atomic: torn
 * sectors are not modelled).  After a cut every operation fails with EIO,
 * as on a disk without power, until the file system is unmounted; BACKING
 * then holds what survived, and cutfs can be mounted on it again.
 *
 * "sync" makes everything durable as it is (a clean state to start from).
 * Reading MOUNTPOINT/.cutfs gives counters, one "name value" a line.
 *
 * Not modelled: subdirectories (mkdir is refused), hard and symbolic
 * links (refused), O_DIRECT, mmap-only changes before they reach cutfs as
 * writes (the kernel writes them back when it likes, as a disk's cache
 * would), the order of writes across files, and metadata other than
 * names and sizes (modes and times pass through and are never lost).
 * Operations are handled one at a time (run it with -s, which main()
 * adds), so a cut falls between two of them.
 */
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#define CTL_NAME	".cutfs"
#define ATTIC		".cutfs-attic"
#define HIDDEN		".cutfs"	/* names starting so are cutfs's own */
#define BLK		4096
#define SECTOR		512

/* One write or truncation since the file's last sync. */
struct op {
	off_t off;		/* write: where; truncation: the new size */
	size_t len;		/* write: bytes; truncation: 0 */
	uint8_t *data;		/* write: its bytes; truncation: NULL */
};

/* The bytes a block held at the last sync (up to the synced size). */
struct saved {
	off_t blk;
	size_t len;
	uint8_t *data;
};

struct node {
	ino_t ino;
	off_t dsize;		/* size at the last sync */
	struct saved *undo;
	size_t nundo, capundo;
	uint8_t *have;		/* bitmap: blocks saved in undo */
	size_t nhave;		/* bytes of have */
	struct op *redo;
	size_t nredo, capredo;
	struct node *next;
};

/* A name of the directory at its last sync. */
struct dent {
	char *name;
	ino_t ino;
};

struct open_file {
	int fd;
	ino_t ino;
	int sync_each;		/* O_SYNC or O_DSYNC */
	int ctl;		/* MOUNTPOINT/.cutfs */
};

static struct {
	int bfd;		/* BACKING */
	int afd;		/* BACKING/.cutfs-attic */
	const char *backing;
	struct node *nodes;
	struct dent *dents;
	size_t ndents;
	int dead;		/* after a cut */
	char report[1024];
	uint64_t writes, syncs, dirsyncs, unsynced_ops, unsynced_bytes;
	uint64_t lost_ops, lost_bytes, kept_ops, torn;
	unsigned long long seed, seed0;
} g;

static void die(const char *, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("cutfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		die("out of memory");
	if ((p = realloc(p, n * size != 0 ? n * size : 1)) == NULL)
		die("out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* xorshift64*: the cut's choices, reproducible from the seed. */
static uint64_t
rnd(void)
{
	g.seed ^= g.seed >> 12;
	g.seed ^= g.seed << 25;
	g.seed ^= g.seed >> 27;
	return g.seed * 2685821657736338717ULL;
}

static uint64_t
rnd_below(uint64_t n)
{
	return n == 0 ? 0 : rnd() % n;
}

/* "/name" -> "name"; NULL for the root or a nested path. */
static const char *
leaf(const char *path)
{
	if (path[0] != '/' || path[1] == '\0' || strchr(path + 1, '/'))
		return NULL;
	return path + 1;
}

static int
hidden(const char *name)
{
	return strncmp(name, HIDDEN, strlen(HIDDEN)) == 0;
}

static struct node *
node_get(ino_t ino, off_t size_if_new)
{
	struct node *n;

	for (n = g.nodes; n != NULL; n = n->next)
		if (n->ino == ino)
			return n;
	n = xcalloc(1, sizeof(*n));
	n->ino = ino;
	n->dsize = size_if_new;
	n->next = g.nodes;
	g.nodes = n;
	return n;
}

static struct node *
node_find(ino_t ino)
{
	struct node *n;

	for (n = g.nodes; n != NULL; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

/* Forgets what the file did since its last sync: it is all durable now. */
static void
node_synced(struct node *n, off_t size)
{
	g.unsynced_ops -= n->nredo;
	for (size_t i = 0; i < n->nredo; i++)
		g.unsynced_bytes -= n->redo[i].len;
	for (size_t i = 0; i < n->nundo; i++)
		free(n->undo[i].data);
	for (size_t i = 0; i < n->nredo; i++)
		free(n->redo[i].data);
	free(n->undo);
	free(n->have);
	free(n->redo);
	n->undo = NULL;
	n->have = NULL;
	n->redo = NULL;
	n->nundo = n->capundo = n->nhave = 0;
	n->nredo = n->capredo = 0;
	n->dsize = size;
}

static void
node_forget(ino_t ino)
{
	struct node **pp, *n;

	for (pp = &g.nodes; (n = *pp) != NULL; pp = &n->next)
		if (n->ino == ino) {
			node_synced(n, 0);
			*pp = n->next;
			free(n);
			return;
		}
}

/* Saves the synced bytes of the blocks [from, to) touches, once each. */
static int
node_save(struct node *n, int fd, off_t from, off_t to)
{
	if (to > n->dsize)
		to = n->dsize;
	for (off_t b = from / BLK; b * BLK < to; b++) {
		size_t byte = (size_t)(b / 8);
		struct saved *s;
		ssize_t r;

		if (byte >= n->nhave) {
			size_t want = (size_t)(n->dsize / BLK / 8 + 1);

			n->have = xreallocarray(n->have, want, 1);
			memset(n->have + n->nhave, 0, want - n->nhave);
			n->nhave = want;
		}
		if (n->have[byte] & (1u << (b % 8)))
			continue;
		if (n->nundo == n->capundo) {
			n->capundo = n->capundo ? 2 * n->capundo : 16;
			n->undo = xreallocarray(n->undo, n->capundo,
			    sizeof(*n->undo));
		}
		s = &n->undo[n->nundo];
		s->blk = b;
		s->len = (size_t)(n->dsize - b * BLK < BLK ?
		    n->dsize - b * BLK : BLK);
		s->data = xcalloc(1, s->len);
		r = pread(fd, s->data, s->len, b * BLK);
		if (r < 0) {
			free(s->data);
			return -errno;
		}
		/* Short: the file is shorter now; what is gone was zeros
		 * past a truncation we saved already, or never there. */
		n->nundo++;
		n->have[byte] |= (uint8_t)(1u << (b % 8));
	}
	return 0;
}

static void
node_log(struct node *n, off_t off, const void *data, size_t len)
{
	struct op *o;

	if (n->nredo == n->capredo) {
		n->capredo = n->capredo ? 2 * n->capredo : 16;
		n->redo = xreallocarray(n->redo, n->capredo, sizeof(*n->redo));
	}
	o = &n->redo[n->nredo++];
	o->off = off;
	o->len = len;
	o->data = NULL;
	if (data != NULL) {
		o->data = xcalloc(1, len);
		memcpy(o->data, data, len);
	}
	g.unsynced_ops++;
	g.unsynced_bytes += len;
}

/* A stream over the directory dfd, from its start. */
static DIR *
dir_open(int dfd)
{
	DIR *d;
	int fd;

	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL)
		die("%s: %s", g.backing, strerror(errno));
	rewinddir(d);
	return d;
}

static int
stat_name(const char *name, struct stat *st)
{
	if (fstatat(g.bfd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
		return -errno;
	return 0;
}

/* The directory's entries as they are now: its next synced state. */
static void
dir_sync(void)
{
	DIR *d;
	struct dirent *e;

	for (size_t i = 0; i < g.ndents; i++)
		free(g.dents[i].name);
	g.ndents = 0;
	d = dir_open(g.bfd);
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0 || hidden(e->d_name))
			continue;
		if (stat_name(e->d_name, &st) != 0)
			continue;
		g.dents = xreallocarray(g.dents, g.ndents + 1,
		    sizeof(*g.dents));
		g.dents[g.ndents].name = xstrdup(e->d_name);
		g.dents[g.ndents].ino = st.st_ino;
		g.ndents++;
	}
	closedir(d);
	/* The attic keeps only what a synced name still needs. */
	d = dir_open(g.afd);
	while ((e = readdir(d)) != NULL) {
		ino_t ino = (ino_t)strtoull(e->d_name, NULL, 10);
		int named = 0;

		if (e->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < g.ndents; i++)
			named |= g.dents[i].ino == ino;
		if (!named) {
			unlinkat(g.afd, e->d_name, 0);
			node_forget(ino);
		}
	}
	closedir(d);
	g.dirsyncs++;
}

static int
synced_name(ino_t ino)
{
	for (size_t i = 0; i < g.ndents; i++)
		if (g.dents[i].ino == ino)
			return 1;
	return 0;
}

/* Moves BACKING/name to the attic if a synced entry names its inode;
 * else removes it.  Either way the name is free afterwards. */
static int
retire(const char *name)
{
	struct stat st;
	char an[32];
	int rc;

	if ((rc = stat_name(name, &st)) != 0)
		return rc;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (synced_name(st.st_ino)) {
		snprintf(an, sizeof(an), "%ju", (uintmax_t)st.st_ino);
		if (renameat(g.bfd, name, g.afd, an) == -1)
			return -errno;
		return 0;
	}
	if (unlinkat(g.bfd, name, 0) == -1)
		return -errno;
	return 0;
}

/* Puts a file back as it was at its last sync, then replays what MODE
 * keeps of what it did since. */
static void
restore(struct node *n, int fd, const char *mode, int torn)
{
	size_t keep = 0, first_lost;
	int subset = strcmp(mode, "subset") == 0;

	if (ftruncate(fd, n->dsize) == -1)
		die("restore %ju: %s", (uintmax_t)n->ino, strerror(errno));
	for (size_t i = 0; i < n->nundo; i++) {
		struct saved *s = &n->undo[i];

		if (pwrite(fd, s->data, s->len, s->blk * BLK) !=
		    (ssize_t)s->len)
			die("restore %ju: %s", (uintmax_t)n->ino,
			    strerror(errno));
	}
	if (strcmp(mode, "suffix") == 0)
		keep = (size_t)rnd_below(n->nredo + 1);
	first_lost = n->nredo;
	for (size_t i = 0; i < n->nredo; i++) {
		struct op *o = &n->redo[i];
		int kept = subset ? (int)(rnd() & 1) : i < keep;
		ssize_t w;

		if (!kept) {
			g.lost_ops++;
			g.lost_bytes += o->len;
			if (first_lost == n->nredo)
				first_lost = i;
			continue;
		}
		g.kept_ops++;
		if (o->data == NULL)
			w = ftruncate(fd, o->off) == -1 ? -1 : 0;
		else
			w = pwrite(fd, o->data, o->len, o->off) ==
			    (ssize_t)o->len ? 0 : -1;
		if (w == -1)
			die("replay %ju: %s", (uintmax_t)n->ino,
			    strerror(errno));
	}
	/* A torn write: some whole sectors of the first write lost. */
	if (torn && first_lost < n->nredo && n->redo[first_lost].data) {
		struct op *o = &n->redo[first_lost];
		off_t end = o->off + (off_t)o->len;
		off_t cut = (o->off / SECTOR + 1) * SECTOR;
		uint64_t sectors = 0;

		for (off_t s = cut; s < end; s += SECTOR)
			sectors++;
		cut += (off_t)rnd_below(sectors + 1) * SECTOR;
		if (cut > end)
			cut = end;
		if (rnd() & 1)
			cut = o->off;	/* none of it */
		if (cut > o->off) {
			if (pwrite(fd, o->data, (size_t)(cut - o->off),
			    o->off) != cut - o->off)
				die("tear %ju: %s", (uintmax_t)n->ino,
				    strerror(errno));
			g.torn++;
		}
	}
}

/* The power cut. */
static int
cut(const char *mode, int torn)
{
	DIR *d;
	struct dirent *e;
	int fd;
	uint64_t was_ops = g.unsynced_ops, was_bytes = g.unsynced_bytes;

	if (strcmp(mode, "all") != 0 && strcmp(mode, "suffix") != 0 &&
	    strcmp(mode, "subset") != 0)
		return -EINVAL;
	/* Every current name to the attic (as its inode) or away. */
	d = dir_open(g.bfd);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0 || hidden(e->d_name))
			continue;
		if (retire(e->d_name) != 0)
			die("cut: %s: %s", e->d_name, strerror(errno));
	}
	closedir(d);
	/* Every synced name back, with its synced content. */
	for (size_t i = 0; i < g.ndents; i++) {
		struct dent *de = &g.dents[i];
		struct node *n = node_find(de->ino);
		char an[32];

		snprintf(an, sizeof(an), "%ju", (uintmax_t)de->ino);
		if (renameat(g.afd, an, g.bfd, de->name) == -1)
			die("cut: restore %s: %s", de->name, strerror(errno));
		if (n == NULL)
			continue;	/* untouched since mount */
		if ((fd = openat(g.bfd, de->name, O_RDWR | O_NOFOLLOW)) == -1) {
			/* A socket or a fifo: nothing to restore. */
			continue;
		}
		restore(n, fd, mode, torn);
		close(fd);
	}
	/* What no synced name holds is gone. */
	d = dir_open(g.afd);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlinkat(g.afd, e->d_name, 0);
	closedir(d);
	g.dead = 1;
	snprintf(g.report, sizeof(g.report),
	    "cut %s%s seed=%llu: %" PRIu64 " unsynced ops (%" PRIu64
	    " bytes) lost %" PRIu64 " (%" PRIu64 " bytes) kept %" PRIu64
	    " torn %" PRIu64 "\n", mode, torn ? " torn" : "", g.seed0,
	    was_ops, was_bytes, g.lost_ops, g.lost_bytes, g.kept_ops, g.torn);
	fputs(g.report, stderr);
	return 0;
}

static void
sync_all(void)
{
	struct stat st;

	for (struct node *n = g.nodes; n != NULL; n = n->next)
		node_synced(n, 0);
	dir_sync();
	/* A file's synced size is its size now (one with no name: 0). */
	for (size_t i = 0; i < g.ndents; i++)
		if (stat_name(g.dents[i].name, &st) == 0) {
			struct node *n = node_find(st.st_ino);

			if (n != NULL)
				n->dsize = st.st_size;
		}
	g.unsynced_ops = g.unsynced_bytes = 0;
}

static int
control(const char *buf, size_t len)
{
	char line[256], mode[32] = "", extra[32] = "";
	unsigned long long seed = 0;
	int n;

	if (len >= sizeof(line))
		return -EINVAL;
	memcpy(line, buf, len);
	line[len] = '\0';
	if (strncmp(line, "sync", 4) == 0) {
		sync_all();
		return 0;
	}
	n = sscanf(line, "cut %31s %llu %31s", mode, &seed, extra);
	if (n < 1)
		return -EINVAL;
	if (n >= 2)
		g.seed = seed ? seed : 1;
	g.seed0 = g.seed;
	if (n == 3 && strcmp(extra, "torn") != 0)
		return -EINVAL;
	return cut(mode, n == 3);
}

/* ---- the file system ---------------------------------------------------- */

static int
fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	const char *name = leaf(path);

	if (name != NULL && strcmp(name, CTL_NAME) == 0) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		return 0;
	}
	if (g.dead)
		return -EIO;
	if (fi != NULL && fi->fh != 0) {
		struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

		return fstat(of->fd, st) == -1 ? -errno : 0;
	}
	if (strcmp(path, "/") == 0)
		return fstat(g.bfd, st) == -1 ? -errno : 0;
	if (name == NULL || hidden(name))
		return -ENOENT;
	return stat_name(name, st);
}

static int
fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	DIR *d;
	struct dirent *e;
	int fd;

	(void)off;
	(void)fi;
	(void)flags;
	if (g.dead)
		return -EIO;
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	if ((fd = dup(g.bfd)) == -1)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL)
		if (!hidden(e->d_name))
			fill(buf, e->d_name, NULL, 0, 0);
	closedir(d);
	return 0;
}

static int
open_common(const char *path, int flags, mode_t mode, int create,
    struct fuse_file_info *fi)
{
	const char *name = leaf(path);
	struct open_file *of;
	struct stat st;
	int fd, existed, bflags;

	if (name != NULL && strcmp(name, CTL_NAME) == 0) {
		of = xcalloc(1, sizeof(*of));
		of->fd = -1;
		of->ctl = 1;
		fi->fh = (uintptr_t)of;
		fi->direct_io = 1;
		return 0;
	}
	if (g.dead)
		return -EIO;
	if (name == NULL || hidden(name))
		return create ? -EPERM : -ENOENT;
	existed = stat_name(name, &st) == 0;
	/* O_TRUNC on an existing file is a truncation like any. */
	if (existed && (flags & O_TRUNC) && S_ISREG(st.st_mode)) {
		struct node *n = node_get(st.st_ino, st.st_size);
		int rfd = openat(g.bfd, name, O_RDONLY | O_NOFOLLOW);
		int rc;

		if (rfd == -1)
			return -errno;
		rc = node_save(n, rfd, 0, st.st_size);
		close(rfd);
		if (rc != 0)
			return rc;
		node_log(n, 0, NULL, 0);
	}
	/*
	 * Read access too, for the undo log (a write-only open could not
	 * save what it overwrites), and no O_APPEND: fs_write puts an
	 * appending write at the end itself, and logs it there.
	 */
	bflags = (flags & ~(O_ACCMODE | O_APPEND)) | O_RDWR | O_NOFOLLOW |
	    (create ? O_CREAT : 0);
	if ((fd = openat(g.bfd, name, bflags, mode)) == -1 &&
	    (flags & O_ACCMODE) != O_RDWR && errno == EACCES)
		fd = openat(g.bfd, name, (flags & ~O_APPEND) | O_NOFOLLOW |
		    (create ? O_CREAT : 0), mode);
	if (fd == -1)
		return -errno;
	if (fstat(fd, &st) == -1) {
		int err = errno;

		close(fd);
		return -err;
	}
	/* A new file: nothing of it is durable yet, and whatever cutfs
	 * knew of an earlier file with its inode number is void. */
	if (!existed)
		node_forget(st.st_ino);
	node_get(st.st_ino, existed ? st.st_size : 0);
	of = xcalloc(1, sizeof(*of));
	of->fd = fd;
	of->ino = st.st_ino;
	of->sync_each = (flags & (O_SYNC | O_DSYNC)) != 0;
	fi->fh = (uintptr_t)of;
	return 0;
}

static int
fs_open(const char *path, struct fuse_file_info *fi)
{
	return open_common(path, fi->flags, 0, 0, fi);
}

static int
fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return open_common(path, fi->flags, mode, 1, fi);
}

static int
fs_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	ssize_t r;

	(void)path;
	if (of->ctl) {
		char text[2048];
		size_t len;

		snprintf(text, sizeof(text),
		    "writes %" PRIu64 "\nsyncs %" PRIu64 "\ndirsyncs %" PRIu64
		    "\nunsynced_ops %" PRIu64 "\nunsynced_bytes %" PRIu64
		    "\ndead %d\n%s", g.writes, g.syncs, g.dirsyncs,
		    g.unsynced_ops, g.unsynced_bytes, g.dead, g.report);
		len = strlen(text);
		if ((size_t)off >= len)
			return 0;
		if (size > len - (size_t)off)
			size = len - (size_t)off;
		memcpy(buf, text + off, size);
		return (int)size;
	}
	if (g.dead)
		return -EIO;
	r = pread(of->fd, buf, size, off);
	return r == -1 ? -errno : (int)r;
}

static int
do_fsync(struct open_file *of)
{
	struct stat st;
	struct node *n;

	if (fstat(of->fd, &st) == -1)
		return -errno;
	n = node_get(of->ino, st.st_size);
	node_synced(n, st.st_size);
	g.syncs++;
	return 0;
}

static int
fs_write(const char *path, const char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	struct node *n;
	ssize_t w;
	int rc;

	(void)path;
	if (of->ctl) {
		if (g.dead)
			return -EIO;
		rc = control(buf, size);
		return rc != 0 ? rc : (int)size;
	}
	if (g.dead)
		return -EIO;
	if (fi->flags & O_APPEND) {
		struct stat st;

		if (fstat(of->fd, &st) == -1)
			return -errno;
		off = st.st_size;
	}
	n = node_get(of->ino, 0);
	if ((rc = node_save(n, of->fd, off, off + (off_t)size)) != 0)
		return rc;
	w = pwrite(of->fd, buf, size, off);
	if (w == -1)
		return -errno;
	node_log(n, off, buf, (size_t)w);
	g.writes++;
	if (of->sync_each && (rc = do_fsync(of)) != 0)
		return rc;
	return (int)w;
}

static int
fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct open_file *of = fi ? (struct open_file *)(uintptr_t)fi->fh :
	    NULL;
	const char *name = leaf(path);
	struct node *n;
	struct stat st;
	int fd, rc;

	if ((of != NULL && of->ctl) ||
	    (name != NULL && strcmp(name, CTL_NAME) == 0))
		return 0;	/* echo > .cutfs truncates it first */
	if (g.dead)
		return -EIO;
	if (of != NULL)
		fd = of->fd;
	else if (name == NULL || hidden(name))
		return -ENOENT;
	else if ((fd = openat(g.bfd, name, O_RDWR | O_NOFOLLOW)) == -1)
		return -errno;
	rc = 0;
	if (fstat(fd, &st) == -1)
		rc = -errno;
	if (rc == 0) {
		n = node_get(st.st_ino, st.st_size);
		if (size < st.st_size)
			rc = node_save(n, fd, size, st.st_size);
		if (rc == 0 && ftruncate(fd, size) == -1)
			rc = -errno;
		if (rc == 0)
			node_log(n, size, NULL, 0);
	}
	if (of == NULL)
		close(fd);
	return rc;
}

static int
fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	(void)datasync;		/* fdatasync keeps the size too */
	if (of->ctl)
		return 0;
	if (g.dead)
		return -EIO;
	return do_fsync(of);
}

static int
fs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	if (g.dead)
		return -EIO;
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	dir_sync();
	return 0;
}

static int
fs_release(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	if (of->fd != -1)
		close(of->fd);
	free(of);
	return 0;
}

static int
fs_unlink(const char *path)
{
	const char *name = leaf(path);

	if (g.dead)
		return -EIO;
	if (name == NULL || hidden(name))
		return -ENOENT;
	return retire(name);
}

static int
fs_rename(const char *from, const char *to, unsigned int flags)
{
	const char *a = leaf(from), *b = leaf(to);
	struct stat sa, sb;
	int rc;

	if (g.dead)
		return -EIO;
	if (flags != 0)
		return -EINVAL;
	if (a == NULL || b == NULL || hidden(a) || hidden(b))
		return -EPERM;
	if ((rc = stat_name(a, &sa)) != 0)
		return rc;
	if (stat_name(b, &sb) == 0 && sb.st_ino != sa.st_ino &&
	    (rc = retire(b)) != 0)
		return rc;
	if (renameat(g.bfd, a, g.bfd, b) == -1)
		return -errno;
	return 0;
}

static int
fs_mknod(const char *path, mode_t mode, dev_t rdev)
{
	const char *name = leaf(path);

	if (g.dead)
		return -EIO;
	if (name == NULL || hidden(name))
		return -EPERM;
	if (mknodat(g.bfd, name, mode, rdev) == -1)
		return -errno;
	return 0;
}

static int
fs_mkdir(const char *path, mode_t mode)
{
	(void)path;
	(void)mode;
	return -EPERM;		/* one flat directory: see the top */
}

static int
fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	const char *name = leaf(path);

	(void)fi;
	if (g.dead)
		return -EIO;
	if (strcmp(path, "/") == 0)
		return fchmod(g.bfd, mode) == -1 ? -errno : 0;
	if (name == NULL || hidden(name))
		return -ENOENT;
	return fchmodat(g.bfd, name, mode, 0) == -1 ? -errno : 0;
}

static int
fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	const char *name = leaf(path);

	(void)fi;
	if (g.dead)
		return -EIO;
	if (strcmp(path, "/") == 0)
		return fchown(g.bfd, uid, gid) == -1 ? -errno : 0;
	if (name == NULL || hidden(name))
		return -ENOENT;
	return fchownat(g.bfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == -1 ?
	    -errno : 0;
}

static int
fs_utimens(const char *path, const struct timespec tv[2],
    struct fuse_file_info *fi)
{
	const char *name = leaf(path);

	(void)fi;
	if (g.dead)
		return -EIO;
	if (strcmp(path, "/") == 0)
		return futimens(g.bfd, tv) == -1 ? -errno : 0;
	if (name == NULL || hidden(name))
		return 0;
	return utimensat(g.bfd, name, tv, AT_SYMLINK_NOFOLLOW) == -1 ?
	    -errno : 0;
}

static int
fs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	if (g.dead)
		return -EIO;
	return fstatvfs(g.bfd, sv) == -1 ? -errno : 0;
}

static int
fs_access(const char *path, int mask)
{
	const char *name = leaf(path);

	if (name != NULL && strcmp(name, CTL_NAME) == 0)
		return 0;
	if (g.dead)
		return -EIO;
	if (strcmp(path, "/") == 0)
		return 0;
	if (name == NULL || hidden(name))
		return -ENOENT;
	return faccessat(g.bfd, name, mask, AT_EACCESS) == -1 ? -errno : 0;
}

static void *
fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* Inode numbers are BACKING's: a cut restores names by them. */
	cfg->use_ino = 1;
	/* No cache of names or attributes that a cut would make stale. */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.create = fs_create,
	.read = fs_read,
	.write = fs_write,
	.truncate = fs_truncate,
	.fsync = fs_fsync,
	.fsyncdir = fs_fsyncdir,
	.release = fs_release,
	.unlink = fs_unlink,
	.rename = fs_rename,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.utimens = fs_utimens,
	.statfs = fs_statfs,
	.access = fs_access,
};

int
main(int argc, char *argv[])
{
	char **args;
	int nargs = 0, rc;

	if (argc < 3) {
		fprintf(stderr, "usage: cutfs BACKING MOUNTPOINT [-f] "
		    "[FUSE options]\n");
		return 2;
	}
	g.backing = argv[1];
	if ((g.bfd = open(argv[1], O_RDONLY | O_DIRECTORY)) == -1)
		die("%s: %s", argv[1], strerror(errno));
	if (mkdirat(g.bfd, ATTIC, 0700) == -1 && errno != EEXIST)
		die("%s/%s: %s", argv[1], ATTIC, strerror(errno));
	if ((g.afd = openat(g.bfd, ATTIC, O_RDONLY | O_DIRECTORY)) == -1)
		die("%s/%s: %s", argv[1], ATTIC, strerror(errno));
	g.seed = (unsigned long long)getpid() * 2654435761ULL + 1;
	/* What is there at mount is durable. */
	dir_sync();
	g.dirsyncs = 0;
	args = xcalloc((size_t)argc + 2, sizeof(*args));
	args[nargs++] = argv[0];
	for (int i = 2; i < argc; i++)
		args[nargs++] = argv[i];
	args[nargs++] = "-s";	/* one operation at a time */
	rc = fuse_main(nargs, args, &ops, NULL);
	free(args);
	return rc;
}
