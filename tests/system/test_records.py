"""Records through the real CLI: put, get, ls, find, rm, log, note, conflicts.

Every --json body is checked key by key against docs/api.md; the human forms
get smoke checks (they are for people, and may change).
"""

from conftest import DEVID_RE, HEX32_RE, HEX64_RE, RID_RE, SAMEN, TIME_RE

RECORD_KEYS = {"collection", "id", "circle", "created", "updated", "deleted",
               "fields", "sets", "conflicts"}


def check_record(rec, collection, rid=None, fields=None, sets=None):
    """A record body as docs/api.md describes it."""
    assert RECORD_KEYS <= set(rec), rec
    assert rec["collection"] == collection
    assert RID_RE.match(rec["id"]), rec
    if rid is not None:
        assert rec["id"] == rid.upper()
    assert HEX32_RE.match(rec["circle"]), rec
    assert TIME_RE.match(rec["created"]), rec
    assert TIME_RE.match(rec["updated"]), rec
    assert rec["updated"] >= rec["created"]
    assert rec["deleted"] is False
    assert rec["conflicts"] == []
    if fields is not None:
        assert rec["fields"] == fields
    if sets is not None:
        assert {k: sorted(v) for k, v in rec["sets"].items()} == \
            {k: sorted(v) for k, v in sets.items()}
    return rec


def test_put_creates_and_get_shows_it(node):
    r = node.samen("put", "case", "name=Familie Jansen", "status=open",
                   "wijk=Noord", "tags+=schulden", "tags+=huisvesting",
                   json=True)
    body = r.json
    assert set(body) >= {"collection", "id", "created"}
    assert body["collection"] == "case"
    assert body["created"] is True
    rid = body["id"]
    assert RID_RE.match(rid)

    rec = node.get("case", rid)
    check_record(rec, "case", rid,
                 fields={"name": "Familie Jansen", "status": "open",
                         "wijk": "Noord"},
                 sets={"tags": ["schulden", "huisvesting"]})
    # A case shows its notes, none yet.
    assert rec.get("notes", []) == []
    # The id is case-insensitive.
    assert node.get("case", rid.lower()) == rec


def test_put_human_prints_only_the_id(node):
    r = node.samen("put", "contact", "name=Wijkcentrum De Brug",
                   "phone=020-1234567")
    assert RID_RE.match(r.out.rstrip("\n")) and r.out.count("\n") == 1, r
    assert r.err == ""
    rec = node.get("contact", r.out.strip())
    assert rec["fields"] == {"name": "Wijkcentrum De Brug",
                             "phone": "020-1234567"}


def test_update_set_add_remove(node):
    rid = node.put("case", "name=Familie Bakker", "status=open",
                   "tags+=schulden", "tags+=eenzaamheid")
    before = node.get("case", rid)

    r = node.samen("put", "case", rid, "status=in behandeling",
                   "tags-=schulden", "tags+=mantelzorg", "regie=wijkteam",
                   json=True)
    assert r.json["id"] == rid and r.json["collection"] == "case"
    assert r.json["created"] is False

    after = check_record(node.get("case", rid), "case", rid,
                         fields={"name": "Familie Bakker",
                                 "status": "in behandeling",
                                 "regie": "wijkteam"},
                         sets={"tags": ["eenzaamheid", "mantelzorg"]})
    assert after["created"] == before["created"]
    assert after["updated"] >= before["updated"]
    assert after["circle"] == before["circle"]

    # Update through the lower-case id; the human form prints the id.
    r = node.samen("put", "case", rid.lower(), "status=gesloten")
    assert r.out.strip() == rid
    assert node.get("case", rid)["fields"]["status"] == "gesloten"

    # Removing the last element leaves no elements.
    node.samen("put", "case", rid, "tags-=eenzaamheid", "tags-=mantelzorg")
    assert node.get("case", rid)["sets"].get("tags", []) == []


def test_values_are_kept_exactly(node):
    weird = {
        "multi": "regel 1\nregel 2\n\ttab \"quoted\" \\ backslash",
        "unicode": "Çağla Yılmaz — één café, 🏠",
        "eq": "a=b=c",
        "empty": "",
        "spaces": "  leading and trailing  ",
        "ctl": "bell\x07esc\x1b[31mred",
    }
    rid = node.put("case", *[f"{k}={v}" for k, v in weird.items()],
                   "tags+=met spatie", "tags+=ÜML")
    rec = node.get("case", rid)
    assert rec["fields"] == weird
    assert sorted(rec["sets"]["tags"]) == sorted(["met spatie", "ÜML"])
    # The human form never passes control characters to the terminal.
    out = node.samen("get", "case", rid).out
    assert "\x1b" not in out and "\x07" not in out
    assert "Çağla Yılmaz" in out


def test_value_and_element_size_limits_are_inclusive(node):
    big = "x" * 65536
    elem = "y" * 1024
    rid = node.put("case", f"big={big}", f"tags+={elem}")
    rec = node.get("case", rid)
    assert rec["fields"]["big"] == big
    assert rec["sets"]["tags"] == [elem]


def test_names_at_their_limits(node):
    coll = "a" + "b" * 30 + "9"      # 32
    field = "F" + "x" * 62 + "_"     # 64
    rid = node.put(coll, f"{field}=1", "9lives=ja", "a-b_c=d")
    rec = node.get(coll, rid)
    assert rec["collection"] == coll
    assert rec["fields"] == {field: "1", "9lives": "ja", "a-b_c": "d"}
    assert [r["id"] for r in node.samen("ls", coll, json=True).json] == [rid]


def test_global_options_anywhere(node, cluster):
    d = str(node.dir)
    r = cluster.run([str(SAMEN), "put", "task", "what=bellen", "-d", d,
                     "--json"])
    rid = r.json["id"]
    r = cluster.run([str(SAMEN), "get", "--json", "task", rid, "--dir", d])
    assert r.json["fields"] == {"what": "bellen"}
    r = cluster.run([str(SAMEN), "--json", f"--dir={d}", "get", "task", rid])
    assert r.json["id"] == rid
    # SAMEN_HOME stands in for -d, and -d wins over it.
    r = cluster.run([str(SAMEN), "get", "task", rid, "--json"],
                    env={"SAMEN_HOME": d})
    assert r.json["id"] == rid
    r = cluster.run([str(SAMEN), "-d", d, "get", "task", rid, "--json"],
                    env={"SAMEN_HOME": "/nonexistent"})
    assert r.json["id"] == rid


def test_xdg_data_home(cluster):
    n = cluster.node("x")
    xdg = cluster.root / "xdg"
    n.dir = xdg / "samen"
    n.init()
    n.start()
    r = cluster.run([str(SAMEN), "status", "--json"],
                    env={"XDG_DATA_HOME": str(xdg)})
    assert r.json["data_dir"] == str(n.dir.resolve())


def test_status_json(node):
    dev = node.samen("id").out.strip()
    s = node.status()
    keys = {"device", "data_dir", "version", "protocol", "pid", "uptime_s",
            "locked", "passphrase", "records", "changesets", "pending", "bad",
            "flagged", "replica_digest"}
    assert keys <= set(s), s
    assert s["device"] == dev and DEVID_RE.match(dev)
    assert s["data_dir"] == str(node.dir.resolve())
    assert s["protocol"] == 1
    assert s["pid"] == node.pid
    assert s["locked"] is False and s["passphrase"] is False
    assert isinstance(s["version"], str) and s["version"]
    for k in ("uptime_s", "records", "changesets", "pending", "bad",
              "flagged"):
        assert isinstance(s[k], int) and s[k] >= 0, (k, s)
    assert s["records"] == 0 and s["pending"] == 0 and s["bad"] == 0
    assert s["flagged"] == 0
    assert HEX64_RE.match(s["replica_digest"])

    node.put("case", "name=Familie Visser")
    s2 = node.status()
    assert s2["records"] == 1
    assert s2["changesets"] > s["changesets"]
    assert s2["replica_digest"] != s["replica_digest"]

    # The human form names the device and the digest.
    out = node.samen("status").out
    assert dev in out and s2["replica_digest"] in out


def test_ls_oldest_first_and_where(node):
    a = node.put("case", "name=Familie de Vries", "status=open",
                 "wijk=Noord", "tags+=schulden")
    b = node.put("case", "name=Meneer Öztürk", "status=gesloten",
                 "wijk=Noord", "tags+=eenzaamheid", "tags+=schulden")
    c = node.put("case", "name=Mevrouw Pinas", "status=open", "wijk=Zuid")
    node.put("task", "what=huisbezoek plannen", "status=open")
    # An update does not move a record: ls is by creation.
    node.samen("put", "case", a, "status=open", "note=bijgewerkt")

    def ls(*where):
        args = ["ls", "case"]
        for w in where:
            args += ["--where", w]
        recs = node.samen(*args, json=True).json
        assert isinstance(recs, list)
        for rec in recs:
            check_record(rec, "case")
            assert "notes" not in rec
        return [rec["id"] for rec in recs]

    assert ls() == [a, b, c]
    assert ls("status=open") == [a, c]
    assert ls("wijk=Noord") == [a, b]
    assert ls("wijk=Noord", "status=open") == [a]
    assert ls("tags=schulden") == [a, b]
    assert ls("tags=eenzaamheid", "wijk=Noord") == [b]
    assert ls("status=ope") == []            # exact, not a prefix
    assert ls("status=OPEN") == []           # exact, not case-folded
    assert ls("nosuchfield=x") == []
    assert ls("name=Meneer Öztürk") == [b]
    assert node.samen("ls", "nosuchcollection", json=True).json == []

    full = node.samen("ls", "case", json=True).json
    assert full[0]["fields"]["note"] == "bijgewerkt"
    assert full[1]["fields"] == {"name": "Meneer Öztürk",
                                 "status": "gesloten", "wijk": "Noord"}

    # Human form: one line per record, each with its id.
    lines = node.samen("ls", "case").out.splitlines()
    assert len(lines) == 3
    for rid, line in zip([a, b, c], lines):
        assert rid in line
    assert node.samen("ls", "case", "--where", "wijk=Zuid").out.count("\n") == 1


def test_find_is_case_insensitive_substring(node):
    a = node.put("case", "name=Familie Jansen", "adres=Lindenlaan 4",
                 "tags+=Schuldhulp")
    b = node.put("contact", "name=JANSEN installatietechniek",
                 "rol=aannemer")
    c = node.put("case", "name=Mevrouw Pietersen", "status=open")
    n = node.samen("note", c, "Buurman meneer jansen helpt met boodschappen",
                   json=True).json["id"]

    def find(text):
        recs = node.samen("find", text, json=True).json
        assert isinstance(recs, list)
        for rec in recs:
            assert RECORD_KEYS <= set(rec)
            assert "notes" not in rec
        return {rec["id"]: rec for rec in recs}

    hits = find("jansen")
    assert set(hits) == {a, b, n}
    assert hits[a]["collection"] == "case"
    assert hits[b]["collection"] == "contact"
    assert hits[n]["collection"] == "note"
    assert hits[a]["matched"] == ["name"]
    assert hits[n]["matched"] == ["text"]
    assert set(find("JaNsEn")) == {a, b, n}
    assert set(find("ansen inst")) == {b}      # substring across a space
    assert set(find("linden")) == {a}
    hits = find("schuldHULP")                  # a set element
    assert set(hits) == {a} and hits[a]["matched"] == ["tags"]
    assert find("geen treffer hier") == {}
    # Field names are not values.
    assert find("adres") == {}
    # Deleted records are not found.
    node.samen("rm", "contact", b)
    assert set(find("jansen")) == {a, n}

    out = node.samen("find", "lindenlaan").out
    assert a in out and "Lindenlaan 4" in out


def test_rm(node):
    a = node.put("case", "name=Familie Smit", "status=open")
    b = node.put("case", "name=Familie Mulder", "status=open")
    r = node.samen("rm", "case", a, json=True)
    assert r.json == {"collection": "case", "id": a}
    # Human form: silent, like rm(1).
    r = node.samen("rm", "case", b)
    assert r.out == "" and r.err == ""
    assert node.samen("ls", "case", json=True).json == []
    line = node.samen("get", "case", a, rc=1).expect_error(1)
    assert "delete" in line


def test_notes_on_a_case(node):
    case = node.put("case", "name=Familie El Amrani", "status=open")
    other = node.put("case", "name=Familie Kok")
    r = node.samen("note", case, "Huisbezoek: post ligt ongeopend op tafel.",
                   json=True)
    body = r.json
    assert body["collection"] == "note" and body["created"] is True
    assert body["case"] == case
    n1 = body["id"]
    assert RID_RE.match(n1)
    # Human form prints the note's id; a lower-case case id is fine.
    n2 = node.samen("note", case.lower(),
                    "Afspraak budgetcoach op dinsdag.").out.strip()
    assert RID_RE.match(n2) and n2 != n1
    node.samen("note", other, "Andere casus.")

    rec = node.get("case", case)
    notes = rec["notes"]
    assert [x["id"] for x in notes] == [n1, n2]    # oldest first
    for x, text in zip(notes, ["Huisbezoek: post ligt ongeopend op tafel.",
                               "Afspraak budgetcoach op dinsdag."]):
        check_record(x, "note", fields={"case": case, "text": text})
        assert "notes" not in x

    # A note is a record of its own.
    note = node.get("note", n1)
    check_record(note, "note", n1, fields={"case": case, "text":
                 "Huisbezoek: post ligt ongeopend op tafel."})
    assert "notes" not in note
    assert len(node.samen("ls", "note", json=True).json) == 3

    # The human form of get case shows the notes.
    out = node.samen("get", "case", case).out
    assert "Familie El Amrani" in out
    assert "post ligt ongeopend" in out and "budgetcoach" in out
    assert "Andere casus" not in out

    # A deleted note leaves the case.
    node.samen("rm", "note", n1)
    assert [x["id"] for x in node.get("case", case)["notes"]] == [n2]


def test_log_tells_the_history(node):
    dev = node.samen("id").out.strip()
    rid = node.put("case", "name=Familie Dekker", "status=open",
                   "tags+=schulden")
    node.samen("put", "case", rid, "status=gesloten")
    node.samen("put", "case", rid, "tags-=schulden", "tags+=werk")
    node.samen("rm", "case", rid)

    log = node.samen("log", "case", rid, json=True).json
    assert isinstance(log, list)
    for e in log:
        assert {"time", "hlc", "author", "seq", "op", "field", "value",
                "replaced"} <= set(e), e
        assert TIME_RE.match(e["time"])
        assert isinstance(e["hlc"], int) and e["hlc"] > 0
        assert e["author"] == dev
        assert isinstance(e["seq"], int) and e["seq"] >= 1
        assert isinstance(e["replaced"], int)
    hlcs = [e["hlc"] for e in log]
    assert hlcs == sorted(hlcs), "oldest first"
    seqs = [e["seq"] for e in log]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 4, "one change set per command"

    def ops(seq):
        return sorted((e["op"], e["field"], e["value"], e["replaced"])
                      for e in log if e["seq"] == seq)

    s1, s2, s3, s4 = sorted(set(seqs))
    assert ops(s1) == sorted([("create", None, None, 0),
                              ("set", "name", "Familie Dekker", 0),
                              ("set", "status", "open", 0),
                              ("add", "tags", "schulden", 0)])
    assert ops(s2) == [("set", "status", "gesloten", 1)]
    assert ops(s3) == sorted([("remove", "tags", "schulden", 1),
                              ("add", "tags", "werk", 0)])
    assert ops(s4) == [("delete", None, None, 1)]

    out = node.samen("log", "case", rid).out
    for word in ("create", "gesloten", "schulden", "werk", "delete"):
        assert word in out, out


def test_conflicts_empty_for_one_device(node):
    """A single device cannot make concurrent edits through the CLI: each
    write names every value the device sees, so it replaces them all.  So
    here `conflicts` must stay [] through a busy history.  Conflicts between
    devices (two edits of one field, an edit against a delete) are tested
    with peer sync (issue 3)."""
    assert node.samen("conflicts", json=True).json == []
    a = node.put("case", "name=Familie Yilmaz", "status=open")
    node.samen("put", "case", a, "status=gesloten", "tags+=x")
    node.samen("put", "case", a, "status=heropend", "tags-=x")
    node.samen("note", a, "telefonisch contact")
    b = node.put("task", "what=bellen")
    node.samen("rm", "task", b)
    assert node.samen("conflicts", json=True).json == []
    assert node.samen("conflicts").out == ""
    assert node.get("case", a)["conflicts"] == []
