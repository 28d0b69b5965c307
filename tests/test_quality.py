"""The quality bar of the detection engine on the generated evaluation set (the same files
bench/bench_quality.py reports on, smaller): person counts within 2% on every bulk file, no
benign file at 10 persons, My Number precision >= 0.99 among random 12-digit ids."""

import pytest
from synthetic import benign_samples, bulk_samples

from dlp.config import InspectSettings
from dlp.detect.registry import DETECTOR_IDS
from dlp.engine import scan
from dlp.model import Transfer

ALL = frozenset(DETECTOR_IDS)


@pytest.mark.parametrize("sample", bulk_samples(600, seed=21), ids=lambda s: s.name)
def test_bulk_file_person_count_within_two_percent(sample):
    keys: dict[str, set[str]] = {}
    r = scan(Transfer("http", sample.data, filename=sample.name), InspectSettings(), ALL, keys_out=keys)
    assert abs(r.persons - sample.persons) <= 0.02 * sample.persons, (r.persons, sample.persons)
    for det, truth in sample.truth.items():
        found = keys.get(det, set())
        assert len(found & truth) >= 0.98 * len(truth), det            # recall
        assert len(found & truth) >= 0.98 * len(found), det            # precision


@pytest.mark.parametrize("sample", benign_samples(seed=22), ids=lambda s: s.name)
def test_benign_file_stays_below_ten_persons(sample):
    keys: dict[str, set[str]] = {}
    r = scan(Transfer("http", sample.data, filename=sample.name), InspectSettings(), ALL, keys_out=keys)
    assert r.persons < 10
    if sample.name in ("orders.csv", "ids.txt"):       # full of random 12-digit ids
        assert keys.get("my_number", set()) == set()
