import pytest
from synthetic import Person, people


@pytest.fixture(scope="session")
def persons() -> list[Person]:
    """The 2,000 synthetic residents every format test carries."""
    return people(2000, seed=3)
