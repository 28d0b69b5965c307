"""Detectors: one module per identifier family, in the manner of python-stdnum.

Every detector module exposes:

``ID: str``
    The detector id (a contract: YAML, ``findings``, metrics).
``LABELS: regex.Pattern[str]``
    Searched in a folded column header or JSON key; a match means the column holds values of
    this kind, so each cell is passed to ``check`` (the label is the context).
``check(value: str) -> Finding | None``
    The whole folded cell is one value of this kind; validate it (format, check digit, range).

and one of the two ways to scan free (folded) text:

``find(text: str) -> Iterator[tuple[int, Finding]]``, ``ANCHOR: str`` and ``REACH: int``
    Yield (offset, finding) for every validated value, applying any context rule itself
    (see ``context.near``). The scanner calls ``find`` only on the text within ``REACH``
    characters of a match of ``ANCHOR`` (an RE2 pattern: a label, an ``@``, a prefecture),
    which must occur near every value ``find`` accepts (see ``prefilter.py``).
``DIGIT_LENGTHS: frozenset[int]`` and
``from_number(token: str, digits: str, text: str, start: int, end: int) -> Finding | None``
    The numeric fast path: the scanner finds number-like tokens in one pass (``numbers.py``)
    and hands each token whose digit count is in ``DIGIT_LENGTHS`` to the detector. ``token``
    is the matched text with its separators, ``digits`` its digits only, ``text[start:end]``
    the token in the folded text (for context checks).

Optional: ``near(text, offsets) -> Iterator[tuple[int, Finding]]``: called with the offsets of the other
detectors' findings, for values recognised only beside other personal data (names).

``fast_check(value) -> Finding | None``: a shape-only check for the cells of a column whose
sampled cells nearly all passed ``check`` (for detectors whose full check is expensive).

``TYPED_BY_CONTENT = False`` keeps a detector from typing an unlabelled table column by its
values (a column of dates is not a column of birth dates).

A ``Finding`` carries ``key`` (normalised, for counting; never logged), ``masked`` (for
evidence) and ``identifies`` (True when the value names a natural person on its own).
"""
