import os
import stat
import time

import pytest

from dlp.quarantine import Held, Item, Quarantine, QuarantineError

PAYLOAD = "氏名,電話番号\n山田 太郎,090-1234-5678\n".encode() * 100


def item(item_id: str = "01HZZZZZZZZZZZZZZZZZZZZZZZ") -> Item:
    return Item(id=item_id, time="2026-11-27T00:00:00Z", protocol="http", rules=["bulk-review"],
                user="alice", persons=100, size=len(PAYLOAD), destination={"host": "example.com"})


def test_held_content_is_encrypted_at_rest_and_round_trips(tmp_path):
    q = Quarantine(tmp_path)
    q.hold(item(), Held({"method": "POST"}, PAYLOAD))
    blob = (tmp_path / "quarantine" / "01HZZZZZZZZZZZZZZZZZZZZZZZ.bin").read_bytes()
    assert "山田".encode() not in blob and b"090-1234-5678" not in blob
    for path in (tmp_path / "quarantine.key", tmp_path / "quarantine" / "01HZZZZZZZZZZZZZZZZZZZZZZZ.bin",
                 tmp_path / "quarantine" / "01HZZZZZZZZZZZZZZZZZZZZZZZ.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    held = q.content("01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert held.payload == PAYLOAD and held.envelope == {"method": "POST"}
    assert not list((tmp_path / "quarantine").glob(".*tmp"))  # no temp files left behind


def test_keys_rotate_and_old_items_stay_readable(tmp_path):
    q = Quarantine(tmp_path)
    q.hold(item("01AAAAAAAAAAAAAAAAAAAAAAAA"), Held({}, b"old"))
    with open(tmp_path / "quarantine.key", "a") as fh:
        fh.write("k2:" + __import__("base64").b64encode(os.urandom(32)).decode() + "\n")
    q.hold(item("01BBBBBBBBBBBBBBBBBBBBBBBB"), Held({}, b"new"))
    assert q.get("01BBBBBBBBBBBBBBBBBBBBBBBB").key_id == "k2"
    assert q.get("01AAAAAAAAAAAAAAAAAAAAAAAA").key_id != "k2"
    assert q.content("01AAAAAAAAAAAAAAAAAAAAAAAA").payload == b"old"
    assert q.content("01BBBBBBBBBBBBBBBBBBBBBBBB").payload == b"new"


def test_tampered_content_is_refused(tmp_path):
    q = Quarantine(tmp_path)
    q.hold(item(), Held({}, PAYLOAD))
    path = tmp_path / "quarantine" / "01HZZZZZZZZZZZZZZZZZZZZZZZ.bin"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(QuarantineError, match="fails authentication"):
        q.content("01HZZZZZZZZZZZZZZZZZZZZZZZ")


def test_reject_and_expiry_shred_the_content(tmp_path):
    q = Quarantine(tmp_path, retention=60)
    q.hold(item("01AAAAAAAAAAAAAAAAAAAAAAAA"), Held({}, PAYLOAD))
    q.hold(item("01BBBBBBBBBBBBBBBBBBBBBBBB"), Held({}, PAYLOAD))
    q.set_state("01AAAAAAAAAAAAAAAAAAAAAAAA", "rejected", "test", delete_content=True)
    assert not (tmp_path / "quarantine" / "01AAAAAAAAAAAAAAAAAAAAAAAA.bin").exists()
    with pytest.raises(QuarantineError, match="rejected"):
        q.content("01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert q.purge(now=time.time() + 3600) == ["01BBBBBBBBBBBBBBBBBBBBBBBB"]
    assert q.get("01BBBBBBBBBBBBBBBBBBBBBBBB").state == "expired"
    assert not (tmp_path / "quarantine" / "01BBBBBBBBBBBBBBBBBBBBBBBB.bin").exists()
    assert q.backlog() == (0, 0)
    with pytest.raises(QuarantineError, match="already"):
        q.set_state("01AAAAAAAAAAAAAAAAAAAAAAAA", "released", "again", delete_content=True)


def test_unwritable_store_raises_oserror(tmp_path):
    (tmp_path / "quarantine").write_text("not a directory")
    with pytest.raises(OSError):
        Quarantine(tmp_path).hold(item(), Held({}, PAYLOAD))


def test_ids_are_validated(tmp_path):
    with pytest.raises(QuarantineError):
        Quarantine(tmp_path).get("../../etc/passwd")
