"""The events a phone line adds to a session: DTMF key presses, and the errors of a carrier
connection."""

from __future__ import annotations

import attrs

from ..errors import VoiceAgentError
from ..events import Event

__all__ = ["CarrierError", "Dtmf"]

DTMF_DIGITS = frozenset("0123456789*#ABCD")
"""The sixteen DTMF keys (A to D exist on some phones and on test equipment)."""


class CarrierError(VoiceAgentError):
    """A carrier sent something the bridge cannot use (malformed JSON, a missing field, a
    media format other than the one negotiated), or a call-control request failed."""


@attrs.frozen(kw_only=True)
class Dtmf(Event):
    """The caller pressed a key on the phone's keypad.

    Handle it like any other event: ``@agent.on(Dtmf)``. The bridge delivers digits in the
    order they were pressed; the model does not hear them (carriers strip DTMF tones from
    the audio, or send them out of band).

    Attributes:
        digit: The key: ``"0"`` to ``"9"``, ``"*"``, ``"#"``, or ``"A"`` to ``"D"``.
        call_id: The carrier's id of the call (Twilio's ``CallSid``, ACS's call connection id).
        carrier: ``"twilio"`` or ``"acs"``.
    """

    digit: str
    call_id: str
    carrier: str
