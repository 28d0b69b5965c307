"""Encrypted content cannot be scanned: it is reported as encrypted with its name, so policy
decides (default: quarantine). Encrypted ZIPs and 7z are in test_archives."""

import io

import formats as F
import pytest
from synthetic import people

from dlp.config import InspectSettings


@pytest.fixture(scope="module")
def few():
    return people(30, seed=5)


def encrypted(r, names: list[str]) -> None:
    assert r.engine_error is None
    assert r.encrypted and r.uninspectable == ["encrypted"], (r.uninspectable, r.errors)
    assert r.encrypted_files == names
    assert r.errors == [f"encrypted content cannot be scanned: {', '.join(names)}"]


@pytest.mark.parametrize("make", [F.docx, F.xlsx, F.pptx])
def test_password_protected_ooxml(few, make):
    r = F.scan_bytes(F.encrypted_ooxml(make(few)), filename="給与.xlsx")
    encrypted(r, ["給与.xlsx"])
    assert r.persons == 0


def test_password_protected_xls(few):
    r = F.scan_bytes(F.encrypted_xls(F.xls(few)), filename="old.xls")
    encrypted(r, ["old.xls"])


def test_password_protected_doc():
    r = F.scan_bytes(F.encrypted_doc(), filename="old.doc")
    encrypted(r, ["old.doc"])


def test_pdf_with_user_password_is_encrypted_owner_only_is_read(few):
    r = F.scan_bytes(F.encrypted_pdf(F.pdf(few)), filename="a.pdf")
    encrypted(r, ["a.pdf"])
    import pypdf
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(F.pdf(few))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")  # no copying, opens freely
    out = io.BytesIO()
    writer.write(out)
    r = F.scan_bytes(out.getvalue())
    assert not r.encrypted and r.uninspectable == [] and r.persons >= 29


def test_encrypted_odf_by_its_manifest(few):
    extra = '<manifest:encryption-data manifest:checksum-type="SHA1/1K"/>'
    data = F._odf("application/vnd.oasis.opendocument.text", "<office:text/>", extra)
    r = F.scan_bytes(data, filename="a.odt")
    encrypted(r, ["a.odt"])


def test_ppap_zip_of_an_encrypted_workbook(few):
    data = F.zip_of({"見積書.xlsx": F.encrypted_ooxml(F.xlsx(few)), "readme.txt": b"password follows"})
    r = F.scan_bytes(data, filename="送付.zip")
    encrypted(r, ["送付.zip/見積書.xlsx"])
    assert "送付.zip/見積書.xlsx" in r.filenames


def test_smime_enveloped_mail():
    msg = (b"From: a@example.co.jp\r\nTo: b@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
           b'Content-Disposition: attachment; filename="smime.p7m"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
           + F.b64(b"\x30\x82" + bytes(300)).encode() + b"\r\n")
    r = F.scan_bytes(msg)
    assert r.encrypted and r.encrypted_files == ["body/smime.p7m"] and "encrypted" in r.uninspectable


def test_policy_default_for_encrypted_is_quarantine():
    assert InspectSettings().action_for("encrypted") == "quarantine"
