"""Load and integrity (issue 13): uploads of mixed benign and personal files from concurrent
clients through a real ``dlp run`` on the shipped policy, and a check of every one of them.

- every allowed body arrives upstream byte-identical, exactly once (each upload is tagged by
  its path and an ``X-Soak-Id`` header);
- every blocked or quarantined body never arrives;
- every quarantined one decrypts to the exact original (the quarantine store, and the
  ``dlp quarantine list``/``export`` verbs for a sample);
- the proxy's metrics and incident log match the client's tally;
- every upload has its answer within ``--max-seconds``.

The mix, all seeded (``random.Random(seed)``): three quarters benign bodies of 1-256 KiB
(prose and source text, CSV and JSON without personal data, access logs, binary), each scanned
with ``dlp.engine.scan`` before the run so that only bodies with no finding at all are sent
(a random byte run can look like an e-mail address); the rest resident lists, CSV exports of
1,100-1,600 distinct persons (blocked by bulk-personal-data) and of 150-800 (quarantined by
bulk-review), sent raw or as a multipart file upload.

``make soak`` runs 10,000 uploads from 50 clients; the e2e suite runs 400 from 16
(tests/e2e/test_faults.py). ``python tests/soak.py --help`` for the knobs.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import http.server
import json
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from servers import DLP, REPO, DlpProcess  # noqa: E402
from synthetic import Person, benign_corpus, people, resident_csv  # noqa: E402

SHIPPED_POLICY = REPO / "config" / "dlp.yaml"
KIB = 1024

BENIGN_KINDS = ("text", "csv", "json", "log", "binary")
CONTENT_TYPES = {"text": "text/plain; charset=utf-8", "csv": "text/csv", "json": "application/json",
                 "log": "text/plain", "binary": "application/octet-stream"}
FILE_NAMES = {"text": "notes.txt", "csv": "orders.csv", "json": "inventory.json", "log": "access.log",
              "binary": "photo.bin"}

BLOCK_PERSONS = (1100, 1600)
"""Persons in a list that must be blocked (bulk-personal-data at 1,000), with a margin."""
QUARANTINE_PERSONS = (150, 800)
"""Persons in a list that must be held (bulk-review at 100, below the block at 1,000)."""


# -- the plan: what each upload is, regenerated from its seed when it is sent ------------------

@dataclass(frozen=True)
class Upload:
    idx: int
    kind: str            # a benign kind, or "block" / "quarantine"
    seed: int
    size: int            # benign: bytes; lists: persons
    multipart: bool

    @property
    def expect(self) -> str:
        return self.kind if self.kind in ("block", "quarantine") else "allow"

    @property
    def path(self) -> str:
        return f"/soak/{self.idx}/{self.kind}"


_RESERVOIR_LOCK = threading.Lock()


@cache
def _text_reservoir_unlocked() -> bytes:
    return benign_corpus(3 * 2**20, seed=1313)


def _text_reservoir() -> bytes:
    """Prose (Japanese and English), source code, logs and orders to cut text bodies from.
    Built once under a lock: Faker draws from one shared generator, so two client threads
    building it at once would each get other text than the plan verified."""
    with _RESERVOIR_LOCK:
        return _text_reservoir_unlocked()


def _cut_utf8(data: bytes, start: int, size: int) -> bytes:
    """``size`` bytes of UTF-8 text from ``start``, moved to character boundaries."""
    while start < len(data) and 0x80 <= data[start] < 0xC0:
        start += 1
    end = min(len(data), start + size)
    while end < len(data) and 0x80 <= data[end] < 0xC0:
        end -= 1
    return data[start:end]


def benign_body(kind: str, size: int, seed: int) -> bytes:
    """About ``size`` bytes of a benign ``kind``, the same for the same arguments."""
    rnd = random.Random(seed)
    if kind == "text":
        text = _text_reservoir()
        return _cut_utf8(text, rnd.randrange(len(text) - size - 8), size)
    if kind == "binary":
        return b"\x89PNG\r\n\x1a\n" + rnd.randbytes(max(0, size - 8))
    out: list[str] = []
    total = 0
    if kind == "csv":
        out.append("order_id,date,sku,warehouse,qty,amount\n")
    elif kind == "json":
        out.append('{"generated": "2026-11-27T10:00:00+09:00", "items": [\n')
    while total < size:
        if kind == "csv":
            line = (f"{rnd.randint(10**7, 10**8 - 1)},2026-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d},"
                    f"SKU-{rnd.randint(1000, 9999)},{rnd.choice(('東京第1倉庫', '大阪倉庫', 'WH-3'))},"
                    f"{rnd.randint(1, 500)},{rnd.randint(100, 999999)}\n")
        elif kind == "json":
            line = (f'  {{"sku": "SKU-{rnd.randint(1000, 9999)}", "qty": {rnd.randint(0, 900)}, '
                    f'"price": {rnd.randint(100, 99999) / 100:.2f}, "warehouse": "{rnd.choice(("本社", "WH-2"))}", '
                    f'"active": {rnd.choice(("true", "false"))}}},\n')
        else:  # log
            line = (f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)} - - "
                    f"[27/Nov/2026:10:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d} +0900] "
                    f"\"GET /static/app.{rnd.randint(1, 999)}.js HTTP/1.1\" 200 {rnd.randint(100, 99999)}\n")
        out.append(line)
        total += len(line.encode())
    if kind == "json":
        out.append('  {"sku": "END", "qty": 0, "price": 0, "warehouse": "-", "active": false}\n]}\n')
    return "".join(out).encode()


@cache
def person_pool(seed: int) -> list[Person]:
    """Distinct synthetic residents the lists are drawn from (a list never repeats a person)."""
    return people(BLOCK_PERSONS[1] * 4, seed=seed)


def list_persons(upload: Upload, pool_seed: int) -> list[Person]:
    return random.Random(upload.seed).sample(person_pool(pool_seed), upload.size)


def list_body(upload: Upload, pool_seed: int) -> bytes:
    rnd = random.Random(upload.seed + 1)
    return resident_csv(list_persons(upload, pool_seed), rnd.choice(("cp932", "utf-8")))


def request_of(upload: Upload, pool_seed: int) -> tuple[str, bytes, dict[str, str]]:
    """(method, body, headers) of an upload, the same every time it is asked for."""
    if upload.kind in ("block", "quarantine"):
        content, ctype, name = list_body(upload, pool_seed), "text/csv", "residents.csv"
    else:
        content, ctype, name = benign_body(upload.kind, upload.size, upload.seed), CONTENT_TYPES[upload.kind], \
            FILE_NAMES[upload.kind]
    headers = {"X-Soak-Id": str(upload.idx), "Accept": "application/json"}
    if upload.multipart:
        boundary = uuid.UUID(int=random.Random(upload.seed).getrandbits(128)).hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: {ctype}\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        return "POST", body, headers
    headers["Content-Type"] = ctype
    return random.Random(upload.seed).choice(("POST", "PUT")), content, headers


def _is_benign(body: bytes, ctype: str) -> bool:
    """No finding, no person, nothing uninspectable: a body the shipped policy lets through
    without a trace, and that adds no one to any window."""
    from dlp import engine
    from dlp.model import Transfer

    pol = _shipped()
    result = engine.scan(Transfer("http", body, content_type=ctype), pol.inspect, pol.detectors_enabled)
    return not (result.findings or result.persons or result.uninspectable or result.engine_error)


@cache
def _shipped():  # a Policy (imported lazily)
    from dlp.config import load_policy
    return load_policy(SHIPPED_POLICY)


def _benign_seed(job: tuple[str, int, int]) -> tuple[int, int]:
    """The first seed from ``seed`` on whose body of ``kind`` and ``size`` is really benign,
    and how many were passed over."""
    kind, size, seed = job
    skipped = 0
    while not _is_benign(benign_body(kind, size, seed + skipped), CONTENT_TYPES[kind]):
        skipped += 1
    return seed + skipped, skipped


def plan(uploads: int, seed: int, verify: bool = True, processes: int | None = None) -> tuple[list[Upload], int]:
    """The uploads in the order they are handed to the clients (3/4 benign, 3/40 held for
    review, the rest blocked), and how many benign bodies were replaced: one that the engine
    finds anything in is replaced by the next seed's (``verify``; in ``processes`` at once)."""
    rnd = random.Random(seed)
    n_quarantine = round(uploads * 0.075)
    n_benign = round(uploads * 0.75)
    kinds = ["quarantine"] * n_quarantine + ["block"] * (uploads - n_benign - n_quarantine)
    kinds += [BENIGN_KINDS[i % len(BENIGN_KINDS)] for i in range(n_benign)]
    rnd.shuffle(kinds)
    out = []
    for idx, kind in enumerate(kinds):
        multipart = rnd.random() < 0.5
        if kind == "block":
            out.append(Upload(idx, kind, rnd.getrandbits(48), rnd.randint(*BLOCK_PERSONS), multipart))
        elif kind == "quarantine":
            out.append(Upload(idx, kind, rnd.getrandbits(48), rnd.randint(*QUARANTINE_PERSONS), multipart))
        else:
            out.append(Upload(idx, kind, rnd.getrandbits(48), rnd.randint(1 * KIB, 256 * KIB), multipart))
    if not verify:
        return out, 0
    benign = [u for u in out if u.expect == "allow"]
    jobs = [(u.kind, u.size, u.seed) for u in benign]
    if processes == 1 or len(jobs) < 1000:
        found = list(map(_benign_seed, jobs))
    else:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            found = pool.map(_benign_seed, jobs, chunksize=50)
    for u, (good, _skipped) in zip(benign, found, strict=True):
        out[u.idx] = Upload(u.idx, u.kind, good, u.size, u.multipart)
    return out, sum(skipped for _good, skipped in found)


# -- the upstream: records a digest of what arrives, per path -------------------------------

@dataclass
class DigestUpstream:
    """A threaded HTTP/1.1 server on 127.0.0.1 that keeps, per request path, the sha256 and
    length of every body it receives (not the bodies: a soak sends gigabytes)."""

    arrived: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def start(self) -> DigestUpstream:
        upstream, lock = self, threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with lock:
                    upstream.arrived.setdefault(self.path, []).append((hashlib.sha256(body).hexdigest(), len(body)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_PUT = do_GET = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the clients ------------------------------------------------------------------------------

@dataclass
class Answer:
    upload: Upload
    sha256: str
    status: int | None
    seconds: float
    action: str | None = None       # from the JSON page of a refusal; "allow" for a 200
    rules: tuple[str, ...] = ()
    incident: str | None = None
    persons: int = 0
    error: str | None = None


def _client(proxy_port: int, upstream_port: int, work: queue.Queue[Upload | None], answers: list[Answer],
            pool_seed: int, timeout: float) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=timeout)
    while (upload := work.get()) is not None:
        method, body, headers = request_of(upload, pool_seed)
        digest = hashlib.sha256(body).hexdigest()
        started = time.monotonic()
        try:
            conn.request(method, f"http://127.0.0.1:{upstream_port}{upload.path}", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            # No retry: a retried upload could arrive twice, which is what is checked.
            answers.append(Answer(upload, digest, None, time.monotonic() - started, error=f"{type(e).__name__}: {e}"))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=timeout)
            continue
        answer = Answer(upload, digest, resp.status, time.monotonic() - started)
        if resp.status == 200:
            answer.action = "allow"
        else:
            try:
                page = json.loads(data)
                answer.action, answer.rules = page.get("action"), tuple(page.get("rules") or ())
                answer.incident, answer.persons = page.get("incident"), int(page.get("persons") or 0)
            except ValueError:
                answer.error = f"not a JSON page: {data[:200]!r}"
        answers.append(answer)
    conn.close()


# -- the checks -------------------------------------------------------------------------------

def _metrics(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _total(snap: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lab), v in snap.items() if n == name and want <= lab)


@dataclass
class Report:
    uploads: int
    clients: int
    seed: int
    wall_seconds: float = 0.0
    tally: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    failed_uploads: set[int] = field(default_factory=set)
    slowest: list[tuple[float, int, str, int]] = field(default_factory=list)   # seconds, idx, kind, bytes
    latency: dict[str, float] = field(default_factory=dict)
    quarantine_checked: int = 0
    benign_replaced: int = 0
    persons: list[Person] = field(default_factory=list)
    dlp_log: Path | None = None
    data_dir: Path | None = None

    def summary(self) -> dict:
        return {"uploads": self.uploads, "clients": self.clients, "seed": self.seed,
                "wall_seconds": round(self.wall_seconds, 1),
                "uploads_per_second": round(self.uploads / self.wall_seconds, 1) if self.wall_seconds else None,
                "tally": self.tally, "latency_seconds": self.latency,
                "slowest": [{"seconds": round(s, 3), "idx": i, "kind": k, "bytes": b} for s, i, k, b in self.slowest],
                "quarantine_items_verified": self.quarantine_checked, "benign_replaced": self.benign_replaced,
                "right": self.uploads - len(self.failed_uploads), "failures": len(self.failures),
                "first_failures": self.failures[:20]}


def check(answers: list[Answer], upstream: DigestUpstream, proc: DlpProcess, config: Path,
          before: dict, after: dict, report: Report, max_seconds: float, pool_seed: int,
          cli_exports: int = 5) -> None:
    def fail(message: str, idx: int | None = None) -> None:
        report.failures.append(message)
        if idx is not None:
            report.failed_uploads.add(idx)

    tally: Counter[str] = Counter()
    rule_tally: Counter[str] = Counter()
    persons_blocked = 0
    held: dict[str, Answer] = {}
    for a in sorted(answers, key=lambda a: a.upload.idx):
        u = a.upload
        where = f"#{u.idx} {u.kind} ({'multipart' if u.multipart else 'raw'})"
        got = upstream.arrived.get(u.path, [])
        if a.error or a.status is None:
            fail(f"{where}: {a.error or 'no answer'}", u.idx)
            continue
        tally[a.action or "?"] += 1
        rule_tally.update(a.rules)
        if a.seconds > max_seconds:
            fail(f"{where}: answered after {a.seconds:.1f} s (limit {max_seconds:g} s)", u.idx)
        if a.action != u.expect:
            fail(f"{where}: expected {u.expect}, got {a.status} {a.action} rules={list(a.rules)}", u.idx)
        if u.expect == "allow":
            if [g[0] for g in got] != [a.sha256]:
                fail(f"{where}: allowed, arrived {len(got)} time(s), digests "
                     f"{'match' if all(g[0] == a.sha256 for g in got) else 'DIFFER'}", u.idx)
        elif got:
            fail(f"{where}: {a.action} but the upstream received it {len(got)} time(s)", u.idx)
        if u.expect == "block" and "bulk-personal-data" not in a.rules:
            fail(f"{where}: blocked by {list(a.rules)}, not bulk-personal-data", u.idx)
        if u.expect == "block":
            persons_blocked += a.persons
        if u.expect in ("block", "quarantine") and a.persons != u.size:
            fail(f"{where}: the page counts {a.persons} persons, the list has {u.size}", u.idx)
        if a.action == "quarantine":
            if not a.incident:
                fail(f"{where}: quarantined without an incident id", u.idx)
            else:
                held[a.incident] = a
    stray = set(upstream.arrived) - {a.upload.path for a in answers}
    if stray:
        fail(f"the upstream received paths nobody sent: {sorted(stray)[:5]}")
    report.tally = dict(tally)

    # every quarantined body decrypts to the exact original
    from dlp.quarantine import Quarantine, QuarantineError
    store = Quarantine(proc.data_dir)
    for item_id, a in held.items():
        try:
            content = store.content(item_id)
        except QuarantineError as e:
            fail(f"#{a.upload.idx}: quarantine item {item_id}: {e}", a.upload.idx)
            continue
        if hashlib.sha256(content.payload).hexdigest() != a.sha256:
            fail(f"#{a.upload.idx}: quarantine item {item_id} does not decrypt to the body sent", a.upload.idx)
        report.quarantine_checked += 1
    common = ["--config", str(config), "--data-dir", str(proc.data_dir)]
    listed = subprocess.run([*DLP, "quarantine", "list", "--json", *common], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    states = {i["id"]: i["state"] for i in json.loads(listed.stdout or "[]")}
    if states != dict.fromkeys(held, "held"):
        fail(f"dlp quarantine list: {len(states)} items, expected {len(held)} held")
    for item_id, a in list(held.items())[:cli_exports]:
        out = Path(tempfile.mkdtemp()) / "export.bin"
        done = subprocess.run([*DLP, "quarantine", "export", item_id, "--out", str(out), *common], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or hashlib.sha256(out.read_bytes()).hexdigest() != a.sha256:
            fail(f"#{a.upload.idx}: dlp quarantine export {item_id} is not the body sent ({done.stderr.strip()})",
                 a.upload.idx)
        shutil.rmtree(out.parent, ignore_errors=True)

    # the proxy's own account matches the client's
    def delta(name: str, **labels: str) -> float:
        return _total(after, name, **labels) - _total(before, name, **labels)

    for action in ("allow", "log", "block", "quarantine"):
        if delta("dlp_transfers_total", protocol="http", action=action) != tally.get(action, 0):
            fail(f"dlp_transfers_total{{action={action}}} rose by {delta('dlp_transfers_total', action=action):g}, "
                 f"the clients counted {tally.get(action, 0)}")
    for rule, n in rule_tally.items():
        if delta("dlp_rule_matches_total", rule=rule) != n:
            fail(f"dlp_rule_matches_total{{rule={rule}}} rose by {delta('dlp_rule_matches_total', rule=rule):g}, "
                 f"the pages named it {n} times")
    if delta("dlp_persons_total", action="block") != persons_blocked:
        fail(f"dlp_persons_total{{action=block}} rose by {delta('dlp_persons_total', action='block'):g}, "
             f"the pages counted {persons_blocked}")
    for name in ("dlp_uninspectable_total", "dlp_errors_total"):
        if delta(name):
            fail(f"{name} rose by {delta(name):g}: {[(dict(k[1]), v) for k, v in after.items() if k[0] == name and v]}")
    if _total(after, "dlp_quarantine_items") != len(held):
        fail(f"dlp_quarantine_items is {_total(after, 'dlp_quarantine_items'):g}, {len(held)} were held")

    # one incident per refusal, with the id the client was given, and none for an allowed upload
    incidents = [json.loads(line) for p in sorted(proc.data_dir.glob("incidents*.jsonl"))
                 for line in p.read_text().splitlines() if line.strip()]
    given = Counter(a.incident for a in answers if a.action in ("block", "quarantine"))
    written = Counter(i["id"] for i in incidents)
    if given != written:
        fail(f"incidents: {sum(written.values())} written, {sum(given.values())} refusals answered "
             f"({len(set(given) ^ set(written))} ids differ)")

    times = sorted(a.seconds for a in answers if a.status is not None)
    if times:
        report.latency = {"p50": round(times[len(times) // 2], 3), "p99": round(times[int(len(times) * 0.99) - 1], 3),
                          "max": round(times[-1], 3)}
    report.slowest = sorted(((a.seconds, a.upload.idx, a.upload.kind, len(request_of(a.upload, pool_seed)[1]))
                             for a in answers if a.status is not None), reverse=True)[:10]
    report.persons = list(dict.fromkeys(p for a in answers if a.upload.kind in ("block", "quarantine")
                                        for p in list_persons(a.upload, pool_seed)))


def run(uploads: int = 400, clients: int = 16, seed: int = 1, workdir: Path | None = None,
        max_seconds: float = 10.0, timeout: float = 120.0, verify: bool = True, progress: bool = False,
        config_text: str | None = None) -> Report:
    """Start a ``dlp run`` (the shipped policy unless ``config_text``) and an upstream in
    ``workdir``, send the uploads, check everything; the Report lists what went wrong."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="sekimori-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = Report(uploads, clients, seed)
    pool_seed = seed * 7919 + 13
    t0 = time.monotonic()
    uploads_planned, report.benign_replaced = plan(uploads, seed, verify)
    person_pool(pool_seed)     # both built here, not by the first client threads
    _text_reservoir()
    if progress:
        print(f"planned {uploads} uploads in {time.monotonic() - t0:.1f} s ({report.benign_replaced} benign "
              "bodies replaced: the engine found something in them)", flush=True)
    config = workdir / "dlp.yaml"
    config.write_text(config_text if config_text is not None else SHIPPED_POLICY.read_text())
    upstream = DigestUpstream().start()
    proc = DlpProcess(config, workdir / "var").start()
    report.dlp_log, report.data_dir = proc.log_path, proc.data_dir
    try:
        time.sleep(1.0)  # the scanner processes start
        before = _metrics(proc.metrics_port)
        work: queue.Queue[Upload | None] = queue.Queue()
        for u in uploads_planned:
            work.put(u)
        for _ in range(clients):
            work.put(None)
        answers: list[Answer] = []
        threads = [threading.Thread(target=_client, args=(proc.port, upstream.port, work, answers, pool_seed,
                                                          timeout), daemon=True) for _ in range(clients)]
        started = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            while th.is_alive():
                th.join(timeout=10)
                if progress and th.is_alive():
                    print(f"  {len(answers)}/{uploads} answered after {time.monotonic() - started:.0f} s", flush=True)
        report.wall_seconds = time.monotonic() - started
        time.sleep(0.5)  # the last forwarded bodies are recorded
        after = _metrics(proc.metrics_port)
        check(answers, upstream, proc, config, before, after, report, max_seconds, pool_seed)
        if proc.proc.poll() is not None:
            report.failures.append(f"dlp run exited with {proc.proc.returncode}")
    finally:
        proc.stop()
        upstream.stop()
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--uploads", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=10.0, help="an answer slower than this is a failure")
    ap.add_argument("--workdir", type=Path, default=None, help="kept afterwards (default: a temp dir, removed)")
    ap.add_argument("--json", type=Path, default=None, help="write the summary here too")
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sekimori-soak-"))
    report = run(args.uploads, args.clients, args.seed, workdir, args.max_seconds, progress=True)
    summary = report.summary()
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    for line in report.failures[:50]:
        print("FAIL", line)
    print(f"{args.uploads - len(report.failed_uploads)}/{args.uploads} uploads right, "
          f"{len(report.failures)} failures, {report.wall_seconds:.1f} s, slowest answer "
          f"{report.latency.get('max', 0):.2f} s")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
