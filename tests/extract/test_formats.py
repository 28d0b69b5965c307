"""Every document format carries the same 2,000 synthetic residents, and the person count
survives the format. Table formats are counted exactly (2,000); formats that only have free
text (PDF lines, slides, a mail body) are counted as the same text would be as a .txt file, so
what is asserted is that extraction loses nothing, whatever the text detectors can do."""

import formats as F
import pytest

from dlp.extract.sniff import sniff


def clean(r) -> None:
    assert r.uninspectable == [] and r.errors == [] and r.engine_error is None, r.errors


def plain(text: str) -> int:
    return F.scan_bytes(text.encode()).persons


@pytest.mark.parametrize("make, kind", [
    (lambda ps: F.xlsx(ps), "xlsx"),
    (lambda ps: F.xlsx(ps, title="会員名簿 2026年11月"), "xlsx"),  # title rows above the header
    (lambda ps: F.replace_member(F.xlsx(ps), "[Content_Types].xml", F.zip_member(F.xlsx(ps), "[Content_Types].xml")
                                 .replace(b"openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                          b"ms-excel.sheet.macroEnabled.main+xml")),
     "xlsx"),  # xlsm
    (lambda ps: F.xls(ps), "xls"),
    (lambda ps: F.ods(ps), "ods"),  # LibreOffice pads rows and sheets with repeated empty cells
    (lambda ps: F.docx(ps), "docx"),
    (lambda ps: F.pptx(ps), "pptx"),
    (lambda ps: F.odt(ps), "odt"),
    (lambda ps: F.rtf(ps), "rtf"),
    (lambda ps: F.html(ps), "html"),
    (lambda ps: F.html(ps, "shift_jis"), "html"),
    (lambda ps: F.csv_text(ps).encode("cp932"), "csv"),
    (lambda ps: F.csv_text(ps, "\t").encode("utf-16"), "tsv"),
])
def test_tables_count_every_person(persons, make, kind):
    data = make(persons)
    assert sniff(data) == {"csv": None, "tsv": None, "html": None, "rtf": "rtf"}.get(kind, kind)
    r = F.scan_bytes(data, filename=f"export.{kind}")
    clean(r)
    assert r.persons == 2000


def test_sheet_and_table_sources_are_named(persons):
    from dlp.config import InspectSettings
    from dlp.extract import Extractor
    from dlp.extract.budget import Budget
    from dlp.model import ScanResult, Table, Transfer
    items = list(Extractor(Budget(InspectSettings()), ScanResult()).transfer_items(
        Transfer("http", F.xlsx(persons[:5], sheet="住民"), filename="list.xlsx")))
    tables = [i for i in items if isinstance(i, Table)]
    assert [t.source for t in tables] == ["list.xlsx/住民"]
    assert tables[0].header == tuple(F.HEADER) and len(list(tables[0].rows)) == 5


def test_pdf_text_layer(persons):
    r = F.scan_bytes(F.pdf(persons), filename="list.pdf")
    clean(r)
    lines = "\n".join(f"氏名 {p.name}  電話 {p.phone}  生年月日 {p.birth}" for p in persons)
    assert r.persons == plain(lines) > 1900


def test_docx_paragraphs_are_letters(persons):
    r = F.scan_bytes(F.docx(persons, letters=True))
    clean(r)
    letters = "\n".join(f"{p.name} 様\n住所：{p.address}\n電話：{p.phone}\n" for p in persons)
    assert r.persons == plain(letters) > 1900


def test_odp_slides_text(persons):
    r = F.scan_bytes(F.odp(persons))
    clean(r)
    assert r.persons == plain("\n".join(f"{p.name} 様 電話 {p.phone}\n" for p in persons)) > 1900


def test_eml_attachment_and_addresses(persons):
    csv = F.csv_text(persons).encode("cp932")
    r = F.scan_bytes(F.eml(persons[:1], csv, "住民名簿.csv"), content_type="message/rfc822")
    clean(r)
    assert r.persons == 2001  # 2,000 in the attachment and the recipient (the sender is no disclosure)
    assert "body/住民名簿.csv" in r.filenames
    r = F.scan_bytes(F.eml(persons, to_all=True))  # everyone in To: by mistake
    assert r.persons == 2000


def test_eml_iso2022jp_body_with_nec_characters():
    body = "①㈱山田商事 山田 太郎 様\n電話 090-1234-5678\n"
    msg = (b"From: a@example.co.jp\r\nTo: b@example.com\r\nSubject: test\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
           + F.sjis_to_jis(body).replace(b"\n", b"\r\n"))
    r = F.scan_bytes(msg)
    clean(r)
    assert r.findings.get("phone") == 1 and r.persons == 2  # 山田 太郎 and the recipient


def test_msg_body_and_attachment(persons):
    r = F.scan_bytes(F.msg(persons), filename="mail.msg")
    clean(r)
    body = "\r\n\r\n".join(f"{p.name} 様\r\n電話 {p.phone}" for p in persons)
    assert r.persons == plain(body) + 1  # and the recipient
    r = F.scan_bytes(F.msg(persons[:1], F.xlsx(persons), "名簿.xlsx"))
    clean(r)
    assert r.persons == 2002 and "body/名簿.xlsx" in r.filenames


def test_embedded_workbook_in_docx_is_extracted(persons):
    doc = F.replace_member(F.docx(persons[:1]), "word/embeddings/Microsoft_Excel_Worksheet.xlsx", F.xlsx(persons))
    r = F.scan_bytes(doc)
    clean(r)
    assert r.persons == 2000


def test_pdf_embedded_file(persons):
    import io

    import pypdf
    from synthetic import people
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(F.pdf(people(1, seed=99)))))
    writer.add_attachment("名簿.csv", F.csv_text(persons).encode("utf-8"))
    out = io.BytesIO()
    writer.write(out)
    r = F.scan_bytes(out.getvalue())
    clean(r)
    assert r.persons == 2001  # the attachment's 2,000 and the one on the page


def test_renamed_files_are_read_by_their_true_type(persons):
    r = F.scan_bytes(F.xlsx(persons), filename="holiday.jpg", content_type="image/jpeg")
    assert r.persons == 2000
    r = F.scan_bytes(F.zip_of({"photo.png": F.docx(persons)}), filename="notes.txt", content_type="text/plain")
    assert r.persons == 2000


def test_pdf_form_fields_are_a_record():
    import io

    from reportlab.pdfgen import canvas
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(50, 800, "Application form")
    fields = {"name": "Taro Yamada", "tel": "090-1234-5678", "email": "taro.yamada@example.jp"}
    for i, (k, v) in enumerate(fields.items()):
        c.acroForm.textfield(name=k, value=v, x=50, y=700 - 40 * i, width=200, height=20)
    c.showPage()
    c.save()
    r = F.scan_bytes(buf.getvalue())
    clean(r)
    assert r.persons == 1 and r.findings == {"email": 1, "person_name": 1, "phone": 1}


def test_legacy_doc_text_runs(persons):
    """A .doc has no parser here: its streams are scanned for UTF-16LE text (how Word stores
    Japanese), which finds what the same text holds as a .txt."""
    import struct
    text = "\r".join(f"{p.name} 様\r電話 {p.phone}\r" for p in persons[:300])
    fib = bytearray(1024)
    struct.pack_into("<HH", fib, 0, 0xA5EC, 0x00C1)
    struct.pack_into("<H", fib, 0x0A, 0x0200)
    doc = F.cfb({"WordDocument": bytes(fib) + text.encode("utf-16-le"), "1Table": bytes(4096)})
    r = F.scan_bytes(doc, filename="old.doc")
    clean(r)
    assert r.persons == plain(text.replace("\r", "\n")) > 290
