"""HTTP routes for missions."""

from fastapi import APIRouter

router = APIRouter()
