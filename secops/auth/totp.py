"""TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, one step of drift each way.

HMAC-SHA-1 is what authenticator apps implement; it is used here only inside TOTP, where its
collision weakness does not apply (RFC 6238 §5, crypto inventory). Time always comes from the
server's clock, never from the client.
"""

from __future__ import annotations

import base64
import io
import re
from datetime import datetime
from typing import Final

import pyotp
import segno

DIGITS: Final = 6
STEP_SECONDS: Final = 30
VALID_WINDOW: Final = 1
ISSUER: Final = "secops"
# Plain ASCII digits only: pyotp NFKC-normalises, so full-width digits would also verify.
_CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """A fresh base32 secret of 160 bits from the operating system's CSPRNG."""
    return pyotp.random_base32(length=32)


def is_well_formed(code: str) -> bool:
    """True for exactly six ASCII digits."""
    return bool(_CODE.fullmatch(code))


def matching_timecode(secret: str, code: str, *, at: datetime) -> int | None:
    """The time step ``code`` belongs to (now ±1 step), or None if it matches none."""
    if not is_well_formed(code):
        return None
    try:
        timecode: int = pyotp.TOTP(secret).verify_and_get_timecode(
            code, for_time=at, valid_window=VALID_WINDOW
        )
    except pyotp.exceptions.OTPVerificationError:
        return None
    return timecode


def code_at(secret: str, at: datetime | int, *, digits: int = DIGITS) -> str:
    """The code for the step containing ``at`` (tests, the demo and RFC vectors use this)."""
    return str(pyotp.TOTP(secret, digits=digits).at(at))


def timecode_of(at: datetime) -> int:
    """The 30-second step number containing ``at``."""
    return int(at.timestamp()) // STEP_SECONDS


def provisioning_uri(secret: str, *, account: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans."""
    uri: str = pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)
    return uri


def qr_svg_data_uri(uri: str) -> str:
    """The URI as a QR code: an SVG rendered here (no outside service), as a data: URI."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, border=2, xmldecl=False)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/svg+xml;base64,{encoded}"
