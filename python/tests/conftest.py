# pytest set-up for the lmgc package tests: `import lmgc` comes from PYTHONPATH
# (scripts/test sets build/python); without it, build/python of this checkout is used.
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")

try:
    import lmgc  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))
    import lmgc  # noqa: F401


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: several processes or training steps (seconds)")


@pytest.fixture
def examples_dir():
    return EXAMPLES


def lmgc_cli():
    """build/lmgc next to the package, if there is one."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(lmgc.__file__)))
    cli = os.path.join(os.path.dirname(pkg), "lmgc")
    return cli if os.access(cli, os.X_OK) else None
