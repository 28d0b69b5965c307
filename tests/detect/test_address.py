import random
import time

import pytest
from faker import Faker

from dlp.detect import address
from dlp.detect.normalize import fold


def found(text: str) -> list[tuple[int, str]]:
    return [(o, f.key) for o, f in address.find(fold(text))]


def keys(text: str) -> list[str]:
    return [k for _o, k in found(text)]


@pytest.mark.parametrize("text, key", [
    ("東京都千代田区丸の内1-1-1", "東京都千代田区丸の内1-1-1"),
    ("住所：東京都千代田区丸の内一丁目1番1号 丸の内ビル5F", "東京都千代田区丸の内1-1-1"),
    ("神奈川県横浜市中区山下町１ー２ー３", "神奈川県横浜市中区山下町1-2-3"),       # full width, ー as dash
    ("神奈川県 横浜市中区 山下町 1-2-3", "神奈川県横浜市中区山下町1-2-3"),
    ("大阪府大阪市北区梅田三丁目一番三号", "大阪府大阪市北区梅田3-1-3"),           # kanji numerals
    ("北海道札幌市中央区北1条西2丁目1-1", "北海道札幌市中央区北1条西2-1-1"),
    ("長野県諏訪郡富士見町落合1234番地", "長野県諏訪郡富士見町落合1234"),
    ("長野県富士見町落合1234番地", "長野県富士見町落合1234"),                  # district left out
    ("千葉県鎌ヶ谷市道野辺中央2-1-1", "千葉県鎌ケ谷市道野辺中央2-1-1"),          # ヶ and ケ alike
    ("京都府京都市中京区寺町通御池上る上本能寺前町488番地", "京都府京都市中京区寺町通御池上る上本能寺前町488"),
    ("東京都千代田区一番町5-1", "東京都千代田区一番町5-1"),                    # 一番町 is a town
    ("東京都港区芝公園4-2-8", "東京都港区芝公園4-2-8"),
    ("東京都八丈島八丈町大賀郷2345番地", "東京都八丈島八丈町大賀郷2345"),
])
def test_found_with_prefecture(text, key):
    assert keys(text) == [key]


@pytest.mark.parametrize("text, key", [
    ("横浜市中区山下町1番地", "神奈川県横浜市中区山下町1"),          # designated city + ward
    ("本社は千代田区霞が関1-2-3にあります", "東京都千代田区霞が関1-2-3"),  # Tokyo special ward
    ("中央区銀座4-5-6", "東京都中央区銀座4-5-6"),       # other 中央区 are written with their city
    ("さいたま市浦和区高砂3-15-1", "埼玉県さいたま市浦和区高砂3-15-1"),
])
def test_found_without_prefecture(text, key):
    assert keys(text) == [key]


def test_same_address_same_key_however_written():
    forms = ["東京都千代田区丸の内1-1-1", "東京都千代田区丸の内一丁目1番1号", "千代田区丸の内1ー1ー1",
             "東京都 千代田区 丸の内 １－１－１"]
    assert {k for f in forms for k in keys(f)} == {"東京都千代田区丸の内1-1-1"}


@pytest.mark.parametrize("text", [
    "東京都千代田区",                          # no town, no block
    "東京都千代田区丸の内",
    "東京都千代田区丸の内一丁目",               # a district, not a household
    "東京都港区では3番目に多い",
    "東京都千代田区 2023-2024年度",
    "東京都港区の2-3人",
    "宮崎県横浜市港南区東神田35丁目19番19号",    # Faker: prefecture and city do not match
    "東京都大阪市北区1-2-3",
    "八王子市元本郷町3-24-1",                    # a city name alone is not an anchor
    "新北区1-2-3",
    "東京都市大学1-2",
])
def test_rejected(text):
    assert keys(text) == []


def test_offsets_and_several_addresses():
    text = "旧住所 東京都港区芝公園4-2-8、新住所 大阪府大阪市北区梅田3-1-3 です"
    assert found(text) == [(text.index("東京都"), "東京都港区芝公園4-2-8"),
                           (text.index("大阪府"), "大阪府大阪市北区梅田3-1-3")]


def test_mask_keeps_prefecture_and_municipality():
    [(_o, f)] = address.find("東京都千代田区丸の内1-1-1")
    assert f.masked == "東京都千代田区****"
    assert "丸の内" not in f.masked and "1-1" not in f.masked
    assert f.detector == "address" and not f.identifies


@pytest.mark.parametrize("value, key", [
    ("東京都千代田区丸の内1-1-1", "東京都千代田区丸の内1-1-1"),
    ("〒100-0005 東京都千代田区丸の内1-1-1 丸の内ビル", "東京都千代田区丸の内1-1-1"),
    ("長野県南佐久郡北相木村2744", "長野県南佐久郡北相木村2744"),          # a bare lot number
    ("横浜市山下町1-2", "神奈川県横浜市山下町1-2"),                        # designated city, no ward
    ("八王子市元本郷町3-24-1", "東京都八王子市元本郷町3-24-1"),
    ("埼玉県浦和市高砂3-15-1", "埼玉県浦和市高砂3-15-1"),                   # a name from before a merger
])
def test_check_labelled_cell(value, key):
    assert address.check(fold(value)).key == key


@pytest.mark.parametrize("value", ["東京都千代田区", "東京都千代田区丸の内一丁目", "未定", "", "山田 太郎",
                                   "090-1234-5678"])
def test_check_rejects(value):
    assert address.check(fold(value)) is None


def test_faker_address_column():
    """Faker pairs prefectures with cities at random; in a labelled column the shape is enough."""
    fake = Faker("ja_JP")
    Faker.seed(5)
    for _ in range(200):
        a = fake.address()
        f = address.check(fold(a))
        assert f is not None, a
        assert f.masked.endswith("****")


@pytest.mark.parametrize("header, ok", [
    ("住所", True), ("所在地", True), ("現住所", True), ("Address", True), ("address_line1", True),
    ("home address", True), ("mailing address", True), ("addr", True),
    ("メールアドレス", False), ("email address", False), ("E-mail Address", False), ("email_address", False),
    ("mail_addr", False), ("IP address", False), ("アドレス", False), ("郵便番号", False), ("氏名", False),
])
def test_labels(header, ok):
    assert bool(address.LABELS.search(header)) == ok


def test_find_is_fast_on_prose_without_addresses():
    fake = Faker("ja_JP")
    Faker.seed(3)
    rnd = random.Random(3)
    words = ["東京都と大阪府の市場。", "北海道の道路。", "政府は都市部の区画を見直した。", "千代田区で3号店を開いた。"]
    text = fold("".join(fake.text(max_nb_chars=400) + rnd.choice(words) for _ in range(2500)))
    address.find("")                                 # data loaded before timing
    list(address.find("東京都"))
    start = time.perf_counter()
    assert list(address.find(text)) == []
    assert len(text) / (time.perf_counter() - start) > 10e6   # chars/s; measured ~100-280 M
