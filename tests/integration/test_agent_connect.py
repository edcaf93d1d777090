"""Connection and auth: endpoint and key resolution, Entra ID, clear errors, no secrets."""

from __future__ import annotations

import logging
import re
import socket
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
import pytest
import yarl
from azure.ai.voicelive.aio import ConnectionError as SdkConnectionError
from azure.core.exceptions import ClientAuthenticationError
from multidict import CIMultiDict, CIMultiDictProxy

import voiceagent._connect
from voiceagent import Agent
from voiceagent._connect import ConnectionSettings, convert_error, redact
from voiceagent.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectError,
    VoiceAgentError,
)
from voiceagent.testing import Emulator, EmulatorTokenCredential

from ..helpers import agent_transcripts, secret_paths

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken

ENV = (
    "AZURE_VOICELIVE_ENDPOINT",
    "AZURE_COGNITIVE_SERVICES_ENDPOINT",
    "AZURE_VOICELIVE_API_KEY",
    "AZURE_COGNITIVE_SERVICES_KEY",
)
SECRET = "sk-very-secret-key-1234567890"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def text_agent() -> Agent:
    return Agent(modalities=["text"])


async def test_missing_endpoint_names_the_variables() -> None:
    with pytest.raises(ConfigurationError) as info:
        async with text_agent().session():
            pass
    message = str(info.value)
    assert "AZURE_VOICELIVE_ENDPOINT" in message
    assert "AZURE_COGNITIVE_SERVICES_ENDPOINT" in message


async def test_malformed_endpoint_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a URL"):
        async with text_agent().session(endpoint="my-resource.azure.com", api_key="k"):
            pass


@pytest.mark.parametrize(
    ("endpoint_var", "key_var"),
    [
        ("AZURE_VOICELIVE_ENDPOINT", "AZURE_VOICELIVE_API_KEY"),
        ("AZURE_COGNITIVE_SERVICES_ENDPOINT", "AZURE_COGNITIVE_SERVICES_KEY"),
    ],
)
async def test_endpoint_and_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, endpoint_var: str, key_var: str
) -> None:
    async with Emulator(speed=None) as emu:
        monkeypatch.setenv(endpoint_var, emu.endpoint)
        monkeypatch.setenv(key_var, emu.api_key)
        async with text_agent().session() as session:
            assert session.session_id
        assert emu.connections[0].query.get("model") == "gpt-realtime"


async def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with Emulator(speed=None) as emu:
        monkeypatch.setenv("AZURE_VOICELIVE_ENDPOINT", "http://127.0.0.1:9")
        monkeypatch.setenv("AZURE_VOICELIVE_API_KEY", "wrong")
        async with text_agent().session(endpoint=emu.endpoint, api_key=emu.api_key) as session:
            assert session.session_id


async def test_voicelive_variables_win_over_cognitive_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Emulator(speed=None) as emu:
        monkeypatch.setenv("AZURE_VOICELIVE_ENDPOINT", emu.endpoint)
        monkeypatch.setenv("AZURE_COGNITIVE_SERVICES_ENDPOINT", "http://127.0.0.1:9")
        monkeypatch.setenv("AZURE_VOICELIVE_API_KEY", emu.api_key)
        monkeypatch.setenv("AZURE_COGNITIVE_SERVICES_KEY", "wrong")
        async with text_agent().session():
            pass


async def test_wrong_key_is_an_authentication_error_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with Emulator(speed=None) as emu:
        with pytest.raises(AuthenticationError) as info:
            async with text_agent().session(endpoint=emu.endpoint, api_key=SECRET):
                pass
    assert "401" in str(info.value)
    assert secret_paths(info.value, SECRET) == []
    assert SECRET not in caplog.text


async def test_a_refused_token_is_not_reachable_from_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The SDK's error chain ends in aiohttp's handshake error, whose request info holds
    # the Authorization header: nothing of it may be reachable from ours.
    caplog.set_level(logging.DEBUG)
    token = "eyJ-secret-entra-token-0123456789"
    async with Emulator(speed=None) as emu:
        with pytest.raises(AuthenticationError) as info:
            async with text_agent().session(
                endpoint=emu.endpoint, credential=EmulatorTokenCredential(token)
            ):
                pass
    assert secret_paths(info.value, token) == []
    assert info.value.__context__ is None
    assert token not in caplog.text


async def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectError, match="could not connect") as info:
        async with text_agent().session(endpoint=f"http://127.0.0.1:{port}", api_key=SECRET):
            pass
    assert not isinstance(info.value, AuthenticationError)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("status", "error", "match"),
    [
        (401, AuthenticationError, "HTTP 401"),
        (403, AuthenticationError, "HTTP 403"),
        (404, ConnectError, "404"),
        (503, ConnectError, "HTTP 503"),
    ],
)
def test_handshake_statuses_map_to_clear_errors(
    status: int, error: type[VoiceAgentError], match: str
) -> None:
    settings = ConnectionSettings.resolve(endpoint="https://x.example", api_key=SECRET)
    handshake = aiohttp.WSServerHandshakeError(
        aiohttp.RequestInfo(yarl.URL("https://x.example"), "GET", CIMultiDictProxy(CIMultiDict())),
        (),
        status=status,
        message=f"Invalid response status {SECRET}",
    )
    try:
        raise SdkConnectionError("Failed to establish WebSocket connection") from handshake
    except SdkConnectionError as exc:
        converted = convert_error(exc, settings, opening=True)
    assert isinstance(converted, error)
    assert re.search(match, str(converted))
    assert secret_paths(converted, SECRET) == []


async def test_token_credential_uses_the_scope_and_is_not_closed_when_given() -> None:
    async with Emulator(speed=None) as emu:
        credential = emu.token_credential
        async with text_agent().session(endpoint=emu.endpoint, credential=credential):
            pass
        assert credential.scopes_requested == [("https://cognitiveservices.azure.com/.default",)]
        assert not credential.closed
        async with text_agent().session(
            endpoint=emu.endpoint, credential=credential, scope="api://custom/.default"
        ):
            pass
        assert credential.scopes_requested[-1] == ("api://custom/.default",)


class _OwnedCredential(EmulatorTokenCredential):
    """Stands in for DefaultAzureCredential (which needs a real Entra ID sign-in)."""

    instances: ClassVar[list[_OwnedCredential]] = []

    def __init__(self, token: str | None = None) -> None:
        super().__init__(token or "")
        self.fails = token is None
        _OwnedCredential.instances.append(self)

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if self.fails:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")
        return await super().get_token(*scopes, **kwargs)


async def test_without_a_key_default_credential_is_used_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Emulator(speed=None) as emu:
        token = emu.token_credential._token
        monkeypatch.setattr(
            "azure.identity.aio.DefaultAzureCredential", lambda: _OwnedCredential(token)
        )
        async with text_agent().session(endpoint=emu.endpoint) as session:
            assert session.session_id
        owned = _OwnedCredential.instances[-1]
        assert owned.closed


async def test_entra_failure_is_an_authentication_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async with Emulator(speed=None) as emu:
        monkeypatch.setattr("azure.identity.aio.DefaultAzureCredential", _OwnedCredential)
        with pytest.raises(AuthenticationError, match="Entra ID"):
            async with text_agent().session(endpoint=emu.endpoint):
                pass
        assert _OwnedCredential.instances[-1].closed


def test_settings_repr_and_redaction_hide_the_key() -> None:
    settings = ConnectionSettings.resolve(endpoint="https://x.example", api_key=SECRET)
    assert SECRET not in repr(settings)
    assert redact(f"bad key {SECRET}!", settings.secrets()) == "bad key ***!"


async def test_a_whole_session_never_shows_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with Emulator(speed=None, api_key=SECRET) as emu:
        agent = text_agent()
        async with agent.session(endpoint=emu.endpoint, api_key=SECRET) as session:
            async with agent_transcripts(session, 1):
                await session.send_text("hello")
            shown = [repr(session), repr(agent), str(session.result())]
    assert all(SECRET not in text for text in shown)
    assert SECRET not in caplog.text
    assert caplog.text  # the run did log (debug) something


def test_errors_share_one_root() -> None:
    for error in (ConfigurationError, ConnectError, AuthenticationError):
        assert issubclass(error, VoiceAgentError)
    assert voiceagent._connect.DEFAULT_SCOPE.endswith("/.default")
