"""A Google Workspace behind respx: the token endpoint, Directory users, tokens and the report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import respx

from secops.accounts.connectors import google
from secops.accounts.connectors.google_auth import TOKEN_URL
from tests.accounts.connectors import payloads as p

# FrozenClock starts on 2026-01-15: the report requested is three days earlier.
REPORT_DAY = date(2026, 1, 12)


def default_users() -> list[list[dict[str, Any]]]:
    """Two pages: the ambassador on 2SV with a public-webmail recovery address, a press officer
    with no 2SV, and the super admin."""
    return [
        [
            p.directory_user(
                p.G_AMBASSADOR,
                f"ambassador@{p.DOMAIN}",
                recovery_email="ambassador.private@gmail.example",
                recovery_phone="+33612345678",
            ),
            p.directory_user(p.G_PRESS, f"press@{p.DOMAIN}", enrolled=False),
        ],
        [p.directory_user(p.G_ADMIN, p.ADMIN_SUBJECT, admin=True, enforced=True)],
    ]


def default_report() -> list[list[dict[str, Any]]]:
    """Two pages of the usage report for ``REPORT_DAY``."""
    day = REPORT_DAY.isoformat()
    return [
        [
            p.usage_row(
                f"ambassador@{p.DOMAIN}",
                day,
                is_2sv_enrolled=True,
                num_security_keys=0,
                num_passkeys_enrolled=0,
                last_login_time="2026-01-11T09:00:00.000Z",
            ),
            p.usage_row(f"press@{p.DOMAIN}", day, is_2sv_enrolled=False, num_security_keys=0),
        ],
        [
            p.usage_row(
                p.ADMIN_SUBJECT,
                day,
                is_2sv_enrolled=True,
                num_security_keys=2,
                num_passkeys_enrolled=1,
            )
        ],
    ]


@dataclass
class Workspace:
    """What each Google endpoint answers; set a field to an ``httpx.Response`` to override."""

    users: list[list[dict[str, Any]]] | httpx.Response = field(default_factory=default_users)
    report: list[list[dict[str, Any]]] | httpx.Response = field(default_factory=default_report)
    tokens: dict[str, httpx.Response] = field(default_factory=dict)
    token: httpx.Response = field(
        default_factory=lambda: httpx.Response(200, json=p.google_token())
    )

    def mount(self, router: respx.MockRouter) -> dict[str, respx.Route]:
        """Register the routes; returns them by name."""
        report_url = google.REPORT_URL.format(day=REPORT_DAY.isoformat())
        routes = {
            "token": router.post(TOKEN_URL).mock(return_value=self.token),
            "users": _paged(router, google.USERS_URL, self.users, p.directory_page),
            "report": _paged(router, report_url, self.report, p.usage_page),
        }
        scheduler = (
            "1234-sched.apps.googleusercontent.com",
            "Hootsuite",
            ["https://www.googleapis.com/auth/gmail.send"],
        )
        defaults = {p.G_AMBASSADOR: httpx.Response(200, json=p.token_list(scheduler))}
        for user_id in (p.G_AMBASSADOR, p.G_PRESS, p.G_ADMIN):
            answer = (
                self.tokens.get(user_id)
                or defaults.get(user_id)
                or httpx.Response(200, json=p.token_list())
            )
            routes[f"tokens:{user_id}"] = router.get(f"{google.USERS_URL}/{user_id}/tokens").mock(
                return_value=answer
            )
        return routes


def _paged(router: respx.MockRouter, url: str, pages: Any, page: Any) -> respx.Route:
    """A list endpoint whose pages are chosen by ``pageToken`` (``page-N``), any number of times."""
    route = router.get(url__regex=rf"^{re.escape(url)}\?")
    if isinstance(pages, httpx.Response):
        return route.mock(return_value=pages)

    def answer(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        index = int(token.removeprefix("page-")) if token else 0
        following = f"page-{index + 1}" if index + 1 < len(pages) else None
        return httpx.Response(200, json=page(pages[index], following))

    return route.mock(side_effect=answer)
