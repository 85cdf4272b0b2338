"""The long fault runs of `make torture` (docs/reliability.md).

ROUNDS (power cuts, and power cuts during purges; default 100), NETEM_S (seconds of writes under
network faults, default 180) and the ONLY filter come from the
environment, which the Makefile sets.  Each test prints its figures."""

import json
import os

import pytest

import faults
import purgecut

ROUNDS = int(os.environ.get("ROUNDS", "100"))
SEED = int(os.environ["SEED"]) if os.environ.get("SEED") else None


def report(name, figures):
    print(f"\n{name}: " + json.dumps(figures, sort_keys=True, default=str))


@pytest.mark.skipif(faults.can_mount() is not None,
                    reason=str(faults.can_mount()))
def test_powercut(cluster):
    f = faults.powercut(cluster, rounds=ROUNDS, seed=SEED)
    f.pop("cuts")
    report("powercut", f)


@pytest.mark.skipif(faults.can_mount() is not None,
                    reason=str(faults.can_mount()))
def test_purgecut(cluster):
    report("purgecut", purgecut.purgecut(cluster, rounds=ROUNDS, seed=SEED))


@pytest.mark.skipif(faults.can_mount() is not None,
                    reason=str(faults.can_mount()))
def test_diskfull(cluster):
    report("diskfull", faults.diskfull(cluster, cycles=5, mb=48))


@pytest.mark.skipif(faults.can_mount() is not None,
                    reason=str(faults.can_mount()))
def test_readonly(cluster):
    report("readonly", faults.readonly(cluster, cycles=3, mb=48))


def test_fdlimit(cluster):
    report("fdlimit", faults.fdlimit(cluster, cycles=5, peers=4,
                                     flood=300))


def test_netfaults(cluster):
    f = faults.netfaults(cluster, nodes=5,
                         duration_s=int(os.environ.get("NETEM_S", "180")),
                         seed=SEED)
    report("netfaults", f)
