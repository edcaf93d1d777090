"""The carriers' messages (sans-IO) and the mark ledger."""

from __future__ import annotations

import base64
import json

import pytest

from voiceagent.telephony import CarrierError, MarkLedger
from voiceagent.telephony._acs_wire import (
    AcsAudio,
    AcsDtmf,
    AcsMetadata,
    audio_message,
    parse_acs,
    stop_audio_message,
)
from voiceagent.telephony._twilio_wire import (
    TwilioConnected,
    TwilioDtmf,
    TwilioMark,
    TwilioMedia,
    TwilioStart,
    TwilioStop,
    clear_message,
    mark_message,
    media_message,
    parse_twilio,
)

START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": "AC123",
        "streamSid": "MZ123",
        "callSid": "CA123",
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"From": "+15550100001"},
    },
    "streamSid": "MZ123",
}


def test_twilio_inbound_messages() -> None:
    assert parse_twilio('{"event":"connected","protocol":"Call","version":"1.0.0"}') == (
        TwilioConnected(protocol="Call", version="1.0.0")
    )
    start = parse_twilio(json.dumps(START))
    assert isinstance(start, TwilioStart)
    assert (start.stream_sid, start.call_sid, start.custom_parameters) == (
        "MZ123",
        "CA123",
        {"From": "+15550100001"},
    )
    assert (start.encoding, start.sample_rate, start.channels) == ("audio/x-mulaw", 8000, 1)
    payload = bytes(range(160))
    media = parse_twilio(
        json.dumps(
            {
                "event": "media",
                "sequenceNumber": "3",
                "media": {
                    "track": "inbound",
                    "chunk": "2",
                    "timestamp": "20",
                    "payload": base64.b64encode(payload).decode(),
                },
                "streamSid": "MZ123",
            }
        )
    )
    assert media == TwilioMedia(track="inbound", chunk=2, timestamp_ms=20, payload=payload)
    assert parse_twilio('{"event":"mark","mark":{"name":"va3"}}') == TwilioMark(name="va3")
    assert parse_twilio('{"event":"dtmf","dtmf":{"track":"inbound_track","digit":"5"}}') == (
        TwilioDtmf(digit="5", track="inbound_track")
    )
    assert parse_twilio('{"event":"stop","stop":{"callSid":"CA123"}}') == TwilioStop(
        call_sid="CA123"
    )
    assert parse_twilio('{"event":"something-new"}') is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "not JSON"),
        ("[1]", "not an object"),
        ('{"event":"media"}', "no 'media' object"),
        ('{"event":"media","media":{"payload":"***"}}', "not base64"),
        ('{"event":"media","media":{"payload":"","chunk":"x"}}', "not a number"),
        ('{"event":"mark","mark":{}}', "'name' must be a string"),
    ],
)
def test_twilio_bad_messages(text: str, match: str) -> None:
    with pytest.raises(CarrierError, match=match):
        parse_twilio(text)


def test_twilio_outbound_messages() -> None:
    assert json.loads(media_message("MZ1", b"\x00\xff")) == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": "AP8="},
    }
    assert json.loads(mark_message("MZ1", "va1")) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": "va1"},
    }
    assert json.loads(clear_message("MZ1")) == {"event": "clear", "streamSid": "MZ1"}


@pytest.mark.parametrize("pascal", [False, True])
def test_acs_inbound_messages_in_either_casing(pascal: bool) -> None:
    def key(name: str) -> str:
        return name[0].upper() + name[1:] if pascal else name

    pcm = bytes(640)
    metadata = {
        key("kind"): "AudioMetadata",
        key("audioMetadata"): {
            key("subscriptionId"): "sub",
            key("encoding"): "PCM",
            key("sampleRate"): 16000,
            key("channels"): 1,
            key("length"): 640,
        },
    }
    assert parse_acs(json.dumps(metadata)) == AcsMetadata(
        subscription_id="sub", encoding="PCM", sample_rate=16000, channels=1, length=640
    )
    audio = {
        key("kind"): "AudioData",
        key("audioData"): {
            key("timestamp"): "2026-01-01T00:00:00Z",
            key("participantRawID"): "4:+15550100001",
            key("data"): base64.b64encode(pcm).decode(),
            key("silent"): True,
        },
    }
    assert parse_acs(json.dumps(audio)) == AcsAudio(
        data=pcm, timestamp="2026-01-01T00:00:00Z", participant="4:+15550100001", silent=True
    )
    dtmf = {key("kind"): "DtmfData", key("dtmfData"): {key("data"): "#"}}
    assert parse_acs(json.dumps(dtmf)) == AcsDtmf(digit="#", participant="")
    assert parse_acs(json.dumps({key("kind"): "TranscriptionData"})) is None


def test_acs_outbound_messages() -> None:
    assert json.loads(audio_message(b"\x01\x00")) == {
        "kind": "AudioData",
        "audioData": {"data": "AQA="},
    }
    assert json.loads(stop_audio_message()) == {"kind": "StopAudio", "stopAudio": {}}
    with pytest.raises(CarrierError, match="not JSON"):
        parse_acs("{")


def test_ledger_position_is_the_last_echoed_mark_before_a_clear() -> None:
    ledger = MarkLedger()
    names = [ledger.add(160) for _ in range(5)]
    assert (ledger.played, ledger.sent, ledger.pending) == (0, 800, 5)
    assert ledger.echo(names[0])
    assert ledger.echo(names[2])  # settles names[1] too
    assert (ledger.played, ledger.pending, ledger.acknowledged) == (480, 2, 3)
    ledger.clear()
    assert (ledger.sent, ledger.pending, ledger.awaiting_cleared) == (480, 0, 2)
    assert not ledger.echo(names[3])  # Twilio echoes cleared marks: they did not play
    assert not ledger.echo(names[4])
    assert ledger.played == 480
    after = ledger.add(160)
    assert ledger.echo(after)
    assert ledger.played == 640  # counted from where playback stopped
    assert not ledger.echo("unknown")
    assert ledger.ignored == 3
