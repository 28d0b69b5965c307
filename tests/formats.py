"""Documents of every format the extractor reads, generated from synthetic persons.

Spreadsheets and tables carry the resident-list header (氏名, フリガナ, 住所, 電話番号, 生年月日)
so person counts can be asserted exactly; containers, encrypted files and bombs are built here
too. Formats are written with the same libraries the extractor reads them with where a writer
exists (openpyxl, xlwt, reportlab, py7zr, pypdf, msoffcrypto-tool), or as their XML by hand
(docx, pptx, odt, ods); .msg files and other OLE compound files by a small CFB writer below.
"""

from __future__ import annotations

import base64
import bz2
import email.message
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from xml.sax.saxutils import escape

from synthetic import Person

HEADER = ["氏名", "フリガナ", "住所", "電話番号", "生年月日"]


def rows(persons: list[Person]) -> list[list[str]]:
    return [[p.name, p.kana, p.address, p.phone, p.birth] for p in persons]


def csv_text(persons: list[Person], delimiter: str = ",") -> str:
    lines = [delimiter.join(HEADER)] + [delimiter.join(r) for r in rows(persons)]
    return "\r\n".join(lines) + "\r\n"


# -- zip packages ---------------------------------------------------------------------------

def zip_of(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def cp932_zip(files: dict[str, bytes]) -> bytes:
    """A zip as Japanese Windows writes it: CP932 names, no UTF-8 flag."""
    entries = []
    for name, data in files.items():
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        entries.append((name.encode("cp932"), c.compress(data) + c.flush(), zlib.crc32(data), len(data), 8))
    return raw_zip(entries)


# -- spreadsheets ---------------------------------------------------------------------------

def xlsx(persons: list[Person], sheet: str = "名簿", title: str | None = None, shared: bool = True) -> bytes:
    """A workbook with one sheet. openpyxl writes inline strings; Excel writes a shared
    string table, so by default the strings are moved there as Excel would."""
    import openpyxl
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    if title:
        ws.append([title])
        ws.append([])
    ws.append(HEADER)
    for r in rows(persons):
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return _shared_strings(buf.getvalue()) if shared else buf.getvalue()


def _shared_strings(data: bytes) -> bytes:
    import re
    zin = zipfile.ZipFile(io.BytesIO(data))
    files = {n: zin.read(n) for n in zin.namelist()}
    table: dict[str, int] = {}

    def to_shared(m: re.Match[str]) -> str:
        text = m.group(2)
        index = table.setdefault(text, len(table))
        return f'<c r="{m.group(1)}" t="s"><v>{index}</v></c>'

    for name in [n for n in files if n.startswith("xl/worksheets/")]:
        xml = files[name].decode("utf-8")
        files[name] = re.sub(r'<c r="([A-Z]+\d+)" t="inlineStr"><is><t>(.*?)</t></is></c>', to_shared, xml).encode()
    sst = "".join(f"<si><t>{t}</t></si>" for t in table)
    files["xl/sharedStrings.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        f'2006/main" count="{len(table)}" uniqueCount="{len(table)}">{sst}</sst>').encode()
    files["[Content_Types].xml"] = files["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    files["xl/_rels/workbook.xml.rels"] = files["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdSS" Type="http://schemas.openxmlformats.org/officeDocument/'
        b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    return zip_of(files)


def xls(persons: list[Person], sheet: str = "名簿") -> bytes:
    import xlwt
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet(sheet)
    for c, h in enumerate(HEADER):
        ws.write(0, c, h)
    for r, row in enumerate(rows(persons), start=1):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_ODF_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
           'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.2"')


def _odf_table(name: str, table_rows: list[list[str]], pad: bool = False) -> str:
    out = [f'<table:table table:name="{escape(name)}">']
    for r in table_rows:
        cells = "".join(f'<table:table-cell office:value-type="string"><text:p>{escape(v)}</text:p>'
                        "</table:table-cell>" for v in r)
        if pad:  # what LibreOffice writes: the rest of the row repeated empty
            cells += '<table:table-cell table:number-columns-repeated="16379"/>'
        out.append(f"<table:table-row>{cells}</table:table-row>")
    if pad:
        out.append('<table:table-row table:number-rows-repeated="1048000">'
                   '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>')
    out.append("</table:table>")
    return "".join(out)


def _odf(mime: str, body: str, manifest_extra: str = "") -> bytes:
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODF_NS}>'
               f"<office:body>{body}</office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}"/>'
                f'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
                f"{manifest_extra}</manifest:file-entry></manifest:manifest>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", mime, compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def ods(persons: list[Person], sheet: str = "名簿", pad: bool = True) -> bytes:
    body = f"<office:spreadsheet>{_odf_table(sheet, [HEADER, *rows(persons)], pad)}</office:spreadsheet>"
    return _odf("application/vnd.oasis.opendocument.spreadsheet", body)


# -- documents --------------------------------------------------------------------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_P = "http://schemas.openxmlformats.org/presentationml/2006/main"


def _w_p(text: str) -> str:
    return f'<w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'


def _w_table(table_rows: list[list[str]]) -> str:
    trs = "".join("<w:tr>" + "".join(f"<w:tc>{_w_p(v)}</w:tc>" for v in r) + "</w:tr>" for r in table_rows)
    return f"<w:tbl>{trs}</w:tbl>"


def docx(persons: list[Person], letters: bool = False, doctype: str = "") -> bytes:
    """A Word file: a title paragraph and the persons as a table, or (``letters``) as
    paragraphs of a letter each, separated by empty paragraphs."""
    if letters:
        body = "".join(_w_p(f"{p.name} 様") + _w_p(f"住所：{p.address}") + _w_p(f"電話：{p.phone}") + _w_p("")
                       for p in persons)
    else:
        body = _w_p("会員名簿（社外秘）") + _w_table([HEADER, *rows(persons)])
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{doctype}'
                f'<w:document xmlns:w="{_W}"><w:body>{body}</w:body></w:document>')
    return _ooxml("word/document.xml", document,
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")


def _ooxml(main: str, xml: str, ctype: str, extra: dict[str, str] | None = None) -> bytes:
    overrides = f'<Override PartName="/{main}" ContentType="{ctype}"/>'
    types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
             'package/2006/content-types"><Default Extension="rels" ContentType="application/'
             'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
             f'ContentType="application/xml"/>{overrides}</Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            f'officeDocument/2006/relationships/officeDocument" Target="{main}"/></Relationships>')
    files = {"[Content_Types].xml": types, "_rels/.rels": rels, main: xml, **(extra or {})}
    return zip_of({k: v.encode("utf-8") for k, v in files.items()})


def pptx(persons: list[Person], per_slide: int = 50) -> bytes:
    """Slides with a title and a table of persons each."""
    slides: dict[str, str] = {}
    for n in range(0, len(persons), per_slide):
        chunk = persons[n:n + per_slide]
        trs = "".join("<a:tr>" + "".join(f"<a:tc><a:txBody><a:p><a:r><a:t>{escape(v)}</a:t></a:r></a:p>"
                                         "</a:txBody></a:tc>" for v in r) + "</a:tr>"
                      for r in [HEADER, *rows(chunk)])
        slides[f"ppt/slides/slide{n // per_slide + 1}.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><p:sld xmlns:a="{_A}" xmlns:p="{_P}"><p:cSld><p:spTree>'
            f"<p:sp><p:txBody><a:p><a:r><a:t>顧客一覧 {n // per_slide + 1}</a:t></a:r></a:p></p:txBody></p:sp>"
            f"<p:graphicFrame><a:graphic><a:graphicData><a:tbl>{trs}</a:tbl></a:graphicData></a:graphic>"
            "</p:graphicFrame></p:spTree></p:cSld></p:sld>")
    pres = f'<?xml version="1.0" encoding="UTF-8"?><p:presentation xmlns:p="{_P}"/>'
    return _ooxml("ppt/presentation.xml", pres,
                  "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml", slides)


def odt(persons: list[Person]) -> bytes:
    body = (f"<office:text><text:p>会員名簿</text:p>{_odf_table('表1', [HEADER, *rows(persons)])}"
            "<text:p>以上<text:s text:c=\"3\"/>です</text:p></office:text>")
    return _odf("application/vnd.oasis.opendocument.text", body)


def odp(persons: list[Person]) -> bytes:
    frames = "".join(f"<text:p>{escape(p.name)} 様 電話 {p.phone}</text:p><text:p/>" for p in persons)
    body = f"<office:presentation><text:p>参加者</text:p>{frames}</office:presentation>"
    return _odf("application/vnd.oasis.opendocument.presentation", body)


def rtf(persons: list[Person]) -> bytes:
    """Word-style RTF: CP932 bytes as \\'xx escapes, one table row per person (\\cell/\\row)."""
    def esc(s: str) -> str:
        out = []
        for ch in s:
            if ord(ch) < 128:
                out.append("\\" + ch if ch in "\\{}" else ch)
            else:
                out.append("".join(f"\\'{b:02x}" for b in ch.encode("cp932")))
        return "".join(out)
    lines = ["\\trowd " + "".join(f"{esc(v)}\\cell " for v in r) + "\\row" for r in [HEADER, *rows(persons)]]
    pict = "{\\pict\\pngblip " + "89504e47" * 20000 + "}"
    return ("{\\rtf1\\ansi\\ansicpg932\\deff0{\\fonttbl{\\f0\\fnil\\fcharset128 MS Mincho;}}\\f0 "
            + pict + "\n" + "\n".join(lines) + "}").encode("ascii")


def pdf(persons: list[Person], per_page: int = 40) -> bytes:
    """A PDF with a text layer: one line per person, CID font (no embedding needed)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for n in range(0, len(persons), per_page):
        c.setFont("HeiseiKakuGo-W5", 8)
        y = 800
        for p in persons[n:n + per_page]:
            c.drawString(30, y, f"氏名 {p.name}  電話 {p.phone}  生年月日 {p.birth}")
            y -= 19
        c.showPage()
    c.save()
    return buf.getvalue()


def encrypted_pdf(data: bytes, user_password: str = "pw") -> bytes:
    import pypdf
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def html(persons: list[Person], charset: str = "utf-8") -> bytes:
    trs = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in r) + "</tr>\n" for r in rows(persons))
    head = "".join(f"<th>{h}</th>" for h in HEADER)
    doc = (f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>名簿</title>'
           "<style>td { color: red }</style><script>var x = '090-0000-0000';</script></head><body>"
           f"<h1>会員一覧</h1><p>お問い合わせ: 担当 山田<br>電話 03-1234-5678</p>"
           f"<table><tr>{head}</tr>\n{trs}</table></body></html>")
    return doc.encode(charset)


def eml(persons: list[Person], attachment: bytes | None = None, attachment_name: str = "名簿.csv",
        to_all: bool = False) -> bytes:
    """A Japanese mail (ISO-2022-JP body) with an optional attachment; ``to_all`` puts every
    person in To: (the classic Cc mistake)."""
    msg = email.message.EmailMessage()
    msg["From"] = "総務部 <soumu@example.co.jp>"
    msg["To"] = ", ".join(f"{p.name} <{p.email}>" for p in persons) if to_all else "partner@example.com"
    msg["Subject"] = "名簿の送付"
    msg.set_content("お世話になっております。\n名簿を送付します。\n", charset="iso-2022-jp")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="octet-stream", filename=attachment_name)
    return msg.as_bytes()


def sjis_to_jis(text: str) -> bytes:
    """ISO-2022-JP bytes of ``text`` including NEC extensions (①, ㈱) that Python's codec
    refuses to write: through CP932 bytes, as Japanese mailers do."""
    out = bytearray()
    mode = "ascii"
    for ch in text:
        b = ch.encode("cp932")
        if len(b) == 1 and b[0] >= 0xA1:  # half-width katakana: JIS X 0201 after ESC ( I
            if mode != "kana":
                out += b"\x1b(I"
                mode = "kana"
            out += bytes((b[0] - 0x80,))
            continue
        if len(b) == 1:
            if mode != "ascii":
                out += b"\x1b(B"
                mode = "ascii"
            out += b
            continue
        if mode != "jis":
            out += b"\x1b$B"
            mode = "jis"
        s1, s2 = b
        j1 = (s1 - (0x70 if s1 < 0xA0 else 0xB0)) * 2 - (1 if s2 < 0x9F else 0)
        j2 = s2 - (0x1F if s2 < 0x7F else 0x20 if s2 < 0x9F else 0x7E)
        out += bytes((j1, j2))
    if mode != "ascii":
        out += b"\x1b(B"
    return bytes(out)


# -- OLE compound files (CFB) -----------------------------------------------------------------

_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def cfb(streams: dict[str, bytes]) -> bytes:
    """A version 3 compound file holding ``streams`` (paths with '/' make storages). Small
    streams go to the mini stream, as the format requires."""
    entries: list[dict] = [{"name": "Root Entry", "type": 5, "children": [], "data": b""}]
    index: dict[str, int] = {"": 0}
    for path in sorted(streams):
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            key = "/".join(parts[:depth])
            if key in index:
                continue
            is_stream = depth == len(parts)
            entries.append({"name": parts[depth - 1], "type": 2 if is_stream else 1, "children": [],
                            "data": streams[path] if is_stream else b""})
            index[key] = len(entries) - 1
            entries[index["/".join(parts[:depth - 1])]]["children"].append(index[key])
    sectors: list[bytes] = []
    fat: list[int] = []

    def chain(data: bytes) -> int:
        if not data:
            return _END
        first = len(sectors)
        n = (len(data) + 511) // 512
        for i in range(n):
            sectors.append(data[i * 512:(i + 1) * 512].ljust(512, b"\0"))
            fat.append(first + i + 1 if i < n - 1 else _END)
        return first

    mini = bytearray()
    minifat: list[int] = []
    for e in entries[1:]:
        data = e["data"]
        e["size"] = len(data)
        if e["type"] != 2 or not data:
            e["start"] = _END if e["type"] == 2 else 0
        elif len(data) >= 4096:
            e["start"] = chain(data)
        else:
            first = len(mini) // 64
            n = (len(data) + 63) // 64
            mini += data.ljust(n * 64, b"\0")
            minifat.extend(first + i + 1 if i < n - 1 else _END for i in range(n))
            e["start"] = first
    entries[0]["start"] = chain(bytes(mini)) if mini else _END
    entries[0]["size"] = len(mini)
    minifat_bytes = b"".join(struct.pack("<I", v) for v in minifat)
    minifat_start = chain(minifat_bytes.ljust(((len(minifat_bytes) + 511) // 512) * 512, b"\xff"))
    n_minifat = (len(minifat_bytes) + 511) // 512
    for e in entries:  # each storage's children as a binary search tree in CFB order
        kids = sorted(e["children"], key=lambda i: (len(entries[i]["name"]), entries[i]["name"].upper()))
        e["child"] = _tree(kids, entries)
    dir_bytes = b"".join(_dir_entry(e) for e in entries)
    dir_bytes = dir_bytes.ljust(((len(dir_bytes) + 511) // 512) * 512, b"\0")
    empty = _dir_entry({"name": "", "type": 0, "left": _NOSTREAM, "right": _NOSTREAM, "child": _NOSTREAM,
                        "start": 0, "size": 0})
    dir_bytes = b"".join(dir_bytes[i:i + 128] if dir_bytes[i:i + 128].strip(b"\0") else empty
                         for i in range(0, len(dir_bytes), 128))
    dir_start = chain(dir_bytes)
    n_fat = 1
    while (len(sectors) + n_fat) > n_fat * 128:
        n_fat += 1
    assert n_fat <= 109, "test CFB writer handles files up to 7 MB"
    fat_start = len(sectors)
    fat.extend([_FATSECT] * n_fat)
    sectors.extend([b""] * n_fat)
    fat_bytes = b"".join(struct.pack("<I", v) for v in fat).ljust(n_fat * 512, b"\xff")
    for i in range(n_fat):
        sectors[fat_start + i] = fat_bytes[i * 512:(i + 1) * 512]
    difat = [fat_start + i for i in range(n_fat)] + [_FREE] * (109 - n_fat)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, 4096,
                            minifat_start if n_minifat else _END, n_minifat, _END, 0)
              + b"".join(struct.pack("<I", v) for v in difat))
    assert len(header) == 512
    return header + b"".join(sectors)


def _tree(kids: list[int], entries: list[dict]) -> int:
    if not kids:
        return _NOSTREAM
    mid = len(kids) // 2
    node = entries[kids[mid]]
    node["left"] = _tree(kids[:mid], entries)
    node["right"] = _tree(kids[mid + 1:], entries)
    return kids[mid]


def _dir_entry(e: dict) -> bytes:
    name = e["name"].encode("utf-16-le")
    return (name.ljust(64, b"\0") + struct.pack("<HBB", len(name) + 2 if e["name"] else 0, e["type"], 1)
            + struct.pack("<III", e.get("left", _NOSTREAM), e.get("right", _NOSTREAM), e.get("child", _NOSTREAM))
            + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
            + struct.pack("<II", e.get("start", 0), e.get("size", 0)) + b"\0" * 4)


def msg(persons: list[Person], attachment: bytes | None = None, attachment_name: str = "名簿.csv") -> bytes:
    """An Outlook .msg: sender, one recipient, subject, a body with the persons' names and
    phones (a paragraph each), and an optional attachment."""
    def s(text: str) -> bytes:
        return text.encode("utf-16-le")
    body = "\r\n\r\n".join(f"{p.name} 様\r\n電話 {p.phone}" for p in persons)
    streams = {
        "__properties_version1.0": b"\0" * 32,
        "__substg1.0_0037001F": s("顧客リスト"),
        "__substg1.0_1000001F": s(body),
        "__substg1.0_0C1A001F": s("営業部 佐藤"),
        "__substg1.0_0C1F001F": s("sato@example.co.jp"),
        "__recip_version1.0_#00000000/__substg1.0_3001001F": s("取引先 担当者"),
        "__recip_version1.0_#00000000/__substg1.0_39FE001F": s("partner@example.com"),
        "__recip_version1.0_#00000000/__properties_version1.0": b"\0" * 8,
    }
    if attachment is not None:
        streams["__attach_version1.0_#00000000/__substg1.0_3707001F"] = s(attachment_name)
        streams["__attach_version1.0_#00000000/__substg1.0_37010102"] = attachment
        streams["__attach_version1.0_#00000000/__properties_version1.0"] = b"\0" * 8
    return cfb(streams)


def encrypted_xls(data: bytes) -> bytes:
    """An xls with a FILEPASS record (XOR obfuscation) after BOF: what Excel writes when a
    workbook has a password to open."""
    import olefile
    with olefile.OleFileIO(data) as ole:
        wb = ole.openstream("Workbook").read()
    bof_len = struct.unpack_from("<H", wb, 2)[0]
    cut = 4 + bof_len
    filepass = struct.pack("<HHHHH", 0x002F, 6, 0, 0x1234, 0x5678)
    return cfb({"Workbook": wb[:cut] + filepass + wb[cut:]})


def encrypted_doc() -> bytes:
    """A legacy Word file whose FIB says fEncrypted (the text is never looked at)."""
    fib = bytearray(2048)
    struct.pack_into("<HH", fib, 0, 0xA5EC, 0x00C1)
    struct.pack_into("<H", fib, 0x0A, 0x0100 | 0x0200)  # fEncrypted, fWhichTblStm (1Table)
    return cfb({"WordDocument": bytes(fib), "1Table": b"\0" * 4096})


def encrypted_ooxml(data: bytes, password: str = "pw") -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


# -- containers -----------------------------------------------------------------------------

def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sevenz_of(files: dict[str, bytes], password: str | None = None, header_encryption: bool = False) -> bytes:
    import py7zr
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", password=password, header_encryption=header_encryption) as z:
        for name, data in files.items():
            z.writestr(data, name)
    return buf.getvalue()


def aes_zip(files: dict[str, bytes], password: bytes = b"secret") -> bytes:
    import pyzipper
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as z:
        z.setpassword(password)
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


COMPRESSORS = {
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- hostile inputs -------------------------------------------------------------------------

def _deflate_zeros(size: int) -> tuple[bytes, int]:
    """Raw deflate of ``size`` zero bytes, built from one flushed block repeated (seconds to
    make for gigabytes), and its CRC-32."""
    unit = 1 << 20
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * unit) + c.flush(zlib.Z_FULL_FLUSH)
    n, rest = divmod(size, unit)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = block * n + tail.compress(b"\0" * rest) + tail.flush()
    crc = 0
    zeros = b"\0" * unit
    for _ in range(n):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(b"\0" * rest, crc)
    return data, crc


def raw_zip(entries: list[tuple[str | bytes, bytes, int, int, int]]) -> bytes:
    """A zip from (name, deflated data, crc, uncompressed size, method) entries, written by
    hand so sizes can be anything, including what a bomb declares, and names can be bytes in
    any encoding (the UTF-8 flag is never set)."""
    out = bytearray()
    central = bytearray()
    for name, data, crc, size, method in entries:
        nb = name if isinstance(name, bytes) else name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data),
                           min(size, 0xFFFFFFFF), len(nb), 0) + nb + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(data),
                               min(size, 0xFFFFFFFF), len(nb), 0, 0, 0, 0, 0, offset) + nb
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd_offset, 0)
    return bytes(out)


def zeros_zip(size: int, name: str = "zeros.bin", copies: int = 1) -> bytes:
    data, crc = _deflate_zeros(size)
    return raw_zip([(f"{i}-{name}" if copies > 1 else name, data, crc, size, 8) for i in range(copies)])


def lying_zip(size: int) -> bytes:
    """A member that declares 1 KiB but holds ``size`` bytes of zeros."""
    data, crc = _deflate_zeros(size)
    return raw_zip([("small.txt", data, crc, 1024, 8)])


def nested_bomb(levels: int = 4, fanout: int = 16, leaf_size: int = 4 << 30) -> bytes:
    """42.zip-style: ``fanout`` copies of the level below at each level, a leaf of
    ``leaf_size`` zero bytes: fanout**levels × leaf_size bytes in all."""
    layer = zeros_zip(leaf_size, "0.bin")
    for level in range(levels):
        layer = zip_of({f"{level}-{i}.zip": layer for i in range(fanout)})
    return layer


def overlap_bomb(entries: int = 200, kernel_size: int = 10 << 20) -> bytes:
    """Fifield's non-recursive bomb: every central directory entry points at a local header
    whose data overlaps the next one, so one kernel is expanded by every entry."""
    kernel, _crc = _deflate_zeros(kernel_size)
    out = bytearray()
    central = bytearray()
    headers = []
    names = [f"{i:04d}".encode() for i in range(entries)]
    # local headers back to back, then the kernel: entry i's data is entry i+1's header + ... + kernel
    lf_len = [30 + len(n) for n in names]
    total_tail = len(kernel)
    for i in range(entries):
        after = sum(lf_len[i + 1:]) + total_tail
        headers.append(after)
    for i, nb in enumerate(names):
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, 0, headers[i], kernel_size, len(nb), 0) + nb
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, 0, headers[i], kernel_size,
                               len(nb), 0, 0, 0, 0, 0, offset) + nb
    out += kernel
    cd = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(central), cd, 0)
    return bytes(out)


def billion_laughs(root: str = "<sst/>") -> str:
    ents = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">'
                                         for i in range(1, 10))
    return f'<?xml version="1.0"?><!DOCTYPE lolz [{ents}]>{root.replace("/>", ">&a9;</" + root[1:-2] + ">")}'


def zip_member(data: bytes, name: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read(name)


def replace_member(data: bytes, name: str, content: bytes) -> bytes:
    """The zip package ``data`` with one member's content replaced."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    files = {n: (content if n == name else zin.read(n)) for n in zin.namelist()}
    if name not in files:
        files[name] = content
    return zip_of(files)


# -- running the engine ---------------------------------------------------------------------

def scan_bytes(body: bytes, limits: object = None, **transfer: object) -> object:
    """dlp.engine.scan of ``body`` as an HTTP upload with every detector enabled."""
    from dlp.config import InspectSettings
    from dlp.detect.registry import DETECTOR_IDS
    from dlp.engine import scan
    from dlp.model import Transfer
    return scan(Transfer("http", body, **transfer), limits or InspectSettings(), frozenset(DETECTOR_IDS))
