"""Personal names, recognised by structure: a name column, a ``name``/``氏名`` key, or an
inline label (``氏名：山田 太郎``).

A name is the identifier that makes a record a person. Company names (株式会社…, Inc.)
are not persons and are rejected even in a name column.
"""

import regex

from dlp.detect.normalize import nfkc
from dlp.model import Finding

ID = "person_name"
LABELS = regex.compile(
    r"^(?:氏名|名前|お名前|おなまえ|姓名|フリガナ|ふりがな|ﾌﾘｶﾞﾅ|カナ氏名|氏名カナ|氏名\s*[(（].*[)）]|"
    r"姓|名|せい|めい|氏|漢字氏名|契約者(?:氏名|名)?|被保険者(?:氏名|名)?|受取人(?:氏名|名)?|"
    r"(?:full|first|last|given|family|middle|person|customer|member|contact|patient|employee)?[ _-]?name|"
    r"名前\s*[(（].*[)）]|surname|forename|氏名\(漢字\)|氏名\(カナ\))$",
    regex.IGNORECASE,
)
INLINE = regex.compile(r"(?:氏名|お名前|名前|Name)\s*[:：]\s*(\S{1,20}(?:[ 　]\S{1,20})?)")
_LETTER = r"\p{Han}\p{Hiragana}\p{Katakana}ー・゛゜\p{Latin}"
_NAME_CHARS = regex.compile(rf"^[{_LETTER}][{_LETTER} .'-]{{0,39}}$")
_ORG = regex.compile(
    r"株式会社|有限会社|合同会社|合資会社|合名会社|一般社団|一般財団|公益|社団法人|財団法人|医療法人|"
    r"学校法人|宗教法人|社会福祉法人|独立行政法人|組合|協会|事務所|銀行|信用金庫|病院|大学|学校|"
    r"役所|市役所|区役所|センター|㈱|㈲|\b(?:inc|ltd|llc|corp|co|gmbh|plc|company|corporation|limited)\b\.?",
    regex.IGNORECASE,
)


def _mask(name: str) -> str:
    parts = name.split(" ")
    if len(parts) >= 2:
        given = parts[-1]
        return " ".join(parts[:-1]) + " " + ("*" * (len(given) - 1) + given[-1] if len(given) > 1 else "*")
    if len(name) <= 2:
        return name[0] + "*"
    return name[:2] + "*" * (len(name) - 3) + name[-1]


def check(value: str) -> Finding | None:
    """A cell labelled as a name: accept it when it looks like a person's name."""
    v = nfkc(value)
    if not v or not _NAME_CHARS.match(v) or _ORG.search(v):
        return None
    letters = sum(1 for c in v if c.isalpha())
    if letters < 2 and not regex.match(r"\p{Han}", v):
        return None
    key = v.replace(" ", "").replace("・", "").lower()
    return Finding(ID, key, _mask(v), identifies=True)


def find(text: str):
    """Yield (offset, finding) for names introduced by an inline label in free text."""
    if "名" not in text and "ame" not in text:
        return
    for m in INLINE.finditer(text):
        f = check(m.group(1))
        if f:
            yield m.start(), f
