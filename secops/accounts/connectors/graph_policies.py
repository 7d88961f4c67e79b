"""Microsoft Graph tenant policies: whether Conditional Access requires MFA of every user, and
which authentication methods the tenant allows.

A policy requires MFA of a user when it is ``enabled`` (report-only enforces nothing), applies
to all users and all cloud apps on every client, sign-in location, platform and risk level, and
its grant can only be met with MFA: ``mfa`` or an authentication strength, and, when the
controls are joined with OR, no other control that would do instead (a compliant device,
terms of use). A user is still not covered when the policy excludes them by id, by a directory
role they hold, or through a group they belong to (read transitively).

Nothing here reads as enforcement unless it was read: a refused policy list, an excluded role
or group whose members could not be read, or a policy row that cannot be parsed turns the MFA
fact of every user into an error that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pydantic import Field, StrictStr

from secops.accounts.connectors.graph_payloads import GraphModel, RoleAssignment
from secops.accounts.connectors.http import GRAPH_HOST, VendorError, VendorHttp
from secops.accounts.connectors.readings import parse_row

GRAPH: Final = f"https://{GRAPH_HOST}/v1.0"
CA_POLICIES_URL: Final = f"{GRAPH}/identity/conditionalAccess/policies"
AUTH_METHODS_URL: Final = f"{GRAPH}/policies/authenticationMethodsPolicy"
CA_POLICIES = "conditional access policies"
AUTH_METHODS = "authentication methods policy"
ALL: Final = "all"
# Built-in controls that stand in for MFA only as what the policy grants with OR: none.
MFA_CONTROL: Final = "mfa"
MAX_EXCLUDED_GROUPS: Final = 50


class CaUsers(GraphModel):
    """``conditions.users``."""

    include_users: list[StrictStr] = Field(default_factory=list)
    exclude_users: list[StrictStr] = Field(default_factory=list)
    include_groups: list[StrictStr] = Field(default_factory=list)
    exclude_groups: list[StrictStr] = Field(default_factory=list)
    include_roles: list[StrictStr] = Field(default_factory=list)
    exclude_roles: list[StrictStr] = Field(default_factory=list)


class CaApplications(GraphModel):
    """``conditions.applications``."""

    include_applications: list[StrictStr] = Field(default_factory=list)
    exclude_applications: list[StrictStr] = Field(default_factory=list)


class CaLocations(GraphModel):
    """``conditions.locations``."""

    include_locations: list[StrictStr] = Field(default_factory=list)
    exclude_locations: list[StrictStr] = Field(default_factory=list)


class CaPlatforms(GraphModel):
    """``conditions.platforms``."""

    include_platforms: list[StrictStr] = Field(default_factory=list)
    exclude_platforms: list[StrictStr] = Field(default_factory=list)


class CaConditions(GraphModel):
    """``conditions``: who, what, from where; any narrowing means "not every sign-in"."""

    users: CaUsers | None = None
    applications: CaApplications | None = None
    client_app_types: list[StrictStr] = Field(default_factory=list)
    locations: CaLocations | None = None
    platforms: CaPlatforms | None = None
    sign_in_risk_levels: list[StrictStr] = Field(default_factory=list)
    user_risk_levels: list[StrictStr] = Field(default_factory=list)


class AuthenticationStrength(GraphModel):
    """``grantControls.authenticationStrength``: every strength policy requires MFA."""

    id: StrictStr


class GrantControls(GraphModel):
    """``grantControls``."""

    operator: StrictStr | None = None
    built_in_controls: list[StrictStr] = Field(default_factory=list)
    custom_authentication_factors: list[StrictStr] = Field(default_factory=list)
    terms_of_use: list[StrictStr] = Field(default_factory=list)
    authentication_strength: AuthenticationStrength | None = None


class CaPolicy(GraphModel):
    """One ``conditionalAccessPolicy``."""

    id: StrictStr
    display_name: StrictStr | None = None
    state: StrictStr
    conditions: CaConditions
    grant_controls: GrantControls | None = None


class MethodConfiguration(GraphModel):
    """One entry of ``authenticationMethodConfigurations``."""

    id: StrictStr
    state: StrictStr


class MethodsPolicy(GraphModel):
    """``authenticationMethodsPolicy``: the methods the tenant allows."""

    authentication_method_configurations: list[MethodConfiguration]


def _lower(values: list[str]) -> set[str]:
    return {v.lower() for v in values}


def _every_sign_in(conditions: CaConditions) -> bool:
    users, apps = conditions.users, conditions.applications
    if users is None or apps is None or ALL not in _lower(users.include_users):
        return False
    if ALL not in _lower(apps.include_applications) or apps.exclude_applications:
        return False
    if conditions.client_app_types and _lower(conditions.client_app_types) != {ALL}:
        return False
    where, platforms = conditions.locations, conditions.platforms
    if where is not None and (
        where.exclude_locations
        or (where.include_locations and _lower(where.include_locations) != {ALL})
    ):
        return False
    if platforms is not None and (
        platforms.exclude_platforms
        or (platforms.include_platforms and _lower(platforms.include_platforms) != {ALL})
    ):
        return False
    return not (conditions.sign_in_risk_levels or conditions.user_risk_levels)


def _grants_only_with_mfa(grant: GrantControls | None) -> bool:
    if grant is None:
        return False
    controls = _lower(grant.built_in_controls)
    mfa = MFA_CONTROL in controls or grant.authentication_strength is not None
    if not mfa:
        return False
    if (grant.operator or "OR").upper() == "AND":
        return True
    # With OR, any other control would let a sign-in through without MFA.
    return controls <= {MFA_CONTROL} and not (
        grant.custom_authentication_factors or grant.terms_of_use
    )


def requires_mfa_of_everyone(policy: CaPolicy) -> bool:
    """True for an enabled policy that makes every sign-in of every included user use MFA."""
    return (
        policy.state == "enabled"
        and _every_sign_in(policy.conditions)
        and _grants_only_with_mfa(policy.grant_controls)
    )


@dataclass(frozen=True)
class Enforcement:
    """Who the tenant's MFA-for-everyone policies cover, or why that could not be read."""

    policies: tuple[CaPolicy, ...] = ()
    roles: dict[str, frozenset[str]] | None = None
    groups: dict[str, frozenset[str]] | None = None
    error: str | None = None

    def enforced_for(self, user_id: str) -> bool:
        """True when some policy covers the user (call only when ``error`` is None)."""
        return any(self._covers(policy, user_id) for policy in self.policies)

    def _covers(self, policy: CaPolicy, user_id: str) -> bool:
        users = policy.conditions.users
        if users is None or user_id in users.exclude_users:
            return False
        held = (self.roles or {}).get(user_id, frozenset())
        if held & set(users.exclude_roles):
            return False
        groups = self.groups or {}
        return not any(user_id in groups.get(g, frozenset()) for g in users.exclude_groups)


def _roles_by_user(section: list[Any] | VendorError) -> dict[str, frozenset[str]] | None:
    if isinstance(section, VendorError):
        return None
    held: dict[str, set[str]] = {}
    for raw in section:
        parsed = parse_row(RoleAssignment, raw)
        if parsed is None:
            return None
        row = parsed.row
        held.setdefault(row.principal_id, set()).add(row.role_definition_id)
    return {user: frozenset(roles) for user, roles in held.items()}


GroupMembers = Callable[[str], frozenset[str]]


def enforcement(
    section: list[Any] | VendorError,
    roles: list[Any] | VendorError,
    members: GroupMembers,
) -> Enforcement:
    """Read the policy list into an ``Enforcement``; ``members`` reads a group's member ids."""
    if isinstance(section, VendorError):
        return Enforcement(error=f"{CA_POLICIES} refused: {section.reason}")
    policies = []
    for raw in section:
        parsed = parse_row(CaPolicy, raw)
        if parsed is None or parsed.malformed:
            return Enforcement(error=f"a policy in the {CA_POLICIES} could not be read")
        if requires_mfa_of_everyone(parsed.row):
            policies.append(parsed.row)
    excluded_roles = {
        r for p in policies if p.conditions.users for r in p.conditions.users.exclude_roles
    }
    held = _roles_by_user(roles) if excluded_roles else {}
    if held is None:
        return Enforcement(
            error=f"{CA_POLICIES} exclude roles, but the role assignments were not read"
        )
    excluded_groups = sorted(
        {g for p in policies if p.conditions.users for g in p.conditions.users.exclude_groups}
    )
    if len(excluded_groups) > MAX_EXCLUDED_GROUPS:
        return Enforcement(error=f"{CA_POLICIES} exclude more than {MAX_EXCLUDED_GROUPS} groups")
    try:
        groups = {group: members(group) for group in excluded_groups}
    except VendorError as exc:
        return Enforcement(error=f"members of a group excluded from MFA refused: {exc.reason}")
    return Enforcement(tuple(policies), held, groups)


def group_members(http: VendorHttp, headers: dict[str, str]) -> GroupMembers:
    """Reads the user ids in a group, nested groups included."""

    def read_members(group_id: str) -> frozenset[str]:
        """The group's transitive user members; VendorError if Graph refuses."""
        if not group_id.replace("-", "").isalnum():
            raise VendorError("group_id_invalid")
        url = f"{GRAPH}/groups/{group_id}/transitiveMembers/microsoft.graph.user?$select=id"
        ids: set[str] = set()
        for page in http.graph_pages(url, headers=headers):
            ids.update(
                row["id"]
                for row in page
                if isinstance(row, dict) and isinstance(row.get("id"), str)
            )
        return frozenset(ids)

    return read_members


def enabled_methods(body: Any | VendorError) -> tuple[str, ...] | str:
    """The method configurations the tenant has switched on, or why they could not be read."""
    if isinstance(body, VendorError):
        return f"{AUTH_METHODS} refused: {body.reason}"
    parsed = parse_row(MethodsPolicy, body)
    if parsed is None or parsed.malformed:
        return f"authenticationMethodConfigurations missing from the {AUTH_METHODS}"
    configurations = parsed.row.authentication_method_configurations
    return tuple(sorted(c.id for c in configurations if c.state == "enabled"))
