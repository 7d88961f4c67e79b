"""Imports every domain's tables so the metadata (and Alembic) sees them all."""

from secops.accounts import models as accounts_models
from secops.accounts.connectors import models as connectors_models
from secops.accounts.io import models as inventory_io_models
from secops.audit import models as audit_models
from secops.auth import models as auth_models
from secops.auth.access import models as access_models
from secops.core import jobs as jobs_models
from secops.core import keyring as keyring_models
from secops.core import outbox as outbox_models
from secops.missions import models as missions_models
from secops.policy import models as policy_models
from secops.policy.waivers import models as waivers_models

__all__ = [
    "access_models",
    "accounts_models",
    "audit_models",
    "auth_models",
    "connectors_models",
    "inventory_io_models",
    "jobs_models",
    "keyring_models",
    "missions_models",
    "outbox_models",
    "policy_models",
    "waivers_models",
]
