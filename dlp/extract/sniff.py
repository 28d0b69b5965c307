"""The true type of a payload, from magic bytes and structure; never from a name.

A renamed file (an .xlsx sent as photo.jpg, a zip with a .txt name) must be extracted as what
it is. Container formats are refined by looking inside: a zip with ``[Content_Types].xml`` is
OOXML (word/, xl/ or ppt/ says which), a zip with a ``mimetype`` member is OpenDocument, an OLE
compound file is told apart by its streams. Text payloads are told apart later, by
``text_kind``, once their encoding is known.
"""

from __future__ import annotations

import io
import re
import zipfile

import olefile

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"PK\x03\x04", 0, "zip"),
    (b"PK\x05\x06", 0, "zip"),
    (b"PK\x07\x08", 0, "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "ole"),
    (b"{\\rtf", 0, "rtf"),
    (b"\x1f\x8b", 0, "gzip"),
    (b"\xfd7zXZ\x00", 0, "xz"),
    (b"\x28\xb5\x2f\xfd", 0, "zstd"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7z"),
    (b"ustar", 257, "tar"),
    (b"Rar!\x1a\x07", 0, "rar"),
    (b"MSCF\x00\x00\x00\x00", 0, "cab"),
)
_LZH = re.compile(rb"^..-lh[0-7d]-")
_BZ2 = re.compile(rb"BZh[1-9](?:1AY&SY|\x17rE8P\x90)")

UNSUPPORTED = {"rar": "RAR archive", "cab": "CAB archive", "lzh": "LZH (LHA) archive"}
"""Recognised formats without a reader here: reported as ``unsupported``, never passed."""

_ODF = {
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.presentation": "odp",
}


def sniff(data: bytes) -> str | None:
    """The format of ``data`` by its magic bytes and structure, or None (text or unknown binary)."""
    kind = magic(data)
    if kind == "zip":
        return _zip_kind(data)
    if kind == "ole":
        return _ole_kind(data)
    return kind


def magic(data: bytes) -> str | None:
    """The format by magic bytes alone (cheap: used on every payload)."""
    for sig, offset, kind in _MAGIC:
        if data[offset:offset + len(sig)] == sig:
            return kind
    pdf_at = data.find(b"%PDF-", 0, 1024)  # readers accept junk before the header
    if pdf_at == 0 or (pdf_at > 0 and (b"%%EOF" in data[-2048:] or b"endobj" in data[:1 << 20])):
        return "pdf"
    if _BZ2.match(data[:10]):
        return "bz2"
    if _LZH.match(data[:8]):
        return "lzh"
    return None


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "[Content_Types].xml" in names:
                for prefix, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
                    if any(n.startswith(prefix) for n in names):
                        return kind
            if "mimetype" in names:
                info = zf.getinfo("mimetype")
                if info.file_size <= 200 and not info.flag_bits & 0x1:
                    with zf.open(info) as fh:
                        mime = fh.read(200).strip()
                    return _ODF.get(mime, "zip")
    except Exception:
        return "zip"
    return "zip"


def _ole_kind(data: bytes) -> str:
    """xls, msg, doc, ppt, encrypted OOXML or other OLE, by the streams present."""
    try:
        with olefile.OleFileIO(data) as ole:
            names = {"/".join(e) for e in ole.listdir(streams=True, storages=True)}
    except Exception:
        return "ole"
    top = {n.split("/")[0] for n in names}
    if "EncryptedPackage" in top:
        return "ooxml-encrypted"
    if "Workbook" in top or "Book" in top:
        return "xls"
    if "__properties_version1.0" in top or any(n.startswith("__substg1.0_") for n in top):
        return "msg"
    return "ole"


# -- text payloads --------------------------------------------------------------------------

_HTML = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<meta\s|<table[\s>]|<div[\s>]|<p[\s>]|<br\s*/?>",
                   re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_HEADER_LINE = re.compile(r"([A-Za-z][A-Za-z0-9-]{0,60}):[ \t]*\S")
_MAIL_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "received", "return-path",
    "mime-version", "content-type", "reply-to", "sender", "delivered-to", "x-mailer", "in-reply-to",
    "references", "dkim-signature", "authentication-results", "content-transfer-encoding",
})
_URLENCODED = re.compile(r"[\w.\-\[\]%*~]+=[^&\s]*(?:&[\w.\-\[\]%*~]+=[^&\s]*)*\s*")
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/_\-\r\n]+={0,6}\s*")
_PGP = re.compile(r"-----BEGIN PGP MESSAGE-----")


def text_kind(head: str, content_type: str = "") -> str:
    """What a text payload is, from its first characters (``head``, already decoded) and, for
    text subtypes only, the declared type as a hint: json, html, xml, eml, urlencoded,
    base64 (a whole body that is one base64 file), pgp (an armored encrypted message) or text."""
    ctype = content_type.split(";")[0].strip().lower()
    start = head.lstrip("\ufeff \t\r\n")
    if start[:1] in ("{", "[") or "json" in ctype:
        return "json"
    if start.startswith("<"):
        if _HTML.search(start[:4096]) or ctype in ("text/html", "application/xhtml+xml"):
            return "html"
        return "xml"
    if ctype in ("text/html", "application/xhtml+xml") and _TAG.search(start[:4096]):
        return "html"  # a fragment; a CSV labelled text/html (or named .html) is a CSV
    if _PGP.match(start):
        return "pgp"
    if ctype == "application/x-www-form-urlencoded":
        return "urlencoded"
    if len(start) >= 64 and _BASE64_BODY.fullmatch(start[:8192]):
        return "base64"
    if "\n" not in start.rstrip() and len(start) < 1 << 20 and _URLENCODED.fullmatch(start):
        return "urlencoded"
    if ctype == "message/rfc822" or _is_mail(start):
        return "eml"
    return "text"


def _is_mail(text: str) -> bool:
    """RFC 5322: a block of ``Name: value`` header lines (folded lines allowed), known mail
    headers among them, up to a blank line (or past the sample: a To: of 2,000 addresses)."""
    lines = text[:16384].splitlines()
    if lines and lines[0].startswith("From "):  # mbox separator
        lines = lines[1:]
    if len(text) > 16384:
        lines = lines[:-1]  # the sample may cut the last line
    known = seen = 0
    for line in lines:
        if not line.strip():
            break
        if line[0] in " \t" and seen:
            continue
        m = _HEADER_LINE.match(line)
        if not m:
            return False
        seen += 1
        known += m.group(1).lower() in _MAIL_HEADERS
    return seen >= 2 and known >= 2
