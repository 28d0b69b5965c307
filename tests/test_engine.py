"""The engine on whole payloads: extraction dispatch, counting, and failure reasons."""

import gzip
import io
import tarfile
import zipfile

import pytest
import pyzipper
from synthetic import people, resident_csv

from dlp.config import InspectSettings
from dlp.detect.registry import DETECTOR_IDS
from dlp.engine import scan
from dlp.model import Transfer

ALL = frozenset(DETECTOR_IDS)


def run(body: bytes, **kw) -> object:
    limits = kw.pop("limits", InspectSettings())
    return scan(Transfer("http", body, **kw), limits, ALL)


@pytest.fixture(scope="module")
def csv2000() -> bytes:
    return resident_csv(people(2000, seed=3))


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_csv_counts_every_person_once(csv2000):
    r = run(csv2000)
    assert r.persons == 2000 and r.findings["phone"] == 2000
    doubled = csv2000 + b"\r\n".join(csv2000.split(b"\r\n")[1:])  # every row twice
    assert run(doubled).persons == 2000


def test_count_survives_zip_in_tar_in_gzip(csv2000):
    z = zip_of({"名簿/住民.csv": csv2000})
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w") as t:
        info = tarfile.TarInfo("export/list.zip")
        info.size = len(z)
        t.addfile(info, io.BytesIO(z))
    r = run(gzip.compress(tbuf.getvalue()))
    assert r.persons == 2000 and r.uninspectable == []


def test_cp932_zip_member_names_are_decoded(csv2000):
    # A Japanese-Windows zip: the name is CP932 bytes and the UTF-8 flag is not set.
    cp932_name = "住民名簿.csv".encode("cp932")
    placeholder = b"x" * len(cp932_name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(placeholder.decode(), csv2000)
    data = buf.getvalue().replace(placeholder, cp932_name)
    r = run(data, filename="export.zip")
    assert r.persons == 2000 and r.filenames == ["export.zip", "export.zip/住民名簿.csv"]


def test_aes_encrypted_zip_is_reported_with_file_name(csv2000):
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as z:
        z.setpassword(b"secret")
        z.writestr("residents.csv", csv2000)
    r = run(buf.getvalue())
    assert r.encrypted and r.encrypted_files == ["body/residents.csv"]
    assert "encrypted" in r.uninspectable and r.persons == 0


def test_zipcrypto_archive_is_encrypted(csv2000, tmp_path):
    import subprocess
    (tmp_path / "list.csv").write_bytes(csv2000)
    subprocess.run(["zip", "-q", "-P", "pass", "out.zip", "list.csv"], cwd=tmp_path, check=True)
    r = run((tmp_path / "out.zip").read_bytes())
    assert r.encrypted and "encrypted" in r.uninspectable


def test_zip_bomb_is_too_large_not_a_crash():
    bomb = zip_of({f"{i}.txt": b"\0" * (20 << 20) for i in range(3)})
    r = run(bomb, limits=InspectSettings(max_expanded=32 << 20))
    assert "too_large" in r.uninspectable and r.errors


def test_depth_limit():
    payload = b"name,mail\nx,y@example.jp\n"
    for _ in range(4):
        payload = gzip.compress(payload)
    r = run(payload, limits=InspectSettings(max_depth=2))
    assert r.uninspectable == ["too_large"] and "max_depth" in r.errors[0]


def test_corrupt_zip_is_corrupt():
    r = run(b"PK\x03\x04" + b"\x00" * 50)
    assert r.uninspectable == ["corrupt"]


def test_random_binary_passes_without_reasons():
    import os
    r = run(os.urandom(200_000))
    assert r.uninspectable == [] and r.errors == [] and r.persons == 0


def test_mail_signature_is_one_person_and_email_list_is_many():
    sig = "お世話になっております。\n\n山田 太郎\n氏名：山田 太郎\n電話 090-1234-5678\ntaro.yamada@example.co.jp\n"
    assert run(sig.encode()).persons == 1
    mails = "\n".join(f"user{i}@example.jp" for i in range(50))
    assert run(mails.encode()).persons == 50


def test_json_api_body_with_people(csv2000):
    import json
    ps = people(300, seed=5)
    doc = {"members": [{"name": p.name, "email": p.email, "tel": p.phone} for p in ps]}
    r = run(json.dumps(doc, ensure_ascii=False).encode(), content_type="application/json")
    assert r.persons == 300


def test_same_name_different_people_are_two():
    rows = "氏名,生年月日,住所\n佐藤 花子,1980-01-01,東京\n佐藤 花子,1990-05-05,大阪\n佐藤 花子,1980-01-01,東京\n"
    assert run(rows.encode()).persons == 2


def test_a_large_benign_csv_is_scanned_within_the_time_budget():
    """20 MB of order records (a table with no column a detector claims) must finish well
    inside the default 10 s budget: a timeout would block an ordinary export."""
    from synthetic import benign_corpus

    data = benign_corpus(20 * 10**6, kinds=("orders",))
    r = run(data)
    assert r.uninspectable == [] and r.persons == 0 and r.seconds < 8


def test_untyped_table_rows_are_records_and_their_rare_findings_count():
    """A headerless export whose columns type as nothing: every row is a record, rows are
    scanned in batches, and a finding in one row's free text lands in that row only."""
    import random
    rnd = random.Random(4)
    rows = [f"{rnd.randint(10**7, 10**8)},2026-11-{rnd.randint(1, 28):02d},SKU-{rnd.randint(1000, 9999)},note"
            for _ in range(3000)]
    rows[5] = rows[5].replace("note", "TEL 090-1234-5678 mail hanako.sato@example.jp")
    rows[2900] = rows[2900].replace("note", "連絡先 03-1234-5678")
    r = run(("\n".join(rows) + "\n").encode())
    assert r.records == 3000
    assert r.findings == {"email": 1, "phone": 2}
    assert r.persons == 1        # the e-mail makes its row a person; a bare phone does not


def test_untyped_table_without_findings_counts_rows_only():
    rows = [f"{10**7 + i},2026-11-05,{i % 97},SKU-{1000 + i % 9000}" for i in range(5000)]
    r = run(("\n".join(rows) + "\n").encode())
    assert r.records == 5000 and r.findings == {} and r.persons == 0


def test_the_collector_runs_less_often_during_a_scan_and_as_before_after(monkeypatch):
    import gc
    import threading

    from dlp import engine
    seen = []
    real = engine._scan

    def spy(*a, **kw):
        seen.append(gc.get_threshold())
        return real(*a, **kw)

    monkeypatch.setattr(engine, "_scan", spy)
    before = gc.get_threshold()
    big = b"TEL 090-1234-5678\n" * (engine.GC_PAUSE_MIN // 18 + 1)
    run(big)
    assert gc.get_threshold() == before and gc.isenabled()
    t = threading.Thread(target=run, args=(big,))
    t.start()
    t.join()
    run(b"TEL 090-1234-5678")
    assert seen == [engine.SCAN_GC_THRESHOLD, before, before]   # large bodies on the main thread only
