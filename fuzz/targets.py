"""Fuzz targets: one per parser, each a function of the fuzzer's bytes that raises when the
code under test does something it must not (an exception a handler did not turn into a
specific error, a scan past its time budget, an engine error). Plain Python: atheris drives
them in ``fuzz/run.py`` (``make fuzz``), tests/test_fuzz_targets.py runs them on their seeds.

A parser target hands the bytes straight to that parser's handler (not through sniffing,
which would send most mutations elsewhere) and walks what it yields the way the engine does:
members extracted by their own type, tables and text through the detectors.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fuzzing as Z

from dlp.model import ScanResult, Transfer

# A nested member's failure is recorded as "extractor failed" and logged at debug level with
# its traceback: shown, so the fuzzer's report says where it happened.
logging.getLogger("dlp.extract").setLevel(logging.DEBUG)
logging.getLogger("dlp.extract").addHandler(logging.StreamHandler())


class Finding(AssertionError):
    """What the fuzzer looks for: the target's bytes made the code misbehave."""


@dataclass(frozen=True)
class Target:
    run: Callable[[bytes], None]
    seeds: tuple[str, ...]          # keys of fuzzing.seeds() that start its corpus


def _enabled() -> frozenset[str]:
    from dlp.detect.registry import DETECTOR_IDS
    return frozenset(DETECTOR_IDS)


def _consume(items: Iterable[object]) -> None:
    """Detect in what a handler yields, as the engine does."""
    from dlp.engine import detector_set
    from dlp.model import Record, Table
    detectors = detector_set(_enabled())
    for item in items:
        if isinstance(item, Record):
            detectors.record(item)
        elif isinstance(item, Table):
            for _rows, _recs in detectors.table(item):
                pass
        else:
            for _rec in detectors.block(item):  # type: ignore[arg-type]
                pass


def handler(kind: str, content_type: str = "") -> Callable[[bytes], None]:
    """A target for the handler of ``kind`` (a key of BINARY_HANDLERS or TEXT_HANDLERS, or
    ``multipart`` and ``binary``)."""
    def run(data: bytes) -> None:
        from dlp.extract import BINARY_HANDLERS, TEXT_HANDLERS, Extractor, _binary, forms
        from dlp.extract.budget import Budget, Uninspectable
        from dlp.extract.events import Mismatch
        handlers = {**BINARY_HANDLERS, **TEXT_HANDLERS, "binary": _binary,
                    "multipart": lambda d, w, b, c: forms.multipart_items(d, w, b, c)}
        result = ScanResult()
        budget = Budget(Z.LIMITS)
        extractor = Extractor(budget, result)
        started = time.monotonic()

        def items() -> Iterable[object]:
            encrypted: list[str] = []
            for event in handlers[kind](data, "body", budget, content_type):
                yield from extractor._event(event, 0, encrypted)
        with contextlib.suppress(Uninspectable, Mismatch):  # the handler's own verdict on this input
            _consume(items())
        failed = [e for e in result.errors if "extractor failed" in e]
        if failed:
            raise Finding(f"a nested handler failed (traceback logged above): {failed}")
        if time.monotonic() - started > Z.LIMITS.timeout + Z.SLACK:
            raise Finding(f"{kind}: {time.monotonic() - started:.1f} s, past the budget of {Z.LIMITS.timeout} s")
    return run


def engine(**transfer: object) -> Callable[[bytes], None]:
    """A target for the whole engine: the bytes as a transfer's body (with ``transfer``)."""
    def run(data: bytes) -> None:
        from dlp.engine import scan
        r = scan(Transfer("http", data, **transfer), Z.LIMITS, _enabled())  # type: ignore[arg-type]
        try:
            Z.check(r)
        except AssertionError as e:
            raise Finding(str(e)) from None
    return run


CODINGS = ("gzip", "deflate", "br", "zstd", "gzip, br", "x-gzip")


def content_encoding(data: bytes) -> None:
    """The first byte picks the coding; the rest is the body."""
    if data:
        engine(content_encoding=CODINGS[data[0] % len(CODINGS)])(data[1:])


STREAMS = ("gzip", "bz2", "xz", "zstd")


def stream(data: bytes) -> None:
    """gzip, bz2, xz and zstd files: the first byte picks the decompressor."""
    if data:
        handler(STREAMS[data[0] % len(STREAMS)])(data[1:])


def request(data: bytes) -> None:
    """A request line and headers: the bytes split at NULs into the path, then header name
    and value pairs (a GET carries data as well as an upload)."""
    fields = data.decode("utf-8", "surrogateescape").split("\0")
    path, rest = "/" + fields[0], fields[1:]
    headers = tuple(zip(rest[0::2], rest[1::2], strict=False))
    engine(method="GET", path=path, headers=headers)(b"")


def _request_seed() -> bytes:
    return "\0".join(["upload?name=%E5%B1%B1%E7%94%B0&tel=090-1234-5678&q=a+b", "Cookie", "sid=abc; tel=090-1234-5678",
                      "X-Data", "eyJuYW1lIjoi5bGx55SwIOWkqumDjiJ9", "User-Agent", "curl/8"]).encode()


TARGETS: dict[str, Target] = {
    "zip": Target(handler("zip"), ("zip", "docx", "xlsx")),
    "tar": Target(handler("tar"), ("tar",)),
    "7z": Target(handler("7z"), ("7z",)),
    "stream": Target(stream, ()),                       # seeds: see corpus_seeds
    "docx": Target(handler("docx"), ("docx",)),
    "pptx": Target(handler("pptx"), ("pptx",)),
    "odf": Target(handler("odt"), ("odt", "odp", "ods")),
    "xlsx": Target(handler("xlsx"), ("xlsx",)),
    "xls": Target(handler("xls"), ("xls",)),
    "ole": Target(handler("ole"), ("ole", "ooxml-encrypted")),
    "msg": Target(handler("msg"), ("msg",)),
    "pdf": Target(handler("pdf"), ("pdf",)),
    "rtf": Target(handler("rtf"), ("rtf",)),
    "eml": Target(handler("eml"), ("eml",)),
    "multipart": Target(handler("multipart", Z.MULTIPART), ("multipart",)),
    "urlencoded": Target(handler("urlencoded"), ("urlencoded",)),
    "json": Target(handler("json"), ("json", "ndjson")),
    "html": Target(handler("html"), ("html",)),
    "xml": Target(handler("xml"), ("xml",)),
    "text": Target(handler("text"), ("csv", "euc-text", "utf16-text")),
    "binary": Target(handler("binary"), ("binary",)),
    "base64": Target(handler("base64"), ("base64",)),
    "content-encoding": Target(content_encoding, ()),   # seeds: see corpus_seeds
    "request": Target(request, ()),
    "engine": Target(engine(), tuple(k for k in ("zip", "pdf", "eml", "json", "html", "csv", "rtf", "xls"))),
}


def corpus_seeds(name: str) -> list[bytes]:
    """The valid inputs a target's corpus starts from."""
    seeds = Z.seeds()
    if name == "stream":
        return [bytes([i]) + seeds[k].body for i, k in enumerate(STREAMS)]
    if name == "content-encoding":
        ce = {"gzip": "ce-gzip", "deflate": "ce-deflate", "br": "ce-br", "zstd": "ce-zstd", "gzip, br": "ce-stacked"}
        return [bytes([i]) + seeds[ce[c]].body for i, c in enumerate(CODINGS) if c in ce]
    if name == "request":
        return [_request_seed()]
    return [seeds[k].body for k in TARGETS[name].seeds]
