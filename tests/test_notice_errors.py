"""The pages of answers that are not policy verdicts (400, 502): Sekimori's, negotiated like
the block page, escaping whatever detail they show."""

import json

from dlp import notice


def test_html_page_in_japanese_then_english_with_contact():
    body, ctype = notice.render_error(502, "security@example.jp", "text/html,*/*", "Connect call failed")
    text = body.decode()
    assert ctype == "text/html; charset=utf-8"
    assert text.index("送信先に接続できなかった") < text.index("could not be reached")
    assert "security@example.jp" in text and "Connect call failed" in text and "Sekimori" in text


def test_json_for_api_clients():
    body, ctype = notice.render_error(400, "", "application/json")
    doc = json.loads(body)
    assert ctype.startswith("application/json")
    assert doc == {"error": "bad_request", "status": 400, "message": "The request was malformed and was refused.",
                   "detail": None, "contact": None}


def test_detail_and_contact_are_escaped():
    body, _ = notice.render_error(502, "<b>soc</b>", "", "<script>alert(1)</script>")
    text = body.decode()
    assert "<script>" not in text and "&lt;script&gt;" in text and "<b>soc</b>" not in text


def test_unknown_status_gets_the_generic_text():
    doc = json.loads(notice.render_error(504, "", "application/json")[0])
    assert doc["error"] == "proxy_error" and doc["status"] == 504
