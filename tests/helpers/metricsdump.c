/* metricsdump: samend's metric families with sample values, for the text-format parser test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/*
 * tests/system/test_metrics.py feeds what this prints (or, with a PATH,
 * writes there with metrics_write_file) to Python's prometheus_client
 * parser: the families samend registers, every kind of sample, and label
 * values that need escaping.
 *
 *   metricsdump [PATH]
 */
int
main(int argc, char **argv)
{
	static const double bounds[] = { 0.5, 1 };
	static const char *const odd[] = { "value", NULL };
	struct metrics *m = metrics_open();
	struct metrics_samen s;
	struct metric *h, *e;
	const char *peer = "edwpn4alfdgeedwpn4alfdgeedwpn4alfdgeedwpn4alfdgeedwpn4al";
	const char *connected = "connected", *idle = "idle";
	const char *done = "done", *failed = "failed";
	const char *esig = "ESIG", *echain = "ECHAIN";
	const char *nasty = "back\\slash \"quote\"\nnewline é";
	char *text;
	size_t len;
	int rc = 0;

	if (argc > 2) {
		fputs("usage: metricsdump [PATH]\n", stderr);
		return 2;
	}
	metrics_samen(m, &s);
	metrics_set(s.locked, NULL, 0);
	metrics_set(s.records, NULL, 1234);
	metrics_set(s.changesets, NULL, 5678);
	metrics_set(s.quarantine, NULL, 2);
	metrics_set(s.peers, &connected, 1);
	metrics_set(s.peers, &idle, 2);
	metrics_set(s.sync_age, &peer, 12.5);
	metrics_add(s.sessions, &done, 7);
	metrics_add(s.sessions, &failed, 1);
	metrics_add(s.cs_sent, NULL, 10);
	metrics_add(s.cs_received, NULL, 4);
	metrics_add(s.rejected, &esig, 3);
	metrics_add(s.rejected, &echain, 1);
	metrics_add(s.bytes_sent, NULL, 81200);
	metrics_add(s.bytes_received, NULL, 34000);
	metrics_add(s.zap_refusals, NULL, 5);
	metrics_observe(s.commit_seconds, NULL, 0.0004);
	metrics_observe(s.commit_seconds, NULL, 0.003);
	metrics_observe(s.commit_seconds, NULL, 0.003);
	metrics_observe(s.commit_seconds, NULL, 9);
	metrics_observe(s.fsync_seconds, NULL, 0.0021);
	/* Not samend's: the corners of the format. */
	e = metrics_gauge(m, "test_escaped", "help with \\ and\nnewline", odd);
	metrics_set(e, &nasty, -1.5);
	h = metrics_histogram(m, "test_labelled_seconds", "a histogram "
	    "with labels", odd, bounds, 2);
	metrics_observe(h, &idle, 0.75);
	text = metrics_render(m, &len);
	if (argc == 2) {
		if ((rc = metrics_write_file(argv[1], text, len)) != 0)
			fprintf(stderr, "metricsdump: %s: %s\n", argv[1],
			    strerror(-rc));
	} else if (fwrite(text, 1, len, stdout) != len)
		rc = -1;
	free(text);
	metrics_close(m);
	return rc == 0 ? 0 : 1;
}
