"""Power cuts under a stream of puts, and during purges, on cutfs
(tests/torture/cutfs.c): a few rounds; `make torture` runs a hundred
(docs/reliability.md)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "torture"))
import faults  # noqa: E402
import purgecut  # noqa: E402

pytestmark = pytest.mark.skipif(faults.can_mount() is not None,
                                reason=str(faults.can_mount()))


def test_powercut_rounds(cluster):
    """Start, put with three clients, cut the power at a random moment,
    remount what survived, restart: four times, with a peer syncing; every
    acknowledged put is there, the crash states pass integrity_check, the
    peer saw no fork."""
    f = faults.powercut(cluster, rounds=4, max_run_s=1.5)
    assert f["rounds"] == 4 and f["acked"] > 0, f


def test_purge_powercut_rounds(cluster):
    """A canary case and its notes, puts beside them, samen purge
    --cascade, the power cut during it or after its reply, restart: three
    times.  An acknowledged purge has erased every record and left no
    byte of them in any file of the data directory (the WAL too); every
    acknowledged put is there; samend starts."""
    f = purgecut.purgecut(cluster, rounds=3, notes=6)
    assert f["rounds"] == 3 and f["acked"] > 0, f
