"""What a person meets when a transfer is stopped: a short page in Japanese then English,
or JSON for API clients. It says what happened, which rule, the incident id, how many
persons' records were found and whom to contact, and never echoes the data itself.

``render`` is the page of a policy verdict (403, and 413 for a body over inspect.max_body);
``render_error`` the page of a request the proxy could not carry (400 malformed, 502 the
destination unreachable), so every answer the proxy writes itself is Sekimori's own."""

from __future__ import annotations

import html
import json

from dlp.model import Decision, ScanResult

REASONS_JA = {
    "encrypted": "暗号化（パスワード付き）されたファイルは検査できません",
    "too_large": "検査できる大きさを超えています",
    "corrupt": "壊れているか形式が正しくないため検査できません",
    "timeout": "検査が制限時間内に終わりませんでした",
    "unsupported": "検査できない形式です",
    "tunnel": "HTTP 以外の通信（トンネル）は検査できないため許可されていません",
}
REASONS_EN = {
    "encrypted": "encrypted (password-protected) content cannot be inspected",
    "too_large": "the content is larger than the inspection limit",
    "corrupt": "the content is corrupt or malformed and cannot be inspected",
    "timeout": "inspection did not finish within its time limit",
    "unsupported": "the content has a format that cannot be inspected",
    "tunnel": "a tunnel that does not carry HTTP cannot be inspected and is not allowed",
}


def wants_json(accept: str) -> bool:
    """API clients and fetch() ask for JSON; browsers navigating ask for HTML first."""
    a = accept.lower()
    if "application/json" not in a:
        return False
    return "text/html" not in a or a.index("application/json") < a.index("text/html")


def render(decision: Decision, scan: ScanResult, contact: str, accept: str) -> tuple[bytes, str]:
    """Body and content type of the 403 answer."""
    if wants_json(accept):
        doc = {
            "error": "blocked_by_dlp",
            "action": decision.action,
            "rules": list(decision.rules),
            "incident": decision.incident_id,
            "persons": scan.persons,
            "uninspectable": list(decision.uninspectable),
            "contact": contact or None,
            "message": _summary_en(decision, scan),
        }
        return json.dumps(doc, ensure_ascii=False).encode(), "application/json; charset=utf-8"
    return _html(decision, scan, contact).encode(), "text/html; charset=utf-8"


def _summary_en(decision: Decision, scan: ScanResult) -> str:
    verb = "held for review and not sent" if decision.action == "quarantine" else "blocked"
    return f"This transfer was {verb} by the data-loss-prevention policy."


def _html(decision: Decision, scan: ScanResult, contact: str) -> str:
    e = html.escape
    rules = ", ".join(decision.rules) or "-"
    held = decision.action == "quarantine"
    ja_verb = "確認のため保留され、送信されていません" if held else "ブロックされました"
    reasons_ja = "".join(f"<li>{e(REASONS_JA.get(r, r))}</li>" for r in decision.uninspectable)
    reasons_en = "".join(f"<li>{e(REASONS_EN.get(r, r))}</li>" for r in decision.uninspectable)
    contact_ja = f"<p>お問い合わせ先: {e(contact)}</p>" if contact else ""
    contact_en = f"<p>Contact: {e(contact)}</p>" if contact else ""
    incident = e(decision.incident_id or "-")
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>送信停止 / Transfer stopped - Sekimori</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;line-height:1.6}}
code{{background:#eee;padding:0 .3em}}section{{border-top:1px solid #ccc;margin-top:1.5em}}</style></head>
<body>
<section lang="ja"><h1>この送信は{ja_verb}</h1>
<p>情報漏えい防止（DLP）のルールにより、この送信は相手先に届いていません。</p>
<ul><li>ルール: <code>{e(rules)}</code></li><li>検出した人数: {scan.persons} 人分</li>
<li>インシデント番号: <code>{incident}</code></li></ul>
{"<ul>" + reasons_ja + "</ul>" if reasons_ja else ""}
<p>業務上必要な送信であれば、インシデント番号を添えて管理者に連絡してください。</p>{contact_ja}</section>
<section lang="en"><h1>This transfer was {"held for review and not sent" if held else "blocked"}</h1>
<p>A data-loss-prevention rule stopped this transfer; nothing reached the destination.</p>
<ul><li>Rule: <code>{e(rules)}</code></li><li>Persons whose records were found: {scan.persons}</li>
<li>Incident: <code>{incident}</code></li></ul>
{"<ul>" + reasons_en + "</ul>" if reasons_en else ""}
<p>If this transfer is needed for your work, contact the administrators and quote the incident id.</p>
{contact_en}</section>
</body></html>
"""


ERRORS = {
    # status: (JSON error key, Japanese, English)
    400: ("bad_request", "リクエストの形式が正しくないため、送信を拒否しました",
          "The request was malformed and was refused"),
    413: ("too_large", "送信内容が大きすぎるため、送信を拒否しました", "The request was too large and was refused"),
    502: ("bad_gateway", "送信先に接続できなかったか、送信先の応答が正しくありませんでした",
          "The destination could not be reached or gave an invalid answer"),
}
GENERIC_ERROR = ("proxy_error", "プロキシがこのリクエストを処理できませんでした",
                 "The proxy could not handle this request")


def render_error(status: int, contact: str, accept: str, detail: str = "") -> tuple[bytes, str]:
    """Body and content type of an answer that is not a policy verdict: a request the proxy
    could not carry. ``detail`` (e.g. the connection error) is shown escaped; it must not
    carry request content."""
    key, ja, en = ERRORS.get(status, GENERIC_ERROR)
    if wants_json(accept):
        doc = {"error": key, "status": status, "message": en + ".", "detail": detail or None,
               "contact": contact or None}
        return json.dumps(doc, ensure_ascii=False).encode(), "application/json; charset=utf-8"
    e = html.escape
    detail_html = f"<p><code>{e(detail)}</code></p>" if detail else ""
    contact_ja = f"<p>お問い合わせ先: {e(contact)}</p>" if contact else ""
    contact_en = f"<p>Contact: {e(contact)}</p>" if contact else ""
    page = f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{status} - Sekimori</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;line-height:1.6}}
code{{background:#eee;padding:0 .3em}}section{{border-top:1px solid #ccc;margin-top:1.5em}}</style></head>
<body>
<section lang="ja"><h1>{e(ja)}</h1>{detail_html}{contact_ja}</section>
<section lang="en"><h1>{e(en)}</h1>{detail_html}{contact_en}</section>
</body></html>
"""
    return page.encode(), "text/html; charset=utf-8"
