"""Synthetic personal data for tests and benchmarks. Never real people.

Faker ja_JP gives names and addresses for volume, but its phone numbers are not valid
Japanese numbers, so phones are generated here from the real numbering plan (mobile
070/080/090, Tokyo/Osaka landlines). Every generated person is distinct by construction
(unique phone), so the truth for a list of N rows is N persons.
"""

from __future__ import annotations

import csv
import datetime
import io
import random
import textwrap
from dataclasses import dataclass
from pathlib import Path

from faker import Faker

_REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Person:
    name: str
    kana: str
    address: str
    phone: str
    birth: str
    email: str


def people(n: int, seed: int = 1) -> list[Person]:
    """``n`` distinct synthetic residents."""
    fake = Faker("ja_JP")
    Faker.seed(seed)
    rnd = random.Random(seed)
    seen: set[str] = set()
    out = []
    while len(out) < n:
        prefix = rnd.choice(["090", "080", "070"])
        phone = f"{prefix}-{rnd.randint(1000, 9999)}-{rnd.randint(0, 9999):04d}"
        if phone in seen:
            continue
        seen.add(phone)
        birth = fake.date_of_birth(minimum_age=18, maximum_age=95)
        out.append(Person(
            name=f"{fake.last_name()} {fake.first_name()}",
            kana=f"{fake.last_kana_name()} {fake.first_kana_name()}",
            address=fake.address().replace("\n", " "),
            phone=phone,
            birth=birth.isoformat(),
            email=f"{fake.user_name()}{len(out)}@example.jp",
        ))
    return out


def resident_csv(persons: list[Person], encoding: str = "cp932") -> bytes:
    """A resident list as an Excel-style CSV export (CP932, CRLF)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["氏名", "フリガナ", "住所", "電話番号", "生年月日"])
    for p in persons:
        w.writerow([p.name, p.kana, p.address, p.phone, p.birth])
    return buf.getvalue().encode(encoding, "replace")


def benign_bytes(size: int, seed: int = 2) -> bytes:
    """Business-like text without personal data (order ids, amounts, product words)."""
    rnd = random.Random(seed)
    words = ["売上", "集計", "在庫", "report", "quarterly", "product", "発注", "数量", "合計", "倉庫"]
    lines = []
    total = 0
    while total < size:
        line = f"{rnd.randint(1, 10**6)} {rnd.choice(words)} {rnd.choice(words)} {rnd.random():.4f}\n"
        lines.append(line)
        total += len(line.encode())
    return "".join(lines).encode()[:size]


# -- evaluation set: files of known content ------------------------------------------------

@dataclass
class Sample:
    """A generated file with the truth about it."""

    name: str
    data: bytes
    persons: int                                   # distinct persons it carries
    truth: dict[str, set[str]]                     # detector id → normalised keys inserted
    bulk: bool = True
    unscored: frozenset[str] = frozenset()         # detectors whose findings here are not known


def phone_key(phone: str) -> str:
    return "+81" + phone.replace("-", "")[1:]


def name_key(name: str) -> str:
    return name.replace(" ", "").lower()


def my_number(rnd: random.Random) -> str:
    """A 12-digit number with a valid My Number check digit (random, not anyone's)."""
    from stdnum.jp import in_
    body = "".join(rnd.choice("0123456789") for _ in range(11))
    return body + in_.calc_check_digit(body)


def corporate_number(rnd: random.Random) -> str:
    from stdnum.jp import cn
    body = "".join(rnd.choice("0123456789") for _ in range(12))
    return cn.calc_check_digit(body) + body


def landline(rnd: random.Random) -> str:
    return rnd.choice(["03", "06"]) + f"-{rnd.randint(2000, 9999)}-{rnd.randint(0, 9999):04d}"


# Real places and codes, so that the generated values validate (the persons stay fictional).
_POSTCODES = ("100-0005", "150-0002", "530-0001", "460-0008", "060-0001", "812-0011", "980-0021", "730-0011")
_PLACES = ("東京都千代田区丸の内", "東京都渋谷区渋谷", "大阪府大阪市北区梅田", "愛知県名古屋市中区栄",
           "北海道札幌市中央区北一条西", "福岡県福岡市博多区博多駅前", "宮城県仙台市青葉区中央", "広島県広島市中区基町")
_COMMISSIONS = ("30", "45", "50", "62", "10", "55", "60", "70")    # public-safety commissions (Tokyo...)


def _luhn(body: str) -> str:
    from stdnum import luhn
    return body + luhn.calc_check_digit(body)


def licence_number(commission: str, year: str, serial: str, reissue: str = "0") -> str:
    """A synthetic driver's licence number, with the check digit of the formula in circulation."""
    first = commission + year + serial
    total = sum(int(d) * w for d, w in zip(first, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True))
    return first + str((11 - total % 11) % 10) + reissue


def identifiers(person: Person, i: int, rnd: random.Random) -> dict[str, str]:
    """Every other identifier of one synthetic person, as written (values are random, valid
    in form and check digit, and unique per person through ``i``)."""
    from stdnum import iban
    birth = datetime.date(1940, 1, 1) + datetime.timedelta(days=rnd.randint(0, 60 * 365))
    bban = f"37040044{i:010d}"
    return {
        "my_number": my_number(rnd),
        "postal_code": rnd.choice(_POSTCODES),
        "address": f"{rnd.choice(_PLACES)}{rnd.randint(1, 9)}-{rnd.randint(1, 30)}-{i % 97 + 1}",
        "birth_date": f"{birth.year}年{birth.month}月{birth.day}日",
        "credit_card": " ".join(textwrap.wrap(_luhn(f"4{rnd.randint(10**12, 10**13 - 1)}{i % 10}"), 4)),
        "us_ssn": f"{rnd.randint(1, 665):03d}-{rnd.randint(1, 99):02d}-{i % 9999 + 1:04d}",
        "iban": f"DE{iban.calc_check_digits('DE00' + bban)}{bban}",
        "passport_jp": f"T{rnd.choice('KRZ')}{1000000 + i:07d}",
        "drivers_license_jp": licence_number(rnd.choice(_COMMISSIONS), f"{rnd.randint(0, 99):02d}", f"{i:06d}"),
        "bank_account_jp": f"0001-100-{i:07d}",
        "pension_number_jp": f"{rnd.randint(1000, 9999)}-{i:06d}",
    }


_JA_LABELS = {
    "my_number": "個人番号", "postal_code": "〒", "address": "住所", "birth_date": "生年月日",
    "credit_card": "カード番号", "us_ssn": "SSN", "iban": "IBAN", "passport_jp": "旅券番号",
    "drivers_license_jp": "運転免許証番号", "bank_account_jp": "振込先口座", "pension_number_jp": "基礎年金番号",
}


def _identifier_truth(rows: list[dict[str, str]]) -> dict[str, set[str]]:
    """The keys the detectors give the generated values (each must validate on its own)."""
    from dlp.detect.registry import MODULES
    by_id = {m.ID: m for m in MODULES}
    truth: dict[str, set[str]] = {}
    for row in rows:
        for det, value in row.items():
            f = by_id[det].check(value)
            assert f is not None, (det, value)
            truth.setdefault(det, set()).add(f.key)
    return truth


def _truth(persons: list[Person], *, kana: bool = False, email: bool = False,
           phone: bool = True) -> dict[str, set[str]]:
    t: dict[str, set[str]] = {"person_name": {name_key(p.name) for p in persons}}
    if kana:
        t["person_name"] |= {name_key(p.kana) for p in persons}
    if phone:
        t["phone"] = {phone_key(p.phone) for p in persons}
    if email:
        t["email"] = {p.email.lower() for p in persons}
    return t


def bulk_samples(n: int = 2000, seed: int = 11) -> list[Sample]:
    """Files that carry ``n`` persons each, in the shapes personal data leaves in."""
    import json as _json
    ps = people(n, seed=seed)
    rnd = random.Random(seed)
    out = [Sample("residents.csv", resident_csv(ps), n, _truth(ps, kana=True))]
    members = [{"member_id": i, "name": p.name, "email": p.email, "tel": p.phone} for i, p in enumerate(ps)]
    out.append(Sample("members.json", _json.dumps({"members": members}, ensure_ascii=False).encode(), n,
                      _truth(ps, email=True)))
    out.append(Sample("mailing-list.txt", "\n".join(p.email for p in ps).encode(), n,
                      {"email": {p.email.lower() for p in ps}}))
    paras = [f"{p.name} 様\nいつもお世話になっております。ご登録内容の確認をお願いします。\n"
             f"電話: {p.phone}\nメール: {p.email}\n" for p in ps]
    out.append(Sample("letters.txt", "\n".join(paras).encode(), n, _truth(ps, email=True)))
    numbers = {p.phone: my_number(rnd) for p in ps}
    rows = "氏名,個人番号,電話番号\r\n" + "".join(f"{p.name},{numbers[p.phone]},{p.phone}\r\n" for p in ps)
    t = _truth(ps)
    t["my_number"] = set(numbers.values())
    out.append(Sample("mynumber.csv", rows.encode("cp932"), n, t))
    tsv = "".join(f"{p.name}\t{p.phone}\t{p.email}\n" for p in ps)  # no header: columns typed by content
    out.append(Sample("export-noheader.tsv", tsv.encode(), n, _truth(ps, email=True)))
    # every other identifier: as an HR table with labelled columns, and as one labelled line each
    ids = [identifiers(p, i, rnd) for i, p in enumerate(ps)]
    t = _truth(ps) | _identifier_truth(ids)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["氏名", "電話番号", *(_JA_LABELS[d] if d != "postal_code" else "郵便番号" for d in ids[0])])
    for p, row in zip(ps, ids, strict=True):
        w.writerow([p.name, p.phone, *row.values()])
    out.append(Sample("hr-records.csv", buf.getvalue().encode("utf-8"), n, t))
    lines = [f"{p.name} 様 電話 {p.phone}\n" + "\n".join(f"{_JA_LABELS[d]} {v}" for d, v in row.items()) + "\n"
             for p, row in zip(ps, ids, strict=True)]
    out.append(Sample("hr-letters.txt", "\n".join(lines).encode(), n, t))
    return out


def benign_samples(seed: int = 12) -> list[Sample]:
    """Files without personal data that look like it: the false-positive traps."""
    rnd = random.Random(seed)
    fake = Faker("ja_JP")
    Faker.seed(seed)
    out = []
    # transaction log full of 12-digit order ids: about 1 in 11 passes the My Number check digit
    rows = "".join(f"{rnd.randint(10**11, 10**12 - 1)},2026-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d},"
                   f"{rnd.randint(100, 99999)},SKU-{rnd.randint(1000, 9999)}\n" for _ in range(20000))
    out.append(Sample("orders.csv", ("order_id,date,amount,sku\n" + rows).encode(), 0, {}, bulk=False))
    ids = "".join(f"{rnd.randint(10**11, 10**12 - 1)}\n" for _ in range(20000))
    out.append(Sample("ids.txt", ids.encode(), 0, {}, bulk=False))
    corp = [(corporate_number(rnd), landline(rnd)) for _ in range(3000)]
    companies = "".join(f"株式会社{fake.last_name()}{rnd.choice(['商事', '工業', '製作所', '物産'])},"
                        f"{cn},{tel},{fake.address().split()[0]}\n" for cn, tel in corp)
    # company phones and corporate numbers are real findings; they just are not persons
    out.append(Sample("companies.csv", ("会社名,法人番号,代表電話,所在地\n" + companies).encode(), 0,
                      {"phone": {phone_key(t) for _c, t in corp}, "corporate_number": {c for c, _t in corp}},
                      bulk=False, unscored=frozenset({"address", "postal_code"})))
    postal = "".join(f"{rnd.randint(100, 999)}-{rnd.randint(0, 9999):04d},{fake.prefecture()},{fake.city()},"
                     f"{fake.town()}\n" for _ in range(20000))
    # random codes: the ones that exist are real postcode findings, unknown to the generator
    out.append(Sample("postal-master.csv", ("郵便番号,都道府県,市区町村,町域\n" + postal).encode("cp932"), 0, {},
                      bulk=False, unscored=frozenset({"postal_code", "address"})))
    log = "".join(f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)} - - "
                  f"[27/Nov/2026:10:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d} +0900] "
                  f"\"GET /api/v1/items/{rnd.randint(1, 10**9)} HTTP/1.1\" 200 {rnd.randint(100, 99999)}\n"
                  for _ in range(20000))
    out.append(Sample("access.log", log.encode(), 0, {}, bulk=False))
    out.append(Sample("source.py", _stdlib_source().encode(), 0, {}, bulk=False))
    out.append(Sample("codes.txt", _lookalikes(rnd).encode(), 0, {}, bulk=False))
    out.append(Sample("random.bin", rnd.randbytes(2_000_000), 0, {}, bulk=False))
    prose = "\n".join(fake.text(400) for _ in range(500))
    out.append(Sample("prose-ja.txt", prose.encode(), 0, {}, bulk=False))
    return out


def _lookalikes(rnd: random.Random, n: int = 3000) -> str:
    """Lines of business text with numbers shaped like identifiers but not labelled as one
    (or failing their check): product codes, work orders, invoice dates, bad IBANs."""
    from stdnum import iban, luhn
    lines = []
    for i in range(n):
        bban = f"{rnd.randint(10**17, 10**18 - 1)}"
        card = f"4{rnd.randint(10**14, 10**15 - 1)}"
        if luhn.is_valid(card):
            card = card[:-1] + str((int(card[-1]) + 1) % 10)   # one digit off: not Luhn-valid
        lines.append(rnd.choice([
            f"品番 T{rnd.choice('KRZ')}{rnd.randint(10**6, 10**7 - 1)} 在庫 {rnd.randint(1, 500)} 個",
            f"作業指示 {rnd.choice(_COMMISSIONS)}{rnd.randint(10**9, 10**10 - 1)} 完了",
            f"伝票 {rnd.randint(1000, 9999)}-{rnd.randint(100000, 999999)} 処理済",
            f"照会番号 {' '.join(textwrap.wrap(card, 4))}",
            f"納期 {rnd.randint(1990, 2025)}年{rnd.randint(1, 12)}月{rnd.randint(1, 28)}日 入荷 {rnd.randint(1, 99)}",
            f"IBAN DE{(int(iban.calc_check_digits('DE00' + bban)) + 1) % 100:02d}{bban} (checksum off)",
            f"ticket {rnd.randint(100, 999)}-{rnd.randint(10, 99)}-{rnd.randint(1000, 9999)}-{i}",
            f"注文番号 {rnd.randint(10**8, 10**9 - 1)} / 数量 {rnd.randint(1, 9)}",
        ]))
    return "\n".join(lines) + "\n"


def _stdlib_source() -> str:
    """Ordinary source code: the interpreter's own asyncio, json and collections packages
    (not Sekimori's, whose docstrings are full of example identifiers)."""
    import asyncio
    import collections
    import json as _json
    files = [p for pkg in (asyncio, _json, collections) for p in sorted(Path(pkg.__file__).parent.glob("*.py"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


BENIGN_KINDS = ("prose-ja", "prose-en", "access-log", "orders", "source")


def benign_corpus(size: int, seed: int = 13, kinds: tuple[str, ...] = BENIGN_KINDS) -> bytes:
    """About ``size`` bytes of ordinary text without personal data: Japanese and English prose,
    access logs, order records and source code, in blocks (or only the ``kinds`` asked for),
    for throughput measurements."""
    rnd = random.Random(seed)
    ja, en = Faker("ja_JP"), Faker("en_US")
    Faker.seed(seed)
    blocks = [
        "\n".join(ja.text(400) for _ in range(200)),
        "\n".join(en.text(400) for _ in range(200)),
        "".join(f"10.0.{rnd.randint(0, 255)}.{rnd.randint(1, 254)} - - [27/Nov/2026:10:{rnd.randint(0, 59):02d}:"
                f"{rnd.randint(0, 59):02d} +0900] \"GET /static/app.{rnd.randint(1, 999)}.js HTTP/1.1\" 200 "
                f"{rnd.randint(100, 99999)}\n" for _ in range(2000)),
        "".join(f"{rnd.randint(10**7, 10**8)},2026-11-{rnd.randint(1, 28):02d},{rnd.randint(100, 9999)},"
                f"SKU-{rnd.randint(1000, 9999)}\n" for _ in range(2000)),
        _stdlib_source(),
    ]
    encoded = [b.encode() for kind, b in zip(BENIGN_KINDS, blocks, strict=True) if kind in kinds]
    out = bytearray()
    i = 0
    while len(out) < size:
        out += encoded[i % len(encoded)]
        i += 1
    return bytes(out[:size])
