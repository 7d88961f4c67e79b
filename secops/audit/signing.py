"""The Ed25519 key that signs audit checkpoints, and C2SP signed notes made with it.

Keys use the signed-note text encodings (golang.org/x/mod/sumdb/note, C2SP signed-note):
``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 ‖ seed)>`` in the key file, and
``<name>+<key id hex>+<base64(0x01 ‖ public key)>`` as the verifier key that auditors keep.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from secops.core.errors import ConfigurationError

ED25519_ALG = b"\x01"
PRIVATE_PREFIX = "PRIVATE+KEY+"
NAME_PREFIX = "secops-audit/"
SIGNATURE_DASH = "\u2014 "  # em dash and a space open every signature line


class NoteError(ValueError):
    """A signed note or key is malformed, or its signature does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    """The C2SP key ID: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_ALG + public_key).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError("a key name must be non-empty, without spaces or '+'")
    return name


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError("not valid base64") from None
    # The decoder ignores the unused low bits before "=" padding: only the canonical spelling
    # is accepted, so no two stored notes mean the same thing.
    if _b64(raw) != text:
        raise NoteError("not canonical base64")
    return raw


@dataclass(frozen=True)
class VerifierKey:
    """A named public key that checks checkpoint signatures."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID signatures carry."""
        return key_id(self.name, self.public_key)

    def encode(self) -> str:
        """The verifier key as one line of text."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(ED25519_ALG + self.public_key)}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read a verifier key line; its key ID must match its name and key."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key has the form name+keyid+key")
        name, id_hex, encoded = parts
        raw = _unb64(encoded)
        if len(raw) != 33 or raw[:1] != ED25519_ALG:
            raise NoteError("the verifier key is not an Ed25519 key")
        key = cls(_check_name(name), raw[1:])
        if key.key_id.hex() != id_hex.lower():
            raise NoteError("the verifier key's ID does not match its name and key")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` is this key's Ed25519 signature over ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SignerKey:
    """A named Ed25519 private key."""

    name: str
    seed: bytes

    @property
    def verifier(self) -> VerifierKey:
        """The matching public key."""
        public = (
            Ed25519PrivateKey.from_private_bytes(self.seed)
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
        return VerifierKey(self.name, public)

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature over ``message``."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    def encode(self) -> str:
        """The private key as one line of text (the key file's content)."""
        return (
            f"{PRIVATE_PREFIX}{self.name}+{self.verifier.key_id.hex()}+"
            f"{_b64(ED25519_ALG + self.seed)}"
        )

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Read a private key line."""
        if not text.startswith(PRIVATE_PREFIX):
            raise NoteError("not a signed-note private key")
        parts = text[len(PRIVATE_PREFIX) :].strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a private key has the form PRIVATE+KEY+name+keyid+key")
        name, id_hex, encoded = parts
        raw = _unb64(encoded)
        if len(raw) != 33 or raw[:1] != ED25519_ALG:
            raise NoteError("the private key is not an Ed25519 key")
        key = cls(_check_name(name), raw[1:])
        if key.verifier.key_id.hex() != id_hex.lower():
            raise NoteError("the private key's ID does not match its name and key")
        return key

    @classmethod
    def generate(cls) -> SignerKey:
        """A fresh key whose name carries a new, random log ID."""
        return cls(NAME_PREFIX + secrets.token_hex(8), secrets.token_bytes(32))


def load_signer(path: Path) -> SignerKey:
    """Read the signing key; refuse a file that group or others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigurationError(f"the audit signing key {path} does not exist") from None
    if not stat.S_ISREG(mode):
        raise ConfigurationError(f"the audit signing key {path} is not a regular file")
    if mode & 0o077:
        raise ConfigurationError(
            f"the audit signing key {path} is open to group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
        )
    try:
        return SignerKey.parse(path.read_text(encoding="ascii"))
    except (NoteError, UnicodeDecodeError):
        raise ConfigurationError(f"the audit signing key {path} is not a valid key") from None


def load_or_create_signer(path: Path) -> SignerKey:
    """Read the signing key, creating it (mode 0600) on first use."""
    if not path.exists():
        _create_key_file(path)
    return load_signer(path)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (SignerKey.generate().encode() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link() fails if another process created the key first; then its key wins.
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


@dataclass(frozen=True)
class Checkpoint:
    """The content of a C2SP checkpoint: log origin, tree size and root hash."""

    origin: str
    tree_size: int
    root_hash: bytes

    def body(self) -> bytes:
        """The signed text: three lines, each ending in a newline."""
        return f"{self.origin}\n{self.tree_size}\n{_b64(self.root_hash)}\n".encode()


def sign_checkpoint(checkpoint: Checkpoint, signer: SignerKey) -> tuple[str, bytes]:
    """The signed note for ``checkpoint`` and the bare signature."""
    signature = signer.sign(checkpoint.body())
    line = f"{SIGNATURE_DASH}{signer.name} {_b64(signer.verifier.key_id + signature)}\n"
    return checkpoint.body().decode() + "\n" + line, signature


def open_checkpoint(note: str, verifier: VerifierKey) -> Checkpoint:
    """Parse a signed checkpoint note and check the signature by ``verifier``."""
    return open_checkpoint_with_signature(note, verifier)[0]


def open_checkpoint_with_signature(note: str, verifier: VerifierKey) -> tuple[Checkpoint, bytes]:
    """Like ``open_checkpoint``, also returning the verified signature."""
    body, sep, signatures = note.partition("\n\n")
    if not sep:
        raise NoteError("the note has no signature block")
    lines = body.split("\n")
    if len(lines) < 3 or not lines[1].isdigit() or (lines[1] != "0" and lines[1][0] == "0"):
        raise NoteError("the note is not a checkpoint")
    root = _unb64(lines[2])
    if len(root) != 32:
        raise NoteError("the checkpoint root is not a SHA-256 hash")
    checkpoint = Checkpoint(lines[0], int(lines[1]), root)
    signed = (body + "\n").encode()
    if checkpoint.body() != signed:
        raise NoteError("the checkpoint body is not in canonical form")
    if not signatures.endswith("\n"):
        raise NoteError("the signature block does not end with a newline")
    # Split on "\n" only: str.splitlines() would also break at \v, \f or U+2028 and so accept
    # a note whose bytes were changed.
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_DASH):
            raise NoteError("malformed signature line")
        name, _, encoded = line[len(SIGNATURE_DASH) :].partition(" ")
        raw = _unb64(encoded)
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        if verifier.verify(signed, raw[4:]):
            return checkpoint, raw[4:]
        raise NoteError("the checkpoint signature does not verify")
    raise NoteError(f"the checkpoint is not signed by {verifier.name} ({verifier.key_id.hex()})")
