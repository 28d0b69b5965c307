"""PDF: the text layer of each page, filled-in form fields and embedded files (pypdf).

A PDF that needs a password to open is reported as encrypted; one with only an owner password
(printing or copying restricted) opens with the empty password and is scanned. pypdf's own
limits against decompression bombs are tightened to what the Budget has left, and the
deadline is checked between pages. Scanned images have no text layer: they yield nothing
(OCR is out of scope).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Encrypted, Event, Member, Problem, describe
from dlp.model import Record, TextBlock

if TYPE_CHECKING:
    import pypdf


logging.getLogger("pypdf").setLevel(logging.ERROR)
STREAM_MAX = 64 << 20
"""Bytes any one PDF stream may decode to (pypdf's default is 75 MB)."""


def _limits(budget: Budget) -> dict[str, int | None]:
    cap = max(1 << 20, min(STREAM_MAX, budget.remaining_expansion()))
    return {
        "zlib_maximum_output_length": cap,
        "lzw_maximum_output_length": cap,
        "run_length_maximum_output_length": cap,
        "brotli_maximum_output_length": cap,
        "array_based_stream_maximum_output_length": cap,
        "jbig2_maximum_output_length": cap,
        "image_maximum_buffer_size": cap,
        "stream_decoding_work_maximum_length": 4 * cap,
        "jbig2dec_binary": None,
    }


def pdf_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    import pypdf  # heavy: imported when a PDF arrives
    limits = _limits(budget)
    try:
        with pypdf.apply_configuration(**limits):
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
                yield Encrypted(where)
                return
            pages = len(reader.pages)
    except Uninspectable:
        raise
    except Exception as e:  # pypdf raises many types on hostile input
        if "crypt" in str(e).lower() or "password" in str(e).lower():
            yield Encrypted(where)
            return
        raise Uninspectable("corrupt", f"{where}: cannot open PDF ({describe(e)})") from None
    failed = 0
    for i in range(pages):
        budget.check_time()
        try:
            with pypdf.apply_configuration(**limits):
                page_text = reader.pages[i].extract_text()
        except Exception as e:
            failed += 1
            if failed <= 3:
                yield Problem("corrupt", f"{where}: page {i + 1}: cannot extract text ({describe(e)})")
            continue
        budget.add_expanded(len(page_text), f"{where}: page {i + 1}")
        if page_text.strip():
            yield TextBlock(page_text, f"{where}/page{i + 1}")
    yield from _fields(reader, where, limits)
    yield from _attachments(reader, where, budget, limits)


def _fields(reader: pypdf.PdfReader, where: str, limits: dict[str, int | None]) -> Iterator[Event]:
    import pypdf
    try:
        with pypdf.apply_configuration(**limits):
            fields = reader.get_form_text_fields() or {}
    except Exception:  # a damaged form is no reason to drop the page text
        return
    pairs = tuple((str(k), str(v)) for k, v in fields.items() if v)
    if pairs:
        yield Record(pairs, f"{where}/form")


def _attachments(reader: pypdf.PdfReader, where: str, budget: Budget,
                 limits: dict[str, int | None]) -> Iterator[Event]:
    import pypdf
    try:
        with pypdf.apply_configuration(**limits):
            found = [(name, list(contents)) for name, contents in reader.attachments.items()]
    except Exception as e:
        yield Problem("corrupt", f"{where}: cannot read embedded files ({describe(e)})")
        return
    for name, contents in found:
        for content in contents:
            budget.add_member(where)
            budget.add_expanded(len(content), f"{where}/{name}")
            yield Member(f"{where}/{name}", bytes(content))
