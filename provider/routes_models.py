"""``GET /v1/models``, ``GET /v1/models/{model}`` and ``DELETE /v1/models/{model}``: the one model this
server serves, under each of its served names.

The model's ids are the server's served names (``--served-model-name``; by default the model's
``name``: ``tiny`` for the built-in model, the GGUF file's stem otherwise); ``/v1/models`` lists one
``Model`` object per name, and any other id is a 404 with ``code: "model_not_found"``.
``DELETE /v1/models/{model}`` deletes a fine-tuned model of one's own; this server has none, so a
served name is a 400 naming ``model`` (it cannot be deleted) and any other id the same 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from provider.errors import APIError
from provider.state import ServerState, get_state

router = APIRouter()

OWNED_BY = "oairef"


def model_object(state: ServerState, name: str) -> dict[str, Any]:
    """The ``Model`` object of the served model under ``name``."""
    return {"id": name, "object": "model", "created": state.created, "owned_by": OWNED_BY}


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """``ListModelsResponse``: the served model under each of its names."""
    state = get_state(request)
    return {"object": "list", "data": [model_object(state, name) for name in state.model_names]}


@router.get("/models/{model:path}")
async def retrieve_model(model: str, request: Request) -> dict[str, Any]:
    """The served model's ``Model`` object; 404 ``model_not_found`` for any other id."""
    state = get_state(request)
    state.check_model(model)
    return model_object(state, model)


@router.delete("/models/{model:path}")
async def delete_model(model: str, request: Request) -> dict[str, Any]:
    """Never deletes: 404 ``model_not_found`` for an unknown id, 400 for the served model."""
    state = get_state(request)
    state.check_model(model)
    raise APIError(400, f"The model `{model}` is the model this server serves, not a fine-tuned model of "
                   "yours; it cannot be deleted.", param="model", code="model_not_deletable")
