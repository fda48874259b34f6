"""``GET /v1/models`` and ``GET /v1/models/{model}``: the one model this server serves.

The model's id is the served model's ``name`` (``tiny`` for the built-in model, the GGUF file's
stem otherwise); any other id is a 404 with ``code: "model_not_found"``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from provider.state import ServerState, get_state

router = APIRouter()

OWNED_BY = "oairef"


def model_object(state: ServerState) -> dict[str, Any]:
    """The ``Model`` object of the served model."""
    return {"id": state.model_id, "object": "model", "created": state.created, "owned_by": OWNED_BY}


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """``ListModelsResponse`` with the served model."""
    return {"object": "list", "data": [model_object(get_state(request))]}


@router.get("/models/{model:path}")
async def retrieve_model(model: str, request: Request) -> dict[str, Any]:
    """The served model's ``Model`` object; 404 ``model_not_found`` for any other id."""
    state = get_state(request)
    state.check_model(model)
    return model_object(state)
