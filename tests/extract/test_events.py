"""describe(): a library's error message as a string that cannot carry the content it choked on."""

import ijson
import pytest

from dlp.extract.events import describe


def _yajl_error(text: str) -> Exception:
    try:
        list(ijson.basic_parse(text.encode(), multiple_values=True))
    except ijson.JSONError as e:
        return e
    raise AssertionError("parsed")


@pytest.mark.parametrize("raw", [
    '{"name": "山田 太郎", "mail": "taro.yamada@example.co.jp", "tel": "090-1234-5678" oops',
    '[{"n": "ヤマダ タロウ"}, {"tel": "0312345678"} x]',
])
def test_a_parser_context_line_is_dropped(raw):
    e = _yajl_error(raw)
    assert "\n" in str(e)                       # yajl quotes the text around the error ...
    msg = describe(e)
    for value in ("山田", "ヤマダ", "taro.yamada", "example.co.jp", "1234", "5678", "0312345678"):
        assert value not in msg                 # ... describe() keeps none of it
    assert msg.startswith("IncompleteJSONError: ") and "error" in msg


@pytest.mark.parametrize("message, hidden", [
    ("bad value 'secret' at 3", "secret"),
    ("no member named 名簿_山田.csv", "山田"),
    ("unexpected token near taro@example.jp", "taro@example.jp"),
    ("bad digits 090 1234 5678 here", "1234"),
    ("offset 123456789", "123456789"),
])
def test_values_in_the_first_line_are_masked(message, hidden):
    assert hidden not in describe(ValueError(message))


def test_plain_messages_stay_readable():
    assert describe(ValueError("Expecting value: line 1 column 5 (char 4)")) == \
        "ValueError: Expecting value: line 1 column 5 (char 4)"
    assert describe(KeyError()) == "KeyError"
