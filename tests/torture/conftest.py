"""The torture harnesses run under pytest with the system tests' fixtures
(tests/system/conftest.py: real daemons, sanitizer checks, logs kept when
a test fails)."""

import importlib.util
import sys
from pathlib import Path

SYSTEM = Path(__file__).resolve().parents[1] / "system"
sys.path.insert(0, str(SYSTEM))
_spec = importlib.util.spec_from_file_location("samen_system_conftest",
                                               SYSTEM / "conftest.py")
_sys = importlib.util.module_from_spec(_spec)
sys.modules["samen_system_conftest"] = _sys
_spec.loader.exec_module(_sys)

binaries = _sys.binaries
cluster = _sys.cluster
pytest_runtest_makereport = _sys.pytest_runtest_makereport
