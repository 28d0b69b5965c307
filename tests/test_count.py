from dlp.count import count_persons
from dlp.detect.scanner import RecordFindings
from dlp.model import Finding


def rec(*findings: Finding, fp: str | None = None) -> RecordFindings:
    return RecordFindings(tuple(findings), (fp,) if fp else ())


NAME_A = Finding("person_name", "山田太郎", "山田*郎", identifies=True)
NAME_B = Finding("person_name", "佐藤花子", "佐藤*子", identifies=True)
PHONE_1 = Finding("phone", "+819012345678", "090-****-5678")
PHONE_2 = Finding("phone", "+819087654321", "090-****-4321")
MAIL_A = Finding("email", "taro@example.jp", "t***@example.jp", identifies=True)
ROLE = Finding("email", "info@example.jp", "i***@example.jp", identifies=False)


def test_phones_and_role_addresses_alone_are_not_persons():
    assert count_persons([rec(PHONE_1), rec(PHONE_2), rec(ROLE)]) == 0


def test_same_person_in_two_shapes_counts_once():
    # a row with name+phone+mail and a row with just the mail address
    assert count_persons([rec(NAME_A, PHONE_1, MAIL_A), rec(MAIL_A)]) == 1


def test_same_name_with_different_phones_is_two_people():
    assert count_persons([rec(NAME_A, PHONE_1), rec(NAME_A, PHONE_2)]) == 2


def test_name_only_records_join_by_fingerprint():
    assert count_persons([rec(NAME_A, fp="x"), rec(NAME_A, fp="x"), rec(NAME_A, fp="y")]) == 2
    assert count_persons([rec(NAME_A), rec(NAME_B), rec(NAME_A)]) == 2


def test_transitive_joins():
    # A's phone links r1-r2, A's mail links r2-r3: one person
    assert count_persons([rec(NAME_A, PHONE_1), rec(NAME_A, PHONE_1, MAIL_A), rec(MAIL_A)]) == 1


def test_namesakes_sharing_only_a_postcode_or_employer_stay_two():
    post = Finding("postal_code", "1000005", "100-****")
    corp = Finding("corporate_number", "1234567890123", "*********0123")
    assert count_persons([rec(NAME_A, post, fp="x"), rec(NAME_A, post, fp="y")]) == 2
    assert count_persons([rec(NAME_A, corp, fp="x"), rec(NAME_A, corp, fp="y")]) == 2
    assert count_persons([rec(NAME_A, post, PHONE_1), rec(NAME_A, PHONE_1)]) == 1


def test_namesakes_in_different_postcode_areas_stay_apart_in_free_text():
    """Free-text records carry no other values: the postcode is what tells them apart."""
    posts = [Finding("postal_code", k, "***") for k in ("1000001", "5300001", "0600001")]
    assert count_persons([rec(NAME_A, p) for p in posts]) == 3
    assert count_persons([rec(NAME_A, posts[0]), rec(NAME_A, posts[0])]) == 1


def test_a_postcode_written_twice_is_one_value():
    post = Finding("postal_code", "1000001", "***")
    assert count_persons([rec(NAME_A, post), rec(NAME_A, post, post)]) == 1
