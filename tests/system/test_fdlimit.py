"""samend out of file descriptors (ulimit -n 64) with peers and a flood
of control and peer connections (tests/torture/faults.py)."""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "torture"))
import faults  # noqa: E402


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="no prlimit")
def test_out_of_descriptors(cluster):
    """Refused cleanly (exit 3, one line), no busy loop, the peers still
    served, requests taken again after the flood, nothing lost.  Before
    fdguard, libzmq aborted samend at the first refused accept."""
    f = faults.fdlimit(cluster, cycles=1, peers=2)
    assert f["cycles"] == 1, f
