"""HTTP routes for auth."""

from fastapi import APIRouter

router = APIRouter()
