"""The detectors Sekimori knows, by id. Ids are contracts: YAML, ``findings`` and metrics use them.

Order matters where two detectors could claim the same column label: the first wins.
"""

from types import ModuleType

from dlp.detect import (
    address,
    bank_account_jp,
    birth_date,
    corporate_number,
    credit_card,
    drivers_license_jp,
    email,
    iban,
    my_number,
    passport_jp,
    pension_number_jp,
    person_name,
    phone,
    postal_code,
    us_ssn,
)

MODULES: tuple[ModuleType, ...] = (
    person_name, email, phone, my_number, corporate_number, postal_code, address, birth_date,
    credit_card, us_ssn, iban, passport_jp, drivers_license_jp, bank_account_jp, pension_number_jp,
)
DETECTOR_IDS: tuple[str, ...] = tuple(m.ID for m in MODULES)
