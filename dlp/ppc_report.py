"""A draft of the breach report Japan's Personal Information Protection Commission (PPC)
asks for (個人情報の漏えい等の報告), filled from one incident. Leaks of more than 1,000
persons (local governments: more than 100), any leak of data that can cause financial loss,
and leaks for unauthorised purposes (an employee taking data out) must be reported: a
preliminary report within about 3-5 days, a final one within 30 days (60 for unauthorised
purposes). The draft holds counts and kinds only, never a value."""

from __future__ import annotations

from typing import Any

KINDS_JA = {
    "person_name": "氏名", "email": "メールアドレス", "phone": "電話番号", "address": "住所",
    "postal_code": "郵便番号", "birth_date": "生年月日", "my_number": "個人番号（マイナンバー）",
    "credit_card": "クレジットカード番号", "bank_account_jp": "銀行口座番号",
    "passport_jp": "旅券番号", "drivers_license_jp": "運転免許証番号", "pension_number_jp": "基礎年金番号",
    "us_ssn": "米国社会保障番号", "iban": "IBAN", "corporate_number": "法人番号",
}
FINANCIAL = ("credit_card", "bank_account_jp")
SPECIFIC = ("my_number",)


def draft(incident: dict[str, Any]) -> str:
    persons = int(incident.get("persons") or 0)
    findings: dict[str, int] = incident.get("findings") or {}
    kinds = "、".join(KINDS_JA.get(k, k) for k in findings) or "（検出なし）"
    stopped = incident.get("action") in ("block", "quarantine")
    reasons = []
    if persons > 1000:
        reasons.append("本人の数が1,000人を超える（個人情報保護法施行規則第7条第4号）")
    elif persons > 100:
        reasons.append("本人の数が100人を超える（地方公共団体等の場合）")
    if any(k in findings for k in FINANCIAL):
        reasons.append("財産的被害が生じるおそれがある個人データ（カード番号・口座番号）")
    if any(k in findings for k in SPECIFIC):
        reasons.append("特定個人情報（番号法に基づく報告の対象）")
    if "departed-account" in (incident.get("rules") or []):
        reasons.append("不正の目的をもって行われたおそれがある（退職者アカウントからの送信）")
    dest = incident.get("destination") or {}
    where = dest.get("host") or "-"
    if dest.get("recipients_domains"):
        where += "（宛先ドメイン: " + ", ".join(dest["recipients_domains"]) + "）"
    lines = [
        "個人データの漏えい等に関する報告（下書き） / Draft PPC breach report",
        f"インシデント番号 / Incident: {incident.get('id')}",
        "",
        f"1. 概要 / Summary: {incident.get('time')} に {incident.get('protocol')} による外部送信を検知。"
        f"判定: {incident.get('action')}（ルール: {', '.join(incident.get('rules') or []) or '-'}）。",
        f"   {'送信は外部に到達していない（遮断・保留）。' if stopped else '送信は外部に到達した可能性がある。'}",
        f"2. 漏えい等が発生し、又は発生したおそれがある個人データの項目 / Kinds of data: {kinds}",
        f"3. 本人の数 / Number of persons: {persons:,} 人",
        f"4. 発生の経緯 / How: 利用者 {incident.get('user') or '不明'}（端末 {incident.get('client_ip') or '-'}）"
        f"から {where} への送信（ファイル: {', '.join(incident.get('filenames') or []) or '-'}）",
        "5. 報告が必要となる事由 / Why reportable: " + ("; ".join(reasons) if reasons else
                                                    "該当なし（報告義務の要件を確認してください）"),
        "6. 二次被害又はそのおそれの有無 / Secondary harm: （記入してください / to be completed）",
        "7. 本人への対応 / Notification of persons: （記入してください）",
        "8. 再発防止策 / Prevention: （記入してください）",
        "",
        "速報はおおむね3〜5日以内、確報は30日以内（不正目的のおそれがある場合は60日以内）に個人情報保護委員会へ。",
        "Preliminary report within about 3-5 days; final report within 30 days (60 for unauthorised purposes).",
    ]
    return "\n".join(lines)
