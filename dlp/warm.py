"""Loaded once in the scan workers' fork server, so every worker starts with the engine
imported and its reference data in memory (shared copy-on-write) instead of paying for them
on its first scan: the reference tables (postcodes, municipalities, bank codes: a few ms
from the precomputed file, see ``dlp.detect.refdata``) and the UniDic dictionary."""

from dlp import engine  # noqa: F401 - imported for its side effect: the whole engine loaded
from dlp.detect import address, morph, refdata


def warm() -> None:
    refdata.tables()
    address._places()
    morph._tagger()


warm()
