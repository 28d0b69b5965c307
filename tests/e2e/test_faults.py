"""Faults, load and integrity, and the leak check (issue 13, point 5), through a real `dlp run`
and a recording upstream.

Each fault is checked for: the proxy survives (it answers afterwards and logs no crash), the
defined verdict (inspect.on_error / on_uninspectable of the shipped policy: block), the
metrics, and that no allowed transfer is altered (the upstream's sha256 equals the sent one).
The 400-upload mixed run follows (tests/soak.py; `make soak` runs 10,000), and last the leak
check: no raw value of any synthetic person used here in the logs, incidents, metrics or
answers of any of these runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from deploy.helpers import samples, scrape
from servers import DLP, REPO, DlpProcess, RedisServer, Upstream, free_port, multipart
from synthetic import Person, people, resident_csv

pytestmark = pytest.mark.e2e

SHIPPED = REPO / "config" / "dlp.yaml"


# -- what the leak check reads at the end -----------------------------------------------------

@dataclass
class Seen:
    persons: list[Person]
    runs: list[tuple[Path, Path]]     # each dlp run's log and data dir
    texts: list[str]                  # metrics pages and answers the clients got


SEEN = Seen([], [], [])


def persons(n: int, seed: int) -> list[Person]:
    ps = people(n, seed=seed)
    SEEN.persons.extend(ps)
    return ps


# -- helpers ----------------------------------------------------------------------------------

def shipped_policy(**changes: dict) -> str:
    """The shipped policy with some sections changed (merged one level deep)."""
    doc = yaml.safe_load(SHIPPED.read_text())
    for key, value in changes.items():
        doc[key] = {**doc.get(key, {}), **value} if isinstance(value, dict) else value
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@pytest.fixture
def start(tmp_path) -> Iterator:
    """start(policy_text) -> a running DlpProcess, stopped after the test."""
    started: list[DlpProcess] = []

    def _start(policy: str, name: str = "p", **kw) -> DlpProcess:
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(policy)
        proc = DlpProcess(cfg, tmp_path / f"var-{name}", **kw).start()
        proc.config = cfg
        started.append(proc)
        SEEN.runs.append((proc.log_path, proc.data_dir))
        return proc

    yield _start
    for proc in started:
        proc.stop()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    sha256: str          # of the body sent

    @property
    def page(self) -> dict:
        return json.loads(self.body)


def post(proc: DlpProcess, port: int, body: bytes, tag: str, ctype: str = "application/octet-stream",
         timeout: float = 90) -> Answer:
    """POST ``body`` through the proxy to 127.0.0.1:``port``/faults/``tag`` asking for JSON pages."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=timeout)
    try:
        conn.request("POST", f"http://127.0.0.1:{port}/faults/{tag}", body=body,
                     headers={"Content-Type": ctype, "Accept": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    SEEN.texts.append(data.decode("utf-8", "replace"))
    return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, hashlib.sha256(body).hexdigest())


def arrived(upstream: Upstream, tag: str) -> list[str]:
    """sha256 of every body the upstream received for ``tag``."""
    return [r.sha256 for r in upstream.received if r.path == f"/faults/{tag}"]


def csv_upload(ps: list[Person]) -> tuple[bytes, str]:
    return multipart("residents.csv", resident_csv(ps))


def benign(size: int, seed: int) -> bytes:
    """Bytes that carry nothing (no '@', no digits, no Japanese): a 'binary' the engine
    reads as text runs and finds nothing in."""
    alphabet = bytes(range(0x80, 0x100)) + b"abcdefghijklmnopqrstuvwxyz \n"
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    return random.Random(seed).randbytes(size).translate(table)


def metrics(proc: DlpProcess) -> dict:
    text = scrape(proc.metrics_port)
    SEEN.texts.append(text)
    return samples(text)


def value(snap: dict, name: str, **labels: str) -> float:
    """Sum of the series of ``name`` whose labels include ``labels`` (0 if none)."""
    want = set(labels.items())
    return sum(v for (n, lab), v in snap.items() if n == name and want <= lab)


def incidents(proc: DlpProcess) -> dict[str, dict]:
    out = {}
    for path in sorted(proc.data_dir.glob("incidents*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                out[record["id"]] = record
    return out


def wait_for(predicate, timeout: float = 15.0, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def assert_survived(proc: DlpProcess, upstream: Upstream, tag: str) -> None:
    """Still running, still answering and forwarding unaltered, no crash in its log."""
    assert proc.proc.poll() is None, proc.output()[-3000:]
    body = benign(50_000, seed=hash(tag) & 0xFFFF)
    answer = post(proc, upstream.port, body, f"{tag}-after")
    assert answer.status == 200, answer.body[:300]
    assert arrived(upstream, f"{tag}-after") == [answer.sha256]
    log = proc.output()
    assert "Traceback" not in log and "has crashed" not in log, log[-3000:]


# -- processes under dlp run ------------------------------------------------------------------

def _ppid_and_cpu(pid: int) -> tuple[int, int] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == b"Z":
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _ppid_and_cpu(int(entry))
            if info and info[0] == pid:
                out.append(int(entry))
    return out


def forkserver_of(proc: DlpProcess) -> int:
    for pid in children(proc.proc.pid):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
            if b"multiprocessing.forkserver" in fh.read():
                return pid
    raise AssertionError("no forkserver under dlp run")


def scanners(proc: DlpProcess) -> list[int]:
    """The scanner processes: children of the forkserver, itself a child of dlp run."""
    return children(forkserver_of(proc))


def _cpu_spent(pids: list[int], seconds: float = 0.3) -> dict[int, int]:
    """Clock ticks each process spent over ``seconds``."""
    before = {pid: (_ppid_and_cpu(pid) or (0, 0))[1] for pid in pids}
    time.sleep(seconds)
    return {pid: (_ppid_and_cpu(pid) or (0, 0))[1] - t for pid, t in before.items()}


def settled_scanners(proc: DlpProcess, count: int = 2, timeout: float = 30) -> list[int]:
    """The scanner processes once ``count`` of them exist and none burns CPU: a fresh
    scanner warms up (reference data, detectors) for a moment, and ``busy_scanner`` must not
    take that for a scan."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = scanners(proc)
        if len(pids) == count and max(_cpu_spent(pids).values()) <= 2:
            return pids
    raise AssertionError(f"scanners did not settle: {scanners(proc)}")


def busy_scanner(proc: DlpProcess, timeout: float = 30) -> int:
    """The scanner process that is burning CPU now."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spent = _cpu_spent(scanners(proc))
        if spent and max(spent.values()) >= 10:   # ticks: most of the 0.3 s
            return max(spent, key=lambda p: spent[p])
    raise AssertionError("no scanner got busy")


# -- 1. a scanner process killed --------------------------------------------------------------

def test_a_scanner_killed_mid_scan_blocks_only_its_transfer_and_is_replaced(start, upstream):
    proc = start(shipped_policy(inspect={"timeout": "120s"}))   # the kill, not the budget, ends the scan
    settled_scanners(proc)
    victim_body = benign(60 * 2**20, seed=1)   # a benign body: passes unless something goes wrong
    result: dict[str, Answer] = {}
    sender = threading.Thread(target=lambda: result.setdefault("a", post(proc, upstream.port, victim_body, "victim")))
    sender.start()
    victim = busy_scanner(proc)
    os.kill(victim, signal.SIGKILL)
    sender.join(60)
    answer = result["a"]
    assert answer.status == 403 and answer.page["action"] == "block" and answer.page["rules"] == []
    assert arrived(upstream, "victim") == []
    record = incidents(proc)[answer.headers["x-sekimori-incident"]]
    assert record["engine_error"] is True and record["errors"] == ["internal error: scanner worker died"]
    assert wait_for(lambda: "died mid-scan" in proc.output())
    assert f"scanner process {victim} died mid-scan" in proc.output() and "SIGKILL" in proc.output()
    snap = metrics(proc)
    assert value(snap, "dlp_errors_total", stage="engine") == 1
    assert value(snap, "dlp_errors_total") == 1
    assert value(snap, "dlp_transfers_total", action="block") == 1
    assert value(snap, "dlp_uninspectable_total") == 0
    # replaced; the next uploads, some at once, pass unaltered
    assert wait_for(lambda: len(scanners(proc)) == 2 and victim not in scanners(proc))
    bodies = {f"next{i}": benign(random.Random(i).randint(20_000, 2_000_000), seed=100 + i) for i in range(6)}
    answers: dict[str, Answer] = {}
    threads = [threading.Thread(target=lambda t=t, b=b: answers.__setitem__(t, post(proc, upstream.port, b, t)))
               for t, b in bodies.items()]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert {t: a.status for t, a in answers.items()} == dict.fromkeys(bodies, 200)
    assert all(arrived(upstream, t) == [a.sha256] for t, a in answers.items())

    # the fork server and every scanner killed while idle: no transfer pays for it
    idle = scanners(proc)
    os.kill(forkserver_of(proc), signal.SIGKILL)
    for pid in idle:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    for i in range(3):
        answer = post(proc, upstream.port, benign(300_000, seed=200 + i), f"after-idle-kill{i}")
        assert answer.status == 200, answer.body[:300]
    assert "had died while idle" in proc.output()
    assert value(metrics(proc), "dlp_errors_total") == 1
    assert wait_for(lambda: len(scanners(proc)) == 2)
    assert_survived(proc, upstream, "scanner-killed")


# -- 2. Redis stopped and restarted -----------------------------------------------------------

def test_redis_hung_then_down_then_back(start, upstream):
    """Hung (SIGSTOP) and down (stopped, back empty): the proxy answers with local counting,
    says so in dlp_state_backend_up and its log, and when Redis is back it copies what it
    counted meanwhile into it, so a drip across the outage is still stopped."""
    redis_server = RedisServer().start()
    import redis as redis_client
    r = redis_client.Redis.from_url(redis_server.url)
    window = "sekimori:w:ip:127.0.0.1"     # the shipped identity: no user header, windows per client IP
    proc = start(shipped_policy(state={"backend": "redis", "url": redis_server.url}))
    try:
        seen = persons(20, seed=1401)
        few, ctype = csv_upload(seen)       # 20 persons: 'log', allowed, enters the window
        assert post(proc, upstream.port, few, "few", ctype).status == 200
        assert r.zcard(window) == 20 and value(metrics(proc), "dlp_state_backend_up") == 1

        def up() -> float:
            return value(metrics(proc), "dlp_state_backend_up")

        # hung: a call waits for the client's 2 s socket timeout, then local counting; the
        # proxy's own probe (every 5 s) notices without any traffic
        redis_server.proc.send_signal(signal.SIGSTOP)
        assert wait_for(lambda: up() == 0, timeout=15)
        started = time.monotonic()
        answer = post(proc, upstream.port, few, "few-hung", ctype)
        assert answer.status == 200 and time.monotonic() - started < 8
        assert arrived(upstream, "few-hung") == [answer.sha256]
        assert up() == 0
        plain = post(proc, upstream.port, benign(100_000, 5), "benign-hung")
        assert plain.status == 200 and arrived(upstream, "benign-hung") == [plain.sha256]
        redis_server.proc.send_signal(signal.SIGCONT)
        assert wait_for(lambda: up() == 1, timeout=15)

        # down: the shipped rules keep working on local counts
        redis_server.stop()
        assert wait_for(lambda: up() == 0, timeout=15)
        bulk, ctype_b = csv_upload(persons(1000, seed=1402))
        answer = post(proc, upstream.port, bulk, "bulk-down", ctype_b)
        assert answer.status == 403 and answer.page["action"] == "block"
        review, ctype_r = csv_upload(persons(150, seed=1403))
        answer = post(proc, upstream.port, review, "review-down", ctype_r)
        assert answer.status == 403 and answer.page["action"] == "quarantine"
        drip = persons(99 * 10, seed=1404)
        for i in range(9):       # 20 + 9 x 99 = 911 persons from this address: allowed ('log')
            body, ct = csv_upload(drip[99 * i:99 * (i + 1)])
            answer = post(proc, upstream.port, body, f"drip{i}", ct)
            assert answer.status == 200 and arrived(upstream, f"drip{i}") == [answer.sha256]
        assert up() == 0
        assert "unreachable" in proc.output() and "counting locally" in proc.output()
        assert arrived(upstream, "bulk-down") == [] and arrived(upstream, "review-down") == []

        # back, empty (no persistence): the outage's persons are copied into it, the drip is stopped
        redis_server.start()
        assert wait_for(lambda: up() == 1, timeout=15)          # noticed without traffic
        assert "is back" in proc.output()
        assert wait_for(lambda: r.zcard(window) == 9 * 99, timeout=5)   # caught up with the outage
        assert post(proc, upstream.port, few, "few-back", ctype).status == 200     # 911 persons
        assert r.zcard(window) == 20 + 9 * 99
        body, ct = csv_upload(drip[99 * 9:])     # 1,010 persons: drip-exfiltration
        answer = post(proc, upstream.port, body, "drip9", ct)
        assert answer.status == 403 and answer.page["rules"] == ["drip-exfiltration", "personal-data-seen"]
        assert arrived(upstream, "drip9") == []
        snap = metrics(proc)
        assert value(snap, "dlp_errors_total") == 0      # an outage is a state, not an error per transfer
        assert value(snap, "dlp_transfers_total", action="block") == 2
        assert value(snap, "dlp_transfers_total", action="quarantine") == 1
        assert_survived(proc, upstream, "redis")
    finally:
        with contextlib.suppress(Exception):
            redis_server.proc.send_signal(signal.SIGCONT)
        redis_server.stop()


# -- 3. quarantine store read-only or full -----------------------------------------------------

def _mount_tmpfs(path: Path, size: str, ro: bool = False) -> None:
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size},mode=0700" + (",ro" if ro else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the RLIMIT_FSIZE case covers 'full'")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize("fault", ["read-only", "full", "file-size-limit"])
def test_a_quarantine_that_cannot_be_stored_is_blocked_never_allowed(start, upstream, tmp_path, fault):
    qdir = tmp_path / "var-p" / "quarantine"
    to_free: Path | None = None
    if fault == "read-only":
        if os.geteuid() == 0:
            _mount_tmpfs(qdir, "1m", ro=True)
        else:
            qdir.mkdir(parents=True)
            qdir.chmod(0o500)
    elif fault == "full":
        _mount_tmpfs(qdir, "256k")
        to_free = _fill(qdir)
    try:
        proc = start(shipped_policy())
        if fault == "file-size-limit":   # no file of the proxy may grow beyond 64 KiB
            subprocess.run(["prlimit", f"--pid={proc.proc.pid}", "--fsize=65536:unlimited"], check=True)
            held = persons(900, seed=1501)   # ~85 KiB encrypted: over the limit
        else:
            held = persons(150, seed=1502)
        body, ctype = csv_upload(held)
        answer = post(proc, upstream.port, body, f"held-{fault}", ctype)
        assert answer.status == 403 and answer.page["action"] == "block", answer.body[:300]
        assert answer.page["rules"] == ["bulk-review", "personal-data-seen"]
        assert arrived(upstream, f"held-{fault}") == []
        record = incidents(proc)[answer.headers["x-sekimori-incident"]]
        assert record["action"] == "block" and any("quarantine failed" in e for e in record["errors"])
        assert "blocked instead" in proc.output()
        snap = metrics(proc)
        assert value(snap, "dlp_errors_total", stage="quarantine") == 1
        assert value(snap, "dlp_transfers_total", action="block") == 1
        assert value(snap, "dlp_transfers_total", action="quarantine") == 0
        assert value(snap, "dlp_quarantine_items") == 0
        leftovers = [p.name for p in qdir.iterdir() if p.name != "filler"] if qdir.exists() else []
        assert leftovers == []          # no temp file, no half item
        # benign traffic is unaffected meanwhile
        assert_survived(proc, upstream, f"quarantine-{fault}")
        # the store works again: the same upload is held, and decrypts to the exact original
        if fault == "file-size-limit":
            subprocess.run(["prlimit", f"--pid={proc.proc.pid}", "--fsize=unlimited:unlimited"], check=True)
        elif fault == "full":
            assert to_free is not None
            to_free.unlink()
        else:
            return       # a read-only store stays read-only
        answer = post(proc, upstream.port, body, f"held-{fault}-again", ctype)
        assert answer.status == 403 and answer.page["action"] == "quarantine"
        item = answer.headers["x-sekimori-incident"]
        out = tmp_path / "export.bin"
        done = subprocess.run([*DLP, "quarantine", "export", item, "--out", str(out), "--config", str(proc.config),
                               "--data-dir", str(proc.data_dir)], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert hashlib.sha256(out.read_bytes()).hexdigest() == answer.sha256
        out.unlink()
        assert value(metrics(proc), "dlp_quarantine_items") == 1
    finally:
        if fault in ("read-only", "full") and os.geteuid() == 0:
            _umount(qdir)


def _fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last block; the filler file's path."""
    filler = directory / "filler"
    with contextlib.suppress(OSError), open(filler, "wb") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()
    return filler


def test_a_full_data_disk_keeps_every_verdict_and_the_incidents_reach_the_log(start, upstream, tmp_path):
    """Incidents cannot be written: the verdicts stand (a quarantine becomes a block), each
    incident record still goes to the log (the SIEM's stream), and the failures are counted."""
    data = tmp_path / "var-p"
    if os.geteuid() != 0:
        pytest.skip("needs a small tmpfs (root)")
    _mount_tmpfs(data, "4m")
    try:
        proc = start(shipped_policy())
        filler = _fill(data)
        answers = {}
        for tag, n, seed in (("bulk", 1000, 1551), ("review", 150, 1552), ("few", 20, 1553)):
            body, ctype = csv_upload(persons(n, seed=seed))
            answers[tag] = post(proc, upstream.port, body, f"disk-full-{tag}", ctype)
        assert answers["bulk"].status == 403 and answers["bulk"].page["action"] == "block"
        assert answers["review"].status == 403 and answers["review"].page["action"] == "block"
        assert answers["few"].status == 200       # 'log': allowed, with an incident nobody could write
        assert arrived(upstream, "disk-full-few") == [answers["few"].sha256]
        assert arrived(upstream, "disk-full-bulk") == arrived(upstream, "disk-full-review") == []
        assert incidents(proc) == {}
        log = proc.output()
        for answer in (answers["bulk"], answers["review"]):
            incident = answer.headers["x-sekimori-incident"]
            assert f"cannot write incident {incident}" in log
            assert f'sekimori.incident: {{"id":"{incident}"' in log
        snap = metrics(proc)
        assert value(snap, "dlp_errors_total", stage="incident") == 3
        assert value(snap, "dlp_errors_total", stage="quarantine") == 1
        assert value(snap, "dlp_transfers_total", action="block") == 2
        filler.unlink()
        body, ctype = csv_upload(persons(1000, seed=1551))
        again = post(proc, upstream.port, body, "disk-free-bulk", ctype)
        assert again.status == 403 and again.headers["x-sekimori-incident"] in incidents(proc)
        assert_survived(proc, upstream, "disk-full")
    finally:
        _umount(data)


# -- 4. upstream down or resetting --------------------------------------------------------------

class Resetter:
    """A TCP server that resets every connection: at once, or after reading the request head."""

    def __init__(self, read_first: bool):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.read_first = read_first
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with contextlib.suppress(OSError):
                if self.read_first:
                    conn.settimeout(5)
                    conn.recv(1024)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()   # linger 0: RST

    def close(self) -> None:
        self.sock.close()


def _post_or_explain(proc: DlpProcess, port: int, body: bytes, tag: str, ctype: str = "application/octet-stream"
                     ) -> Answer:
    """``post`` with a shorter wait that, when no answer comes, says which upload it was, what
    listens on the port and what the proxy logged (an unanswered upload here once went
    unexplained on a full run)."""
    try:
        return post(proc, port, body, tag, ctype, timeout=30)
    except TimeoutError:
        try:
            listening = subprocess.run(["ss", "-ltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
        except OSError as e:          # no iproute2
            listening = str(e)
        raise AssertionError(f"no answer for {tag} within 30 s; listening on {port}: {listening!r}; "
                             f"dlp run log: {proc.output()[-4000:]}") from None


def test_upstream_down_or_resetting_gets_a_502_and_nothing_breaks(start, upstream):
    proc = start(shipped_policy())
    down = free_port()                    # nothing listens there
    resets = [Resetter(read_first=False), Resetter(read_first=True)]
    try:
        for port, what in ((down, "down"), (resets[0].port, "reset-on-accept"), (resets[1].port, "reset-after-head")):
            answer = _post_or_explain(proc, port, benign(200_000, seed=3), f"to-{what}")
            assert answer.status == 502, (what, answer.status, answer.body[:300])
            assert b"mitmproxy" not in answer.body.lower() and "mitmproxy" not in answer.headers.get("server", "")
            # a list to a dead upstream is still stopped, before any connection is tried
            body, ctype = csv_upload(persons(1000, seed=1601))
            refused = _post_or_explain(proc, port, body, f"bulk-to-{what}", ctype)
            assert refused.status == 403 and refused.page["action"] == "block"
        assert [r.accepted for r in resets] == [1, 1]     # the lists never even connected
        snap = metrics(proc)
        assert value(snap, "dlp_transfers_total", action="allow") == 3   # allowed; delivery failed after
        assert value(snap, "dlp_transfers_total", action="block") == 3
        assert value(snap, "dlp_errors_total") == 0
        assert_survived(proc, upstream, "upstream")
    finally:
        for r in resets:
            r.close()


def test_every_upload_to_a_server_that_resets_on_accept_is_answered(start, upstream):
    """mitmproxy 12.3.1 left about one such upload in ten unanswered for good (its connection
    task died on a reset socket's missing peer name; addons/mitm_patches.py). 200 tries: each
    gets its 502 page."""
    proc = start(shipped_policy())
    resetter = Resetter(read_first=False)
    unanswered, statuses = [], set()
    try:
        for i in range(200):
            try:
                statuses.add(post(proc, resetter.port, benign(2_000, seed=i), f"reset-{i}", timeout=10).status)
            except TimeoutError:
                unanswered.append(i)
    finally:
        resetter.close()
    assert unanswered == [] and statuses == {502}, (unanswered, statuses)
    assert_survived(proc, upstream, "reset-on-accept")


# -- 5. a client that disconnects mid-upload ----------------------------------------------------

def _raw_upload(proc: DlpProcess, port: int, tag: str, body: bytes, send: int, wait: float = 0.0) -> None:
    """Announce ``len(body)`` bytes, send the first ``send``, optionally wait, and close."""
    with socket.create_connection(("127.0.0.1", proc.port)) as s:
        head = (f"POST http://127.0.0.1:{port}/faults/{tag} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: text/csv\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        s.sendall(head + body[:send])
        time.sleep(wait)


def test_a_client_that_disconnects_mid_upload_leaves_nothing_behind(start, upstream):
    proc = start(shipped_policy())
    bulk = resident_csv(persons(1200, seed=1701))
    small = benign(60_000, seed=7)
    large = benign(30 * 2**20, seed=8)            # scanned by a worker for a few seconds
    before = metrics(proc)
    _raw_upload(proc, upstream.port, "half-bulk", bulk, len(bulk) // 2)
    _raw_upload(proc, upstream.port, "half-benign", small, len(small) // 2)
    _raw_upload(proc, upstream.port, "headers-only", large, 0)
    time.sleep(1)
    after = metrics(proc)
    assert value(after, "dlp_transfers_total") == value(before, "dlp_transfers_total")   # never a transfer
    # the whole body sent, then gone while it is being scanned: the verdict is still reached
    # and recorded; a list never reaches the upstream, and the worker is not lost
    _raw_upload(proc, upstream.port, "gone-bulk", bulk, len(bulk))
    _raw_upload(proc, upstream.port, "gone-large", large, len(large), wait=0.5)
    assert wait_for(lambda: value(metrics(proc), "dlp_transfers_total") == value(before, "dlp_transfers_total") + 2,
                    timeout=60)
    snap = metrics(proc)
    assert value(snap, "dlp_transfers_total", action="block") == 1
    assert value(snap, "dlp_errors_total") == 0 and value(snap, "dlp_uninspectable_total") == 0
    for tag in ("half-bulk", "half-benign", "headers-only", "gone-bulk"):
        assert arrived(upstream, tag) == [], tag
    assert all(sha == hashlib.sha256(large).hexdigest() for sha in arrived(upstream, "gone-large"))
    assert len(scanners(proc)) == 2
    assert_survived(proc, upstream, "disconnect")


# -- 6. the policy file replaced by garbage, emptied, truncated ----------------------------------

def _reloads(proc: DlpProcess) -> float:
    return value(metrics(proc), "dlp_config_reloads_total")


def _replace(path: Path, data: bytes, in_place: bool) -> None:
    if in_place:                          # an editor or `: >` writing over the file
        with open(path, "r+b") as fh:
            fh.truncate(0)
            fh.write(data)
    else:                                 # a tool that writes a new file and renames it
        tmp = path.with_name(path.name + ".new")
        tmp.write_bytes(data)
        os.replace(tmp, path)


_SHIPPED_BYTES = SHIPPED.read_bytes()
_CUT_MID_RULE = _SHIPPED_BYTES.index(b"    when: {persons: 1000}") + len(b"    when: {pers")
_CUT_BEFORE_RULES = _SHIPPED_BYTES.index(b"\nrules:\n") + len(b"\nrules:\n")

POLICY_DAMAGE = {
    "garbage": (bytes(random.Random(9).randbytes(3000)), False),
    "yaml-garbage": (b"version: 1\nrules: [[[{{{\n\x00\x01 nonsense: : :\n", False),
    "empty": (b"", True),
    "truncated-mid-rule": (_SHIPPED_BYTES[:_CUT_MID_RULE], True),
    "truncated-before-rules": (_SHIPPED_BYTES[:_CUT_BEFORE_RULES], True),
}


@pytest.mark.parametrize("damage", list(POLICY_DAMAGE))
def test_a_damaged_policy_file_leaves_the_old_policy_blocking(start, upstream, damage):
    proc = start(SHIPPED.read_text())
    body, ctype = csv_upload(persons(1000, seed=1801))
    assert post(proc, upstream.port, body, "before", ctype).status == 403
    reloads = _reloads(proc)
    # traffic goes on while the file is damaged: lists and benign uploads, one after another
    stop, sent = threading.Event(), []

    def traffic() -> None:
        while not stop.is_set():
            i = len(sent)
            is_benign = i % 2 == 1
            payload, ct = (benign(30_000, seed=i), "text/plain") if is_benign else (body, ctype)
            sent.append((f"bg{i}", is_benign, post(proc, upstream.port, payload, f"bg{i}", ct)))

    background = threading.Thread(target=traffic)
    background.start()
    try:
        time.sleep(0.3)
        data, in_place = POLICY_DAMAGE[damage]
        _replace(proc.config, data, in_place)
        # the watcher polls every second; a rejected reload counts as a failure, an accepted one
        # as a success: wait until it has decided, whichever way
        assert wait_for(lambda: _reloads(proc) > reloads, timeout=15), "the change was never looked at"
        time.sleep(0.5)
    finally:
        stop.set()
        background.join(60)
    assert len(sent) > 4
    for tag, is_benign, answer in sent:
        if is_benign:
            assert answer.status == 200 and arrived(upstream, tag) == [answer.sha256], tag
        else:
            assert answer.status == 403 and arrived(upstream, tag) == [], tag
    snap = metrics(proc)
    answer = post(proc, upstream.port, body, f"during-{damage}", ctype)
    assert answer.status == 403 and answer.page["rules"][:1] == ["bulk-personal-data"]
    assert arrived(upstream, f"during-{damage}") == []
    assert value(snap, "dlp_config_reloads_total", result="failure") == 1
    assert value(snap, "dlp_errors_total", stage="config") == 1
    assert "old policy stays in force" in proc.output()
    assert_survived(proc, upstream, f"policy-{damage}")
    # a good file again: applied, and still blocking
    _replace(proc.config, _SHIPPED_BYTES + b"\n# fixed\n", in_place)
    assert wait_for(lambda: value(metrics(proc), "dlp_config_reloads_total", result="success") == 1, timeout=15)
    assert post(proc, upstream.port, body, "after", ctype).status == 403


# -- 7. load and integrity: the 400-upload mixed run ----------------------------------------------

def test_mixed_load_400_uploads_from_16_clients_all_right(tmp_path):
    import soak
    report = soak.run(uploads=400, clients=16, seed=1, workdir=tmp_path / "soak", max_seconds=10.0)
    SEEN.persons.extend(report.persons)
    SEEN.runs.append((report.dlp_log, report.data_dir))
    print(json.dumps(report.summary(), ensure_ascii=False))
    assert report.failures == []
    assert report.tally == {"allow": 300, "block": 70, "quarantine": 30}
    assert report.latency["max"] < 10


# -- 8. bodies a parser chokes on (found by the soak) -----------------------------------------------

@pytest.fixture
def unlisted(tmp_path):
    """A dlp run that the leak check below does not read (these tests look for leaks themselves)."""
    cfg = tmp_path / "p.yaml"
    cfg.write_text(SHIPPED.read_text())
    proc = DlpProcess(cfg, tmp_path / "var").start()
    yield proc
    proc.stop()


def test_a_parser_error_message_carries_no_raw_value(unlisted, upstream):
    ps = people(30, seed=1901)      # not in SEEN: this run is checked here
    members = ", ".join(f'{{"name": "{p.name}", "mail": "{p.email}", "tel": "{p.phone}"}}' for p in ps)
    broken = f'{{"members": [{members}, oops {{"x": 1}}]}}'.encode()
    answer = post(unlisted, upstream.port, broken, "broken-json", "application/json")
    assert answer.status == 403 and arrived(upstream, "broken-json") == []
    written = unlisted.output() + "".join(p.read_text() for p in unlisted.data_dir.glob("incidents*.jsonl"))
    assert "invalid or truncated JSON" in written
    assert _leaks(ps, written) == set()


def test_a_log_whose_lines_start_with_a_bracketed_time_passes(unlisted, upstream):
    log = "".join(f"[2026-11-27 10:00:{i % 60:02d}] INFO worker started job {i}\n" for i in range(2000)).encode()
    answer = post(unlisted, upstream.port, log, "bracket-log", "text/plain")
    assert answer.status == 200, answer.body[:300]
    assert arrived(upstream, "bracket-log") == [answer.sha256]


# -- 9. the leak check, after everything above ------------------------------------------------------

def _forms(p: Person) -> list[str]:
    """The raw values of a person as they could appear: as written, without spaces or dashes."""
    values = [p.name, p.name.replace(" ", ""), p.kana, p.kana.replace(" ", ""), p.phone, p.phone.replace("-", ""),
              p.email, p.address, p.address.replace(" ", "")]
    return [v for v in dict.fromkeys(values) if len(v) >= (5 if v.isascii() else 3)]


_JAPANESE_RUN = re.compile(r"[^\x00-\x7f]+(?:[ \-0-9]+[^\x00-\x7f]+)*[ \-0-9]*")
_ASCII_TOKEN = re.compile(r"[0-9-]{10,}|[\w.+-]+@[\w.-]+")


def test_zz_no_raw_personal_value_in_logs_incidents_metrics_or_answers():
    if not SEEN.runs:
        pytest.skip("runs with the tests above (it reads what they left)")
    texts = list(SEEN.texts)
    for log_path, data_dir in SEEN.runs:
        texts.append(log_path.read_bytes().decode("utf-8", "replace"))
        for path in data_dir.rglob("*"):
            if path.is_file() and (path.parent.name != "quarantine" or path.suffix == ".json"):
                texts.append(path.read_bytes().decode("utf-8", "replace"))   # .bin items are encrypted
    haystack = "\n".join(texts)
    assert len(haystack) > 100_000
    leaks = _leaks(SEEN.persons, haystack)
    assert not leaks, f"{len(leaks)} raw values found, e.g. {sorted(leaks)[:3]}"
    # the search finds what it looks for, and reads the right files (masked forms are there)
    canary = SEEN.persons[0]
    planted = f"{haystack}\nuser={canary.name.replace(' ', '')} tel={canary.phone}"
    assert _leaks([canary], planted) == {canary.name.replace(" ", ""), canary.phone}
    assert any(f"{prefix}-****" in haystack for prefix in ("090", "080", "070"))


def _leaks(persons: list[Person], haystack: str) -> set[str]:
    """The raw values of ``persons`` found in ``haystack``. Tens of thousands of values
    against megabytes: the Japanese ones (names, readings, addresses) are looked for in the
    Japanese runs of the text, phones and e-mail addresses among its number and address
    tokens, each a substring search."""
    japanese = "\n".join(set(_JAPANESE_RUN.findall(haystack)))
    tokens = "\n".join(set(_ASCII_TOKEN.findall(haystack)))
    unique = {(p.name, p.phone): p for p in persons}.values()
    return {v for p in unique for v in _forms(p) if v in (tokens if v.isascii() else japanese)}
