"""Audio in and out: formats, conversion, files, memory buffers and devices.

```python
from voiceagent.audio import AudioFormat, WavFileSource, converted, wire_format_for

source = WavFileSource("call.wav")                  # any 16-bit PCM or G.711 WAV
wire = wire_format_for(source.format)               # what the session sends
async for frame in converted(source, wire):         # 20 ms frames in the wire format
    ...
```

Sources (:class:`AudioSource`) and sinks (:class:`AudioSink`) are protocols: any object
with the right members plugs in. Conversion between any formats (rates, channels,
G.711) is part of the base install; :class:`Microphone` and :class:`Speaker` need the
``audio`` extra (``pip install "voiceagent[audio]"``) and PortAudio.
"""

from ._convert import Converter as Converter
from ._convert import FrameStream as FrameStream
from ._convert import Reframer as Reframer
from ._convert import converted as converted
from ._device import DeviceInfo as DeviceInfo
from ._device import Microphone as Microphone
from ._device import Speaker as Speaker
from ._device import list_devices as list_devices
from ._format import AudioFormat as AudioFormat
from ._format import Encoding as Encoding
from ._format import wire_format_for as wire_format_for
from ._memory import MemorySink as MemorySink
from ._memory import MemorySource as MemorySource
from ._memory import NullSink as NullSink
from ._memory import SilenceSource as SilenceSource
from ._memory import SinkWrite as SinkWrite
from ._protocols import AudioSink as AudioSink
from ._protocols import AudioSinkBase as AudioSinkBase
from ._protocols import AudioSource as AudioSource
from ._protocols import AudioSourceBase as AudioSourceBase
from ._protocols import InputRecordingSink as InputRecordingSink
from ._protocols import NonBlockingSink as NonBlockingSink
from ._protocols import PausableSink as PausableSink
from ._protocols import PositionReportingSink as PositionReportingSink
from ._wav import WavFileSink as WavFileSink
from ._wav import WavFileSource as WavFileSource
from ._wav import WavInfo as WavInfo
from ._wav import read_wav_info as read_wav_info

__all__ = [
    "AudioFormat",
    "AudioSink",
    "AudioSinkBase",
    "AudioSource",
    "AudioSourceBase",
    "Converter",
    "DeviceInfo",
    "Encoding",
    "FrameStream",
    "InputRecordingSink",
    "MemorySink",
    "MemorySource",
    "Microphone",
    "NonBlockingSink",
    "NullSink",
    "PausableSink",
    "PositionReportingSink",
    "Reframer",
    "SilenceSource",
    "SinkWrite",
    "Speaker",
    "WavFileSink",
    "WavFileSource",
    "WavInfo",
    "converted",
    "list_devices",
    "read_wav_info",
    "wire_format_for",
]
