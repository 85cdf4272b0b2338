"""The metrics text format, read by Prometheus's own Python parser.

tests/helpers/metricsdump renders every family samend registers
(daemon/metrics.c, metrics_samen) with sample values, and families with
label values that need escaping; the text must parse with
prometheus_client (Debian's python3-prometheus-client) to the values that
went in.  metrics_write_file's output, as node_exporter's textfile
collector reads it, must parse the same.  `samen metrics` itself is
tested once the control protocol serves it.
"""

import math
import os
import stat
import subprocess

import pytest

from conftest import BUILD

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
