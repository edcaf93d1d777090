"""A talking avatar: avatar and animation options, with visemes and blendshapes as events.

Voice Live can render the agent as a video avatar, streamed to a browser over WebRTC
(the page sends its SDP offer with ``session.avatar.connect``), and it can stream
animation data with the audio: visemes (mouth shapes, with their time in the audio) and
blendshapes (frames of facial weights) to drive a face in your own 3D or 2D renderer.
This example configures both and shows the animation data as it arrives. Run it::

    python examples/avatar.py             # Azure if AZURE_VOICELIVE_ENDPOINT is set,
                                          # else the offline emulator
    python examples/avatar.py --emulator  # always the emulator
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from voiceagent import Agent
from voiceagent.audio import NullSink, WavFileSource
from voiceagent.events import AgentTranscript, AvatarAnimation, UserTranscript
from voiceagent.options import Animation, Avatar, AvatarVideo, VideoBackground, VideoResolution
from voiceagent.testing import Script, Turn, service

AUDIO = Path(__file__).parent / "audio"


class Presenter(Agent):
    """Lisa, a science presenter with a face."""

    instructions = "You are Lisa, a cheerful science presenter. Answer in two short sentences."
    voice = "en-US-Ava:DragonHDLatestNeural"
    # Animation data and the avatar come with the audio only when asked for.
    modalities = ("text", "audio", "animation", "avatar")
    avatar = Avatar(
        character="lisa",
        style="casual-sitting",
        video=AvatarVideo(
            resolution=VideoResolution(1280, 720),
            background=VideoBackground(color="#FFFFFFFF"),
        ),
    )
    animation = Animation(outputs=("viseme_id", "blendshapes"))


# Offline, the emulator plays the model (and the avatar's animation data).
SCRIPT = Script(
    Turn(
        hears="Tell me something fun about the Moon.",
        says="The Moon drifts almost four centimetres further from Earth every year!",
    )
)


async def main() -> None:
    agent = Presenter()
    visemes: list[tuple[int, int]] = []  # (where in the audio, in ms; which mouth shape)
    blendshape_frames = 0

    @agent.on(AvatarAnimation)
    def animate(event: AvatarAnimation) -> None:
        nonlocal blendshape_frames
        if event.kind == "viseme" and event.viseme_id is not None:
            visemes.append((event.audio_offset_ms or 0, event.viseme_id))
        elif event.kind == "blendshapes":
            blendshape_frames += len(event.frames or ())

    agent.on(UserTranscript)(lambda event: print(f"user:  {event.text}"))
    agent.on(AgentTranscript)(lambda event: print(f"lisa:  {event.text}"))
    async with service(SCRIPT, emulator="--emulator" in sys.argv or None) as where:
        # The avatar's video carries the voice to the viewer; here the audio is dropped.
        await agent.run(source=WavFileSource(AUDIO / "moon.wav"), sink=NullSink(), **where)
    first = ", ".join(f"{ms} ms: {viseme}" for ms, viseme in visemes[:6])
    print(f"{len(visemes)} visemes ({first}, ...)")
    print(f"{blendshape_frames} blendshape frames")


if __name__ == "__main__":
    anyio.run(main)
