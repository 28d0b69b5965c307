"""The realistic benchmark set (tests/realistic.py) is what it claims, and the engine counts
it right: the resident export's persons equal its truth, the postal master has none."""

import csv
import io

from realistic import HEADER, postal_master, resident_export, resident_rows

from dlp.config import InspectSettings
from dlp.detect.registry import DETECTOR_IDS
from dlp.engine import scan
from dlp.model import Transfer

ALL = frozenset(DETECTOR_IDS)


def test_export_is_seeded_cp932_with_households_and_repeated_rows():
    a, b = resident_export(2000, seed=3), resident_export(2000, seed=3)
    assert a == b
    rows = list(csv.reader(io.StringIO(a.data.decode("cp932"), newline="")))
    assert tuple(rows[0]) == HEADER and len(rows) - 1 == a.rows > a.persons == 2000
    assert len({tuple(r) for r in rows[1:]}) == 2000                 # repeated rows are exact copies
    assert a.names > 1900                                              # gimei: few namesakes
    kana = [r[3] for r in rows[1:]]
    assert all(not any("\u30a0" <= c <= "\u30ff" for c in k) for k in kana)  # half-width readings only
    births = " ".join(r[5] for r in rows[1:])
    assert "昭和" in births and "/" in births and any(f"{e}" in births for e in "SHR")


def test_household_members_never_share_a_full_name():
    rows, _persons, _names = resident_rows(5000, seed=11)
    by_household: dict[str, set[str]] = {}
    for r in rows:
        assert r[2] not in by_household.setdefault(r[1], set())
        by_household[r[1]].add(r[2])


def test_export_persons_equal_the_truth():
    export = resident_export(5000, seed=17)
    r = scan(Transfer("http", export.data), InspectSettings(), ALL)
    assert r.persons == export.persons
    assert r.findings["person_name"] >= export.names


def test_postal_master_is_address_dense_and_has_nobody():
    data = postal_master()
    assert 560_000 <= len(data) <= 570_000
    first = data.split(b"\r\n", 1)[0].decode("cp932")
    assert first.startswith('13101,"100  ","1000000","ﾄｳｷｮｳﾄ"')
    r = scan(Transfer("http", data), InspectSettings(), ALL)
    assert r.persons == 0 and r.findings.get("postal_code", 0) > 4000
