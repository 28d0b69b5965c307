"""The stored form of person digests: salted, fixed size, the same for the same salt."""

import os

from dlp.state import DIGEST_SIZE, salted


def test_salted_digests_are_keyed_and_stable():
    digests = os.urandom(16 * 3)
    a = salted(b"s" * 32, digests)
    assert len(a) == 3 and all(len(d) == DIGEST_SIZE for d in a)
    assert a == salted(b"s" * 32, digests)
    assert a != salted(b"t" * 32, digests)
    assert set(a).isdisjoint(digests[i:i + 16] for i in range(0, 48, 16))   # never stored raw


def test_an_operator_salt_longer_than_a_blake2b_key_works():
    """``openssl rand -hex 32 > salt`` writes 65 bytes."""
    salt = os.urandom(32).hex().encode() + b"\n"
    digests = os.urandom(32)
    assert salted(salt, digests) == salted(salt, digests)
    assert salted(salt, digests) != salted(salt[:64], digests)
