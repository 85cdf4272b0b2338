/* metricsfile: samend's metrics written to a file every few seconds, for node_exporter. */
#include "metricsfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "util.h"

struct job {
	uv_work_t work;
	struct metricsfile *mf;
	char *text;
	size_t len;
	int rc;
};

struct metricsfile {
	uv_loop_t *loop;
	uv_timer_t timer;
	struct metrics *m;
	char *path;
	metricsfile_collect_cb *collect;
	void *arg;
	struct job *job;	/* the write on the pool, or NULL */
	int last_rc;		/* of the last write: log changes only */
	int closing;
	int timer_open;
};

static void
maybe_free(struct metricsfile *mf)
{
	if (!mf->closing || mf->timer_open || mf->job != NULL)
		return;
	/* After the last write: it would bring the file back. */
	if (unlink(mf->path) != 0 && errno != ENOENT)
		log_warn("%s", mf->path);
	free(mf->path);
	free(mf);
}

static void
work_cb(uv_work_t *w)
{
	struct job *j = w->data;

	j->rc = metrics_write_file(j->mf->path, j->text, j->len);
}

static void
done_cb(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct metricsfile *mf = j->mf;
	int rc = status != 0 ? status : j->rc;

	mf->job = NULL;
	if (rc != mf->last_rc) {
		if (rc != 0)
			log_warnx("metrics_file %s: %s (trying again every "
			    "interval)", mf->path, samen_strerror(rc));
		else
			log_info("metrics_file %s: written again", mf->path);
		mf->last_rc = rc;
	}
	free(j->text);
	free(j);
	maybe_free(mf);
}

static void
timer_cb(uv_timer_t *h)
{
	struct metricsfile *mf = h->data;
	struct job *j;

	if (mf->job != NULL)
		return;		/* the disk is slow: skip a beat */
	if (mf->collect != NULL)
		mf->collect(mf->arg);
	j = xcalloc(1, sizeof(*j));
	j->mf = mf;
	j->text = metrics_render(mf->m, &j->len);
	j->work.data = j;
	if (uv_queue_work(mf->loop, &j->work, work_cb, done_cb) != 0) {
		free(j->text);
		free(j);
		return;
	}
	mf->job = j;
}

static void
close_cb(uv_handle_t *h)
{
	struct metricsfile *mf = h->data;

	mf->timer_open = 0;
	maybe_free(mf);
}

int
metricsfile_open(struct metricsfile **out, uv_loop_t *loop,
    struct metrics *m, const char *dir, const char *path,
    unsigned interval_ms, metricsfile_collect_cb *collect, void *arg,
    char **cause)
{
	struct metricsfile *mf;
	int rc;

	*out = NULL;
	*cause = NULL;
	if (*path == '\0' || path[strlen(path) - 1] == '/') {
		*cause = xasprintf("metrics_file \"%s\" names no file", path);
		return SAMEN_EINVAL;
	}
	mf = xcalloc(1, sizeof(*mf));
	mf->loop = loop;
	mf->m = m;
	mf->path = path[0] == '/' || dir == NULL ? xstrdup(path) :
	    xasprintf("%s/%s", dir, path);
	mf->collect = collect;
	mf->arg = arg;
	if ((rc = uv_timer_init(loop, &mf->timer)) != 0) {
		*cause = xasprintf("metrics_file timer: %s", uv_strerror(rc));
		free(mf->path);
		free(mf);
		return rc;
	}
	mf->timer.data = mf;
	mf->timer_open = 1;
	uv_timer_start(&mf->timer, timer_cb, 0, interval_ms ? interval_ms : 1);
	*out = mf;
	return 0;
}

void
metricsfile_close(struct metricsfile *mf)
{
	if (mf == NULL)
		return;
	mf->closing = 1;
	uv_timer_stop(&mf->timer);
	uv_close((uv_handle_t *)&mf->timer, close_cb);
	/* A write still on the pool has its own copy of the text. */
	mf->m = NULL;
}

const char *
metricsfile_path(const struct metricsfile *mf)
{
	return mf->path;
}
