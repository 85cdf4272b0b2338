"""Bash completion (conf/samen.bash), driven as bash drives it: COMP_WORDS
and COMP_CWORD set, _samen called, COMPREPLY read.

The commands, subcommands and options it offers must be samen's own (what
`samen help` and `samen COMMAND --help` print), so a command added to the
CLI without its completion fails here.  Circle names and device ids come
from the running daemon of the data directory on the command line; with no
daemon, nothing is offered and nothing printed.
"""

import re
import subprocess
import time

from conftest import REPO, SAMEN, DEVID_RE

SCRIPT = REPO / "conf" / "samen.bash"


def complete(*words, env=None):
    """The words bash would offer after `words` (the last one is the word
    being completed, "" for a new one), and what the script printed."""
    words = [str(SAMEN), *words]
    script = (f"source {SCRIPT}\n"
              "COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1))\n"
              "_samen\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    r = subprocess.run(["bash", "-c", script, "samen", *words],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    return sorted(w for w in r.stdout.split("\n") if w), r.stderr


def words(*args):
    return complete(*args)[0]


def cli_commands():
    """samen help's command list: {command: [subcommands]}."""
    out = subprocess.run([str(SAMEN), "help"], capture_output=True,
                         text=True, check=True).stdout
    section = out.split("\ncommands:\n", 1)[1].split("\n\n", 1)[0]
    table = {}
    for line in section.splitlines():
        if not line.startswith("  ") or line.startswith("   "):
            continue   # a summary on a line of its own
        first = line.split()
        if first[0] in ("peer", "circle", "device"):
            table.setdefault(first[0], []).append(first[1])
        else:
            table.setdefault(first[0], [])
    return table


def cli_options(*cmd):
    """The --options samen CMD --help names in its usage line."""
    out = subprocess.run([str(SAMEN), *cmd, "--help"], capture_output=True,
                         text=True, check=True).stdout
    usage = out.splitlines()[0]
    return set(re.findall(r"--[a-z][a-z-]*", usage)) - {"--json"}


GLOBAL = {"-d", "--dir", "--json", "-h", "--help", "--version"}


def test_commands_are_the_cli_s():
    table = cli_commands()
    assert words("") == sorted(table)
    assert words("c") == sorted(c for c in table if c.startswith("c"))
    for group in ("peer", "circle", "device"):
        assert words(group, "") == sorted(table[group])
        assert words("help", group, "") == sorted(table[group])
    assert words("help", "") == sorted(table)


def test_options_are_the_cli_s():
    table = cli_commands()
    for cmd, subs in table.items():
        for argv in ([cmd] if not subs else [[cmd, s] for s in subs]):
            argv = argv if isinstance(argv, list) else [argv]
            want = cli_options(*argv) | GLOBAL
            assert set(words(*argv, "-")) == want, argv
    # Global options before the command too.
    assert set(words("-")) == GLOBAL
    assert words("--j") == ["--json"]


def test_collections_and_files(tmp_path):
    conv = ["case", "contact", "note", "task"]
    for cmd in ("put", "get", "ls", "rm", "log"):
        assert words(cmd, "") == conv
    assert words("put", "--circle", "x", "c") == ["case", "contact"]
    assert words("get", "case", "") == []
    (tmp_path / "sub").mkdir()
    (tmp_path / "pass.txt").write_text("x\n")
    assert words("-d", f"{tmp_path}/s") == [f"{tmp_path}/sub"]
    assert f"{tmp_path}/pass.txt" in words("init", "--passphrase-file",
                                           f"{tmp_path}/")


def test_from_the_daemon(cluster):
    a = cluster.node("a")
    a.init()
    a.start()
    b = cluster.node("b")
    b.init()
    a.circle_new("wijkteam")
    a.circle_add("wijkteam", b)
    a.peer_add(b, addr=False)
    d = str(a.dir)

    circles = sorted(a.circles())
    assert "wijkteam" in circles and len(circles) == 2, circles
    assert words("-d", d, "circle", "use", "") == circles
    assert words("-d", d, "circle", "use", "w") == ["wijkteam"]
    assert words("--dir", d, "circle", "add", "") == circles
    assert words(f"--dir={d}", "put", "--circle", "") == circles
    # Device ids: the peers, for rm, sync and circle add.
    assert words("-d", d, "peer", "rm", "") == [b.device]
    assert words("-d", d, "sync", "") == [b.device]
    assert words("-d", d, "sync", b.device[:3]) == [b.device]
    assert words("-d", d, "circle", "add", "wijkteam", "") == [b.device]
    # Members, for role, rm, accept and revoke; roles.
    assert words("-d", d, "circle", "rm", "wijkteam", "") == \
        sorted([a.device, b.device])
    assert words("-d", d, "device", "revoke", "") == \
        sorted([a.device, b.device])
    assert words("circle", "role", "wijkteam", b.device, "") == \
        ["admin", "member", "relay"]
    assert words("circle", "add", "wijkteam", b.device, "--role", "r") == \
        ["relay"]
    assert words("-d", d, "circle", "quarantine", "") == circles
    # peer add offers the circles' members, here a (admin) and b.
    assert words("-d", d, "peer", "add", "") == sorted([a.device, b.device])
    assert all(DEVID_RE.match(w) for w in words("-d", d, "sync", ""))
    # The data directory from the environment, as samen reads it.
    env = {"SAMEN_HOME": d, "PATH": "/usr/bin:/bin"}
    assert complete("circle", "use", "", env=env)[0] == circles

    # No daemon: nothing offered, nothing printed, no waiting.
    a.stop()
    t = time.monotonic()
    got, err = complete("-d", d, "circle", "use", "")
    assert got == [] and err == ""
    got, err = complete("-d", str(cluster.root / "none"), "sync", "")
    assert got == [] and err == ""
    assert time.monotonic() - t < 10
