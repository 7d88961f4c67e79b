"""A Microsoft Graph tenant behind respx: the token endpoint and every read, each overridable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

from secops.accounts.connectors import graph, graph_policies
from tests.accounts.connectors import payloads as p

REGISTRATION_PAGE_2 = f"{graph.REGISTRATION_URL}?$skiptoken=page-2"
USERS_PAGE_2 = f"{graph.GRAPH}/users?$select=id&$skiptoken=users-2"
BREAK_GLASS_MEMBERS = (
    f"{graph.GRAPH}/groups/{p.BREAK_GLASS_GROUP}/transitiveMembers/microsoft.graph.user?$select=id"
)


def default_registrations() -> list[list[dict[str, Any]]]:
    """Two pages: an ambassador on SMS only, a press officer with a key, a clerk with a
    method nobody has heard of; and a guest."""
    return [
        [
            p.registration(
                p.AMBASSADOR, "Ambassador@MFA.example", methods=["mobilePhone"], admin=True
            ),
            p.registration(
                p.PRESS,
                "press.officer@mfa.example",
                methods=["fido2", "microsoftAuthenticatorPush"],
            ),
        ],
        [
            p.registration(p.CLERK, "clerk@mfa.example", methods=["quantumTelepathyToken"]),
            p.registration(p.GUEST, "partner_gmail.com#EXT#@mfa.example", user_type="guest"),
        ],
    ]


def default_users() -> list[list[dict[str, Any]]]:
    """Two pages of users; the clerk has no signInActivity, no displayName, no accountEnabled."""
    clerk = {"id": p.CLERK, "userPrincipalName": "clerk@mfa.example"}
    return [
        [
            p.graph_user(p.AMBASSADOR, "Ambassador@MFA.example"),
            p.graph_user(p.PRESS, "press.officer@mfa.example"),
        ],
        [clerk, p.graph_user(p.GUEST, "partner_gmail.com#EXT#@mfa.example", user_type="Guest")],
    ]


@dataclass
class GraphTenant:
    """What each Graph endpoint answers; set a field to an ``httpx.Response`` to override."""

    registrations: list[list[dict[str, Any]]] | httpx.Response = field(
        default_factory=default_registrations
    )
    users: list[list[dict[str, Any]]] | httpx.Response = field(default_factory=default_users)
    roles: list[dict[str, Any]] | httpx.Response = field(
        default_factory=lambda: [p.role_assignment(p.AMBASSADOR, "Ambassador@MFA.example")]
    )
    grants: list[dict[str, Any]] | httpx.Response = field(
        default_factory=lambda: [
            p.permission_grant("grant-all", "AllPrincipals", None, "User.Read Mail.Read"),
            p.permission_grant("grant-press", "Principal", p.PRESS, "Mail.Send offline_access"),
        ]
    )
    # One policy requires MFA of everyone but the break-glass group (the clerk is in it).
    policies: list[dict[str, Any]] | httpx.Response = field(
        default_factory=lambda: [
            p.ca_policy(
                "9c1e3b2a-0000-4000-8000-0000000000c1",
                "Require MFA for all users",
                exclude_groups=[p.BREAK_GLASS_GROUP],
            )
        ]
    )
    break_glass: list[dict[str, Any]] | httpx.Response = field(
        default_factory=lambda: p.directory_members(p.CLERK)
    )
    methods: dict[str, Any] | httpx.Response = field(
        default_factory=lambda: p.methods_policy(
            Fido2="enabled", MicrosoftAuthenticator="enabled", Sms="enabled", Email="disabled"
        )
    )
    token: httpx.Response = field(default_factory=lambda: httpx.Response(200, json=p.graph_token()))

    def mount(self, router: respx.MockRouter) -> dict[str, respx.Route]:
        """Register the routes; returns them by name for call assertions."""
        return {
            "token": router.post(graph.token_url(p.TENANT)).mock(return_value=self.token),
            "registrations": _paged(
                router, graph.REGISTRATION_URL, REGISTRATION_PAGE_2, self.registrations
            ),
            "users": _paged(router, graph.USERS_URL, USERS_PAGE_2, self.users),
            "roles": _single(router, graph.ROLES_URL, self.roles),
            "grants": _single(router, graph.GRANTS_URL, self.grants),
            "apps": router.get(url__startswith=f"{graph.GRAPH}/servicePrincipals/").respond(
                200, json=p.service_principal()
            ),
            "policies": _single(router, graph_policies.CA_POLICIES_URL, self.policies),
            "break_glass": _single(router, BREAK_GLASS_MEMBERS, self.break_glass),
            "methods": router.get(graph_policies.AUTH_METHODS_URL).mock(
                return_value=self.methods
                if isinstance(self.methods, httpx.Response)
                else httpx.Response(200, json=self.methods)
            ),
        }


def _single(
    router: respx.MockRouter, url: str, rows: list[dict[str, Any]] | httpx.Response
) -> respx.Route:
    response = (
        rows if isinstance(rows, httpx.Response) else httpx.Response(200, json=p.graph_page(rows))
    )
    return router.get(url).mock(return_value=response)


def _paged(
    router: respx.MockRouter,
    first: str,
    second: str,
    pages: list[list[dict[str, Any]]] | httpx.Response,
) -> respx.Route:
    if isinstance(pages, httpx.Response):
        return router.get(first).mock(return_value=pages)
    router.get(second).respond(200, json=p.graph_page(pages[1]))
    return router.get(first).respond(200, json=p.graph_page(pages[0], next_link=second))


def denied() -> httpx.Response:
    """A 403 as Graph sends it when the app lacks the permission."""
    return httpx.Response(403, json=p.graph_error("Authorization_RequestDenied"))


def credentials() -> graph.GraphCredentials:
    """The test app's client credentials."""
    return graph.GraphCredentials(p.TENANT, p.CLIENT, p.GRAPH_SECRET)
