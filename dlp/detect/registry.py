"""The detectors Sekimori knows, by id. Ids are contracts: YAML, ``findings`` and metrics use them.

Order matters where two detectors could claim the same column label: the first wins.
"""

from types import ModuleType

from dlp.detect import (
    bank_account_jp,
    corporate_number,
    drivers_license_jp,
    email,
    my_number,
    passport_jp,
    pension_number_jp,
    person_name,
    phone,
)

MODULES: tuple[ModuleType, ...] = (
    person_name, email, phone, my_number, corporate_number, pension_number_jp,
    drivers_license_jp, bank_account_jp, passport_jp,
)
DETECTOR_IDS: tuple[str, ...] = tuple(m.ID for m in MODULES)
