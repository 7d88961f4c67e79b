"""Microsoft Graph payloads as the v1.0 reference documents them (only the fields we read).

Identifying fields are required; the fact fields are optional here so that one missing or
malformed field turns that fact into an error (see ``readings.parse_row``) instead of losing
the whole row.
"""

from __future__ import annotations

from typing import Final

from pydantic import AwareDatetime, ConfigDict, Field, StrictBool, StrictStr
from pydantic.alias_generators import to_camel

from secops.accounts.connectors.readings import VendorModel

# Built-in role template ids (Entra ID permissions reference) for the roles an officer expects
# to read by name; any other role is shown by its id.
ROLE_NAMES: Final = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "f28a1f50-f6e7-4571-818b-6a12f2af6b6c": "SharePoint Administrator",
    "69091246-20e8-4a56-aa4d-066075b2a7a8": "Teams Administrator",
    "b0f54661-2d74-4c50-afa3-1ec803f12efe": "Billing Administrator",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
    "5d6b6bb7-de71-4623-b4af-96380a352509": "Security Reader",
}


class GraphModel(VendorModel):
    """Graph's camelCase payloads: unknown fields ignored, known ones type-checked."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, alias_generator=to_camel
    )


class TokenResponse(VendorModel):
    """The Microsoft identity platform's token answer."""

    access_token: StrictStr = Field(min_length=1)


class RegistrationDetail(GraphModel):
    """One row of ``userRegistrationDetails``."""

    id: StrictStr
    user_principal_name: StrictStr
    user_display_name: StrictStr | None = None
    user_type: StrictStr | None = None
    is_admin: StrictBool | None = None
    is_mfa_registered: StrictBool | None = None
    methods_registered: list[StrictStr] | None = None
    last_updated_date_time: AwareDatetime | None = None


class SignInActivity(GraphModel):
    """``signInActivity``: only successful sign-ins count as activity."""

    last_successful_sign_in_date_time: AwareDatetime | None = None


class GraphUser(GraphModel):
    """One row of ``/users`` with the selected properties."""

    id: StrictStr
    user_principal_name: StrictStr
    display_name: StrictStr | None = None
    account_enabled: StrictBool | None = None
    user_type: StrictStr | None = None
    sign_in_activity: SignInActivity | None = None


class DirectoryPrincipal(VendorModel):
    """The expanded principal of a role assignment (user, group or service principal)."""

    odata_type: StrictStr | None = Field(default=None, alias="@odata.type")
    id: StrictStr
    user_principal_name: StrictStr | None = Field(default=None, alias="userPrincipalName")
    display_name: StrictStr | None = Field(default=None, alias="displayName")


class RoleAssignment(GraphModel):
    """One directory role assignment."""

    id: StrictStr
    principal_id: StrictStr
    role_definition_id: StrictStr
    principal: DirectoryPrincipal | None = None


class PermissionGrant(GraphModel):
    """One delegated permission grant (``oauth2PermissionGrant``)."""

    id: StrictStr
    client_id: StrictStr
    consent_type: StrictStr
    principal_id: StrictStr | None = None
    scope: StrictStr | None = None


class ServicePrincipal(GraphModel):
    """The app a grant's ``clientId`` names."""

    id: StrictStr
    display_name: StrictStr | None = None
    publisher_name: StrictStr | None = None
