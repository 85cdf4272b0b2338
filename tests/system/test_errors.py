"""Bad input: every refusal docs/cli.md describes.

Each case must exit with its code (2 usage, 1 refused, 3 not running,
4 locked), print nothing on stdout (also with --json), one line
"samen: reason" on stderr, and leave the store as it was: the same
replica digest, change-set and record counts before and after.
"""

import re

import pytest

from conftest import (DOWN, FAIL, LOCKED, SAMEN, USAGE, Cluster,
                      sanitizer_report)

NOID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"     # well formed, never issued


class Seeded:
    """A serving node with a few records: a live case (with a note), a
    deleted case and a task."""

    def __init__(self, cluster, passphrase=None):
        self.node = n = cluster.node("a")
        n.init(passphrase)
        n.start()
        if passphrase is not None:
            n.unlock()
        self.ids = {}
        self.ids["CASE"] = n.put("case", "name=Familie Jansen", "status=open",
                                 "tags+=schulden")
        n.samen("note", self.ids["CASE"], "eerste huisbezoek")
        self.ids["DEL"] = n.put("case", "name=Weg", "status=open")
        n.samen("rm", "case", self.ids["DEL"])
        self.ids["TASK"] = n.put("task", "what=bellen")
        self.ids["NOID"] = NOID

    def subst(self, args):
        out = []
        for a in args:
            if isinstance(a, str):
                for k, v in self.ids.items():
                    a = a.replace("{" + k + "}", v)
            out.append(a)
        return out


def module_cluster(request):
    c = Cluster()
    failed_before = request.session.testsfailed
    return c, failed_before


def finish(request, c, failed_before):
    problems = c.teardown(request.session.testsfailed > failed_before)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def seeded(request):
    c, before = module_cluster(request)
    s = Seeded(c)
    yield s
    finish(request, c, before)


@pytest.fixture(scope="module")
def locked(request):
    c, before = module_cluster(request)
    s = Seeded(c, passphrase="correct horse battery staple")
    s.node.restart()
    assert s.node.status()["locked"] is True
    yield s
    finish(request, c, before)


@pytest.fixture
def alive(request):
    """After each test on a module's daemon: it still runs, and its log has
    no sanitizer report."""
    yield
    for name in ("seeded", "locked"):
        if name in request.fixturenames:
            n = request.getfixturevalue(name).node
            assert n.running(), f"samend died\n{n.log_text()}"
            rep = sanitizer_report(n.log_text())
            assert rep is None, rep


def check_refused(s, args, rc):
    """Runs args plain and with --json; both must be refused alike and the
    store unchanged."""
    n = s.node
    args = s.subst(args)
    before = n.state()
    lines = []
    for json in (False, True):
        r = n.samen(*args, json=json, rc=None)
        codes = rc if isinstance(rc, tuple) else (rc,)
        assert r.rc in codes, f"expected exit {rc}\n{r!r}"
        lines.append(r.expect_error(r.rc))
    assert n.state() == before, "a refused request changed the store"
    return lines[0]


LONG = "x" * 65537
LONG_ELEM = "y" * 1025

USAGE_CASES = [
    ("unknown-command", ["frobnicate"]),
    ("unknown-option", ["status", "--bogus"]),
    ("unknown-option-first", ["--bogus", "status"]),
    ("json-with-value", ["--json=yes", "status"]),
    ("where-on-get", ["get", "case", "{CASE}", "--where", "a=b"]),
    ("no-passphrase-on-put", ["put", "case", "a=b", "--no-passphrase"]),
    ("d-without-dir", ["status", "-d"]),
    ("put-nothing", ["put"]),
    ("put-no-assignment", ["put", "case"]),
    ("put-id-no-assignment", ["put", "case", "{CASE}"]),
    ("collection-upper", ["put", "Case", "a=b"]),
    ("collection-digit-first", ["put", "1case", "a=b"]),
    ("collection-dash-first", ["put", "-case", "a=b"]),
    ("collection-space", ["put", "ca se", "a=b"]),
    ("collection-dot", ["put", "case.x", "a=b"]),
    ("collection-slash", ["put", "case/x", "a=b"]),
    ("collection-33", ["put", "c" * 33, "a=b"]),
    ("collection-empty", ["put", "", "a=b"]),
    ("collection-accent", ["put", "café", "a=b"]),
    ("field-underscore-first", ["put", "case", "_x=1"]),
    ("field-dash-first", ["put", "case", "-x=1"]),
    ("field-empty", ["put", "case", "=value"]),
    ("field-empty-add", ["put", "case", "+=value"]),
    ("field-space", ["put", "case", "na me=x"]),
    ("field-dot", ["put", "case", "a.b=x"]),
    ("field-65", ["put", "case", "f" * 65 + "=x"]),
    ("field-accent", ["put", "case", "naïve=x"]),
    ("assignment-without-equals", ["put", "case", "name=x", "status"]),
    ("neither-id-nor-assignment", ["put", "case", "status"]),
    ("id-too-short-in-put", ["put", "case", NOID[:25], "a=b"]),
    ("value-over-64k", ["put", "case", "name=" + LONG]),
    ("element-over-1k", ["put", "case", "tags+=" + LONG_ELEM]),
    ("removed-element-over-1k", ["put", "case", "{CASE}",
                                 "tags-=" + LONG_ELEM]),
    ("value-bad-utf8", ["put", "case", b"name=\xff\xfe"]),
    ("value-truncated-utf8", ["put", "case", b"name=ab\xc3"]),
    ("value-overlong-utf8", ["put", "case", b"name=\xc0\xaf"]),
    ("value-surrogate-utf8", ["put", "case", b"name=\xed\xa0\x80"]),
    ("element-bad-utf8", ["put", "case", b"tags+=\xff"]),
    ("get-one-arg", ["get", "case"]),
    ("get-three-args", ["get", "case", "{CASE}", "x"]),
    ("id-short", ["get", "case", "xyz"]),
    ("id-25", ["get", "case", NOID[:25]]),
    ("id-27", ["get", "case", NOID + "0"]),
    ("id-bad-char", ["get", "case", NOID[:25] + "U"]),
    ("id-overflow", ["get", "case", "8" + NOID[1:]]),
    ("id-empty", ["get", "case", ""]),
    ("get-bad-collection", ["get", "CASE", "{CASE}"]),
    ("rm-bad-id", ["rm", "case", "nope"]),
    ("rm-one-arg", ["rm", "case"]),
    ("log-bad-id", ["log", "case", "nope"]),
    ("log-bad-collection", ["log", "Case", "{CASE}"]),
    ("ls-nothing", ["ls"]),
    ("ls-two-collections", ["ls", "case", "task"]),
    ("ls-bad-collection", ["ls", "Case"]),
    ("where-without-equals", ["ls", "case", "--where", "status"]),
    ("where-empty-field", ["ls", "case", "--where", "=open"]),
    ("where-bad-field", ["ls", "case", "--where", "sta tus=open"]),
    ("where-missing-argument", ["ls", "case", "--where"]),
    ("where-bad-utf8", ["ls", "case", "--where", b"status=\xff"]),
    ("find-empty", ["find", ""]),
    ("find-nothing", ["find"]),
    ("find-two-args", ["find", "a", "b"]),
    ("find-bad-utf8", ["find", b"\xfe"]),
    ("note-bad-id", ["note", "nope", "text"]),
    ("note-empty", ["note", "{CASE}", ""]),
    ("note-no-text", ["note", "{CASE}"]),
    ("note-bad-utf8", ["note", "{CASE}", b"\xff"]),
    ("note-over-64k", ["note", "{CASE}", LONG]),
    ("conflicts-extra", ["conflicts", "x"]),
    ("status-extra", ["status", "x"]),
    ("rebuild-extra", ["rebuild", "x"]),
    ("id-extra", ["id", "x"]),
    ("help-unknown", ["help", "frobnicate"]),
    ("init-both-sources", ["init", "--no-passphrase", "--passphrase-file",
                           "/dev/null"]),
    ("passphrase-file-missing-arg", ["unlock", "--passphrase-file"]),
]


@pytest.mark.parametrize("args", [c[1] for c in USAGE_CASES],
                         ids=[c[0] for c in USAGE_CASES])
def test_usage_error(seeded, alive, args):
    check_refused(seeded, args, USAGE)


REFUSED_CASES = [
    ("get-unknown", ["get", "case", "{NOID}"], "not found|no case"),
    ("get-wrong-collection", ["get", "task", "{CASE}"], None),
    ("get-deleted", ["get", "case", "{DEL}"], "delete"),
    ("put-unknown", ["put", "case", "{NOID}", "status=x"], None),
    ("put-deleted", ["put", "case", "{DEL}", "status=x"], "delete"),
    ("put-wrong-collection", ["put", "task", "{CASE}", "status=x"], None),
    ("put-lowercase-unknown", ["put", "case", NOID.lower(), "a=b"], None),
    ("rm-unknown", ["rm", "case", "{NOID}"], None),
    ("rm-deleted", ["rm", "case", "{DEL}"], "delete"),
    ("rm-wrong-collection", ["rm", "task", "{CASE}"], None),
    ("log-unknown", ["log", "case", "{NOID}"], None),
    ("log-wrong-collection", ["log", "note", "{CASE}"], None),
    ("note-unknown-case", ["note", "{NOID}", "tekst"], None),
    ("note-deleted-case", ["note", "{DEL}", "tekst"], "delete"),
    ("note-on-a-task", ["note", "{TASK}", "tekst"], None),
    ("init-twice", ["init", "--no-passphrase"], "already|exist"),
    ("passphrase-file-missing", ["unlock", "--passphrase-file",
                                 "/nonexistent/pw"], "/nonexistent/pw"),
]


@pytest.mark.parametrize("args,pattern", [c[1:] for c in REFUSED_CASES],
                         ids=[c[0] for c in REFUSED_CASES])
def test_refused(seeded, alive, args, pattern):
    line = check_refused(seeded, args, FAIL)
    if pattern is not None:
        assert re.search(pattern, line, re.I), line


def test_put_same_field_twice_is_refused(seeded, alive):
    check_refused(seeded, ["put", "case", "name=a", "name=b"], (USAGE, FAIL))


def test_put_too_many_assignments_is_refused(seeded, alive):
    args = ["put", "case"] + [f"f{i}=v" for i in range(257)]
    check_refused(seeded, args, (USAGE, FAIL))


def test_many_assignments_at_the_limit(seeded, alive):
    n = seeded.node
    rid = n.put("bulk", *[f"f{i}=v{i}" for i in range(256)])
    assert len(n.get("bulk", rid)["fields"]) == 256
    n.samen("rm", "bulk", rid)


def test_no_command_prints_usage(seeded, alive):
    r = seeded.node.samen(rc=USAGE)
    assert r.out == "" and "usage" in r.err.lower()


def test_help_and_version(seeded, alive):
    n = seeded.node
    out = n.samen("--help").out
    for cmd in ("init", "unlock", "id", "status", "put", "get", "ls", "find",
                "rm", "log", "note", "conflicts", "rebuild"):
        assert cmd in out
        sub = n.samen(cmd, "--help").out
        assert cmd in sub and "usage" in sub.lower(), sub
    assert n.samen("help", "put").out == n.samen("put", "--help").out
    assert n.samen("--version").out.strip()


LOCKED_CASES = [
    ("put-new", ["put", "case", "name=Nieuw"]),
    ("put-update", ["put", "case", "{CASE}", "status=gesloten"]),
    ("get", ["get", "case", "{CASE}"]),
    ("ls", ["ls", "case"]),
    ("find", ["find", "jansen"]),
    ("rm", ["rm", "case", "{CASE}"]),
    ("log", ["log", "case", "{CASE}"]),
    ("note", ["note", "{CASE}", "tekst"]),
    ("conflicts", ["conflicts"]),
]


@pytest.mark.parametrize("args", [c[1] for c in LOCKED_CASES],
                         ids=[c[0] for c in LOCKED_CASES])
def test_locked(locked, alive, args):
    line = check_refused(locked, args, LOCKED)
    assert "unlock" in line, line
    assert locked.node.status()["locked"] is True


DOWN_CASES = [
    ["status"], ["unlock"], ["put", "case", "a=b"], ["get", "case", NOID],
    ["ls", "case"], ["find", "x"], ["rm", "case", NOID], ["log", "case", NOID],
    ["note", NOID, "x"], ["conflicts"], ["rebuild"],
]


def test_not_running(cluster):
    n = cluster.node("a")
    n.init()
    for args in DOWN_CASES:
        for json in (False, True):
            line = n.samen(*args, json=json, rc=DOWN).expect_error(DOWN)
            assert "samend" in line, line
    # A directory that was never initialised: the same answer.
    ghost = cluster.node("ghost")
    assert ghost.samen("status", rc=DOWN).expect_error(DOWN)
    assert not ghost.dir.exists()
    # Started later, the node answers and holds nothing.
    n.start()
    assert n.status()["records"] == 0


def test_data_dir_too_deep(cluster):
    n = cluster.node("deep")
    n.dir = cluster.root / ("d" * (107 - len(str(cluster.root)) - 9))
    assert len(str(n.dir)) + len("/ctl.sock") == 108
    for args in (["init", "--no-passphrase"], ["status"], ["put", "c", "a=b"]):
        line = n.samen(*args, rc=USAGE).expect_error(USAGE)
        assert "107" in line, line
    assert not n.dir.exists()
    # One byte less fits.
    ok = cluster.node("fits")
    ok.dir = cluster.root / ("d" * (107 - len(str(cluster.root)) - 10))
    assert len(str(ok.dir)) + len("/ctl.sock") == 107
    ok.init()
    ok.start()
    ok.put("case", "a=b")


def test_id_without_identity(cluster):
    """samen id needs DIR/keys, and says to run samen init."""
    n = cluster.node("a")
    r = n.samen("id", rc=FAIL)
    line = r.expect_error(FAIL)
    assert "init" in line, line
    r = cluster.run([str(SAMEN), "-d", str(n.dir), "id", "--json"], rc=FAIL)
    assert r.out == ""
