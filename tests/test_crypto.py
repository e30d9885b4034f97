"""crypto/: receipts, Argon2id splits, padded sealed boxes, grants, wrapped keys, file streams."""

import string
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.exceptions import CryptoError
from nacl.public import SealedBox
from nacl.pwhash import argon2id

from crypto import boxes, files, keys, receipts
from crypto.kdf import Argon2Params, password_keys, receipt_keys

CHEAP = Argon2Params(opslimit=1, memlimit=8192)
SALT = bytes(range(16))
symbols = st.text(alphabet=receipts.ALPHABET, min_size=16, max_size=16)


# Receipts


def test_a_receipt_has_80_bits_in_four_groups():
    assert receipts.BITS >= 80
    receipt = receipts.new_receipt()
    groups = receipt.split("-")
    assert [len(g) for g in groups] == [4, 4, 4, 4]
    assert set("".join(groups)) <= set(receipts.ALPHABET)


def test_receipts_are_distinct_and_use_the_whole_alphabet():
    many = [receipts.new_receipt() for _ in range(3000)]
    assert len(set(many)) == len(many)
    assert set("".join(many).replace("-", "")) == set(receipts.ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        "7kq4-m2xd-9pza-hn3f",
        "7KQ4M2XD9PZAHN3F",
        " 7KQ4 M2XD 9PZA HN3F\n",
        "7KQ4\u2013M2XD\u20149PZA-HN3F",
        "７KQ4-M2XD-9PZA-HN3F",
    ],
    ids=["lower", "no-hyphens", "spaces", "typographic-dashes", "full-width"],
)
def test_typed_receipts_normalise(typed):
    assert receipts.normalise(typed) == "7KQ4M2XD9PZAHN3F"


def test_look_alike_letters_read_as_digits():
    assert receipts.normalise("IL0O-0000-0000-0000") == receipts.normalise("1100-0000-0000-0000")


@pytest.mark.parametrize("bad", ["", "7KQ4-M2XD-9PZA", "7KQ4-M2XD-9PZA-HN3F-0", "UUUU-0000-0000-0000", "7KQ4-M2XD-9PZA-HN3!"])
def test_what_cannot_be_a_receipt_is_refused(bad):
    with pytest.raises(receipts.MalformedReceipt):
        receipts.normalise(bad)


@given(symbols, st.lists(st.sampled_from(["", "-", " ", "\u2010", "  "]), min_size=16, max_size=16), st.booleans())
def test_normalise_undoes_any_mangling(canonical, separators, lower):
    mangled = "".join(s + c for s, c in zip(separators, canonical))
    mangled = mangled.lower() if lower else mangled
    assert receipts.normalise(mangled) == canonical
    assert receipts.normalise(receipts.display(canonical)) == canonical


# Argon2id


def test_a_receipt_derives_the_same_lookup_and_key_every_time_and_nothing_else_does():
    one = receipt_keys("7KQ4M2XD9PZAHN3F", SALT, CHEAP)
    assert one.lookup_id == receipt_keys("7KQ4M2XD9PZAHN3F", SALT, CHEAP).lookup_id
    assert bytes(one.private_key) == bytes(receipt_keys("7KQ4M2XD9PZAHN3F", SALT, CHEAP).private_key)
    other_receipt = receipt_keys("7KQ4M2XD9PZAHN3G", SALT, CHEAP)
    other_salt = receipt_keys("7KQ4M2XD9PZAHN3F", bytes(16), CHEAP)
    for other in (other_receipt, other_salt):
        assert other.lookup_id != one.lookup_id and bytes(other.private_key) != bytes(one.private_key)
    assert one.lookup_id != bytes(one.private_key)
    assert bytes(one.private_key).hex()[:8] not in repr(one)  # a repr never shows the reporter's key


def test_a_password_gives_a_verifier_and_a_separate_wrapping_key():
    composed, decomposed = "caf\u00e9 passphrase", unicodedata.normalize("NFD", "caf\u00e9 passphrase")
    first = password_keys(composed, SALT, CHEAP)
    assert first == password_keys(decomposed, SALT, CHEAP)  # typed on another keyboard, same keys
    assert first.verifier != first.wrapping_key
    assert repr(first) == "PasswordKeys(...)"


def test_argon2_parameters_below_libsodiums_minimum_are_refused():
    with pytest.raises(ValueError):
        Argon2Params(opslimit=0, memlimit=argon2id.MEMLIMIT_MIN)
    with pytest.raises(ValueError):
        Argon2Params(opslimit=1, memlimit=1024)


# Sealed boxes and padding


@given(st.binary(max_size=5000))
@settings(max_examples=60)
def test_seal_round_trips_and_opens_for_no_other_key(data):
    key = keys.new_key_pair()
    box = boxes.seal(key.public_key, data)
    assert boxes.unseal(key, box) == data
    with pytest.raises(CryptoError):
        boxes.unseal(keys.new_key_pair(), box)


@given(st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=10), st.text(max_size=200), max_size=8))
@settings(max_examples=40)
def test_json_seal_round_trips(value):
    key = keys.new_key_pair()
    assert boxes.unseal_json(key, boxes.seal_json(key.public_key, value)) == value


def test_any_changed_byte_is_detected():
    key = keys.new_key_pair()
    box = bytearray(boxes.seal(key.public_key, b"the report"))
    for index in range(0, len(box), 97):
        tampered = bytearray(box)
        tampered[index] ^= 1
        with pytest.raises(CryptoError):
            boxes.unseal(key, bytes(tampered))


def test_a_short_and_a_long_note_seal_to_the_same_size():
    key = keys.new_key_pair()
    assert len(boxes.seal(key.public_key, b"x")) == len(boxes.seal(key.public_key, b"x" * 900))


@pytest.mark.parametrize(("length", "padded"), [(0, 1024), (1000, 1024), (1023, 1024), (1024, 1088), (5000, 5120)])
def test_padded_lengths(length, padded):
    assert boxes.padded_length(length) == padded


@given(st.integers(0, 50_000_000))
def test_padding_always_grows_and_wastes_at_most_12_percent(length):
    padded = boxes.padded_length(length)
    assert padded > length and padded >= boxes.MIN_PADDED
    assert padded <= boxes.padded_length(length + 1)
    if length > 10_000:
        assert padded <= length * 1.12 + 1


# Grants, wrapped keys, the recovery key


def test_a_grant_opens_only_for_its_grantee():
    case, reader = keys.new_key_pair(), keys.new_key_pair()
    grant = keys.grant(case, reader.public_key)
    assert bytes(keys.open_grant(grant, reader)) == bytes(case)
    with pytest.raises(CryptoError):
        keys.open_grant(grant, keys.new_key_pair())


def test_grants_carry_a_version_byte_and_grants_from_before_it_still_open():
    case, reader = keys.new_key_pair(), keys.new_key_pair()
    grant = keys.grant(case, reader.public_key)
    assert grant[0] == keys.GRANT_VERSION == 1 and len(grant) == keys.GRANT_SIZE == 81
    legacy = SealedBox(reader.public_key).encrypt(bytes(case))  # as grants were written before
    assert bytes(keys.open_grant(legacy, reader)) == bytes(case)
    for unknown in (bytes([2]) + grant[1:], grant + b"\0", grant[:-1]):
        with pytest.raises(CryptoError):
            keys.open_grant(unknown, reader)


def test_a_wrapped_key_opens_only_under_its_wrapping_key():
    private = keys.new_key_pair()
    wrapped = keys.wrap(private, bytes(32))
    assert bytes(keys.unwrap(wrapped, bytes(32))) == bytes(private)
    with pytest.raises(CryptoError):
        keys.unwrap(wrapped, bytes([1]) * 32)


def test_the_recovery_key_text_round_trips_and_garbage_is_refused():
    private = keys.new_key_pair()
    assert bytes(keys.import_recovery_key(keys.export_recovery_key(private) + "\n")) == bytes(private)
    for bad in ["", "hello", keys.RECOVERY_KEY_PREFIX + "AAAA"]:
        with pytest.raises(ValueError):
            keys.import_recovery_key(bad)


# Attachments


@pytest.mark.parametrize("size", [0, 1, files.CHUNK - 1, files.CHUNK, files.CHUNK + 1, 3 * files.CHUNK + 5])
def test_files_round_trip(size):
    key, data = files.new_file_key(), bytes(i % 251 for i in range(size))
    assert files.decrypt(key, files.encrypt(key, data), size) == data


@given(st.binary(max_size=3000))
@settings(max_examples=40)
def test_small_files_round_trip(data):
    key = files.new_file_key()
    assert files.decrypt(key, files.encrypt(key, data), len(data)) == data


def test_file_size_is_hidden_within_its_padding_bucket():
    key = files.new_file_key()
    assert len(files.encrypt(key, b"a" * 10)) == len(files.encrypt(key, b"a" * 900))


def test_tampered_truncated_or_extended_files_do_not_open():
    key, data = files.new_file_key(), b"CANARY-FILE" * 20000
    blob = files.encrypt(key, data)
    assert b"CANARY-FILE" not in blob
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 1
    for bad in (bytes(flipped), blob[: -(files.CHUNK + 17)], blob + b"\0" * 40):
        with pytest.raises(CryptoError):
            files.decrypt(key, bad, len(data))
    with pytest.raises(CryptoError):
        files.decrypt(files.new_file_key(), blob, len(data))


# Format versions


def _legacy_box(public_key, plaintext: bytes) -> bytes:
    """A box as written before the version byte existed (version 0): the bare sealed box."""
    return SealedBox(public_key).encrypt(boxes.pad(plaintext))


def test_boxes_carry_a_version_byte_and_boxes_from_before_it_still_open():
    key = keys.new_key_pair()
    box = boxes.seal(key.public_key, b"versioned")
    assert box[0] == boxes.VERSION == 1
    assert boxes.unseal(key, box) == b"versioned"
    legacy = _legacy_box(key.public_key, b"from before")
    assert boxes.unseal(key, legacy) == b"from before"
    # A version 0 box whose random first byte happens to be the version byte opens too.
    while (ambiguous := _legacy_box(key.public_key, b"ambiguous"))[0] != boxes.VERSION:
        pass
    assert boxes.unseal(key, ambiguous) == b"ambiguous"
    for sealed in (box, legacy, ambiguous):
        with pytest.raises(CryptoError):
            boxes.unseal(keys.new_key_pair(), sealed)
    assert len(box) == len(legacy) + 1


def test_files_carry_a_version_byte_and_files_from_before_it_still_open():
    data = b"attachment " * 9000  # two chunks
    key = files.new_file_key()
    blob = files.encrypt(key, data)
    assert blob[0] == boxes.VERSION
    assert files.decrypt(key, blob, len(data)) == data
    assert files.decrypt(key, blob[1:], len(data)) == data  # version 0: no byte, the header first
    # A version 0 file whose random header starts with the version byte reads too.
    while (ambiguous := files.encrypt(key, data)[1:])[0] != boxes.VERSION:
        pass
    assert files.decrypt(key, ambiguous, len(data)) == data
    for sealed in (blob, blob[1:], ambiguous):
        with pytest.raises(CryptoError):
            files.decrypt(files.new_file_key(), sealed, len(data))
        with pytest.raises(CryptoError):
            files.decrypt(key, sealed[: -(files.CHUNK + 17)], len(data))


def test_a_fixed_size_box_is_that_size_whatever_it_holds():
    key = keys.new_key_pair()
    small, large = boxes.seal(key.public_key, b"", size=4096), boxes.seal(key.public_key, b"x" * 4095, size=4096)
    assert len(small) == len(large)
    assert boxes.unseal(key, large) == b"x" * 4095
    with pytest.raises(ValueError):
        boxes.seal(key.public_key, b"x" * 4096, size=4096)
