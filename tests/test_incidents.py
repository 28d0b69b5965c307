import json
import stat

from dlp.incidents import IncidentLog, redacted_path


def test_rotation_keeps_every_incident_readable_in_order(tmp_path):
    log = IncidentLog(tmp_path, rotate_bytes=2000, keep=50)
    for i in range(100):
        log.write({"id": f"{i:04d}", "pad": "x" * 100})
    files = log.files()
    assert len(files) > 3 and files[-1].name == "incidents.jsonl"
    assert [i["id"] for i in log.read()] == [f"{i:04d}" for i in range(100)]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert log.find("0042") == {"id": "0042", "pad": "x" * 100}


def test_rotation_drops_the_oldest_beyond_keep(tmp_path):
    log = IncidentLog(tmp_path, rotate_bytes=500, keep=2)
    for i in range(300):
        log.write({"id": i})
    assert len(log.files()) == 3
    ids = [i["id"] for i in log.read()]
    assert ids == list(range(ids[0], 300)) and ids[0] > 0


def test_torn_last_line_is_skipped(tmp_path):
    log = IncidentLog(tmp_path)
    log.write({"id": "a"})
    with open(log.path, "ab") as fh:
        fh.write(b'{"id": "b", "trunc')
    assert [i["id"] for i in log.read()] == ["a"]
    assert json.loads(log.path.read_bytes().splitlines()[0])["id"] == "a"


def test_query_values_are_removed_from_paths():
    assert redacted_path("/up?name=山田&tel=090") == "/up?name=&tel="
    assert redacted_path("/plain") == "/plain"
    assert redacted_path("/up/%E5%B1%B1%E7%94%B0/x?" + "a" * 60) == "/up/…/x?…="
    assert redacted_path("/" + "b" * 49 + "/ok") == "/…/ok"
