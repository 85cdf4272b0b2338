"""The metrics, read by Prometheus's own Python parser.

tests/helpers/metricsdump renders every family samend registers
(daemon/metrics.c, metrics_samen) with sample values, and families with
label values that need escaping; the text must parse with
prometheus_client (Debian's python3-prometheus-client) to the values that
went in.  metrics_write_file's output, as node_exporter's textfile
collector reads it, must parse the same.  Then the real thing: `samen
metrics` of daemons that wrote, synced and refused a stranger, locked and
unlocked, and the file `metrics_file` has samend write and remove.
"""

import math
import os
import stat
import subprocess

import pytest

from conftest import BUILD, LOCKED, OK, wait_until

from prometheus_client.parser import text_string_to_metric_families

DUMP = BUILD / "tests" / "helpers" / "metricsdump"

PEER = "edwpn4alfdge" * 4 + "edwpn4al"


def dump(*args):
    r = subprocess.run([str(DUMP), *map(str, args)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    return r.stdout


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(fams, family, name=None, **labels):
    for s in fams[family].samples:
        if s.name == (name or family) and s.labels == labels:
            return s.value
    raise AssertionError(f"no sample {name or family}{labels} in {family}: "
                         f"{fams[family].samples}")


def check_shape(text):
    """What the parser forgives but the format requires: HELP then TYPE
    before a family's samples, each family once, no blank lines, the last
    line ended."""
    assert text.endswith("\n")
    seen, current = set(), None
    lines = text.split("\n")[:-1]
    for i, line in enumerate(lines):
        assert line, f"blank line {i + 1}"
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in seen, f"{name} twice"
            assert lines[i + 1].startswith(f"# TYPE {name} "), line
            seen.add(name)
            current = name
        elif line.startswith("# TYPE "):
            assert line.split(" ")[2] == current, line
        else:
            assert current is not None and line.startswith(current), line


def check_histogram(fam):
    """Buckets cumulative, in increasing le, +Inf last and equal to
    _count; per label set."""
    groups = {}
    for s in fam.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        groups.setdefault(key, []).append(s)
    for key, samples in groups.items():
        buckets = [s for s in samples if s.name.endswith("_bucket")]
        count = [s.value for s in samples if s.name.endswith("_count")]
        sums = [s.value for s in samples if s.name.endswith("_sum")]
        assert len(count) == 1 and len(sums) == 1, samples
        les = [float(s.labels["le"]) for s in buckets]
        assert les == sorted(les) and les[-1] == math.inf, les
        values = [s.value for s in buckets]
        assert values == sorted(values), values
        assert values[-1] == count[0], (values, count)


def test_every_family_parses():
    text = dump()
    check_shape(text)
    fams = families(text)
    types = {
        "samen_info": "gauge", "samen_locked": "gauge",
        "samen_records": "gauge", "samen_changesets": "gauge",
        "samen_quarantine_changesets": "gauge", "samen_peers": "gauge",
        "samen_peer_last_sync_age_seconds": "gauge",
        # The parser names a counter's family without "_total".
        "samen_sync_sessions": "counter", "samen_changesets_sent": "counter",
        "samen_changesets_received": "counter",
        "samen_changesets_rejected": "counter",
        "samen_sync_sent_bytes": "counter",
        "samen_sync_received_bytes": "counter",
        "samen_zap_refusals": "counter",
        "samen_commit_seconds": "histogram",
        "samen_fsync_seconds": "histogram",
    }
    for name, typ in types.items():
        assert name in fams, f"{name} missing from\n{text}"
        assert fams[name].type == typ, (name, fams[name].type)
        assert fams[name].documentation, name
    samen = {n for n in fams if n.startswith("samen_")}
    assert samen == set(types), samen ^ set(types)

    v = samen_version()
    assert sample(fams, "samen_info", version=v[0], protocol=v[1],
                  schema=v[2]) == 1
    assert sample(fams, "samen_records") == 1234
    assert sample(fams, "samen_peers", state="idle") == 2
    assert sample(fams, "samen_peer_last_sync_age_seconds", peer=PEER) == 12.5
    assert sample(fams, "samen_changesets_rejected",
                  "samen_changesets_rejected_total", reason="ESIG") == 3
    assert sample(fams, "samen_sync_sessions", "samen_sync_sessions_total",
                  result="failed") == 1
    assert sample(fams, "samen_sync_sent_bytes",
                  "samen_sync_sent_bytes_total") == 81200

    for name in ("samen_commit_seconds", "samen_fsync_seconds",
                 "test_labelled_seconds"):
        check_histogram(fams[name])
    assert sample(fams, "samen_commit_seconds", "samen_commit_seconds_bucket",
                  le="0.005") == 3
    assert sample(fams, "samen_commit_seconds",
                  "samen_commit_seconds_count") == 4
    assert sample(fams, "samen_commit_seconds",
                  "samen_commit_seconds_sum") == pytest.approx(9.0064)
    assert sample(fams, "test_labelled_seconds",
                  "test_labelled_seconds_bucket", value="idle", le="1") == 1


def test_escaping_round_trips():
    fams = families(dump())
    esc = fams["test_escaped"]
    assert esc.documentation == "help with \\ and\nnewline"
    assert esc.samples[0].labels == {
        "value": "back\\slash \"quote\"\nnewline \u00e9"}
    assert esc.samples[0].value == -1.5


def test_file_for_the_textfile_collector(tmp_path):
    path = tmp_path / "samen.prom"
    old = os.umask(0o077)   # samend's
    try:
        dump(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    # Nothing else beside it: the temporary file was renamed.
    assert [p.name for p in tmp_path.iterdir()] == ["samen.prom"]
    text = path.read_text()
    assert text == dump()
    families(text)


def samen_version():
    """(version, protocol, schema) as `samen --version` prints them."""
    out = subprocess.run([str(BUILD / "samen"), "--version"],
                         capture_output=True, text=True, check=True).stdout
    # "samen 0.1.0 (protocol 1, schema 6)"
    words = out.replace("(", " ").replace(")", " ").replace(",", " ").split()
    assert words[0] == "samen" and words[2] == "protocol" \
        and words[4] == "schema", out
    return words[1], words[3], words[5]


# samen metrics and metrics_file: daemons at work.

def metrics_of(node, **kw):
    """samen metrics of node: its text checked for shape, parsed."""
    text = node.samen("metrics", **kw).out
    check_shape(text)
    return families(text)


def value(fams, family, name=None, **labels):
    """A sample's value, or None if there is no such sample."""
    try:
        return sample(fams, family, name, **labels)
    except AssertionError:
        return None


def hist_count(fams, family):
    return sample(fams, family, family + "_count")


def test_samen_metrics_counts_the_traffic(cluster):
    """Two daemons write, sync and refuse a third: samen metrics on each
    shows what moved, in numbers that agree with status and peer ls."""
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    cluster.team(a, [b])
    for i in range(5):
        a.put("case", f"name=metrics {i}")
    r = b.sync(a)
    assert r.json[0]["session"]["state"] == "done", r
    assert len(b.ls("case")) == 5

    fa, fb = metrics_of(a), metrics_of(b)
    for n, f in ((a, fa), (b, fb)):
        for family in ("samen_commit_seconds", "samen_fsync_seconds"):
            check_histogram(f[family])
        st = n.status()
        assert sample(f, "samen_records") == st["records"], n.name
        assert sample(f, "samen_changesets") == st["changesets"], n.name
        assert sample(f, "samen_locked") == 0
        assert sample(f, "samen_quarantine_changesets") == 0
        v = samen_version()
        assert sample(f, "samen_info", version=v[0], protocol=v[1],
                      schema=v[2]) == 1
        # Every write commits; the puts' commits are lazy, synced apart.
        assert hist_count(f, "samen_commit_seconds") > 0, n.name
        # Each peer has the other's address: connected, synced just now.
        assert sample(f, "samen_peers", state="connected") == 1, n.name
        other = b if n is a else a
        age = sample(f, "samen_peer_last_sync_age_seconds",
                     peer=other.device)
        assert 0 <= age < 120, age
    # The five cases, and the circle's own records.
    assert sample(fa, "samen_records") >= 5
    assert hist_count(fa, "samen_fsync_seconds") > 0
    # b started its sessions with a, which answered them.
    assert sample(fb, "samen_sync_sessions",
                  "samen_sync_sessions_total", result="done") >= 1
    assert sample(fb, "samen_sync_sessions",
                  "samen_sync_sessions_total", result="failed") == 0
    received = sample(fb, "samen_changesets_received",
                      "samen_changesets_received_total")
    sent = sample(fa, "samen_changesets_sent",
                  "samen_changesets_sent_total")
    assert received >= 5 and sent >= 5, (received, sent)
    # What b counts as received, it holds: a's own change sets at least.
    assert received <= sample(fb, "samen_changesets")
    assert sample(fb, "samen_sync_received_bytes",
                  "samen_sync_received_bytes_total") > 0
    assert sample(fa, "samen_sync_sent_bytes",
                  "samen_sync_sent_bytes_total") > 0
    assert fb["samen_changesets_rejected"].samples == []
    assert sample(fa, "samen_zap_refusals", "samen_zap_refusals_total") == 0

    # A stranger connects: a refuses it at the handshake, and counts it.
    c = cluster.sync_node("c")
    c.peer_add(a)
    wait_until(lambda: value(metrics_of(a), "samen_zap_refusals",
                             "samen_zap_refusals_total"), 30,
               "a to count c's refused connection")
    assert a.status()["zap_refused"] >= 1

    # --json: one document, the same families.
    doc = a.samen("metrics", json=True).json
    assert set(doc) == {"text"}
    assert set(families(doc["text"])) == set(fa)


def test_samen_metrics_while_locked(cluster):
    """A locked daemon answers samen metrics (no key needed for counts or
    its lock state), and its metrics_file (relative: in the data
    directory) says locked until it is unlocked."""
    n = cluster.node("a")
    n.init(passphrase="correct horse")
    n.configure(metrics_file="samen.prom", metrics_interval=1)
    n.start()
    f = metrics_of(n)
    assert sample(f, "samen_locked") == 1
    assert sample(f, "samen_records") == 0
    prom = n.dir / "samen.prom"
    wait_until(prom.exists, 30, "the metrics file")
    assert sample(families(prom.read_text()), "samen_locked") == 1
    n.samen("put", "case", "name=x", rc=LOCKED)
    n.unlock()
    n.put("case", "name=after unlock")

    def unlocked_in_file():
        f = families(prom.read_text())
        return sample(f, "samen_locked") == 0 and \
            sample(f, "samen_records") == 1
    wait_until(unlocked_in_file, 30, "the file to say unlocked, 1 record")
    f = metrics_of(n)
    assert sample(f, "samen_locked") == 0
    assert sample(f, "samen_records") == 1


def test_metrics_file(cluster):
    """metrics_file = PATH: samend writes the text there at once, then
    every metrics_interval seconds, replaced whole (mode 0644, nothing
    left beside it), and removes it when it stops."""
    n = cluster.node("a")
    n.init()
    out = cluster.root / "textfile"
    out.mkdir()
    prom = out / "samen.prom"
    n.configure(metrics_file=prom, metrics_interval=1)
    n.start()
    wait_until(prom.exists, 30, "the metrics file")
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644
    text = prom.read_text()
    check_shape(text)
    f = families(text)
    assert sample(f, "samen_records") == 0
    assert sample(f, "samen_locked") == 0

    # It follows what happens: a write shows within a few intervals.
    n.put("case", "name=one")
    n.put("case", "name=two")

    def two_records():
        f = families(prom.read_text())
        return sample(f, "samen_records") == 2 and f
    f = wait_until(two_records, 30, "the file to show 2 records")
    assert hist_count(f, "samen_commit_seconds") >= 2
    # Whatever moment it is read, it is whole: renamed into place.
    for _ in range(20):
        check_shape(prom.read_text())
    assert [p.name for p in out.iterdir()] == ["samen.prom"]

    n.stop()
    assert not prom.exists()
    assert list(out.iterdir()) == []
    assert "metrics to " + str(prom) in n.log_text()


def test_status_of_this_build_has_no_version_warning(node):
    """samen and samend of one build agree: status says nothing about
    versions, and reports the schema beside version and protocol."""
    v = samen_version()
    r = node.samen("status")
    assert "warning: this samen" not in r.err, r
    assert "schema:" in r.out, r
    st = node.status()
    assert (st["version"], str(st["protocol"]), str(st["schema"])) == v
    r = node.samen("status", json=True)
    assert "warning: this samen" not in r.err, r
