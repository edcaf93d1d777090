"""Phone lines: Twilio and Azure Communication Services calls answered by an agent.

```python
from voiceagent.telephony import AcsBridge, Dtmf, PhoneCall, TwilioBridge

bridge = TwilioBridge()                    # routes: voice webhook, media stream, action
app = create_app(Receptionist, routes=bridge.routes)   # voiceagent.serve
```

Each bridge turns a carrier's media stream into the session's source and sink: Twilio's
μ-law passes through to Voice Live untouched and the played position comes from Twilio's
mark echoes; ACS's PCM is paced in real time with the played position kept on our side.
Barge-in clears the carrier's buffer (Twilio ``clear``, ACS ``StopAudio``), DTMF becomes
:class:`Dtmf` events, and a tool taking a :class:`PhoneCall` can hang up or transfer.
Needs the ``telephony`` extra: ``pip install "voiceagent[telephony]"``.
"""

from ._acs import AcsBridge as AcsBridge
from ._acs_sink import AcsSink as AcsSink
from ._bridge import STOP_CALLER_HUNG_UP as STOP_CALLER_HUNG_UP
from ._bridge import LineBridge as LineBridge
from ._call import SCOPE_KEY as SCOPE_KEY
from ._call import CallEnding as CallEnding
from ._call import PhoneCall as PhoneCall
from ._call import call_of as call_of
from ._events import CarrierError as CarrierError
from ._events import Dtmf as Dtmf
from ._line_sink import LineSink as LineSink
from ._line_source import LineSource as LineSource
from ._marks import MarkLedger as MarkLedger
from ._twilio import TwilioBridge as TwilioBridge
from ._twilio_sink import ULAW_8K as ULAW_8K
from ._twilio_sink import TwilioSink as TwilioSink

__all__ = [
    "SCOPE_KEY",
    "STOP_CALLER_HUNG_UP",
    "ULAW_8K",
    "AcsBridge",
    "AcsSink",
    "CallEnding",
    "CarrierError",
    "Dtmf",
    "LineBridge",
    "LineSink",
    "LineSource",
    "MarkLedger",
    "PhoneCall",
    "TwilioBridge",
    "TwilioSink",
    "call_of",
]
