"""Base classes of the generated resources (``client.chat.completions`` and the like)."""

from __future__ import annotations

from ._base_client import AsyncAPIClient, SyncAPIClient


class SyncAPIResource:
    """A resource of the sync client: its methods send through ``self._client``."""

    def __init__(self, client: SyncAPIClient) -> None:
        self._client = client


class AsyncAPIResource:
    """A resource of the async client: its methods send through ``self._client``."""

    def __init__(self, client: AsyncAPIClient) -> None:
        self._client = client
