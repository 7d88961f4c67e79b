"""HTTP routes for the account inventory."""

from fastapi import APIRouter

router = APIRouter()
