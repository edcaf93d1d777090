"""Where to connect and with what: endpoint and credential resolution, and the one place
where SDK and aiohttp exceptions become voiceagent errors.

Resolution order (first found wins):

- endpoint: the ``endpoint`` argument, ``AZURE_VOICELIVE_ENDPOINT``,
  ``AZURE_COGNITIVE_SERVICES_ENDPOINT``;
- credential: the ``credential`` argument, the ``api_key`` argument,
  ``AZURE_VOICELIVE_API_KEY``, ``AZURE_COGNITIVE_SERVICES_KEY`` (each as an
  ``AzureKeyCredential``), else ``azure.identity.aio.DefaultAzureCredential``, which the
  session owns and closes when it ends.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import attrs
from azure.ai.voicelive.aio import ConnectionClosed, connect
from azure.ai.voicelive.aio import ConnectionError as SdkConnectionError
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError

from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectError,
    ConnectionLostError,
    VoiceAgentError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from azure.ai.voicelive.aio import VoiceLiveConnection
    from azure.core.credentials_async import AsyncTokenCredential

__all__ = [
    "DEFAULT_SCOPE",
    "ENDPOINT_VARIABLES",
    "KEY_VARIABLES",
    "NETWORK_ERRORS",
    "SDK_EOF_REASON",
    "ConnectionSettings",
    "convert_error",
    "open_connection",
    "redact",
]

ENDPOINT_VARIABLES = ("AZURE_VOICELIVE_ENDPOINT", "AZURE_COGNITIVE_SERVICES_ENDPOINT")
KEY_VARIABLES = ("AZURE_VOICELIVE_API_KEY", "AZURE_COGNITIVE_SERVICES_KEY")
DEFAULT_SCOPE = "https://cognitiveservices.azure.com/.default"


def _first_env(names: Iterable[str]) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def resolve_endpoint(endpoint: str | None) -> str:
    """The endpoint to use: the argument, then the environment.

    Raises:
        ConfigurationError: None is set, or the value is not an http(s)/ws(s) URL.
    """
    value = endpoint or _first_env(ENDPOINT_VARIABLES)
    if not value:
        raise ConfigurationError(
            "no Voice Live endpoint: pass endpoint=... or set "
            + " or ".join(ENDPOINT_VARIABLES)
            + " (for example https://<resource>.services.ai.azure.com)"
        )
    if not value.startswith(("http://", "https://", "ws://", "wss://")):
        raise ConfigurationError(
            f"endpoint {value!r} is not a URL: expected https://<resource>.services.ai.azure.com "
            "or another http(s):// or ws(s):// address"
        )
    return value


@attrs.define(kw_only=True, repr=False)
class ConnectionSettings:
    """Resolved connection settings for one session.

    Attributes:
        endpoint: The service endpoint.
        credential: The credential passed to the SDK.
        owns_credential: True when voiceagent created the credential and must close it.
        scope: The token scope for Entra ID credentials.
        model: The model query parameter.
        api_version: The API version query parameter, or None for the SDK's default.
    """

    endpoint: str
    credential: AzureKeyCredential | AsyncTokenCredential
    owns_credential: bool
    scope: str = DEFAULT_SCOPE
    model: str | None = None
    api_version: str | None = None

    @classmethod
    def resolve(
        cls,
        *,
        endpoint: str | None = None,
        credential: AzureKeyCredential | AsyncTokenCredential | None = None,
        api_key: str | None = None,
        scope: str = DEFAULT_SCOPE,
        model: str | None = None,
        api_version: str | None = None,
        entra_id_only: bool = False,
    ) -> ConnectionSettings:
        """Resolve the endpoint and credential from arguments and the environment.

        Args:
            endpoint: The endpoint, or None for the environment's.
            credential: The credential, or None.
            api_key: A key (when ``credential`` is None), or None for the environment's.
            scope: The Entra ID token scope.
            model: The ``model`` query parameter.
            api_version: The API version, or None for the SDK's.
            entra_id_only: Only Microsoft Entra ID will do (Foundry Agent Service): a key
                argument or credential is an error, and the environment's keys are not
                used.

        Raises:
            ConfigurationError: No endpoint, or a malformed one; a key where only Entra ID
                will do.
        """
        url = resolve_endpoint(endpoint)
        owns = False
        if entra_id_only and (isinstance(credential, AzureKeyCredential) or api_key):
            raise ConfigurationError(
                "a Foundry agent (foundry_agent) needs Microsoft Entra ID: pass an async token "
                "credential (for example azure.identity.aio.DefaultAzureCredential()) or none "
                "at all, not an API key"
            )
        if credential is None:
            key = None if entra_id_only else api_key or _first_env(KEY_VARIABLES)
            if key:
                credential = AzureKeyCredential(key)
            else:
                from azure.identity.aio import DefaultAzureCredential

                credential = DefaultAzureCredential()
                owns = True
        return cls(
            endpoint=url,
            credential=credential,
            owns_credential=owns,
            scope=scope,
            model=model,
            api_version=api_version,
        )

    def secrets(self) -> list[str]:
        """The secret strings to scrub from any message (the API key, if one is used)."""
        if isinstance(self.credential, AzureKeyCredential) and self.credential.key:
            return [self.credential.key]
        return []

    async def aclose(self) -> None:
        """Close the credential when voiceagent created it."""
        if self.owns_credential:
            close = getattr(self.credential, "close", None)
            if close is not None:
                await close()

    def __repr__(self) -> str:
        kind = type(self.credential).__name__
        return (
            f"ConnectionSettings(endpoint={self.endpoint!r}, credential={kind}, "
            f"model={self.model!r})"
        )


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _root(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    SdkConnectionError,
    ConnectionClosed,
    aiohttp.ClientError,
    OSError,
    ClientAuthenticationError,
)
"""What the SDK and its transport raise for a network or credential failure."""


SDK_EOF_REASON: Final = "Connection closed"
"""The reason the SDK gives a socket that ended without a close frame (with code 1000; a
close frame's own code comes with an empty reason)."""


def convert_error(
    exc: BaseException, settings: ConnectionSettings, *, opening: bool
) -> VoiceAgentError | None:
    """The voiceagent error for an SDK, aiohttp or azure-identity exception, or None when
    ``exc`` is none of those.

    The result holds no reference to ``exc``: raise it *outside* the ``except`` clause
    that caught ``exc`` (so that its ``__context__`` stays empty), because the SDK's and
    aiohttp's exceptions carry the request headers, which hold the API key or the token.

    Args:
        exc: The exception.
        settings: The connection settings (for the endpoint and the secrets to scrub).
        opening: True while the connection is being opened (failures are ConnectError),
            False once it is open (failures are ConnectionLostError).
    """
    secrets = settings.secrets()
    where = settings.endpoint
    if isinstance(exc, ClientAuthenticationError):
        message = redact(str(exc.message or exc), secrets).splitlines()[0].rstrip(". ")
        return AuthenticationError(
            f"could not get a Microsoft Entra ID token for {where}: {message}; "
            "set AZURE_VOICELIVE_API_KEY to use a key instead, or sign in (az login)"
        )
    if isinstance(exc, ConnectionClosed):
        if exc.code == 1000 and exc.reason == SDK_EOF_REASON:
            # The socket ended with no close frame: aiohttp reports the end of the stream
            # as "closed", with 1000, and the SDK passes that on. It was cut, not closed.
            return ConnectionLostError(
                f"the connection to {where} was cut (it ended without a WebSocket close frame)"
            )
        return ConnectionLostError(f"the connection to {where} closed (code {exc.code})")
    if not isinstance(exc, SdkConnectionError | aiohttp.ClientError | OSError):
        return None
    root = _root(exc)
    if isinstance(root, aiohttp.WSServerHandshakeError | aiohttp.ClientResponseError):
        status = root.status
        if status in (401, 403):
            return AuthenticationError(
                f"Voice Live at {where} refused the credential (HTTP {status}): "
                "check the API key or the identity's role assignment"
            )
        if status == 404:
            return ConnectError(
                f"Voice Live at {where} answered HTTP 404: the endpoint has no "
                "/voice-live/realtime path (is this a Voice Live resource endpoint?)"
            )
        return ConnectError(f"Voice Live at {where} refused the connection (HTTP {status})")
    if opening:
        reason = redact(str(root) or type(root).__name__, secrets)
        return ConnectError(f"could not connect to Voice Live at {where}: {reason}")
    reason = redact(str(exc) or type(exc).__name__, secrets)
    return ConnectionLostError(f"the connection to {where} was lost: {reason}")


@contextlib.asynccontextmanager
async def open_connection(
    settings: ConnectionSettings, **connect_kwargs: Any
) -> AsyncIterator[VoiceLiveConnection]:
    """Open an SDK connection with ``settings``; errors come out as voiceagent errors.

    Args:
        settings: Resolved endpoint and credential.
        **connect_kwargs: Extra keyword arguments for ``azure.ai.voicelive.aio.connect``.
    """
    kwargs: dict[str, Any] = dict(connect_kwargs)
    if settings.model is not None:
        kwargs["model"] = settings.model
    if settings.api_version is not None:
        kwargs["api_version"] = settings.api_version
    manager = connect(
        endpoint=settings.endpoint,
        credential=settings.credential,
        credential_scopes=settings.scope,
        **kwargs,
    )
    error: VoiceAgentError | None = None
    try:
        connection = await manager.__aenter__()
    except NETWORK_ERRORS as exc:
        error = convert_error(exc, settings, opening=True)
        if error is None:
            raise
    if error is not None:
        raise error  # outside the except clause: no chain back to the SDK's exception
    try:
        yield connection
    finally:
        with contextlib.suppress(Exception):
            await manager.__aexit__(None, None, None)
