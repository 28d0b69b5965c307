"""Shared by the deploy tests: a policy, the traffic that exercises every verdict through a
real `dlp run`, and a reader for its /metrics page."""

from __future__ import annotations

import http.client
import io
import random
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyzipper
from prometheus_client.parser import text_string_to_metric_families
from synthetic import people, resident_csv

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

DEPARTED = "leaver@example.jp"
USER_HEADER = "X-Sekimori-User"

POLICY = f"""\
version: 1
inspect:
  workers: 1
identity:
  header: {USER_HEADER}
  trusted_networks: [127.0.0.0/8]
  departed: [{DEPARTED}]
rules:
  - name: bulk-personal-data
    when: {{persons: 1000}}
    action: block
  - name: bulk-review
    when: {{persons: 100}}
    action: quarantine
  - name: encrypted-content
    when: {{encrypted: true}}
    action: quarantine
  - name: personal-data-seen
    when: {{persons: 10}}
    action: log
notify: {{contact: "security@example.jp"}}
"""

RULE_ACTIONS = {"bulk-personal-data": "block", "bulk-review": "quarantine",
                "encrypted-content": "quarantine", "personal-data-seen": "log", "departed-account": "block"}


def multipart(filename: str, content: bytes, content_type: str = "text/csv") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(proxy_port: int, target_port: int, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=60)
    conn.request("POST", f"http://127.0.0.1:{target_port}/upload", body=body, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


def aes_zip(name: str, content: bytes, password: bytes = b"himitsu") -> bytes:
    """A password-protected (WinZip AES) archive, as PPAP mail and uploads carry."""
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as z:
        z.setpassword(password)
        z.writestr(name, content)
    return buf.getvalue()


@dataclass
class Sent:
    """What drive() sent, for the assertions: verdict counts, persons per verdict, names."""

    statuses: dict[str, int]
    persons: dict[str, int]
    plain_bytes: int
    names: list[str]
    filenames: list[str]


def drive(proxy_port: int, upstream_port: int) -> Sent:
    """One transfer per verdict path: block (1,500 persons), quarantine (150 persons), log
    (20 persons), quarantine (AES zip, uninspectable), allow (1 MiB of noise) and block
    (a departed account's harmless upload)."""
    bulk, review, few = people(1500, seed=31), people(150, seed=32), people(20, seed=33)
    statuses: dict[str, int] = {}
    files = {"block": ("住民一覧.csv", resident_csv(bulk)), "quarantine": ("review.csv", resident_csv(review)),
             "log": ("few.csv", resident_csv(few))}
    for verdict, (fname, data) in files.items():
        body, ctype = multipart(fname, data)
        statuses[verdict] = post(proxy_port, upstream_port, body, {"Content-Type": ctype})
    body, ctype = multipart("secret.zip", aes_zip("list.csv", resident_csv(review)), "application/zip")
    statuses["encrypted"] = post(proxy_port, upstream_port, body, {"Content-Type": ctype})
    noise = random.Random(1501).randbytes(1 << 20)  # seeded: some random megabytes hold an e-mail-shaped run
    body, ctype = multipart("photo.bin", noise, "application/octet-stream")
    statuses["allow"] = post(proxy_port, upstream_port, body, {"Content-Type": ctype})
    statuses["departed"] = post(proxy_port, upstream_port, b"weekly notes", {
        "Content-Type": "text/plain", USER_HEADER: DEPARTED})
    plain = len(noise) + sum(len(d) for _f, d in files.values())
    return Sent(statuses=statuses, persons={"block": 1500, "quarantine": 150, "log": 20, "allow": 0},
                plain_bytes=plain, names=[p.name for p in bulk + review + few],
                filenames=["住民一覧.csv", "review.csv", "few.csv", "secret.zip", "list.csv", "photo.bin"])


EXPECTED_STATUS = {"block": 403, "quarantine": 403, "log": 200, "encrypted": 403, "allow": 200, "departed": 403}


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return resp.read().decode()


def samples(text: str) -> Samples:
    """{(sample name, frozenset(labels)): value} of an exposition."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(snap: Samples, name: str, **labels: str) -> float:
    """One sample's value; KeyError names the missing series."""
    key = (name, frozenset(labels.items()))
    if key not in snap:
        raise KeyError(f"{name}{labels} not exported")
    return snap[key]


def series(snap: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for (n, labels) in snap if n == name]
