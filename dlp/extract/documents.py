"""Word-processor and presentation files: docx/docm, pptx/pptm (OOXML), odt and odp
(OpenDocument).

Their text lives in XML parts of a zip package. Paragraphs become lines of TextBlocks (a
letter's name, address and phone lines stay one paragraph, one person); tables become Tables
so that a member list pasted into Word is counted row by row. Headers, footers, footnotes,
comments and speaker notes are read too, and files embedded in the document (an Excel sheet
inside a Word file) come back as Members to be extracted by their own type.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator

from defusedxml.ElementTree import fromstring

from dlp.extract.archives import open_zip
from dlp.extract.budget import Budget, Uninspectable
from dlp.extract.events import Encrypted, Event, Member, Problem
from dlp.extract.xmlflow import ODF, OOXML, flow, local, open_part, read_part, xml_error

_WORD_PARTS = re.compile(r"word/(header\d*|footer\d*|footnotes|endnotes|comments)\.xml")
_SLIDE = re.compile(r"ppt/slides/slide(\d+)\.xml")
_NOTES = re.compile(r"ppt/notesSlides/notesSlide(\d+)\.xml")
_EMBEDDED = re.compile(r"(word|ppt|xl)/embeddings/[^/]+")
SMALL_PART = 4 << 20
"""Parts read whole (content types, manifests) must be smaller than this."""


def package(data: bytes, where: str, budget: Budget) -> zipfile.ZipFile:
    """The zip package of an office file, with its part count charged to the Budget."""
    zf = open_zip(data, where)
    for _ in zf.infolist():
        budget.add_member(where)
    return zf


def main_part(zf: zipfile.ZipFile, budget: Budget, where: str, suffixes: tuple[str, ...], default: str) -> str:
    """The main part named by [Content_Types].xml (generators may name it differently)."""
    try:
        info = zf.getinfo("[Content_Types].xml")
    except KeyError:
        return default
    if info.file_size > SMALL_PART:
        return default
    raw = read_part(zf, "[Content_Types].xml", budget, where)
    try:
        root = fromstring(raw)
    except Exception as e:
        raise xml_error(e, f"{where}: [Content_Types].xml") from None
    for el in root:
        if local(el.tag) == "Override" and el.get("ContentType", "").endswith(suffixes):
            name = el.get("PartName", "").lstrip("/")
            if name in zf.NameToInfo:
                return name
    return default


def embedded(zf: zipfile.ZipFile, budget: Budget, where: str) -> Iterator[Event]:
    """Files embedded in an OOXML document (OLE objects, packages, other Office files)."""
    for name in zf.namelist():
        if _EMBEDDED.fullmatch(name):
            try:
                yield Member(f"{where}/{name}", read_part(zf, name, budget, where))
            except Uninspectable as e:
                if e.reason == "timeout":
                    raise
                yield Problem(e.reason, str(e))


def docx_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    with package(data, where, budget) as zf:
        main = main_part(zf, budget, where, (".document.main+xml", ".document.macroEnabled.main+xml",
                                            ".template.main+xml", ".template.macroEnabledTemplate.main+xml"),
                         "word/document.xml")
        parts = [main, *sorted(n for n in zf.namelist() if _WORD_PARTS.fullmatch(n))]
        for part in parts:
            if part not in zf.NameToInfo:
                raise Uninspectable("corrupt", f"{where}: docx without its main part {part}")
            with open_part(zf, part, budget, where) as fh:
                yield from flow(fh, f"{where}: {part}", budget, OOXML, where)
        yield from embedded(zf, budget, where)


def pptx_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    with package(data, where, budget) as zf:
        slides = sorted((int(m.group(1)), m.group(0)) for n in zf.namelist() if (m := _SLIDE.fullmatch(n)))
        notes = sorted((int(m.group(1)), m.group(0)) for n in zf.namelist() if (m := _NOTES.fullmatch(n)))
        for label, found in (("slide", slides), ("notes", notes)):
            for number, part in found:
                with open_part(zf, part, budget, where) as fh:
                    yield from flow(fh, f"{where}: {part}", budget, OOXML, f"{where}/{label}{number}")
        yield from embedded(zf, budget, where)


def odf_encrypted(zf: zipfile.ZipFile, budget: Budget, where: str) -> bool:
    """OpenDocument encryption is declared per part in META-INF/manifest.xml."""
    info = zf.NameToInfo.get("META-INF/manifest.xml")
    if info is None or info.file_size > SMALL_PART:
        return False
    raw = read_part(zf, "META-INF/manifest.xml", budget, where)
    return b"encryption-data" in raw


def odf_items(data: bytes, where: str, budget: Budget, _ctype: str = "") -> Iterator[Event]:
    """odt, odp and ods: the paragraphs and tables of content.xml (a sheet is a table)."""
    with package(data, where, budget) as zf:
        if odf_encrypted(zf, budget, where):
            yield Encrypted(where)
            return
        if "content.xml" not in zf.NameToInfo:
            raise Uninspectable("corrupt", f"{where}: OpenDocument file without content.xml")
        with open_part(zf, "content.xml", budget, where) as fh:
            yield from flow(fh, f"{where}: content.xml", budget, ODF, where)
