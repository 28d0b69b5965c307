"""Loaded once in the scan workers' fork server, so every worker starts with the engine
imported and its reference data in memory (shared copy-on-write) instead of paying ~0.7 s
(postcodes, municipalities, bank codes, the UniDic dictionary) on its first scan."""

from dlp import engine  # noqa: F401 - imported for its side effect: the whole engine loaded
from dlp.detect import address, bank_account_jp, morph, postal_code


def warm() -> None:
    postal_code._codes()
    address._places()
    bank_account_jp._branches()
    morph._tagger()


warm()
