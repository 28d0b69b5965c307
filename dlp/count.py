"""Records and their findings → the number of distinct natural persons.

A record is a person when it carries an identifier of a person (a name, a personal e-mail,
later My Number, passport...). Phones, addresses and postal codes alone are not persons
(company directories, postcode masters). The same person appearing twice counts once:
records are joined (union-find) when they share a strong identifier, or a name together with
a quasi-identifier (name + phone). A name with nothing else to tell people apart is joined
only with records whose other values are identical (``_fingerprint``), so two different
residents called 佐藤 花子 in one list stay two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from dlp.detect.scanner import RecordFindings, TypedRows
from dlp.model import Finding

NAME = "person_name"
COARSE = frozenset({"postal_code", "corporate_number"})
"""Values that thousands of people share (a postcode area, an employer): a name beside one
of them is not enough to join two records (two 山田 太郎 in one postcode area with different
rows are two people), but it still tells namesakes in different areas apart."""
DIGEST_SIZE = 16


class PersonCounter:
    """Accumulates records and answers how many distinct persons they describe."""

    def __init__(self) -> None:
        self._parent: list[int] = []
        self._owner: dict[tuple[str, ...], int] = {}

    def _find(self, i: int) -> int:
        parent = self._parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def add(self, rec: RecordFindings) -> bool:
        """Add one record; return True when it describes a person. Runs for every row of a
        30,000-row list, so it is written for the common shapes (one name, a few values)."""
        names: list[str] = []
        links: list[tuple[str, ...]] = []   # strong identifiers first, then name links
        quasi: list[Finding] = []
        coarse: list[str] = []
        for f in rec.findings:
            if f.detector == NAME:
                names.append(f.key)
            elif f.identifies:
                links.append((f.detector, f.key))
            elif f.detector in COARSE:
                coarse.append(f.key)
            else:
                quasi.append(f)
        if names:
            name = names[0] if len(names) == 1 else "|".join(sorted(set(names)))
            if quasi:
                links.extend([("name+", name, f.detector, f.key) for f in quasi])
            elif not links:  # the name with everything else the record says
                links.append(("name", name, *sorted(set(coarse)), _fingerprint(rec.values)))
        elif not links:
            return False
        parent = self._parent
        owner = self._owner
        idx = len(parent)
        parent.append(idx)
        for link in links:
            other = owner.setdefault(link, idx)
            if other != idx:
                a, b = self._find(other), self._find(idx)
                if a != b:
                    parent[b] = a
        return True

    def add_typed(self, rows: TypedRows) -> None:
        """Add the rows of a table batch held column by column, each as ``add`` would add
        its ``RecordFindings`` (the findings of its checked cells, in column order), with
        the same links, built a column at a time (the partition into persons does not depend
        on the order links are added). Only a row whose name stands with nothing else asks
        for its values."""
        n = rows.rows
        names = [col for det, col in rows.columns if det == NAME]
        if len(names) == 1:
            per_row: list[str | None] = [f.key if f is not None else None for f in names[0]]
        elif not names:
            per_row = [None] * n
        else:
            per_row = []
            for fs in zip(*names, strict=True):
                keys = [f.key for f in fs if f is not None]
                per_row.append(None if not keys else keys[0] if len(keys) == 1 else "|".join(sorted(set(keys))))
        strong: list[list[tuple[str, str] | None]] = []     # per column: the row's (detector, key)
        quasi: list[tuple[str, list[str | None]]] = []      # per column: detector, the row's key
        coarse: list[list[str | None]] = []
        for (det, col), found in zip(rows.columns, rows.unique, strict=True):
            if det == NAME:
                continue
            kinds = {f.identifies for f in found.values() if f is not None}
            if True in kinds:
                strong.append([(f.detector, f.key) if f is not None and f.identifies else None for f in col])
            if False in kinds:
                keys = [f.key if f is not None and not f.identifies else None for f in col]
                if det in COARSE:
                    coarse.append(keys)
                else:
                    quasi.append((det, keys))
        any_strong = list(map(any, zip(*strong, strict=True))) if strong else [False] * n
        any_quasi = list(map(any, zip(*(k for _d, k in quasi), strict=True))) if quasi else [False] * n
        skip = rows.skip
        # a node per row that is a person record (a name or a strong identifier), as add() makes
        parent = self._parent
        base = len(parent)
        node: list[int] = []
        count = 0
        for i, (name, st) in enumerate(zip(per_row, any_strong, strict=True)):
            if (name is not None or st) and not (skip and i in skip):
                node.append(base + count)
                count += 1
            else:
                node.append(-1)
        parent.extend(range(base, base + count))
        links: list[tuple[str, ...]] = []
        owners: list[int] = []
        for col in strong:
            for link, idx in zip(col, node, strict=True):
                if link is not None and idx >= 0:
                    links.append(link)
                    owners.append(idx)
        for det, keys in quasi:
            for name, key, idx in zip(per_row, keys, node, strict=True):
                if name is not None and key is not None and idx >= 0:
                    links.append(("name+", name, det, key))
                    owners.append(idx)
        for i, (name, st, qu, idx) in enumerate(zip(per_row, any_strong, any_quasi, node, strict=True)):
            if name is not None and not st and not qu and idx >= 0:   # the name with everything else the record says
                near = sorted({c[i] for c in coarse if c[i] is not None})
                links.append(("name", name, *near, _fingerprint(rows.values(i))))
                owners.append(idx)
        owner = self._owner
        find = self._find
        for other, idx in [(o, i) for o, i in zip(map(owner.setdefault, links, owners), owners, strict=True) if o != i]:
            a, b = find(other), find(idx)
            if a != b:
                parent[b] = a

    def persons(self) -> int:
        return sum(1 for i in range(len(self._parent)) if self._parent[i] == i)

    def digests(self) -> bytes:
        """One 16-byte digest per distinct person, concatenated: the digest of the smallest
        link key of the person's records, so the same records give the same digest in every
        transfer (cumulative windows count persons across transfers). Unsalted: the caller
        salts them before they are stored anywhere."""
        find = self._find
        roots = [find(i) for i in range(len(self._parent))]
        smallest: dict[int, str] = {}
        for text, idx in zip(map("\x1f".join, self._owner), self._owner.values(), strict=True):
            root = roots[idx]
            known = smallest.get(root)
            if known is None or text < known:
                smallest[root] = text
        return b"".join(hashlib.blake2b(t.encode(), digest_size=DIGEST_SIZE).digest()
                        for t in smallest.values())


def _fingerprint(values: Sequence[str]) -> str:
    return hashlib.blake2b("\x1f".join(values).encode(), digest_size=12).hexdigest() if values else ""


def count_persons(records: Iterable[RecordFindings]) -> int:
    counter = PersonCounter()
    for r in records:
        counter.add(r)
    return counter.persons()
