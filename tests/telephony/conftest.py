"""Serve an app made by ``voiceagent.serve.create_app`` on a real loopback socket."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from voiceagent.serve import running

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 on a free port; yields ``http://127.0.0.1:<port>``."""
    async with running(app) as server:
        yield f"http://127.0.0.1:{server.port}"
