"""HTTP routes for users' grants and API keys."""

from fastapi import APIRouter

router = APIRouter()
