"""The numeric fast path in isolation, for detector tests: simple digit runs (the scanner's
own token pass is tested in test_detectors.py) handed to one module's ``from_number``."""

from types import ModuleType

import regex

from dlp.detect.normalize import fold
from dlp.model import Finding

_TOKEN = regex.compile(r"\d[\d -]*\d")


def from_numbers(module: ModuleType, text: str) -> list[Finding]:
    text = fold(text)
    found = []
    for m in _TOKEN.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if len(digits) in module.DIGIT_LENGTHS:
            f = module.from_number(m.group(), digits, text, m.start(), m.end())
            if f is not None:
                found.append(f)
    return found
