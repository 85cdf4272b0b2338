"""The data directory on a small disk that fills up, then on one that
goes read-only (tests/torture/faults.py; make torture runs more cycles)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "torture"))
import faults  # noqa: E402

pytestmark = pytest.mark.skipif(faults.can_mount() is not None,
                                reason=str(faults.can_mount()))


def test_disk_full(cluster):
    """Puts refused with 'No space left on device' (exit 1), reads and a
    peer's sync go on, nothing acknowledged lost, writes back once space
    is freed, without a restart."""
    f = faults.diskfull(cluster, cycles=1, mb=24)
    assert f["refused_while_full"] > 0 and f["recovered_without_restart"]


def test_disk_read_only(cluster):
    """Puts refused with 'Read-only file system' (or samend stops, saying
    why), nothing acknowledged lost after fsck and remount."""
    f = faults.readonly(cluster, cycles=1, mb=24)
    assert f.get("skipped") or f["cycles"] == 1, f
