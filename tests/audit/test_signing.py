"""Checkpoint signing: C2SP key IDs, Go signed-note compatibility, and the key file's safety."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from secops.audit import signing
from secops.core.errors import ConfigurationError

# The example key and note of golang.org/x/mod/sumdb/note (Go's reference implementation).
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)


def test_go_reference_keys_parse_and_match() -> None:
    signer = signing.SignerKey.parse(GO_SIGNER)
    assert signer.verifier.encode() == GO_VERIFIER
    assert signing.VerifierKey.parse(GO_VERIFIER) == signer.verifier
    assert signer.encode() == GO_SIGNER


def test_signatures_are_byte_identical_to_the_go_reference() -> None:
    signer = signing.SignerKey.parse(GO_SIGNER)
    blob = signer.verifier.key_id + signer.sign(GO_TEXT)
    assert signing._b64(blob) == GO_SIGNATURE


def test_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    key = signing.VerifierKey.parse(GO_VERIFIER)
    expected = hashlib.sha256(b"PeterNeumann\n\x01" + key.public_key).digest()[:4]
    assert key.key_id == expected
    assert key.key_id.hex() == "c74f20a3"


@pytest.mark.parametrize(
    "mangled",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not Ed25519
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_mangled_verifier_keys_are_refused(mangled: str) -> None:
    with pytest.raises(signing.NoteError):
        signing.VerifierKey.parse(mangled)


def _checkpoint() -> signing.Checkpoint:
    return signing.Checkpoint("secops-audit/abc", 12, hashlib.sha256(b"root").digest())


def test_a_signed_checkpoint_opens_with_its_verifier() -> None:
    signer = signing.SignerKey.generate()
    note, signature = signing.sign_checkpoint(_checkpoint(), signer)
    assert note.startswith("secops-audit/abc\n12\n")
    assert len(signature) == 64
    assert signing.open_checkpoint(note, signer.verifier) == _checkpoint()


@pytest.mark.parametrize(
    ("old", "new"),
    [("\n12\n", "\n13\n"), ("secops-audit/abc\n", "secops-audit/abd\n")],
)
def test_an_edited_checkpoint_no_longer_verifies(old: str, new: str) -> None:
    signer = signing.SignerKey.generate()
    note, _ = signing.sign_checkpoint(_checkpoint(), signer)
    with pytest.raises(signing.NoteError, match="does not verify"):
        signing.open_checkpoint(note.replace(old, new, 1), signer.verifier)


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    note, _ = signing.sign_checkpoint(_checkpoint(), signing.SignerKey.generate())
    with pytest.raises(signing.NoteError, match="not signed by"):
        signing.open_checkpoint(note, signing.SignerKey.generate().verifier)


def test_the_signing_key_is_created_owner_only_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-signing.key"
    signer = signing.load_or_create_signer(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert signer.name.startswith("secops-audit/")
    assert signing.load_or_create_signer(path) == signer  # the same key the next time
    assert [p.name for p in path.parent.iterdir()] == ["audit-signing.key"]  # no temp file left


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_signing_key_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "audit-signing.key"
    signing.load_or_create_signer(path)
    os.chmod(path, mode)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        signing.load_or_create_signer(path)


def test_a_corrupt_signing_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "audit-signing.key"
    path.write_text("PRIVATE+KEY+x+00000000+AAAA-not-base64")
    os.chmod(path, 0o600)
    with pytest.raises(ConfigurationError, match="not a valid key") as error:
        signing.load_signer(path)
    assert "AAAA" not in str(error.value)


def test_a_missing_key_is_reported_by_load_signer(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        signing.load_signer(tmp_path / "absent.key")


def _signed_note() -> tuple[str, signing.SignerKey]:
    signer = signing.SignerKey.generate()
    checkpoint = signing.Checkpoint(signer.name, 42, bytes(range(32)))
    note, _ = signing.sign_checkpoint(checkpoint, signer)
    return note, signer


def test_a_non_canonical_base64_signature_is_refused() -> None:
    note, signer = _signed_note()
    _, _, line = note.partition("\n\n")
    encoded = line.rstrip("\n").rsplit(" ", 1)[1]
    # The last character before "=" padding carries unused bits: a neighbour decodes the same.
    last = encoded.rstrip("=")[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = alphabet[alphabet.index(last) ^ 1]
    forged = encoded.rstrip("=")[:-1] + twin + "=" * (len(encoded) - len(encoded.rstrip("=")))
    assert forged != encoded
    with pytest.raises(signing.NoteError):
        signing.open_checkpoint(note.replace(encoded, forged), signer.verifier)


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\u2028", "\r"])
def test_a_note_whose_line_break_was_changed_is_refused(separator: str) -> None:
    note, signer = _signed_note()
    assert note.endswith("\n")
    with pytest.raises(signing.NoteError):
        signing.open_checkpoint(note[:-1] + separator, signer.verifier)


def test_a_tree_size_in_other_digits_is_refused() -> None:
    note, signer = _signed_note()
    with pytest.raises(signing.NoteError):
        signing.open_checkpoint(note.replace("\n42\n", "\n\u0664\u0662\n", 1), signer.verifier)
