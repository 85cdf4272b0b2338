"""Daemons in network namespaces under loss, delay, duplication,
reordering and partitions (tests/torture/netemu.py, faults.py): a short
run; make torture runs five daemons for minutes."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "torture"))
import faults  # noqa: E402

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/net/tun"),
    reason="needs root and /dev/net/tun")


def test_network_faults(cluster):
    """Three daemons, 15 s of puts under changing faults: they converge
    after healing, with the same conflicts and every acknowledged put,
    and a sync from each ends."""
    f = faults.netfaults(cluster, nodes=3, duration_s=15,
                         kinds=("impair", "part", "down", "impair"))
    assert f["acked"] > 0, f
