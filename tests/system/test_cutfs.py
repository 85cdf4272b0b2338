"""cutfs itself (tests/torture/cutfs.c): a cut keeps what was synced and
loses what was not, so that test_powercut.py cannot pass by losing
nothing."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "torture"))
import faults  # noqa: E402

pytestmark = pytest.mark.skipif(faults.can_mount() is not None,
                                reason=str(faults.can_mount()))


@pytest.fixture
def cutfs(cluster):
    fs = faults.CutFS(cluster, cluster.root / "disk", cluster.root / "mnt",
                      cluster.root / "cutfs.log")
    fs.mount()
    yield fs
    fs.unmount()


def write(path, data, sync=False, mode="wb"):
    with open(path, mode) as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def sync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_cut_all(cutfs):
    """Synced content and names stay; unsynced writes, a file created
    after the directory's sync, a rename and an unlink not synced, go."""
    m, d = cutfs.mnt, cutfs.backing
    write(m / "kept", b"K" * 10000, sync=True)
    write(m / "gone-on-unlink", b"U" * 100, sync=True)
    write(m / "renamed", b"R" * 100, sync=True)
    write(m / "empty", b"E" * 100)              # named, content unsynced
    sync_dir(m)
    write(m / "kept", b"k" * 100, mode="r+b")   # overwrite, unsynced
    write(m / "kept", b"+" * 5000, mode="ab")   # extension, unsynced
    write(m / "new", b"N" * 100, sync=True)     # file synced, name not
    os.unlink(m / "gone-on-unlink")
    os.rename(m / "renamed", m / "renamed2")
    assert cutfs.cut("all", 7).startswith("all seed=7: 4 unsynced ops")
    with pytest.raises(OSError):
        os.listdir(m)                           # the disk is gone
    cutfs.unmount()
    assert sorted(p.name for p in d.iterdir() if not
                  p.name.startswith(".cutfs")) == \
        ["empty", "gone-on-unlink", "kept", "renamed"]
    assert (d / "kept").read_bytes() == b"K" * 10000
    assert (d / "gone-on-unlink").read_bytes() == b"U" * 100
    assert (d / "renamed").read_bytes() == b"R" * 100
    assert (d / "empty").read_bytes() == b""


def test_cut_suffix_keeps_a_prefix(cutfs):
    """suffix keeps the first k writes since the sync, in order: the file
    holds its synced content followed by whole writes, never a later one
    without the earlier ones."""
    m, d = cutfs.mnt, cutfs.backing
    write(m / "log", b"", sync=True)
    sync_dir(m)
    with open(m / "log", "ab") as f:
        for i in range(50):
            f.write(bytes([65 + i % 26]) * 100)
            f.flush()
    cutfs.cut("suffix", 12345)
    cutfs.unmount()
    got = (d / "log").read_bytes()
    assert len(got) % 100 == 0 and len(got) < 5000
    assert got == b"".join(bytes([65 + i % 26]) * 100
                           for i in range(len(got) // 100))


def test_sync_command_and_remount(cutfs):
    """'sync' makes everything durable; a mount on what survived starts
    from it."""
    m, d = cutfs.mnt, cutfs.backing
    write(m / "a", b"A" * 100)
    cutfs.command("sync\n")
    write(m / "a", b"B" * 100, mode="r+b")
    cutfs.cut("all", 1)
    cutfs.unmount()
    cutfs.mount()
    assert (m / "a").read_bytes() == b"A" * 100
    write(m / "a", b"C" * 100, mode="r+b", sync=True)
    cutfs.cut("subset", 2)
    cutfs.unmount()
    assert (d / "a").read_bytes() == b"C" * 100
