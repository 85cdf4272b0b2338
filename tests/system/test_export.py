"""Export and import through the real CLI: CSV, JSON and NDJSON, the round
trip, every refusal of import with its line, paging, and a case's whole
file (--subject) as JSON and as a page rendered in headless Chromium.

CSV is read back with Python's csv module, which is what a spreadsheet or a
script on the other end will do, and the rows are compared with what
samen ls --json says, by the rules docs/cli.md gives (so the rules and the
code are checked against each other).
"""

import csv
import io
import json
import os
import pty
import re
import select
import shutil
import stat
import subprocess
import time

import pytest

from conftest import BUILD, FAIL, OK, RID_RE, SAMEN, TIME_RE, USAGE

LONG = "lang " + "x" * 60000
AWKWARD = {
    "quote": 'Familie "de Vries", Noord',
    "lines": "regel 1\nregel 2",
    "crlf": "windows\r\nregel",
    "emoji": "\U0001F3E0 Çağla — één café",
    "spaces": "  voor en achter  ",
    "comma": ",",
    "backslash": "C:\\pad\\;niet een set",
}
TAGS = ["a;b", "back\\slash", "plain", ";", "\\"]


# Helpers: the rules of docs/cli.md, written again in Python.

def split_set(cell):
    """A set cell's elements: ';' separates, '\\' escapes '\\' and ';'."""
    if cell == "":
        return []
    out, cur, i = [], "", 0
    while i < len(cell):
        c = cell[i]
        if c == "\\":
            assert cell[i + 1] in "\\;", cell
            cur += cell[i + 1]
            i += 2
            continue
        if c == ";":
            out.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    out.append(cur)
    return sorted(set(out))


def join_set(elems):
    if elems == [""]:
        return ";"
    return ";".join(e.replace("\\", "\\\\").replace(";", "\\;")
                    for e in sorted(elems, key=lambda e: e.encode()))


def expected_table(records, with_collection=False):
    """The CSV export of records (ls --json bodies), by the rules."""
    cols = sorted({(k, False) for r in records for k in r["fields"]} |
                  {(k, True) for r in records for k in r["sets"]},
                  key=lambda c: (c[0].encode(), c[1]))
    header = (["_collection"] if with_collection else []) + ["_id"] + \
        [n + ("[]" if s else "") for n, s in cols] + ["_conflicts"]
    rows = []
    for r in records:
        row = ([r["collection"]] if with_collection else []) + [r["id"]]
        for n, s in cols:
            row.append(join_set(r["sets"].get(n, [])) if s
                       else r["fields"].get(n, ""))
        row.append(";".join(c["field"] or "_deleted"
                            for c in r["conflicts"]))
        rows.append(row)
    return header, rows


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def parse_csv(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def without_ids(table):
    """Rows without the _id column (new records get new ids)."""
    i = table[0].index("_id")
    return [r[:i] + r[i + 1:] for r in table]


def put_awkward(node, n=3):
    """n cases with awkward values (the first has them all), and two notes
    and a task in other collections."""
    ids = []
    for k in range(n):
        args = ["case", f"name=Case {k}", f"nr={k:03d}"]
        if k == 0:
            args += [f"{f}={v}" for f, v in AWKWARD.items()]
            args += [f"tags+={t}" for t in TAGS]
            args += [f"long={LONG}", "empty="]
        else:
            args += ["tags+=plain", "empty=niet leeg"]
        ids.append(node.put(*args))
    node.samen("note", ids[0], "een notitie")
    node.put("task", "title=bellen", f"case={ids[0]}")
    return ids


def count(node):
    return node.status()["records"]


# CSV

def test_csv_parses_with_python_and_follows_the_rules(node, cluster):
    put_awkward(node)
    path = cluster.root / "cases.csv"
    r = node.samen("export", "case", "-o", path)
    assert r.out == f"3 records exported to {path}\n" and r.err == "", r
    raw = path.read_bytes()
    # RFC 4180: every row ends in CRLF; a CRLF inside a value stays one.
    assert raw.endswith(b"\r\n") and b"windows\r\nregel" in raw
    table = read_csv(path)
    recs = node.ls("case")
    header, rows = expected_table(recs)
    assert table[0] == header
    assert table[1:] == rows
    # The values themselves, as put: the first case's row.
    row = dict(zip(table[0], table[1]))
    for f, v in AWKWARD.items():
        assert row[f] == v, f
    assert row["long"] == LONG
    assert row["empty"] == ""
    assert split_set(row["tags[]"]) == sorted(TAGS)
    assert row["_id"] == recs[0]["id"] and RID_RE.match(row["_id"])
    assert row["_conflicts"] == ""

    # stdout is the same bytes as the file.
    assert node.samen("export", "case").out.encode() == raw

    # Every collection: a _collection column, oldest first.
    table = parse_csv(node.samen("export").out)
    everything = node.ls("case") + node.ls("note") + node.ls("task")
    everything.sort(key=lambda r: r["id"])
    assert table[0][0] == "_collection"
    assert (table[0], table[1:]) == expected_table(everything, True)


def test_conflicts_column(cluster):
    a = cluster.sync_node("a")
    b = cluster.sync_node("b")
    cluster.team(a, [b])
    rid = a.put("case", "name=Jansen", "status=open")
    b.sync(a)
    a.samen("put", "case", rid, "status=gesloten")
    b.samen("put", "case", rid, "status=in behandeling")
    b.sync(a)
    table = parse_csv(b.samen("export", "case").out)
    row = dict(zip(table[0], table[1]))
    assert row["_conflicts"] == "status"
    assert row["status"] == b.get("case", rid)["fields"]["status"]


# The round trip

def test_round_trip_same_rows(cluster):
    a = cluster.node("a")
    a.init()
    a.start()
    put_awkward(a, n=4)
    path = cluster.root / "cases.csv"
    a.samen("export", "case", "-o", path)
    first = read_csv(path)

    # Into another collection of the same device.
    r = a.samen("import", "copy", path, json=True)
    body = r.json
    assert body["collection"] == "copy" and body["rows"] == 4
    assert body["imported"] == 4 and body["dry_run"] is False
    assert all(RID_RE.match(i) for i in body["ids"])
    # New records get new ids, in the rows' order.
    assert not set(body["ids"]) & {row[0] for row in first[1:]}
    assert [x["id"] for x in a.ls("copy")] == body["ids"]
    again = parse_csv(a.samen("export", "copy").out)
    assert without_ids(again) == without_ids(first)

    # Into another device.
    b = cluster.node("b")
    b.init()
    b.start()
    r = b.samen("import", "case", path)
    assert r.out == "4 records imported into case\n", r
    assert without_ids(parse_csv(b.samen("export", "case").out)) == \
        without_ids(first)
    # And the export of the copy imports again: the round trip repeats.
    b.samen("export", "case", "-o", cluster.root / "b.csv")
    b.samen("import", "case3", cluster.root / "b.csv")
    assert without_ids(parse_csv(b.samen("export", "case3").out)) == \
        without_ids(first)


def test_import_from_a_spreadsheet(node, cluster):
    """What a team brings: LF or CRLF, a byte order mark, _id-less, blank
    lines, cells that stay empty, a set column written by hand."""
    path = cluster.root / "team.csv"
    path.write_bytes(
        "\ufeffname,wijk,labels[]\n"
        "Familie Bakker,Noord,schulden;huisvesting\r\n"
        "\n"
        "\"Meneer Öztürk, sr.\",,eenzaamheid\n"
        ",,\n"
        "Mevrouw Pinas,Zuid,\n".encode())
    r = node.samen("import", "case", path)
    assert r.out == "3 records imported into case\n"
    assert r.err == f"samen: {path}: 1 empty row skipped\n"
    recs = node.ls("case")
    assert [x["fields"] for x in recs] == [
        {"name": "Familie Bakker", "wijk": "Noord"},
        {"name": "Meneer Öztürk, sr."},
        {"name": "Mevrouw Pinas", "wijk": "Zuid"}]
    assert sorted(recs[0]["sets"]["labels"]) == ["huisvesting", "schulden"]
    assert recs[1]["sets"] == {"labels": ["eenzaamheid"]}
    assert recs[2]["sets"] == {}


def test_import_many_rows_in_batches(node, cluster):
    """More rows than one request carries (1000): several batches, order
    kept, and a bad row near the end stops all of them."""
    n = 2500
    lines = ["nr,name"] + [f"{i:05d},Case {i}" for i in range(n)]
    path = cluster.root / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    bad = cluster.root / "bad.csv"
    bad.write_text("\n".join(lines[:2400] + ["1,2,3"] + lines[2400:]) + "\n")
    before = node.state()
    r = node.samen("import", "case", bad, rc=FAIL)
    assert f"{bad}:2401: 3 cells where the header has 2" in r.err, r
    assert node.state() == before

    r = node.samen("import", "case", path)
    assert r.out == f"{n} records imported into case\n" and r.err == "", r
    assert count(node) == n
    got = parse_csv(node.samen("export", "case").out)
    assert got[0] == ["_id", "name", "nr", "_conflicts"]
    assert [row[2] for row in got[1:]] == [f"{i:05d}" for i in range(n)]


def test_import_progress_only_on_a_terminal(node, cluster):
    path = cluster.root / "p.csv"
    path.write_text("name\n" + "".join(f"n{i}\n" for i in range(1500)))
    # Not a terminal (the harness): nothing but the result.
    r = node.samen("import", "case", path)
    assert r.err == ""
    # A terminal on stderr: progress there, the result on stdout.
    master, slave = pty.openpty()
    p = subprocess.Popen([str(SAMEN), "-d", str(node.dir), "import",
                          "other", str(path)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rd, _, _ = select.select([master], [], [], 1)
        if rd:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif p.poll() is not None:
            break
    out = p.communicate(timeout=60)[0]
    os.close(master)
    assert p.returncode == 0, seen
    assert out == b"1500 records imported into other\n"
    assert b"import: 1000 of 1500 rows" in seen, seen
    assert b"import: 1500 of 1500 rows" in seen, seen


# Import refusals

def refused(node, path, *lines, extra=()):
    """import of path fails, names each (line, reason), changes nothing."""
    before = node.state()
    r = node.samen("import", "case", path, *extra, rc=FAIL)
    assert r.out == "", r
    for line, reason in lines:
        assert f"samen: {path}:{line}: {reason}" in r.err, (line, reason, r)
    assert r.err.splitlines()[-1].endswith(": nothing was imported"), r
    assert node.state() == before
    return r


def test_import_refusals_name_the_line(node, cluster):
    node.put("case", "name=er was er een")
    p = cluster.root / "x.csv"

    p.write_text("name,bad name,tags[]\n1,2,3\n")
    refused(node, p, (1, "column 2: 'bad name' is not a field name"))
    p.write_text("name,name\n1,2\n")
    refused(node, p, (1, "column 2: 'name' is also column 1"))
    p.write_bytes(b"name,wijk\nok,ok\nbad,\xff\xfe\n")
    refused(node, p, (3, "column wijk: not UTF-8 text"))
    p.write_text("name,wijk\n" + "x," + "y" * 65537 + "\n")
    refused(node, p, (2, "column wijk: a value of 65537 bytes, over the "
                         "65536 a field may hold"))
    p.write_text("name,tags[]\nx," + "e" * 1025 + ";ok\n")
    refused(node, p, (2, "column tags[]: an element of 1025 bytes, over "
                         "the 1024 a set element may hold"))
    p.write_text("name,tags[]\nx,a\\b\n")
    refused(node, p, (2, "column tags[]: a '\\' in a set cell must be "
                         "followed by '\\' or ';'"))
    p.write_text("name,wijk\n1,2\n1\n1,2,3\n")
    refused(node, p, (3, "1 cells where the header has 2"),
            (4, "3 cells where the header has 2"))
    p.write_text('name,wijk\n"a"b,c\nx"y,z\n"never\nclosed,x\n')
    refused(node, p, (2, "text after the closing quote of a cell"),
            (3, "a quote inside a cell that is not quoted"),
            (4, "a quoted cell is never closed"))
    p.write_text("_collection,name\ncase,ok\nnote,not a case\n")
    refused(node, p, (3, "a row of collection 'note', not case"))
    p.write_text("name," + ",".join(f"f{i}" for i in range(300)) + "\n" +
                 "x," + ",".join("v" for _ in range(300)) + "\n")
    refused(node, p, (2, "301 values in one row, at most 256"))
    p.write_text("")
    refused(node, p, (1, "no header row"))
    # Many problems: the first 20 are shown, the rest counted.
    p.write_text("name\n" + "\"x\"y\n" * 30)
    r = refused(node, p, (2, "text after"), (21, "text after"))
    assert f"{p}:22:" not in r.err
    assert f"samen: {p}: 10 more problems\n" in r.err
    assert r.err.splitlines()[-1] == \
        f"samen: {p}: 30 problems: nothing was imported"


def test_import_dry_run_writes_nothing(node, cluster):
    p = cluster.root / "ok.csv"
    p.write_text("name,tags[]\nA,x;y\nB,\n")
    before = node.state()
    r = node.samen("import", "case", p, "--dry-run")
    assert r.out == "2 rows checked, nothing written (dry run)\n", r
    assert node.state() == before
    body = node.samen("import", "case", p, "--dry-run", json=True).json
    assert body == {"collection": "case", "rows": 2, "imported": 0,
                    "dry_run": True, "ids": []}
    assert node.state() == before
    # A dry run still asks the daemon (it knows the circles).
    r = node.samen("import", "case", p, "--dry-run", "--circle", "nope",
                   rc=FAIL)
    assert "no circle named 'nope'" in r.err
    # And a bad file is refused as without --dry-run.
    p.write_text("name\n\"x\n")
    refused(node, p, (2, "a quoted cell is never closed"),
            extra=("--dry-run",))


def test_import_ignores_ids_and_takes_a_circle(node, cluster):
    node.circle_new("team")
    rid = node.put("case", "name=orig")
    p = cluster.root / "ids.csv"
    node.samen("export", "case", "-o", p)
    body = node.samen("import", "case", p, "--circle", "team",
                      json=True).json
    assert body["ids"][0] != rid
    copy = node.get("case", body["ids"][0])
    assert copy["fields"] == {"name": "orig"}
    assert copy["circle"] == node.circles()["team"]["circle"]
    assert node.get("case", rid)["circle"] != copy["circle"]


# JSON and NDJSON

def test_json_and_ndjson(node, cluster):
    ids = put_awkward(node)
    node.samen("put", "case", ids[1], "status=gesloten")
    recs = node.ls("case")
    arr = json.loads(node.samen("export", "case", "--format", "json").out)
    assert arr == recs
    lines = node.samen("export", "case", "--format", "ndjson").out
    assert lines.endswith("\n")
    assert [json.loads(x) for x in lines.splitlines()] == recs
    # With history: each record's, as samen log --json gives it.
    arr = json.loads(node.samen("export", "--format", "json",
                                "--with-history").out)
    assert len(arr) == 5
    for rec in arr:
        hist = rec.pop("history")
        assert hist == node.samen("log", rec["collection"], rec["id"],
                                  json=True).json
        assert hist[0]["op"] == "create"
        assert all(TIME_RE.match(h["time"]) for h in hist)
    # Nothing to export: an empty array, no lines, a header alone.
    assert node.samen("export", "none", "--format", "json").out == "[]\n"
    assert node.samen("export", "none", "--format", "ndjson").out == ""
    assert node.samen("export", "none").out == "_id,_conflicts\r\n"
    # --json tells where the file went.
    p = cluster.root / "x.ndjson"
    body = node.samen("export", "case", "--format", "ndjson", "-o", p,
                      json=True).json
    assert body == {"records": 3, "format": "ndjson", "file": str(p)}


def test_output_file_is_private_and_whole(node, cluster):
    node.put("case", "name=geheim")
    p = cluster.root / "out.csv"
    p.write_text("old contents\n")
    os.chmod(p, 0o644)
    node.samen("export", "case", "--output", p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert "geheim" in p.read_text()
    # A failed export leaves the old file and no temporary one.
    q = cluster.root / "never.csv"
    node.samen("export", "case", "--circle", "nope", "-o", q, rc=FAIL)
    node.samen("export", "--subject", "01JD5ZQ8X2M4N6P8R0T2V4W6Y8",
               "-o", q, rc=FAIL)
    assert not q.exists()
    assert sorted(x.name for x in cluster.root.iterdir()
                  if x.name.startswith(".")) == []
    # A directory that is not there.
    r = node.samen("export", "case", "-o", cluster.root / "no" / "x.csv",
                   rc=FAIL)
    assert "cannot write" in r.err


def test_paging(cluster, monkeypatch):
    """Pages of 3 records (a test hook): every record once, in order,
    whatever the format, with history too."""
    monkeypatch.setenv("SAMEND_TEST_EXPORT_PAGE", "3")
    a = cluster.node("a")
    a.init()
    a.start()
    ids = [a.put("case", f"name=c{i}", f"f{i % 4}=x") for i in range(10)]
    a.put("note", "text=other")
    table = parse_csv(a.samen("export", "case").out)
    assert [row[0] for row in table[1:]] == ids
    # Columns come from every page's records, not the first page's.
    assert table[0] == ["_id", "f0", "f1", "f2", "f3", "name", "_conflicts"]
    arr = json.loads(a.samen("export", "--format", "json",
                             "--with-history").out)
    assert [x["id"] for x in arr] == ids + [a.ls("note")[0]["id"]]
    nd = a.samen("export", "case", "--format", "ndjson").out.splitlines()
    assert [json.loads(x)["id"] for x in nd] == ids


def test_export_usage(node):
    rid = node.put("case", "name=x")
    for args, why in [
            (["--format", "xml"], "--format xml"),
            (["--format", "html"], "html is for --subject"),
            (["--with-history"], "--with-history needs --format json"),
            (["Case"], "invalid collection"),
            (["case", "--subject", rid], "--subject takes no COLLECTION"),
            (["--subject", rid, "--circle", "x"], "--subject takes no"),
            (["--subject", rid, "--format", "csv"], "json or html"),
            (["--subject", rid, "--with-history"], "drop --with-history"),
            (["--subject", "nope"], "id"),
            (["a", "b"], "usage")]:
        r = node.samen("export", *args, rc=USAGE)
        assert why in r.expect_error(USAGE), (args, r)
    r = node.samen("export", "case", "--circle", "nope", rc=FAIL)
    assert "no circle named 'nope'" in r.expect_error(FAIL)
    r = node.samen("export", "--subject", "01JD5ZQ8X2M4N6P8R0T2V4W6Y8",
                   rc=FAIL)
    assert "no case with id" in r.expect_error(FAIL)
    r = node.samen("import", "case", "/nonexistent.csv", rc=FAIL)
    assert "cannot read /nonexistent.csv" in r.expect_error(FAIL)
    node.samen("import", "case", rc=USAGE)
    node.samen("import", "case", "x.csv", "--format", "csv", rc=USAGE)


# A case's whole file

def subject_world(node):
    """Case A with notes (one deleted), a task and a contact that links
    through a set element; case B with a canary note of its own."""
    a = node.put("case", "name=Familie Jansen",
                 "bijzonder=<script>document.title='PWNED';"
                 "document.body.setAttribute('data-pwned','1')</script>")
    b = node.put("case", "name=Familie Canary")
    n1 = node.samen("note", a, "Eerste gesprek: huur achterstand").out.strip()
    n2 = node.samen("note", a, "Tweede gesprek\nmet & zonder <b>tags</b>"
                    ).out.strip()
    n3 = node.samen("note", a, "weggegooid").out.strip()
    node.samen("put", "note", n1, "text=Eerste gesprek: huurachterstand")
    node.samen("rm", "note", n3)
    t = node.put("task", "title=bellen met verhuurder", f"case={a}")
    k = node.put("contact", "name=Wijkagent", f"cases+={a.lower()}",
                 "cases+=iets anders")
    canary = node.samen("note", b, "CANARY-NOTE-B").out.strip()
    return {"a": a, "b": b, "notes": [n1, n2, n3], "task": t, "contact": k,
            "canary": canary}


def test_subject_json(cluster, monkeypatch):
    # Pages of 2: the linked records span three pages.
    monkeypatch.setenv("SAMEND_TEST_EXPORT_PAGE", "2")
    node = cluster.node("a")
    node.init()
    node.start()
    w = subject_world(node)
    p = cluster.root / "jansen.json"
    r = node.samen("export", "--subject", w["a"], "-o", p)
    assert r.out == f"6 records exported to {p}\n"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    text = p.read_text()
    doc = json.loads(text)
    assert set(doc) == {"kind", "version", "exported", "device", "case",
                        "records", "audit"}
    assert doc["kind"] == "samen subject" and doc["version"] == 1
    assert TIME_RE.match(doc["exported"])
    assert doc["device"] == node.device

    # The case, as get shows it, with its history.
    case = doc["case"]
    hist = case.pop("history")
    want = node.get("case", w["a"])
    want.pop("notes", None)
    assert case == want
    assert hist == node.samen("log", "case", w["a"], json=True).json

    # Its records: the notes (the deleted one too), the task, the contact.
    got = {x["id"]: x for x in doc["records"]}
    assert set(got) == set(w["notes"]) | {w["task"], w["contact"]}
    assert [x["id"] for x in doc["records"]] == sorted(got)
    for rid, rec in got.items():
        assert rec["history"] == node.samen(
            "log", rec["collection"], rid, json=True).json
    assert got[w["notes"][0]]["fields"]["text"] == \
        "Eerste gesprek: huurachterstand"
    assert [h["value"] for h in got[w["notes"][0]]["history"]
            if h["field"] == "text"] == [
        "Eerste gesprek: huur achterstand", "Eerste gesprek: huurachterstand"]
    assert got[w["notes"][2]]["deleted"] is True
    assert got[w["notes"][1]]["deleted"] is False

    # The audit trail: one timeline of every record's events.
    audit = doc["audit"]
    assert [e["time"] for e in audit] == sorted(e["time"] for e in audit)
    for e in audit:
        assert set(e) == {"time", "device", "action", "what", "collection",
                          "id"}
        assert e["device"] == node.device
    writes = {(e["id"], e["what"]) for e in audit if e["action"] == "write"}
    for rid in [w["a"], *w["notes"], w["task"], w["contact"]]:
        assert (rid, "create") in writes
    assert (w["notes"][0], "update") in writes
    assert (w["notes"][2], "delete") in writes

    # Nothing of the other case.
    assert "CANARY" not in text and "Canary" not in text
    assert w["b"] not in text and w["canary"] not in text


def chromium(*args, user_dir):
    """Headless Chromium as the issue runs it (Debian's package)."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed (make deps installs it: "
                    "it is in the Makefile's DEB_TEST)")
    argv = [exe, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            f"--user-data-dir={user_dir}", *args]
    return subprocess.run(argv, capture_output=True, timeout=180,
                          stdin=subprocess.DEVNULL, start_new_session=True)


def test_subject_html_in_chromium(node, cluster):
    w = subject_world(node)
    page = cluster.root / "jansen.html"
    node.samen("export", "--subject", w["a"], "--format", "html", "-o",
               page)
    html = page.read_text()
    # One file: no scripts, nothing fetched, every value escaped.
    assert html.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)\s*=", html, re.I)
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;" in html
    assert "CANARY" not in html and w["b"] not in html

    out = BUILD / "test-output"
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "subject-page.png"
    if shot.exists():
        shot.unlink()
    r = chromium("--screenshot=" + str(shot), "--window-size=1000,1400",
                 page.as_uri(), user_dir=cluster.root / "chrome1")
    assert r.returncode == 0 and shot.exists(), r.stderr.decode()[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"\nscreenshot of the subject page: {shot}")

    r = chromium("--dump-dom", page.as_uri(),
                 user_dir=cluster.root / "chrome2")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    dom = r.stdout.decode()
    # The injected script is text on the page, and it did not run.
    assert "&lt;script&gt;document.title='PWNED';" in dom
    assert "<script" not in dom.lower()
    assert "data-pwned" not in dom.replace("'data-pwned'", "")
    assert re.search(r"<title>Everything held about Familie Jansen</title>",
                     dom)
    # What a resident must find: the name, the notes, who wrote them.
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "Familie Jansen" in text
    assert "Eerste gesprek: huurachterstand" in text
    assert "met &amp; zonder &lt;b&gt;tags&lt;/b&gt;" in dom
    assert node.short in text
    assert "Who looked at or changed this file" in text
    assert "CANARY" not in dom
