from dlp.extract.text import decode, is_header, table_delimiter

SAMPLE = "氏名,住所\n山田 太郎,東京都千代田区千代田1-1\n佐藤 花子,大阪府大阪市北区梅田2-2\n"


def test_cp932_euc_and_utf16_are_recognised():
    for enc in ("cp932", "euc_jp", "utf-16", "utf-8-sig", "utf-8"):
        text, _ = decode(SAMPLE.encode(enc))
        assert text.lstrip("\ufeff") == SAMPLE, enc


def test_cp932_specific_characters_decode():
    text, enc = decode("①㈱山田商店 ～ 東京".encode("cp932"))
    assert enc == "cp932" and text == "①㈱山田商店 ～ 東京"


def test_table_detection_and_header():
    assert table_delimiter(SAMPLE) == ","
    assert table_delimiter(SAMPLE.replace(",", "\t")) == "\t"
    assert table_delimiter("ただの文章です。\n句読点、だけ。\n") is None
    assert is_header(["氏名", "住所"], ["山田", "東京"])
    assert not is_header(["山田 太郎", "090-1234-5678"], ["佐藤", "080"])
