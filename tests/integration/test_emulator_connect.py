"""Handshake, routing and auth: the real SDK's connect() against the emulator."""

from __future__ import annotations

import datetime

import aiohttp
import pytest
from azure.ai.voicelive.aio import ConnectionError as VoiceLiveConnectionError
from azure.ai.voicelive.aio import connect
from azure.ai.voicelive.models import ServerEventSessionCreated, ServerVad
from azure.core.credentials import AzureKeyCredential

from voiceagent.errors import EmulatorError
from voiceagent.testing import Emulator

from ..helpers import is_a, type_of


async def test_session_created_is_the_first_event_with_realistic_defaults(
    emulator: Emulator,
) -> None:
    async with connect(
        endpoint=emulator.endpoint, credential=emulator.credential, model="gpt-realtime"
    ) as conn:
        event = await conn.recv()
    event = is_a(event, ServerEventSessionCreated)
    session = event.session
    assert session.id.startswith("sess_")
    assert len(session.id) == 27
    assert session.model == "gpt-realtime"
    assert isinstance(session.expires_at, datetime.datetime)
    assert session.expires_at > datetime.datetime.now(datetime.UTC)
    assert session.modalities == ["text", "audio"]
    assert session.input_audio_format == "pcm16"
    assert session.output_audio_format == "pcm16"
    assert session.input_audio_sampling_rate == 24000
    assert isinstance(session.turn_detection, ServerVad)
    assert session.turn_detection.threshold == 0.5
    assert session.turn_detection.silence_duration_ms == 500
    assert session.voice == {"type": "openai", "name": "alloy"}
    assert event.event_id.startswith("event_")
    conn_record = emulator.connections[0]
    assert conn_record.model == "gpt-realtime"
    assert conn_record.api_version == "2026-07-15"
    assert "x-ms-client-sdk" in conn_record.query


@pytest.mark.parametrize("model", ["gpt-4o", "azure-realtime", "agent?aname=a&apn=p", "x"])
async def test_any_model_and_api_version_is_accepted(emulator: Emulator, model: str) -> None:
    async with connect(
        endpoint=emulator.endpoint,
        credential=emulator.credential,
        model=model,
        api_version="2099-01-01-preview",
    ) as conn:
        event = await conn.recv()
    event = is_a(event, ServerEventSessionCreated)
    assert event.session.model == model
    assert emulator.connections[-1].api_version == "2099-01-01-preview"


async def test_model_family_sets_the_default_voice(emulator: Emulator) -> None:
    async with connect(
        endpoint=emulator.endpoint, credential=emulator.credential, model="azure-realtime"
    ) as conn:
        event = await conn.recv()
    event = is_a(event, ServerEventSessionCreated)
    assert event.session.voice == {"type": "azure-realtime-native", "name": "ava"}


async def test_endpoint_with_a_path_prefix_is_served(emulator: Emulator) -> None:
    async with connect(
        endpoint=emulator.endpoint + "/some/prefix/", credential=emulator.credential
    ) as conn:
        event = await conn.recv()
    assert type_of(event) == "session.created"


async def test_wrong_key_is_refused_with_401_before_the_upgrade(emulator: Emulator) -> None:
    with pytest.raises(VoiceLiveConnectionError, match="401"):
        async with connect(
            endpoint=emulator.endpoint, credential=AzureKeyCredential("not-the-key")
        ):
            pass  # pragma: no cover - the connection is refused
    assert emulator.rejected == [(401, "/voice-live/realtime")]
    assert emulator.connections == []


async def test_401_body_is_azure_style_json(emulator: Emulator) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            emulator.endpoint + "/voice-live/realtime",
            headers={"api-key": "wrong"},
        ) as response,
    ):
        assert response.status == 401
        body = await response.json()
    assert body["error"]["code"] == "401"
    assert "invalid subscription key" in body["error"]["message"]
    # The real key never leaks into the refusal.
    assert emulator.api_key not in str(body)


async def test_missing_credentials_are_refused(emulator: Emulator) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(emulator.endpoint + "/voice-live/realtime") as response,
    ):
        assert response.status == 401


async def test_unknown_path_is_404(emulator: Emulator) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            emulator.endpoint + "/openai/realtime", headers={"api-key": emulator.api_key}
        ) as response,
    ):
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "404"
    assert (404, "/openai/realtime") in emulator.rejected


async def test_bearer_token_auth_through_a_token_credential(emulator: Emulator) -> None:
    credential = emulator.token_credential
    async with connect(endpoint=emulator.endpoint, credential=credential) as conn:
        event = await conn.recv()
    assert type_of(event) == "session.created"
    assert credential.scopes_requested == [("https://ai.azure.com/.default",)]
    assert emulator.token not in repr(credential)


async def test_api_key_in_the_query_string_is_accepted(emulator: Emulator) -> None:
    # Browser clients cannot set headers; the service takes the key as a query parameter.
    url = emulator.endpoint.replace("http", "ws") + "/voice-live/realtime"
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, params={"api-key": emulator.api_key}) as ws,
    ):
        first = await ws.receive_json()
    assert first["type"] == "session.created"


async def test_plain_http_get_on_the_realtime_path_is_400(emulator: Emulator) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            emulator.endpoint + "/voice-live/realtime", headers={"api-key": emulator.api_key}
        ) as response,
    ):
        assert response.status == 400


async def test_endpoint_before_start_is_a_clear_error() -> None:
    emu = Emulator()
    with pytest.raises(EmulatorError, match="not running"):
        _ = emu.endpoint


async def test_invalid_constructor_arguments() -> None:
    with pytest.raises(EmulatorError, match="speed"):
        Emulator(speed=0)
    with pytest.raises(EmulatorError, match="audio_chunk_ms"):
        Emulator(audio_chunk_ms=1)


async def test_port_in_use_is_a_clear_error(emulator: Emulator) -> None:
    with pytest.raises(EmulatorError, match="cannot listen"):
        async with Emulator(port=emulator.port):
            pass  # pragma: no cover


async def test_close_ends_client_iteration_quietly() -> None:
    async with Emulator(speed=None) as emu:
        conn_cm = connect(endpoint=emu.endpoint, credential=emu.credential)
        conn = await conn_cm.__aenter__()
        await conn.recv()
    seen = [event async for event in conn]
    assert seen == []
    await conn_cm.__aexit__(None, None, None)
