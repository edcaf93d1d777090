"""Where a program connects: Azure AI Voice Live when it is configured, else the emulator."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

from .._connect import ENDPOINT_VARIABLES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._script import Script

__all__ = ["azure_endpoint", "service"]


def azure_endpoint() -> str | None:
    """The Voice Live endpoint the environment configures, if any.

    Returns:
        The value of ``AZURE_VOICELIVE_ENDPOINT``, else of
        ``AZURE_COGNITIVE_SERVICES_ENDPOINT``, else None.
    """
    for name in ENDPOINT_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@contextlib.asynccontextmanager
async def service(
    script: Script | None = None,
    *,
    emulator: bool | None = None,
    speed: float | None = None,
    entra_id: bool = False,
) -> AsyncIterator[dict[str, Any]]:
    """Pick the service a session talks to, and run the emulator while it is needed.

    Use it as ``async with service(SCRIPT) as where: await agent.run(..., **where)``: the
    same program then talks to Azure where it is configured and runs offline elsewhere (the
    examples do this). It writes one line to stderr saying which service it picked.

    Args:
        script: What the emulator's model hears and says (unused with Azure).
        emulator: True: the emulator. False: Azure; the session resolves the endpoint and
            the credential from the environment as usual (an API key from
            ``AZURE_VOICELIVE_API_KEY``, else Microsoft Entra ID). None: Azure when
            :func:`azure_endpoint` finds an endpoint, else the emulator.
        speed: The emulator's pacing of the agent's audio: 1.0 is real time, None as fast
            as possible.
        entra_id: Use the emulator's Microsoft Entra ID credential (a bearer token, as
            Foundry agents need) instead of its key.

    Yields:
        Keyword arguments for ``Agent.run`` or ``Agent.session``: the emulator's endpoint
        and credential, or nothing for Azure.
    """
    if emulator is None:
        emulator = azure_endpoint() is None
    if not emulator:
        where = azure_endpoint() or "(no endpoint set)"
        print(f"voiceagent: talking to Azure AI Voice Live at {where}", file=sys.stderr)
        yield {}
        return
    from ._emulator import Emulator

    async with Emulator(script=script, speed=speed) as emu:
        print(
            f"voiceagent: talking to the Voice Live emulator at {emu.endpoint} "
            f"(set {ENDPOINT_VARIABLES[0]} to talk to Azure)",
            file=sys.stderr,
        )
        credential = emu.token_credential if entra_id else emu.credential
        yield {"endpoint": emu.endpoint, "credential": credential}
