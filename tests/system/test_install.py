"""make install, make uninstall, the man pages and make deb (issue 27).

Install into a DESTDIR: exactly the files the Makefile lists, with the
right modes, the unit naming the installed samend; uninstall leaves no
file.  The man pages lint clean (mandoc -T lint, man --warnings) and name
every command, option and exit code samen and samend report themselves,
and every option of the config table with its default.  The deb is built,
inspected with dpkg-deb, checked by lintian (an error fails), its
dependencies cover the libraries the binaries load, and its samen and
samend run from a root it was extracted into.
"""

import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import BUILD, REPO, SAMEN, SAMEND

RELBUILD = os.path.relpath(BUILD, REPO)


def make(*args, timeout=600):
    r = subprocess.run(["make", "-s", "--no-print-directory", *args,
                        f"BUILD={RELBUILD}", "SANITIZE=address,undefined"],
                       cwd=REPO, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, f"make {' '.join(args)}:\n{r.stdout}{r.stderr}"
    return r


def run(*argv, **kw):
    r = subprocess.run([str(a) for a in argv], capture_output=True,
                       text=True, timeout=120, **kw)
    assert r.returncode == 0, f"{argv}: exit {r.returncode}\n{r.stderr}"
    return r.stdout


def version_line(prog):
    """What prog --version must print: 'samen 0.1.0 (protocol 1, schema 6)'."""
    text = (REPO / "proto" / "version.h").read_text()
    version = re.search(r'#define SAMEN_VERSION "(.*)"', text).group(1)
    schema = re.search(r"#define SAMEN_SCHEMA_VERSION (\d+)", text).group(1)
    proto = re.search(r"#define SAMEN_PROTOCOL_VERSION (\d+)",
                      (REPO / "proto" / "protocol.h").read_text()).group(1)
    return f"{prog} {version} (protocol {proto}, schema {schema})\n", version


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not p.is_dir())


INSTALLED = [
    "usr/bin/samen", "usr/bin/samend",
    "usr/lib/systemd/user/samend.service",
    "usr/share/bash-completion/completions/samen",
    "usr/share/doc/samen/README.md", "usr/share/doc/samen/api.md",
    "usr/share/doc/samen/cli.md", "usr/share/doc/samen/design.md",
    "usr/share/doc/samen/examples/samen.conf",
    "usr/share/doc/samen/metrics.md", "usr/share/doc/samen/performance.md",
    "usr/share/doc/samen/sync.md",
    "usr/share/man/man1/samen.1", "usr/share/man/man5/samen.conf.5",
    "usr/share/man/man8/samend.8",
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("destdir")
    make("install", f"DESTDIR={root}", "PREFIX=/usr")
    return root


def test_install_and_uninstall(installed, tmp_path):
    root = installed
    assert files_under(root) == sorted(INSTALLED)
    for f in INSTALLED:
        mode = stat.S_IMODE((root / f).stat().st_mode)
        assert mode == (0o755 if "/bin/" in f else 0o644), (f, oct(mode))
    unit = (root / "usr/lib/systemd/user/samend.service").read_text()
    assert "ExecStart=/usr/bin/samend --foreground\n" in unit
    # The installed programs are the built ones.
    assert run(root / "usr/bin/samen", "--version") == \
        version_line("samen")[0]
    assert run(root / "usr/bin/samend", "--version") == \
        version_line("samend")[0]

    # Uninstall from a copy (the module's tree serves the other tests):
    # every file goes, nothing else is touched.
    other = tmp_path / "destdir"
    make("install", f"DESTDIR={other}", "PREFIX=/usr")
    keep = other / "usr/share/doc/other.txt"
    keep.write_text("not samen's\n")
    make("uninstall", f"DESTDIR={other}", "PREFIX=/usr")
    assert files_under(other) == ["usr/share/doc/other.txt"]
    assert not (other / "usr/share/doc/samen").exists()


def rendered(page):
    """The page as text, without mandoc's overstriking."""
    out = run("mandoc", "-T", "utf8", "-O", "width=200", page)
    return re.sub(r".\x08", "", out)


def test_man_pages_lint_clean(installed, tmp_path):
    # A copy with its own mandoc.db, where the cross-references between
    # the three pages are looked up (-W style: every message).
    man = tmp_path / "man"
    shutil.copytree(installed / "usr/share/man", man)
    run("makewhatis", man)
    pages = [man / "man1/samen.1", man / "man8/samend.8",
             man / "man5/samen.conf.5"]
    r = subprocess.run(["mandoc", "-T", "lint", "-W", "style", "-M",
                        str(man), *map(str, pages)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", \
        r.stdout + r.stderr
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANROFFSEQ="")
    for p in pages:
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", str(p)],
                           capture_output=True, text=True, env=env,
                           timeout=60)
        assert r.returncode == 0 and r.stderr == "", (p, r.stderr)
        assert len(r.stdout) > 1000, p


def test_samen_1_names_every_command_option_and_exit(installed):
    text = rendered(installed / "usr/share/man/man1/samen.1")
    help_text = run(SAMEN, "help")
    commands = []
    section = help_text.split("\ncommands:\n", 1)[1].split("\n\n", 1)[0]
    for line in section.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            w = line.split()
            commands.append(" ".join(w[:2]) if w[0] in
                            ("peer", "circle", "device") else w[0])
    assert len(commands) >= 20, commands
    for c in commands:
        assert re.search(rf"(^|\s){re.escape(c)}(\s|$)", text, re.M), \
            f"samen.1 does not describe '{c}'"
    options = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", help_text))
    for c in commands:
        options |= set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)",
                                  run(SAMEN, *c.split(), "--help")))
    assert {"--passphrase-file", "--wait", "--circle", "-d"} <= options
    for o in options:
        assert re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text), \
            f"samen.1 does not name {o}"
    codes = re.findall(r"(\d) ", help_text.split("\nexit: ", 1)[1])
    assert codes == ["0", "1", "2", "3", "4"], codes
    exits = text.split("EXIT STATUS", 1)[1].split("EXAMPLES", 1)[0]
    for code in codes:
        assert re.search(rf"^\s+{code}\s", exits, re.M), code
    for env in ("SAMEN_HOME", "SAMEN_PASSPHRASE", "SAMEN_TIMEOUT"):
        assert env in text


def test_samend_8_names_every_option_signal_and_file(installed):
    text = rendered(installed / "usr/share/man/man8/samend.8")
    help_text = run(SAMEND, "--help")
    options = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", help_text))
    assert {"--check-config", "--daemonize", "-c", "--version"} <= options
    for o in options:
        assert re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text), \
            f"samend.8 does not name {o}"
    for word in ("SIGHUP", "SIGTERM", "SIGINT", "SAMEN_HOME",
                 "NOTIFY_SOCKET", "samen.conf", "ctl.sock", "samend.lock"):
        assert word in text, word


def defaults():
    """{option: default} as samend --check-config prints them."""
    out = run(SAMEND, "-d", "/nonexistent", "--check-config")
    return dict(re.findall(r"^(\w+) = ?(.*)$", out, re.M))


def test_samen_conf_5_names_every_option_with_its_default(installed):
    text = rendered(installed / "usr/share/man/man5/samen.conf.5")
    opts = defaults()
    assert {"metrics_file", "metrics_interval", "batch_max"} <= set(opts)
    assert opts["metrics_file"] == "" and opts["metrics_interval"] == "15"
    body = text.split("OPTIONS", 1)[1].split("FILES", 1)[0]
    # Each option's entry: from its "name = type" line to the next one.
    entries = re.split(r"^\s+(\w+) = (?:number|level|string)$", body,
                       flags=re.M)
    found = dict(zip(entries[1::2], entries[2::2]))
    assert sorted(found) == sorted(opts)
    for name, default in opts.items():
        want = f"Default: {default}." if default else "Default: empty."
        assert want in " ".join(found[name].split()), (name, found[name])


def test_example_conf_is_the_table_s(installed):
    """conf/samen.conf is confdoc's output (make conf-example), names every
    option with its default, and samend takes it as it is."""
    confdoc = BUILD / "man" / "confdoc"
    generated = run(confdoc, "conf")
    assert (REPO / "conf" / "samen.conf").read_text() == generated, \
        "conf/samen.conf is stale: run make conf-example"
    assert (installed / "usr/share/doc/samen/examples/samen.conf"
            ).read_text() == generated
    opts = defaults()
    lines = dict(re.findall(r"^(\w+) = ?(.*)$", generated, re.M))
    assert lines == opts
    out = run(SAMEND, "-d", "/nonexistent", "-c",
              REPO / "conf" / "samen.conf", "--check-config")
    assert dict(re.findall(r"^(\w+) = ?(.*)$", out, re.M)) == opts


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    r = subprocess.run(["make", "-s", "--no-print-directory", "deb",
                        f"DEB_OUT={out}"], cwd=REPO, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = list(out.glob("samen_*.deb"))
    assert len(debs) == 1, debs
    return debs[0], r.stdout


def test_deb_contents_and_control(deb):
    path, _ = deb
    _, version = version_line("samen")
    arch = run("dpkg", "--print-architecture").strip()
    assert path.name == f"samen_{version}_{arch}.deb"
    info = run("dpkg-deb", "-I", path)
    fields = dict(re.findall(r"^ (\w[\w-]*): (.*)$", info, re.M))
    assert fields["Package"] == "samen"
    assert fields["Version"] == version
    assert fields["Architecture"] == arch
    assert fields["Maintainer"] and fields["Description"]
    listing = run("dpkg-deb", "-c", path)
    names = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    for f in ("/usr/bin/samen", "/usr/bin/samend",
              "/usr/share/man/man1/samen.1.gz",
              "/usr/share/man/man8/samend.8.gz",
              "/usr/share/man/man5/samen.conf.5.gz",
              "/usr/share/bash-completion/completions/samen",
              "/usr/lib/systemd/user/samend.service",
              "/usr/share/doc/samen/copyright",
              "/usr/share/doc/samen/changelog.gz",
              "/usr/share/doc/samen/examples/samen.conf"):
        assert f in names, f
    for line in listing.splitlines():
        assert " root/root " in line, line


def test_deb_runs_and_depends_on_what_it_loads(deb, tmp_path):
    path, _ = deb
    root = tmp_path / "root"
    run("dpkg-deb", "-x", path, root)
    assert run(root / "usr/bin/samen", "--version") == \
        version_line("samen")[0]
    assert run(root / "usr/bin/samend", "--version") == \
        version_line("samend")[0]
    unit = (root / "usr/lib/systemd/user/samend.service").read_text()
    assert "ExecStart=/usr/bin/samend --foreground\n" in unit

    depends = run("dpkg-deb", "-f", path, "Depends").strip()
    wanted = {d.split()[0] for d in depends.split(", ")}
    # Each library a binary loads belongs to a package in Depends.
    for prog in ("samen", "samend"):
        dump = run("objdump", "-p", root / "usr/bin" / prog)
        for lib in re.findall(r"NEEDED\s+(\S+)", dump):
            where = run("ldconfig", "-p")
            m = re.search(rf"^\s+{re.escape(lib)} \(.*\) => (\S+)$", where,
                          re.M)
            assert m, lib
            owner = subprocess.run(["dpkg", "-S", os.path.realpath(m.group(1))],
                                   capture_output=True, text=True)
            if owner.returncode != 0:
                owner = subprocess.run(["dpkg", "-S", m.group(1)],
                                       capture_output=True, text=True)
            pkg = owner.stdout.split(":")[0]
            assert pkg in wanted, (prog, lib, pkg, depends)
    # apt can resolve it on this machine (as on a fresh Debian with the
    # same release): nothing missing, nothing to remove.
    r = subprocess.run(["apt-get", "install", "-s", "-q", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^Inst samen ", r.stdout, re.M), r.stdout
    assert not re.search(r"^Remv ", r.stdout, re.M), r.stdout


def test_deb_lintian_has_no_errors(deb):
    path, out = deb
    assert "lintian: no errors" in out, out
    r = subprocess.run(["lintian", "--fail-on", "error", str(path)],
                       capture_output=True, text=True, timeout=300)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert r.returncode == 0 and not errors, r.stdout + r.stderr
