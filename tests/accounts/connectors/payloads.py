"""Vendor payloads shaped as Microsoft and Google document them, for respx routes.

Values are invented (a fictional ministry on ``mfa.example``); the field names, nesting, paging
keys and value encodings (the Reports API's int64-as-string ``intValue``) follow the vendors'
reference pages for each endpoint.
"""

from __future__ import annotations

from typing import Any

TENANT = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
CLIENT = "0b9d3a4c-6a1e-4c55-9b3c-2f1b7c0e9d11"
GRAPH_SECRET = "gR4ph~Cl1ent.Secret-CANARY-7f3a9"
DOMAIN = "mfa.example"
ADMIN_SUBJECT = f"it.admin@{DOMAIN}"
CUSTOMER = "C03az79cb"

AMBASSADOR = "a1a1a1a1-0000-4000-8000-000000000001"
PRESS = "b2b2b2b2-0000-4000-8000-000000000002"
CLERK = "c3c3c3c3-0000-4000-8000-000000000003"
GUEST = "d4d4d4d4-0000-4000-8000-000000000004"
GLOBAL_ADMIN_ROLE = "62e90394-69f5-4237-9190-012177145e10"
SCHEDULER_SP = "e5e5e5e5-0000-4000-8000-000000000005"
GRAPH_RESOURCE_SP = "f6f6f6f6-0000-4000-8000-000000000006"


def graph_error(
    code: str, message: str = "Insufficient privileges to complete the operation."
) -> dict[str, Any]:
    """A Graph error body."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2026-01-15T09:00:00",
                "request-id": "4f0d-aa",
                "client-request-id": "4f0d-aa",
            },
        }
    }


def graph_token() -> dict[str, Any]:
    """The Microsoft identity platform's client-credentials answer."""
    return {
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": "eyJ0eXAiOiJKV1Qi.graph.token",
    }


def registration(
    user_id: str,
    upn: str,
    *,
    mfa: Any = True,
    methods: list[str] | None = None,
    admin: bool = False,
    user_type: str = "member",
    updated: str = "2026-01-14T06:30:00Z",
) -> dict[str, Any]:
    """One ``userRegistrationDetails`` row."""
    return {
        "id": user_id,
        "userPrincipalName": upn,
        "userDisplayName": upn.split("@")[0].replace(".", " ").title(),
        "userType": user_type,
        "isAdmin": admin,
        "isSsprRegistered": True,
        "isSsprEnabled": True,
        "isSsprCapable": True,
        "isMfaRegistered": mfa,
        "isMfaCapable": mfa is True,
        "isPasswordlessCapable": False,
        "methodsRegistered": methods if methods is not None else ["microsoftAuthenticatorPush"],
        "isSystemPreferredAuthenticationMethodEnabled": False,
        "systemPreferredAuthenticationMethods": [],
        "userPreferredMethodForSecondaryAuthentication": "push",
        "lastUpdatedDateTime": updated,
    }


def graph_user(
    user_id: str,
    upn: str,
    *,
    enabled: bool = True,
    last_success: str | None = "2026-01-13T17:45:12.1234567Z",
    user_type: str = "Member",
) -> dict[str, Any]:
    """One ``/users`` row with ``signInActivity`` selected."""
    row: dict[str, Any] = {
        "id": user_id,
        "userPrincipalName": upn,
        "displayName": upn.split("@")[0].replace(".", " ").title(),
        "accountEnabled": enabled,
        "userType": user_type,
    }
    if last_success is not None:
        row["signInActivity"] = {
            "lastSignInDateTime": "2026-01-14T08:00:00Z",
            "lastSignInRequestId": "req-1",
            "lastNonInteractiveSignInDateTime": "2026-01-14T08:05:00Z",
            "lastNonInteractiveSignInRequestId": "req-2",
            "lastSuccessfulSignInDateTime": last_success,
            "lastSuccessfulSignInRequestId": "req-3",
        }
    return row


def role_assignment(principal_id: str, upn: str, role: str = GLOBAL_ADMIN_ROLE) -> dict[str, Any]:
    """One ``roleAssignments`` row with ``$expand=principal``."""
    return {
        "id": f"lAPpYvVpN0KRkAEhdxReE-{principal_id[:8]}",
        "principalId": principal_id,
        "directoryScopeId": "/",
        "roleDefinitionId": role,
        "principal": {
            "@odata.type": "#microsoft.graph.user",
            "id": principal_id,
            "displayName": upn.split("@")[0].title(),
            "userPrincipalName": upn,
        },
    }


def permission_grant(
    grant_id: str, consent: str, principal: str | None, scope: str
) -> dict[str, Any]:
    """One ``oauth2PermissionGrants`` row."""
    return {
        "clientId": SCHEDULER_SP,
        "consentType": consent,
        "id": grant_id,
        "principalId": principal,
        "resourceId": GRAPH_RESOURCE_SP,
        "scope": scope,
    }


def service_principal() -> dict[str, Any]:
    """The service principal a grant's clientId names."""
    return {
        "id": SCHEDULER_SP,
        "displayName": "SocialScheduler Pro",
        "publisherName": "Scheduler Ltd",
    }


def graph_page(
    rows: list[dict[str, Any]], next_link: str | None = None, context: str = "users"
) -> dict[str, Any]:
    """A Graph collection page."""
    body: dict[str, Any] = {
        "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{context}",
        "value": rows,
    }
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return body


# -- Google ---------------------------------------------------------------------------------------

G_AMBASSADOR = "103456789012345678901"
G_PRESS = "104567890123456789012"
G_ADMIN = "105678901234567890123"


def google_token() -> dict[str, Any]:
    """oauth2.googleapis.com's answer to a JWT assertion."""
    return {
        "access_token": "ya29.c.google-access-token",
        "expires_in": 3599,
        "token_type": "Bearer",
    }


def google_error(
    code: int, status: str, reason: str, message: str = "Not Authorized to access this resource/api"
) -> dict[str, Any]:
    """A Google API error body."""
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": status,
        }
    }


def directory_user(
    user_id: str,
    email: str,
    *,
    enrolled: Any = True,
    enforced: bool = False,
    admin: bool = False,
    recovery_email: str | None = None,
    recovery_phone: str | None = None,
    last_login: str = "2026-01-12T07:10:00.000Z",
    suspended: bool = False,
) -> dict[str, Any]:
    """One Directory ``users`` row (basic projection)."""
    local = email.split("@")[0]
    row: dict[str, Any] = {
        "kind": "admin#directory#user",
        "id": user_id,
        "etag": '"etag-1"',
        "primaryEmail": email,
        "name": {
            "givenName": local.split(".")[0].title(),
            "familyName": "Doe",
            "fullName": local.replace(".", " ").title(),
        },
        "isAdmin": admin,
        "isDelegatedAdmin": False,
        "lastLoginTime": last_login,
        "creationTime": "2019-03-01T10:00:00.000Z",
        "agreedToTerms": True,
        "suspended": suspended,
        "archived": False,
        "changePasswordAtNextLogin": False,
        "ipWhitelisted": False,
        "emails": [{"address": email, "primary": True}],
        "customerId": CUSTOMER,
        "orgUnitPath": "/",
        "isMailboxSetup": True,
        "isEnrolledIn2Sv": enrolled,
        "isEnforcedIn2Sv": enforced,
        "includeInGlobalAddressList": True,
    }
    if recovery_email is not None:
        row["recoveryEmail"] = recovery_email
    if recovery_phone is not None:
        row["recoveryPhone"] = recovery_phone
    return row


def directory_page(users: list[dict[str, Any]], next_token: str | None = None) -> dict[str, Any]:
    """A Directory ``users.list`` page."""
    body: dict[str, Any] = {"kind": "admin#directory#users", "etag": '"list-etag"', "users": users}
    if next_token is not None:
        body["nextPageToken"] = next_token
    return body


def token_list(*apps: tuple[str, str, list[str]]) -> dict[str, Any]:
    """A ``tokens.list`` answer; an empty list omits ``items`` as the API does."""
    body: dict[str, Any] = {"kind": "admin#directory#tokenList", "etag": '"tokens-etag"'}
    if apps:
        body["items"] = [
            {
                "kind": "admin#directory#token",
                "etag": '"t"',
                "clientId": client_id,
                "displayText": name,
                "anonymous": False,
                "nativeApp": False,
                "userKey": "ignored",
                "scopes": scopes,
            }
            for client_id, name, scopes in apps
        ]
    return body


def usage_row(email: str, day: str, **values: Any) -> dict[str, Any]:
    """One ``usageReports`` row; ints travel as strings, as the Reports API sends int64."""
    parameters = []
    for key, value in values.items():
        name = f"accounts:{key}"
        if isinstance(value, bool):
            parameters.append({"name": name, "boolValue": value})
        elif isinstance(value, int):
            parameters.append({"name": name, "intValue": str(value)})
        else:
            parameters.append({"name": name, "datetimeValue": value})
    return {
        "kind": "admin#reports#usageReport",
        "date": day,
        "etag": '"r"',
        "entity": {"type": "USER", "customerId": CUSTOMER, "userEmail": email, "profileId": "1"},
        "parameters": parameters,
    }


def usage_page(rows: list[dict[str, Any]], next_token: str | None = None) -> dict[str, Any]:
    """A usage report page."""
    body: dict[str, Any] = {
        "kind": "admin#reports#usageReports",
        "etag": '"u"',
        "usageReports": rows,
    }
    if next_token is not None:
        body["nextPageToken"] = next_token
    return body


BREAK_GLASS_GROUP = "0a0a0a0a-0000-4000-8000-00000000000a"
MFA_STRENGTH = "00000000-0000-0000-0000-000000000002"


def ca_policy(
    policy_id: str,
    name: str,
    *,
    state: str = "enabled",
    include_users: list[str] | None = None,
    exclude_users: list[str] | None = None,
    exclude_groups: list[str] | None = None,
    exclude_roles: list[str] | None = None,
    include_applications: list[str] | None = None,
    controls: list[str] | None = None,
    operator: str = "OR",
    strength: str | None = None,
    locations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``conditionalAccessPolicy`` as ``GET /identity/conditionalAccess/policies`` lists it."""
    return {
        "id": policy_id,
        "displayName": name,
        "createdDateTime": "2025-06-02T08:00:00Z",
        "modifiedDateTime": None,
        "state": state,
        "sessionControls": None,
        "conditions": {
            "signInRiskLevels": [],
            "userRiskLevels": [],
            "clientAppTypes": ["all"],
            "platforms": None,
            "locations": locations,
            "applications": {
                "includeApplications": include_applications or ["All"],
                "excludeApplications": [],
                "includeUserActions": [],
            },
            "users": {
                "includeUsers": include_users or ["All"],
                "excludeUsers": exclude_users or [],
                "includeGroups": [],
                "excludeGroups": exclude_groups or [],
                "includeRoles": [],
                "excludeRoles": exclude_roles or [],
            },
        },
        "grantControls": {
            "operator": operator,
            "builtInControls": ["mfa"] if controls is None else controls,
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength": None
            if strength is None
            else {"id": strength, "displayName": "Multifactor authentication"},
        },
    }


def directory_members(*user_ids: str) -> list[dict[str, Any]]:
    """Users as ``/groups/{id}/transitiveMembers/microsoft.graph.user`` lists them."""
    return [
        {"@odata.type": "#microsoft.graph.user", "id": user_id, "displayName": None}
        for user_id in user_ids
    ]


def methods_policy(**states: str) -> dict[str, Any]:
    """``GET /policies/authenticationMethodsPolicy`` with the given configuration states."""
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#authenticationMethodsPolicy",
        "id": "authenticationMethodsPolicy",
        "displayName": "Authentication Methods Policy",
        "lastModifiedDateTime": "2026-01-02T10:47:26.6044384Z",
        "policyVersion": "1.5",
        "registrationEnforcement": {
            "authenticationMethodsRegistrationCampaign": {
                "snoozeDurationInDays": 1,
                "state": "default",
                "excludeTargets": [],
                "includeTargets": [
                    {
                        "id": "all_users",
                        "targetType": "group",
                        "targetedAuthenticationMethod": "microsoftAuthenticator",
                    }
                ],
            }
        },
        "authenticationMethodConfigurations": [
            {
                "@odata.type": f"#microsoft.graph.{method[0].lower()}{method[1:]}"
                "AuthenticationMethodConfiguration",
                "id": method,
                "state": state,
                "includeTargets": [{"targetType": "group", "id": "all_users"}],
            }
            for method, state in states.items()
        ],
    }
