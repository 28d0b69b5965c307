"""Containers: the 2,000 persons survive zip (CP932 names), tar, gzip, bz2, xz, zstd and 7z,
nested; encrypted archives are reported by member name; unreadable kinds are unsupported."""

import subprocess

import formats as F
import pytest

from dlp.config import InspectSettings
from dlp.extract.content_encoding import zstd


@pytest.fixture(scope="module")
def csv2000(persons) -> bytes:
    return F.csv_text(persons).encode("cp932")


def clean(r) -> None:
    assert r.uninspectable == [] and r.errors == [] and r.engine_error is None, r.errors


def test_csv_in_zip_in_tar_in_xz(csv2000):
    z = F.cp932_zip({"名簿/住民一覧.csv": csv2000})
    data = F.COMPRESSORS["xz"](F.tar_of({"export/list.zip": z}))
    r = F.scan_bytes(data, filename="backup.tar.xz")
    clean(r)
    assert r.persons == 2000
    assert r.filenames == ["backup.tar.xz", "backup.tar/export/list.zip",
                           "backup.tar/export/list.zip/名簿/住民一覧.csv"]


@pytest.mark.parametrize("kind", ["gzip", "bz2", "xz"])
def test_single_stream_files(csv2000, kind):
    r = F.scan_bytes(F.COMPRESSORS[kind](csv2000))
    clean(r)
    assert r.persons == 2000


def test_zstd_file_and_multi_member_gzip(csv2000):
    r = F.scan_bytes(zstd.compress(csv2000))
    clean(r)
    assert r.persons == 2000
    half = len(csv2000) // 2
    cut = csv2000.rfind(b"\r\n", 0, half) + 2
    import gzip
    r = F.scan_bytes(gzip.compress(csv2000[:cut]) + gzip.compress(csv2000[cut:]))
    clean(r)
    assert r.persons == 2000


def test_7z_with_workbook_and_csv(persons, csv2000):
    data = F.sevenz_of({"a/名簿.csv": csv2000, "b/list.xlsx": F.xlsx(persons)})
    r = F.scan_bytes(data, filename="x.7z")
    clean(r)
    assert r.persons == 2000 and "x.7z/b/list.xlsx" in r.filenames


def test_stored_zip_of_many_formats(persons):
    files = {"a.xlsx": F.xlsx(persons[:500]), "b.docx": F.docx(persons[500:1000]),
             "c.pdf": F.pdf(persons[1000:1010]), "d.ods": F.ods(persons[1000:2000])}
    r = F.scan_bytes(F.zip_of(files, method=0))
    clean(r)
    assert r.persons >= 2000


def test_depth_is_configurable(csv2000):
    data = csv2000
    for i in range(6):
        data = F.zip_of({f"level{i}.zip" if i else "list.csv": data})
    r = F.scan_bytes(data, limits=InspectSettings(max_depth=10))
    clean(r)
    assert r.persons == 2000
    r = F.scan_bytes(data, limits=InspectSettings(max_depth=3))
    assert r.uninspectable == ["too_large"] and "nested deeper than inspect.max_depth (3)" in r.errors[0]
    assert r.persons == 0


def test_member_count_limit():
    data = F.zip_of({f"{i}.txt": b"x" for i in range(50)})
    r = F.scan_bytes(data, limits=InspectSettings(max_members=20))
    assert r.uninspectable == ["too_large"] and "inspect.max_members (20)" in r.errors[0]


def test_aes_zip_is_encrypted_with_names(csv2000):
    r = F.scan_bytes(F.aes_zip({"住民.csv": csv2000, "readme.txt": b"hello"}), filename="送付.zip")
    assert r.encrypted and sorted(r.encrypted_files) == ["送付.zip/readme.txt", "送付.zip/住民.csv"]
    assert r.uninspectable == ["encrypted"] and r.persons == 0


def test_zipcrypto_ppap_zip_is_encrypted(csv2000, tmp_path):
    (tmp_path / "list.csv").write_bytes(csv2000)
    subprocess.run(["zip", "-q", "-P", "pass", "out.zip", "list.csv"], cwd=tmp_path, check=True)
    r = F.scan_bytes((tmp_path / "out.zip").read_bytes(), filename="資料.zip")
    assert r.encrypted and r.encrypted_files == ["資料.zip/list.csv"] and r.uninspectable == ["encrypted"]


def test_encrypted_member_next_to_a_readable_one(csv2000):
    inner = F.aes_zip({"secret.csv": csv2000})
    r = F.scan_bytes(F.zip_of({"open.csv": csv2000, "locked.zip": inner}))
    assert r.persons == 2000 and r.encrypted_files == ["body/locked.zip/secret.csv"]
    assert r.uninspectable == ["encrypted"]


@pytest.mark.parametrize("header_encryption", [False, True])
def test_encrypted_7z(csv2000, header_encryption):
    r = F.scan_bytes(F.sevenz_of({"名簿.csv": csv2000}, "pw", header_encryption), filename="a.7z")
    assert r.encrypted and r.uninspectable == ["encrypted"] and r.persons == 0
    assert r.encrypted_files == (["a.7z"] if header_encryption else ["a.7z/名簿.csv"])


@pytest.mark.parametrize("data, what", [
    (b"Rar!\x1a\x07\x01\x00" + bytes(200), "RAR archive"),
    (b"MSCF\x00\x00\x00\x00" + bytes(200), "CAB archive"),
    (b"\x21\x00-lh5-" + bytes(200), "LZH (LHA) archive"),
])
def test_archives_without_a_reader_are_unsupported(data, what):
    r = F.scan_bytes(data, filename="x.bin")
    assert r.uninspectable == ["unsupported"] and r.errors == [f"x.bin: {what} cannot be read"]


def test_unsupported_zip_method_is_unsupported():
    import struct
    data = bytearray(F.zip_of({"a.txt": b"hello" * 100}))
    for sig, off in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        i = data.find(sig)
        struct.pack_into("<H", data, i + off, 9)  # deflate64
    r = F.scan_bytes(bytes(data))
    assert r.uninspectable == ["unsupported"] and "compression method" in r.errors[0]


def test_corrupt_member_does_not_hide_siblings(csv2000):
    import os
    data = bytearray(F.zip_of({"bad.csv": os.urandom(5000), "good.csv": csv2000}))
    i = data.find(b"bad.csv") + len(b"bad.csv")
    data[i + 10:i + 40] = b"\xff" * 30  # damage the first member's deflate data
    r = F.scan_bytes(bytes(data))
    assert r.persons == 2000 and r.uninspectable == ["corrupt"] and "body/bad.csv" in r.errors[0]
