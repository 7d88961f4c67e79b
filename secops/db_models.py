"""Imports every domain's tables so the metadata (and Alembic) sees them all."""

from secops.audit import models as audit_models
from secops.auth import models as auth_models
from secops.missions import models as missions_models

__all__ = ["audit_models", "auth_models", "missions_models"]
