import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import Upstream
from synthetic import people, resident_csv

# Property tests are deterministic: the same examples on every run and machine (no example
# database, derandomized), so a failure reproduces and none comes by chance; no per-example
# deadline (timing is asserted where it matters, against the scan budget).
# HYPOTHESIS_PROFILE=explore draws fresh examples, for a longer hunt by hand.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", database=None, deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def residents_csv(tmp_path_factory) -> Path:
    """31,429 synthetic residents (the size of the origin case) as a CP932 CSV export."""
    path = tmp_path_factory.mktemp("data") / "residents.csv"
    path.write_bytes(resident_csv(people(31429)))
    return path


@pytest.fixture
def upstream():
    up = Upstream().start()
    yield up
    up.stop()
