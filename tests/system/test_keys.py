"""Identity, passphrase and lock, and encryption at rest."""

import os
import stat

import pytest

from conftest import DEVID_RE, FAIL, LOCKED, OK, USAGE

PASS = "correct horse battery staple"


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_passphrase_lock_and_unlock(cluster):
    n = cluster.node("a")
    dev = n.init(PASS).out.strip()
    assert DEVID_RE.match(dev)
    assert mode(n.dir) == 0o700
    assert mode(n.dir / "keys") == 0o600
    assert n.samen("id").out.strip() == dev
    assert n.samen("id", json=True).json == {"device": dev}

    n.start()
    r = n.samen("status", json=True)
    s = r.json
    assert s["locked"] is True and s["passphrase"] is True
    assert s["device"] == dev
    assert r.err == "", "no warning for keys with a passphrase"
    assert n.samen("status").rc == OK

    line = n.samen("put", "case", "name=x", rc=LOCKED).expect_error(LOCKED)
    assert "unlock" in line

    # A wrong passphrase, from a file or the environment: refused, locked.
    wrong = cluster.root / "wrong"
    wrong.write_text("not the passphrase\n")
    n.samen("unlock", "--passphrase-file", wrong, rc=FAIL).expect_error(FAIL)
    n.unlock("Correct horse battery staple", rc=FAIL).expect_error(FAIL)
    assert n.status()["locked"] is True
    n.samen("put", "case", "name=x", rc=LOCKED)

    # The right one unlocks.
    right = cluster.root / "right"
    right.write_text(PASS + "\n")
    r = n.samen("unlock", "--passphrase-file", right, json=True)
    assert r.json == {"unlocked": True}
    s = n.status()
    assert s["locked"] is False and s["passphrase"] is True
    rid = n.put("case", "name=Familie Jansen", "status=open")
    # Unlocking again is not an error.
    n.unlock()

    # A restart locks again; what was written is still there after unlock.
    digest = n.status()["replica_digest"]
    n.restart()
    s = n.status()
    assert s["locked"] is True
    assert s["replica_digest"] == digest
    n.samen("get", "case", rid, rc=LOCKED)
    assert n.unlock().out.strip()
    assert n.get("case", rid)["fields"] == {"name": "Familie Jansen",
                                            "status": "open"}
    assert n.status()["replica_digest"] == digest


def test_passphrase_file_first_line(cluster):
    n = cluster.node("a")
    pw = cluster.root / "pw"
    pw.write_text("eerste regel\ntweede regel\n")
    dev = n.samen("init", "--passphrase-file", pw).out.strip()
    assert DEVID_RE.match(dev)
    n.start()
    n.unlock("tweede regel", rc=FAIL)
    n.unlock("eerste regel")
    assert n.status()["locked"] is False


def test_passphrase_never_stored_or_logged(cluster):
    n = cluster.node("a")
    secret = "Vl1nderDas-Passphrase-9931"
    n.init(secret)
    n.start()
    n.unlock()
    n.put("case", "name=x")
    n.stop()
    for path in [p for p in n.dir.rglob("*") if p.is_file()] + [n.log]:
        assert secret.encode() not in path.read_bytes(), path


def test_init_needs_a_passphrase_source(cluster):
    """Without a terminal, --passphrase-file, $SAMEN_PASSPHRASE or
    --no-passphrase, init fails and writes nothing."""
    n = cluster.node("a")
    r = n.samen("init", rc=None)
    assert r.rc != OK
    r.expect_error(r.rc)
    assert not (n.dir / "keys").exists()
    r = n.samen("init", env={"SAMEN_PASSPHRASE": ""}, rc=None)
    assert r.rc != OK
    r.expect_error(r.rc)
    assert not (n.dir / "keys").exists()
    empty = cluster.root / "empty"
    empty.write_text("")
    r = n.samen("init", "--passphrase-file", empty, rc=None)
    assert r.rc != OK
    assert not (n.dir / "keys").exists()
    n.samen("init", "--passphrase-file", cluster.root / "missing", rc=FAIL)
    assert not (n.dir / "keys").exists()


def test_no_passphrase_status_warns(node):
    r = node.samen("status")
    assert r.out.strip()
    assert "passphrase" in r.err.lower(), r
    r = node.samen("status", json=True)
    assert r.json["passphrase"] is False and r.json["locked"] is False
    assert "passphrase" in r.err.lower(), r
    # Nothing to unlock: not an error, and no passphrase asked.
    node.samen("unlock")


def test_init_twice_refuses(cluster):
    n = cluster.node("a")
    dev = n.init().out.strip()
    keys = (n.dir / "keys").read_bytes()
    for args, env in ((["init", "--no-passphrase"], None),
                      (["init"], {"SAMEN_PASSPHRASE": PASS}),
                      (["init", "--json", "--no-passphrase"], None)):
        line = n.samen(*args, env=env, rc=FAIL).expect_error(FAIL)
        assert "keys" in line or "identity" in line, line
    assert (n.dir / "keys").read_bytes() == keys
    assert n.samen("id").out.strip() == dev


def test_init_json_and_id_without_daemon(cluster):
    n = cluster.node("a")
    dev = n.samen("init", "--no-passphrase", json=True).json["device"]
    assert DEVID_RE.match(dev)
    assert not (n.dir / "ctl.sock").exists()
    assert n.samen("id").out == dev + "\n"
    # Two devices, two identities.
    m = cluster.node("b")
    assert m.init().out.strip() != dev


def test_init_makes_existing_empty_dir_private(cluster):
    n = cluster.node("a")
    n.dir.mkdir(mode=0o755)
    os.chmod(n.dir, 0o755)
    n.init()
    assert mode(n.dir) == 0o700


PRIVATE = ["keys", "samen.db", "samen.db-wal", "samen.db-shm"]


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_samend_makes_loosened_files_private(cluster, how):
    """A copy or a restore may leave the keys and the replica readable by
    others (0644).  samend sets them back to 0600 when it starts, with the
    directory, and says so; a WAL and shm it makes anew are 0600 too,
    though SQLite gives them the database's mode.  kill -9 leaves the WAL
    and shm in place, so they are loosened too; a clean stop removes
    them."""
    n = cluster.node("a")
    n.init()
    n.start()
    n.put("case", "name=Familie Jansen")
    if how == "sigterm":
        n.stop()
    else:
        n.kill9()
    left = [f for f in PRIVATE if (n.dir / f).exists()]
    assert "keys" in left and "samen.db" in left, left
    if how == "kill9":
        assert "samen.db-wal" in left and "samen.db-shm" in left, left
    os.chmod(n.dir, 0o755)
    for f in left:
        os.chmod(n.dir / f, 0o644)

    n.start()
    assert mode(n.dir) == 0o700
    for f in PRIVATE:
        assert (n.dir / f).exists(), f"{f} after start"
        assert mode(n.dir / f) == 0o600, f"{f}: {oct(mode(n.dir / f))}"
    log = n.log_text()
    for f in left:
        assert f"{f} was accessible to other users (mode 644); " \
               "setting it to 0600" in log, log
    assert n.samen("ls", "case", json=True).json[0]["fields"] == \
        {"name": "Familie Jansen"}


def test_samend_needs_an_identity(cluster):
    n = cluster.node("a")
    # No directory at all.
    p = cluster.spawn(n.samend_argv(), n.log)
    assert p.wait(30) != 0
    assert "init" in n.log_text()
    # A directory without keys.
    n.dir.mkdir(mode=0o700)
    mark = len(n.log_text())
    p = cluster.spawn(n.samend_argv(), n.log)
    assert p.wait(30) != 0
    assert "init" in n.log_text()[mark:]
    assert not (n.dir / "ctl.sock").exists()
    n.samen("status", rc=3)


SECRETS = [
    "dossiergeheim",                 # a collection name
    "Verborgenveldnaam",             # a field name
    "Zwanenburgerstraat 1187",       # a value
    "Kwakernaak-Oudshoorn",          # a value, later replaced
    "schuldsaneringxq",              # a set element
    "leerplichtzorgqz",              # a set element, later removed
    "Huisbezoek bij mevrouw Pannekoek",  # a note
    "Ñandúpijlstaart",               # non-ASCII
    "Vergeetmijnietlaan",            # a value of a deleted record
]


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_encrypted_at_rest(cluster, how):
    """Nothing a person typed appears in any file of the data directory:
    not in samen.db, its -wal and -shm, the keys or anything else.  kill -9
    leaves the WAL as it was; SIGTERM may checkpoint it."""
    n = cluster.node("a")
    n.init()
    n.start()
    c = n.put("dossiergeheim", "Verborgenveldnaam=Zwanenburgerstraat 1187",
              "naam=Kwakernaak-Oudshoorn", "labels+=schuldsaneringxq",
              "labels+=leerplichtzorgqz")
    n.samen("put", "dossiergeheim", c, "naam=Ñandúpijlstaart",
            "labels-=leerplichtzorgqz")
    case = n.put("case", "name=Familie Jansen")
    n.samen("note", case, "Huisbezoek bij mevrouw Pannekoek")
    gone = n.put("case", "adres=Vergeetmijnietlaan")
    n.samen("rm", "case", gone)
    hits = n.samen("find", "pannekoek", json=True).json
    assert len(hits) == 1
    if how == "sigterm":
        n.stop()
    else:
        n.kill9()

    files = [p for p in n.dir.rglob("*") if p.is_file()]
    assert any(p.name == "samen.db" for p in files), files
    if how == "kill9":
        assert any(p.name.endswith("-wal") for p in files), \
            "expected a WAL after kill -9"
    found = []
    for p in files:
        data = p.read_bytes()
        low = data.lower()
        for s in SECRETS:
            if s.encode() in data or s.lower().encode() in low:
                found.append(f"{s!r} in {p.name}")
    assert not found, found
    # Nor in the daemon's log: it never logs record contents.
    log = n.log_text().lower()
    assert not [s for s in SECRETS if s.lower() in log], n.log_text()

    # The data is all there when the daemon comes back.
    n.start()
    assert n.get("dossiergeheim", c)["fields"] == {
        "Verborgenveldnaam": "Zwanenburgerstraat 1187",
        "naam": "Ñandúpijlstaart"}
    assert [x["fields"]["text"] for x in n.get("case", case)["notes"]] == \
        ["Huisbezoek bij mevrouw Pannekoek"]


def test_unlock_usage(cluster):
    n = cluster.node("a")
    n.init(PASS)
    n.start()
    n.samen("unlock", "--no-passphrase", rc=USAGE).expect_error(USAGE)
    # No terminal and no source: refused, still locked.
    r = n.samen("unlock", rc=None)
    assert r.rc != OK
    r.expect_error(r.rc)
    assert n.status()["locked"] is True
