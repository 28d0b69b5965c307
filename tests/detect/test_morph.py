"""Names by morphological analysis: one tagger per thread, and input MeCab cannot encode."""

from concurrent.futures import ThreadPoolExecutor

from dlp.detect import morph


def test_names_from_threads_are_each_their_own():
    lines = [f"{n} 様 ご確認ください" for n in ("山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲")] * 200
    expected = [morph.names_in(line) for line in lines]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(morph.names_in, lines)) == expected


def test_a_lone_surrogate_does_not_stop_name_finding():
    assert morph.names_in("山田 太郎 様 \ud800") == ((0, "山田 太郎"),)
