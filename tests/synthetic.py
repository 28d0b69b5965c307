"""Synthetic personal data for tests and benchmarks. Never real people.

Faker ja_JP gives names and addresses for volume, but its phone numbers are not valid
Japanese numbers, so phones are generated here from the real numbering plan (mobile
070/080/090, Tokyo/Osaka landlines). Every generated person is distinct by construction
(unique phone), so the truth for a list of N rows is N persons.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

from faker import Faker


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
