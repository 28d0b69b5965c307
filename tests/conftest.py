import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import Upstream
from synthetic import people, resident_csv


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
