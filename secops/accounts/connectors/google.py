"""Google Workspace: the service-account token, the three reads, and their parsing into readings.

Reads: Directory users (``isEnrolledIn2Sv``, ``isEnforcedIn2Sv``, ``isAdmin``, ``lastLoginTime``,
recovery e-mail and phone, ``suspended``), each user's OAuth tokens (connected apps) and the
Reports API's per-user usage report, whose ``parameters`` are ``{name, intValue|boolValue|…}``
pairs. Report data arrive days late: the report for ``REPORT_LAG_DAYS`` ago is requested and its
date is the evidence date of the facts it feeds.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from pydantic import AwareDatetime, Field, StrictBool, StrictInt, StrictStr

from secops.accounts.connectors.google_auth import ServiceAccountKey, acquire_token
from secops.accounts.connectors.graph import sorted_apps
from secops.accounts.connectors.http import GOOGLE_ADMIN_HOST, VendorError, VendorHttp
from secops.accounts.connectors.http import bearer as bearer_header
from secops.accounts.connectors.readings import (
    AccountReading,
    AdminReading,
    AppReading,
    MfaReading,
    Parsed,
    Reading,
    RecoveryReading,
    TenantReading,
    VendorModel,
    evidence_time,
    failed,
    parse_row,
    read,
)

ADMIN: Final = f"https://{GOOGLE_ADMIN_HOST}/admin"
USERS_URL: Final = f"{ADMIN}/directory/v1/users"
REPORT_URL: Final = f"{ADMIN}/reports/v1/usage/users/all/dates/{{day}}"
REPORT_LAG_DAYS: Final = 3
REPORT_PARAMETERS: Final = (
    "accounts:is_2sv_enrolled",
    "accounts:is_2sv_enforced",
    "accounts:num_security_keys",
    "accounts:num_passkeys_enrolled",
    "accounts:last_login_time",
)
SECURITY_KEYS: Final = "accounts:num_security_keys"
PASSKEYS: Final = "accounts:num_passkeys_enrolled"
TWO_SV: Final = "accounts:is_2sv_enrolled"
# A Google user id is numeric; anything else is not put into a URL path.
_USER_KEY = re.compile(r"^[0-9A-Za-z]{1,64}$")
# int64 as the Reports API sends it; ASCII digits only.
_INTEGER = re.compile(r"-?[0-9]{1,19}")

DIRECTORY = "directory"
TOKENS = "user tokens"
REPORT = "usage report"


class UserName(VendorModel):
    """``name`` of a Directory user."""

    full_name: StrictStr | None = Field(default=None, alias="fullName")


class DirectoryUser(VendorModel):
    """One Directory user with the fields the policy reads."""

    id: StrictStr
    primary_email: StrictStr = Field(alias="primaryEmail")
    name: UserName | None = None
    is_admin: StrictBool | None = Field(default=None, alias="isAdmin")
    is_delegated_admin: StrictBool | None = Field(default=None, alias="isDelegatedAdmin")
    is_enrolled_in_2sv: StrictBool | None = Field(default=None, alias="isEnrolledIn2Sv")
    is_enforced_in_2sv: StrictBool | None = Field(default=None, alias="isEnforcedIn2Sv")
    suspended: StrictBool | None = None
    archived: StrictBool | None = None
    last_login_time: AwareDatetime | None = Field(default=None, alias="lastLoginTime")
    recovery_email: StrictStr | None = Field(default=None, alias="recoveryEmail")
    recovery_phone: StrictStr | None = Field(default=None, alias="recoveryPhone")


class DirectoryToken(VendorModel):
    """One OAuth token a user granted to an app."""

    client_id: StrictStr = Field(alias="clientId")
    display_text: StrictStr | None = Field(default=None, alias="displayText")
    scopes: list[StrictStr] | None = None


class ReportEntity(VendorModel):
    """Whom a usage report row is about."""

    user_email: StrictStr = Field(alias="userEmail")


class ReportParameter(VendorModel):
    """One ``{name, …Value}`` pair; the Reports API sends int64 values as strings."""

    name: StrictStr
    int_value: StrictInt | StrictStr | None = Field(default=None, alias="intValue")
    bool_value: StrictBool | None = Field(default=None, alias="boolValue")
    string_value: StrictStr | None = Field(default=None, alias="stringValue")
    datetime_value: AwareDatetime | None = Field(default=None, alias="datetimeValue")


class UsageReport(VendorModel):
    """One user's row of the usage report."""

    entity: ReportEntity
    parameters: list[Any] = Field(default_factory=list)


def flatten(parameters: list[Any]) -> dict[str, int | bool | str | datetime]:
    """The report's name/value pairs as one mapping; a malformed pair is left out."""
    values: dict[str, int | bool | str | datetime] = {}
    for raw in parameters:
        parsed = parse_row(ReportParameter, raw)
        if parsed is None:
            continue
        pair = parsed.row
        if pair.int_value is not None:
            text = str(pair.int_value)
            if _INTEGER.fullmatch(text):
                values[pair.name] = int(text)
        elif pair.bool_value is not None:
            values[pair.name] = pair.bool_value
        elif pair.datetime_value is not None:
            values[pair.name] = pair.datetime_value
        elif pair.string_value is not None:
            values[pair.name] = pair.string_value
    return values


def report_day(now: datetime) -> date:
    """The report date to request: ``REPORT_LAG_DAYS`` before today (UTC)."""
    return (now.astimezone(UTC) - timedelta(days=REPORT_LAG_DAYS)).date()


def probe(http: VendorHttp, key: ServiceAccountKey, subject: str, customer: str) -> None:
    """Authenticate and read one page of one user; raises VendorError on any refusal."""
    token = acquire_token(http, key, subject=subject, now=http.clock.now())
    params = {"customer": customer, "maxResults": "1"}
    http.get_json(USERS_URL, params=params, headers=bearer_header(token))


def read_tenant(
    http: VendorHttp, key: ServiceAccountKey, *, subject: str, customer: str, now: datetime
) -> TenantReading:
    """Read everything for one Workspace; raises VendorError when the directory is refused."""
    headers = bearer_header(acquire_token(http, key, subject=subject, now=now))
    params = {"customer": customer, "maxResults": "500", "projection": "basic"}
    users: list[Any] = []
    for page in http.google_pages(USERS_URL, field="users", params=params, headers=headers):
        users.extend(page.get("users") or [])
    day = report_day(now)
    report = _report(http, headers, customer, day)
    result = TenantReading()
    if isinstance(report, VendorError):
        result.failures[REPORT] = report.reason
    tokens = _TokenReader(http, headers, now)
    parsed = [p for p in (parse_row(DirectoryUser, raw) for raw in users) if p is not None]
    result.unreadable = len(users) - len(parsed)
    for user in parsed:
        account = _account(user, report, day, now)
        account.apps = tokens.apps_of(user.row.id)
        result.accounts.append(account)
    if tokens.refused is not None:
        result.failures[TOKENS] = tokens.refused
    result.accounts.append(_tenant(subject, parsed, now))
    return result


def _report(
    http: VendorHttp, headers: dict[str, str], customer: str, day: date
) -> dict[str, dict[str, Any]] | VendorError:
    params = {"parameters": ",".join(REPORT_PARAMETERS)}
    if customer != "my_customer":
        params["customerId"] = customer
    url = REPORT_URL.format(day=day.isoformat())
    rows: dict[str, dict[str, Any]] = {}
    try:
        for page in http.google_pages(url, field="usageReports", params=params, headers=headers):
            for raw in page.get("usageReports") or []:
                parsed = parse_row(UsageReport, raw)
                if parsed is not None:
                    rows[parsed.row.entity.user_email.lower()] = flatten(parsed.row.parameters)
    except VendorError as exc:
        return exc
    return rows


class _TokenReader:
    """Reads each user's tokens; after a permission refusal it stops asking and reports it."""

    def __init__(self, http: VendorHttp, headers: dict[str, str], now: datetime) -> None:
        self.http, self.headers, self.now = http, headers, now
        self.refused: str | None = None

    def apps_of(self, user_id: str) -> Reading[tuple[AppReading, ...]]:
        if self.refused is not None:
            return failed(f"{TOKENS} refused: {self.refused}")
        if not _USER_KEY.match(user_id):
            return failed("user id not usable in a tokens request")
        try:
            body = self.http.get_json(f"{USERS_URL}/{user_id}/tokens", headers=self.headers)
        except VendorError as exc:
            if getattr(exc, "is_permission_error", False):
                self.refused = exc.reason
            return failed(f"{TOKENS} refused: {exc.reason}")
        items = body.get("items") if isinstance(body, dict) else None
        if items is not None and not isinstance(items, list):
            return failed("items malformed in user tokens")
        apps = []
        for raw in items or []:
            parsed = parse_row(DirectoryToken, raw)
            if parsed is None:
                return failed("clientId missing from a user token")
            token = parsed.row
            apps.append(
                AppReading(
                    external_id=token.client_id,
                    name=token.display_text or token.client_id,
                    scopes=tuple(sorted(token.scopes or ())),
                    granted_by="user",
                )
            )
        return read(tuple(sorted_apps(apps)), self.now)


def _account(
    user: Parsed[DirectoryUser],
    report: dict[str, dict[str, Any]] | VendorError,
    day: date,
    now: datetime,
) -> AccountReading:
    row = user.row
    reading = AccountReading(
        external_id=row.id,
        handle=row.primary_email,
        display_name=row.name.full_name if row.name else None,
        enabled=not (row.suspended or row.archived),
    )
    problem = user.problem("lastLoginTime", True, DIRECTORY)
    reading.last_sign_in = (
        failed(problem) if problem else read(evidence_time(row.last_login_time), now)
    )
    problem = user.problem("isEnrolledIn2Sv", row.is_enrolled_in_2sv, DIRECTORY)
    reading.mfa = (
        failed(problem)
        if problem
        else read(MfaReading(bool(row.is_enrolled_in_2sv), row.is_enforced_in_2sv), now)
    )
    bad = {"recoveryEmail", "recoveryPhone"} & user.malformed
    reading.recovery = (
        failed(f"{sorted(bad)[0]} malformed in {DIRECTORY}")
        if bad
        else read(RecoveryReading(email=row.recovery_email, phone=row.recovery_phone), now)
    )
    reading.methods = _methods(row, report, day)
    return reading


def _methods(
    row: DirectoryUser, report: dict[str, dict[str, Any]] | VendorError, day: date
) -> Reading[tuple[str, ...]]:
    if isinstance(report, VendorError):
        return failed(f"{REPORT} refused: {report.reason}")
    values = report.get(row.primary_email.lower())
    if values is None:
        return failed(f"user not in the {REPORT} for {day.isoformat()}")
    keys = values.get(SECURITY_KEYS)
    if not isinstance(keys, int) or isinstance(keys, bool):
        return failed(f"{SECURITY_KEYS} missing from the {REPORT} for {day.isoformat()}")
    passkeys = values.get(PASSKEYS)
    enrolled = values.get(TWO_SV, row.is_enrolled_in_2sv)
    methods = []
    if keys > 0:
        methods.append("security_key")
    if isinstance(passkeys, int) and not isinstance(passkeys, bool) and passkeys > 0:
        methods.append("passkey")
    if enrolled is True and not methods:
        # 2SV is on but the report does not say with what: never assume a strong factor.
        methods.append("2sv_unspecified")
    observed = datetime.combine(day, time(0, 0), tzinfo=UTC)
    return read(tuple(methods), observed)


def _tenant(subject: str, users: list[Parsed[DirectoryUser]], now: datetime) -> AccountReading:
    domain = subject.rpartition("@")[2].lower()
    admins = [
        AdminReading(
            external_id=u.row.id,
            identity=u.row.primary_email,
            role="Super Admin" if u.row.is_admin else "Delegated Admin",
            last_sign_in_at=evidence_time(u.row.last_login_time),
        )
        for u in users
        if u.row.is_admin or u.row.is_delegated_admin
    ]
    unknown = sum(1 for u in users if u.row.is_admin is None or "isAdmin" in u.malformed)
    return AccountReading(
        external_id=f"workspace:{domain}",
        handle=domain,
        display_name=f"Google Workspace {domain}",
        is_tenant=True,
        admins=failed(f"isAdmin missing from {DIRECTORY} for {unknown} users")
        if unknown
        else read(tuple(sorted(admins, key=lambda a: (a.identity, a.role))), now),
    )
