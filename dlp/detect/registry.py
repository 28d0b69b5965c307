"""The detectors Sekimori knows, by id. Ids are contracts: YAML, ``findings`` and metrics use them."""

from types import ModuleType

from dlp.detect import email, person_name, phone

MODULES: tuple[ModuleType, ...] = (person_name, email, phone)
DETECTOR_IDS: tuple[str, ...] = tuple(m.ID for m in MODULES)
