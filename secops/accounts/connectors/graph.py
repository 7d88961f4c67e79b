"""Microsoft Graph: the client-credentials token, the reads, and their parsing into readings.

Reads (v1.0): the authentication-methods registration report (``isMfaRegistered``,
``methodsRegistered``, ``lastUpdatedDateTime``), users with ``signInActivity``, directory role
assignments with their principal expanded (the tenant's admins), delegated permission grants
(connected apps), the Conditional Access policies (whether MFA is enforced for each user, see
``graph_policies``) and the authentication methods policy (the methods the tenant allows,
recorded as the tenant's own MFA methods). Each read succeeds or fails on its own: a refused
read turns the facts it feeds into errors for every account and leaves the other reads' facts
intact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from secops.accounts.connectors import graph_policies as policies
from secops.accounts.connectors.graph_payloads import (
    ROLE_NAMES,
    GraphUser,
    PermissionGrant,
    RegistrationDetail,
    RoleAssignment,
    ServicePrincipal,
    TokenResponse,
)
from secops.accounts.connectors.http import GRAPH_HOST, GRAPH_LOGIN_HOST, VendorError, VendorHttp
from secops.accounts.connectors.http import bearer as bearer_header
from secops.accounts.connectors.readings import (
    AccountReading,
    AdminReading,
    AppReading,
    MfaReading,
    Parsed,
    Reading,
    TenantReading,
    evidence_time,
    failed,
    parse_row,
    read,
)

GRAPH: Final = f"https://{GRAPH_HOST}/v1.0"
SCOPE: Final = f"https://{GRAPH_HOST}/.default"
REGISTRATION_URL: Final = f"{GRAPH}/reports/authenticationMethods/userRegistrationDetails"
USERS_URL: Final = (
    f"{GRAPH}/users?$select=id,userPrincipalName,displayName,accountEnabled,userType,signInActivity"
)
ROLES_URL: Final = f"{GRAPH}/roleManagement/directory/roleAssignments?$expand=principal"
GRANTS_URL: Final = f"{GRAPH}/oauth2PermissionGrants"
PROBE_URL: Final = f"{GRAPH}/users?$select=id&$top=1"
MAX_APP_LOOKUPS: Final = 200

REGISTRATION = "registration report"
USERS = "users"
ROLES = "role assignments"
GRANTS = "permission grants"


@dataclass(frozen=True)
class GraphCredentials:
    """What the client-credentials flow needs; the secret only lives here while syncing."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)


def token_url(tenant_id: str) -> str:
    """The tenant's token endpoint on the Microsoft identity platform."""
    return f"https://{GRAPH_LOGIN_HOST}/{tenant_id}/oauth2/v2.0/token"


def acquire_token(http: VendorHttp, creds: GraphCredentials) -> str:
    """A Graph access token by client credentials; VendorError if the tenant refuses."""
    body = http.post_form(
        token_url(creds.tenant_id),
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": SCOPE,
        },
    )
    parsed = parse_row(TokenResponse, body)
    if parsed is None:
        raise VendorError("token_response_invalid")
    return parsed.row.access_token


def probe(http: VendorHttp, creds: GraphCredentials) -> None:
    """Authenticate and read one page of users; raises VendorError on any refusal."""
    headers = bearer_header(acquire_token(http, creds))
    http.get_json(PROBE_URL, headers=headers)


Section = list[Any] | VendorError


def _rows(http: VendorHttp, url: str, headers: dict[str, str]) -> Section:
    try:
        return [row for page in http.graph_pages(url, headers=headers) for row in page]
    except VendorError as exc:
        return exc


def read_tenant(http: VendorHttp, creds: GraphCredentials, now: datetime) -> TenantReading:
    """Read everything for one tenant; raises VendorError only when no user could be listed."""
    headers = bearer_header(acquire_token(http, creds))
    sections = {
        REGISTRATION: _rows(http, REGISTRATION_URL, headers),
        USERS: _rows(http, USERS_URL, headers),
        ROLES: _rows(http, ROLES_URL, headers),
        GRANTS: _rows(http, GRANTS_URL, headers),
        policies.CA_POLICIES: _rows(http, policies.CA_POLICIES_URL, headers),
    }
    users, registrations = sections[USERS], sections[REGISTRATION]
    if isinstance(users, VendorError) and isinstance(registrations, VendorError):
        raise users
    names = _app_names(http, headers, sections[GRANTS])
    tenant = Tenant(
        policies.enforcement(
            sections[policies.CA_POLICIES],
            sections[ROLES],
            policies.group_members(http, headers),
        ),
        _methods_policy(http, headers),
    )
    return assemble(creds.tenant_id, sections, names, now, tenant)


@dataclass(frozen=True)
class Tenant:
    """What the tenant's policies say: MFA enforcement per user, and the methods allowed."""

    enforcement: policies.Enforcement
    methods: Any | VendorError


def _methods_policy(http: VendorHttp, headers: dict[str, str]) -> Any | VendorError:
    try:
        return http.get_json(policies.AUTH_METHODS_URL, headers=headers)
    except VendorError as exc:
        return exc


def _app_names(
    http: VendorHttp, headers: dict[str, str], grants: Section
) -> dict[str, ServicePrincipal]:
    """The service principals the grants name; a failed lookup leaves the client id as name."""
    if isinstance(grants, VendorError):
        return {}
    ids = sorted({g["clientId"] for g in grants if isinstance(g, dict) and "clientId" in g})
    found: dict[str, ServicePrincipal] = {}
    for client_id in ids[:MAX_APP_LOOKUPS]:
        if not isinstance(client_id, str) or not client_id.replace("-", "").isalnum():
            continue
        url = f"{GRAPH}/servicePrincipals/{client_id}?$select=id,displayName,publisherName"
        try:
            parsed = parse_row(ServicePrincipal, http.get_json(url, headers=headers))
        except VendorError:
            continue
        if parsed is not None:
            found[client_id] = parsed.row
    return found


def _parse_all(model: Any, section: Section) -> tuple[dict[str, Parsed[Any]], int]:
    """Rows by id, and how many rows could not be attributed to anyone."""
    if isinstance(section, VendorError):
        return {}, 0
    parsed = [parse_row(model, raw) for raw in section]
    good = [p for p in parsed if p is not None]
    return {p.row.id: p for p in good}, len(parsed) - len(good)


def assemble(
    tenant_id: str,
    sections: dict[str, Section],
    names: dict[str, ServicePrincipal],
    now: datetime,
    tenant: Tenant,
) -> TenantReading:
    """Turn the reads into one reading per member user plus one for the tenant."""
    users, bad_users = _parse_all(GraphUser, sections[USERS])
    registrations, bad_registrations = _parse_all(RegistrationDetail, sections[REGISTRATION])
    failures = {k: v.reason for k, v in sections.items() if isinstance(v, VendorError)}
    if isinstance(tenant.methods, VendorError):
        failures[policies.AUTH_METHODS] = tenant.methods.reason
    result = TenantReading(failures=failures, unreadable=bad_users + bad_registrations)
    apps = _apps_by_principal(sections[GRANTS], names, now)
    for user_id in sorted(users.keys() | registrations.keys()):
        user, registration = users.get(user_id), registrations.get(user_id)
        if _is_guest(user, registration):
            result.skipped += 1
            continue
        account = _account(user, registration, sections, now, tenant.enforcement)
        account.apps = apps(user_id)
        result.accounts.append(account)
    row = _tenant(tenant_id, sections[ROLES], users, apps(None), now)
    allowed = policies.enabled_methods(tenant.methods)
    row.methods = failed(allowed) if isinstance(allowed, str) else read(allowed, now)
    result.accounts.append(row)
    return result


def _is_guest(
    user: Parsed[GraphUser] | None, registration: Parsed[RegistrationDetail] | None
) -> bool:
    kinds = {
        (user.row.user_type if user else None),
        (registration.row.user_type if registration else None),
    }
    return any(k is not None and k.lower() == "guest" for k in kinds)


def _account(
    user: Parsed[GraphUser] | None,
    registration: Parsed[RegistrationDetail] | None,
    sections: dict[str, Section],
    now: datetime,
    enforcement: policies.Enforcement,
) -> AccountReading:
    source = user.row if user else registration.row if registration else None
    assert source is not None  # noqa: S101 - the id came from one of the two
    reading = AccountReading(
        external_id=source.id,
        handle=user.row.user_principal_name if user else source.user_principal_name,
        display_name=(user.row.display_name if user else None)
        or (registration.row.user_display_name if registration else None),
        enabled=user.row.account_enabled if user else None,
    )
    reading.last_sign_in = _last_sign_in(user, sections[USERS], now)
    reading.mfa, reading.methods = _mfa(registration, sections[REGISTRATION], now, enforcement)
    return reading


def _missing(section: Section, what: str) -> Reading[Any]:
    if isinstance(section, VendorError):
        return failed(f"{what} refused: {section.reason}")
    return failed(f"user not in the {what}")


def _last_sign_in(user: Parsed[GraphUser] | None, section: Section, now: datetime) -> Reading[Any]:
    if user is None:
        return _missing(section, USERS)
    if "signInActivity" in user.malformed:
        return failed("signInActivity malformed in users")
    activity = user.row.sign_in_activity
    # No signInActivity: the user has never signed in successfully since it was recorded.
    when = activity.last_successful_sign_in_date_time if activity else None
    return read(evidence_time(when), now)


def _mfa(
    registration: Parsed[RegistrationDetail] | None,
    section: Section,
    now: datetime,
    enforcement: policies.Enforcement,
) -> tuple[Reading[MfaReading], Reading[tuple[str, ...]]]:
    if registration is None:
        missing = _missing(section, REGISTRATION)
        return missing, missing
    row = registration.row
    observed = evidence_time(row.last_updated_date_time) or now
    # Enforcement shares the MFA fact: unknown enforcement makes the fact an error, not a pass.
    problem = (
        registration.problem("isMfaRegistered", row.is_mfa_registered, REGISTRATION)
        or enforcement.error
    )
    mfa: Reading[MfaReading] = (
        failed(problem)
        if problem
        else read(
            MfaReading(
                enabled=bool(row.is_mfa_registered), enforced=enforcement.enforced_for(row.id)
            ),
            observed,
        )
    )
    problem = registration.problem("methodsRegistered", row.methods_registered, REGISTRATION)
    methods: Reading[tuple[str, ...]] = (
        failed(problem) if problem else read(tuple(row.methods_registered or ()), observed)
    )
    return mfa, methods


def _apps_by_principal(
    section: Section, names: dict[str, ServicePrincipal], now: datetime
) -> Callable[[str | None], Reading[tuple[AppReading, ...]]]:
    """A lookup: the apps granted to one user (or tenant-wide, for None)."""
    if isinstance(section, VendorError):
        refused = failed(f"{GRANTS} refused: {section.reason}")
        return lambda _principal: refused
    grouped: dict[str | None, list[AppReading]] = {}
    for raw in section:
        parsed = parse_row(PermissionGrant, raw)
        if parsed is None:
            unreadable = failed(f"clientId or consentType missing from {GRANTS}")
            return lambda _principal: unreadable
        grant = parsed.row
        tenant_wide = grant.consent_type == "AllPrincipals"
        owner = None if tenant_wide else grant.principal_id
        if owner is None and not tenant_wide:
            continue
        app = names.get(grant.client_id)
        grouped.setdefault(owner, []).append(
            AppReading(
                external_id=grant.id,
                name=(app.display_name if app else None) or grant.client_id,
                publisher=app.publisher_name if app else None,
                scopes=tuple(sorted((grant.scope or "").split())),
                granted_by="admin consent (all users)" if tenant_wide else "user consent",
            )
        )
    return lambda principal: read(tuple(sorted_apps(grouped.get(principal, []))), now)


def sorted_apps(apps: Iterable[AppReading]) -> list[AppReading]:
    """Apps in a stable order, so an unchanged tenant reads identically twice."""
    return sorted(apps, key=lambda a: (a.name, a.external_id))


def _tenant(
    tenant_id: str,
    section: Section,
    users: dict[str, Parsed[GraphUser]],
    apps: Reading[tuple[AppReading, ...]],
    now: datetime,
) -> AccountReading:
    tenant = AccountReading(
        external_id=f"tenant:{tenant_id}",
        handle=tenant_id,
        display_name=f"Microsoft 365 tenant {tenant_id}",
        is_tenant=True,
        apps=apps,
    )
    if isinstance(section, VendorError):
        tenant.admins = failed(f"{ROLES} refused: {section.reason}")
        return tenant
    roles: dict[str, set[str]] = {}
    identities: dict[str, str] = {}
    for raw in section:
        parsed = parse_row(RoleAssignment, raw)
        if parsed is None:
            # An assignment we cannot attribute would make the admin list look shorter.
            tenant.admins = failed(f"principalId or roleDefinitionId missing from {ROLES}")
            return tenant
        row = parsed.row
        name = row.principal and (row.principal.user_principal_name or row.principal.display_name)
        identities[row.principal_id] = name or row.principal_id
        roles.setdefault(row.principal_id, set()).add(
            ROLE_NAMES.get(row.role_definition_id, row.role_definition_id)
        )
    admins = [
        AdminReading(
            external_id=principal_id,
            identity=identities[principal_id],
            role=", ".join(sorted(names)),
            last_sign_in_at=_last_success(users.get(principal_id)),
        )
        for principal_id, names in roles.items()
    ]
    tenant.admins = read(tuple(sorted(admins, key=lambda a: (a.identity, a.external_id))), now)
    return tenant


def _last_success(user: Parsed[GraphUser] | None) -> datetime | None:
    activity = user.row.sign_in_activity if user else None
    return evidence_time(activity.last_successful_sign_in_date_time if activity else None)
