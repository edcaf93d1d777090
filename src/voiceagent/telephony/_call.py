"""``PhoneCall``: one call on a carrier bridge, as tools and handlers see it."""

from __future__ import annotations

import enum
import logging
import weakref
from typing import TYPE_CHECKING, Any

import attrs

from .._tools import ToolContext, register_injectable
from ._events import CarrierError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .._session import AgentSession

__all__ = ["SCOPE_KEY", "CallEnding", "PhoneCall", "call_of"]

SCOPE_KEY = "voiceagent.phone_call"
"""Where a bridge keeps the :class:`PhoneCall` in its connection's ASGI scope."""

log = logging.getLogger("voiceagent.telephony")


class CallEnding(enum.Enum):
    """What the bridge does with the call once the conversation ends."""

    HANG_UP = "hang_up"
    """End the call."""
    TRANSFER = "transfer"
    """Hand the caller to another number (:attr:`PhoneCall.transfer_target`)."""


@attrs.define(eq=False)
class PhoneCall:
    """One phone call bridged to an agent session.

    A tool gets it by declaring a parameter annotated ``PhoneCall`` (it is injected, not
    asked of the model)::

        @tool
        async def transfer_to_billing(self, call: PhoneCall) -> str:
            \"\"\"Put the caller through to the billing team.\"\"\"
            await call.transfer("+15550100200")
            return "Transferring you now."

    :meth:`hang_up` and :meth:`transfer` let the agent finish what it is saying (the
    conversation ends once its answer has played), then act through the carrier: on
    Twilio, the stream closes and the ``<Connect>`` action answers ``<Hangup/>`` or
    ``<Dial>``; on ACS, Call Automation hangs up or transfers the call.

    Attributes:
        carrier: ``"twilio"`` or ``"acs"``.
        call_id: Twilio's ``CallSid`` or ACS's call connection id.
        stream_id: Twilio's ``streamSid`` or ACS's media subscription id.
        caller: The caller's number or identity, when the carrier said.
        callee: The number called, when the carrier said.
        parameters: Twilio's ``<Stream>`` custom parameters; ACS's correlation id.
    """

    carrier: str
    call_id: str
    stream_id: str = ""
    caller: str | None = None
    callee: str | None = None
    parameters: dict[str, str] = attrs.field(factory=dict, repr=False)
    ending: CallEnding | None = None
    """What happens once the conversation ends (None: the caller hung up, or the session
    ended by itself, and the call ends with it)."""
    transfer_target: str | None = None
    caller_hung_up: bool = False
    """Whether the caller ended the call (Twilio ``stop`` or the socket closing)."""
    session: AgentSession | None = attrs.field(default=None, repr=False)
    _can_transfer: bool = attrs.field(default=True, repr=False, alias="can_transfer")
    _on_end: Callable[[], Awaitable[None]] | None = attrs.field(
        default=None, repr=False, alias="on_end"
    )

    @classmethod
    def of(cls, conversation: Any) -> PhoneCall | None:
        """The call a ``voiceagent.serve`` conversation carries, or None.

        For an agent factory that picks the agent by the call (the number dialled, a
        Twilio stream parameter)::

            def make_agent(conversation: Conversation) -> Agent:
                call = PhoneCall.of(conversation)
                return SpanishDesk() if call and call.callee == "+34910000000" else Desk()
        """
        scope = getattr(conversation, "scope", None)
        call = scope.get(SCOPE_KEY) if isinstance(scope, dict) else None
        return call if isinstance(call, PhoneCall) else None

    async def hang_up(self) -> None:
        """End the call once the agent has finished speaking."""
        self.ending = CallEnding.HANG_UP
        self._end_session()

    async def transfer(self, target: str) -> None:
        """Transfer the caller to ``target`` once the agent has finished speaking.

        Args:
            target: A phone number in E.164 form (``"+15550100200"``); on Twilio also a SIP
                URI (``"sip:desk@example.com"``); on ACS also a communication user id
                (``"8:acs:..."``).

        Raises:
            CarrierError: The bridge cannot transfer (for example ACS without Call
                Automation configured).
        """
        if not self._can_transfer:
            raise CarrierError(f"this {self.carrier} bridge cannot transfer calls: see its docs")
        if not isinstance(target, str) or not target.strip():
            raise CarrierError(f"a transfer target must be a non-empty string, got {target!r}")
        self.ending = CallEnding.TRANSFER
        self.transfer_target = target.strip()
        self._end_session()

    def _end_session(self) -> None:
        if self.session is not None:
            self.session.end()


_CALLS: weakref.WeakKeyDictionary[Any, PhoneCall] = weakref.WeakKeyDictionary()


def attach(session: AgentSession, call: PhoneCall) -> None:
    """Tie ``call`` to ``session`` so that tools of that session get it injected."""
    call.session = session
    _CALLS[session] = call


def call_of(session: AgentSession) -> PhoneCall:
    """The phone call a session is bridged to.

    Raises:
        CarrierError: The session is not on a phone line.
    """
    try:
        return _CALLS[session]
    except KeyError:
        raise CarrierError("this session is not bridged to a phone call") from None


def _inject(context: ToolContext) -> PhoneCall:
    return call_of(context.session)


register_injectable(PhoneCall, _inject)
