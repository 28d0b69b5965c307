"""The one entry point of inspection: ``scan(Transfer) -> ScanResult``, extract → detect → count.

Pure with respect to the outside world (no I/O, no clock other than the budget), so it runs
the same in the proxy process, in a worker process, and in ``dlp scan``. The policy decision
is taken afterwards by ``dlp.policy`` because it needs state (windows, approvals) that lives
with the proxy, not with the worker.
"""

from __future__ import annotations

import gc
import threading
import time
import traceback
from collections.abc import Iterable
from functools import lru_cache

from dlp.config import InspectSettings
from dlp.count import PersonCounter
from dlp.detect.scanner import DetectorSet, RecordFindings, TypedRows
from dlp.extract import Extractor, request
from dlp.extract.budget import Budget, Uninspectable
from dlp.model import Finding, Record, ScanResult, Table, Transfer

EVIDENCE_SAMPLES = 5


@lru_cache(maxsize=8)
def detector_set(enabled: frozenset[str]) -> DetectorSet:
    return DetectorSet(enabled)


SCAN_GC_THRESHOLD = (50_000, 20, 100)
"""The collector's thresholds during a scan (Python's default is 700, 10, 10): a large list
makes hundreds of thousands of long-lived tuples (findings, link keys) and no cycles, which
the collector would walk again and again (~8% of a resident list's scan); format libraries
(pypdf) do make cycles, so it keeps running, only less often."""


GC_PAUSE_MIN = 64 * 1024
"""Smaller transfers (a request line, a form) end before the collector would matter."""


def scan(transfer: Transfer, limits: InspectSettings, enabled: frozenset[str],
         keys_out: dict[str, set[str]] | None = None, inline: bool = False) -> ScanResult:
    """Inspect one transfer (see ``_scan``) with the collector running less often
    (``SCAN_GC_THRESHOLD``) for bodies of GC_PAUSE_MIN and more. Only on a main thread (a
    worker process, ``dlp scan``): the setting is the process's, and a scan in a helper
    thread could outlive its timeout.

    ``inline``: the caller is the proxy's event loop; the scan raises ``Offload`` as soon as
    the transfer proves too big or slow for it (see ``Budget``), and the caller has a worker
    scan it instead."""
    if inline or len(transfer.body) < GC_PAUSE_MIN or threading.current_thread() is not threading.main_thread():
        return _scan(transfer, limits, enabled, keys_out, inline)
    before = gc.get_threshold()
    gc.set_threshold(*SCAN_GC_THRESHOLD)
    try:
        return _scan(transfer, limits, enabled, keys_out)
    finally:
        gc.set_threshold(*before)


def request_is_clean(path: str, headers: tuple[tuple[str, str], ...], enabled: frozenset[str]) -> bool:
    """True if a request without a body certainly carries nothing: its request line and
    headers read as records only (no document in any field) and the detectors find nothing
    in them. The same reading and detectors as ``scan``, without the machinery a transfer
    needs (budget, extractor, counting): browsing pays only for the look. False means
    "scan it" (``scan`` is the judge), never "found something"."""
    detectors = detector_set(enabled)
    for members, record in (request.line_parts(path), request.header_parts(headers)):
        if members or (record is not None and detectors.record(record).findings):
            return False
    return True


def _scan(transfer: Transfer, limits: InspectSettings, enabled: frozenset[str],
          keys_out: dict[str, set[str]] | None = None, inline: bool = False) -> ScanResult:
    """Inspect one transfer. Never raises: failures become errors and reasons in the result.

    ``keys_out`` receives the normalised values per detector; only the evaluation benchmark
    asks for them (raw values never leave the engine otherwise).
    """
    started = time.monotonic()
    result = ScanResult()
    budget = Budget(limits, started, inline)
    detectors = detector_set(enabled)
    counter = PersonCounter()
    keys: dict[str, set[str]] = keys_out if keys_out is not None else {}
    evidence: dict[str, list[str]] = {}

    def take(rec: RecordFindings) -> None:
        counter.add(rec)
        keep(rec.findings)

    def take_typed(rows: TypedRows) -> None:
        counter.add_typed(rows)
        for (detector, _cells), found in zip(rows.columns, rows.unique, strict=True):
            samples = evidence.get(detector)
            if samples is not None and len(samples) >= EVIDENCE_SAMPLES:   # only the keys are still wanted
                seen = keys.get(detector)
                if seen is None:
                    seen = keys[detector] = set()
                seen.update([f.key for f in found.values() if f is not None])
            else:
                keep(f for f in found.values() if f is not None)

    def keep(findings: Iterable[Finding]) -> None:
        for detector, key, masked, _identifies in findings:
            seen = keys.get(detector)
            if seen is None:
                seen = keys[detector] = set()
            if key not in seen:
                seen.add(key)
                samples = evidence.get(detector)
                if samples is None:
                    evidence[detector] = [masked]
                elif len(samples) < EVIDENCE_SAMPLES and masked not in samples:
                    samples.append(masked)

    try:
        for n, item in enumerate(Extractor(budget, result).transfer_items(transfer)):
            if n & 0x3FF == 0:
                budget.check_time()
            if isinstance(item, Record):
                result.records += 1
                rec = detectors.record(item)
                if rec.findings:
                    take(rec)
            elif isinstance(item, Table):
                for rows, recs in detectors.table(item):
                    budget.check_time()
                    result.records += rows
                    for rec in recs:
                        if type(rec) is TypedRows:
                            take_typed(rec)
                        else:
                            take(rec)
            else:
                for rec in detectors.block(item):
                    result.records += 1
                    take(rec)
    except Uninspectable as e:
        result.mark_uninspectable(e.reason, str(e))
    except Exception as e:  # a bug must not become a silent pass: on_error decides
        result.engine_error = f"{type(e).__name__}: {e}"
        result.errors.append(f"internal error: {type(e).__name__}")
        traceback.print_exc()
    result.persons = counter.persons()
    result.person_digests = counter.digests()
    result.findings = {d: len(v) for d, v in sorted(keys.items())}
    result.evidence = evidence
    result.seconds = time.monotonic() - started
    return result
