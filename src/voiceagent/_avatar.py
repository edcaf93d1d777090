"""Avatar (a talking video character) and animation (blendshapes and visemes) options."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import attrs

from ._checks import (
    CompactRepr,
    Validator,
    as_tuple,
    boolean,
    fail,
    instance_of,
    integer,
    number,
    one_of,
    optional,
    sequence,
    text,
    to_pair,
    to_tuple,
    url,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Animation",
    "Avatar",
    "AvatarScene",
    "AvatarVideo",
    "IceServer",
    "VideoBackground",
    "VideoCrop",
    "VideoResolution",
]

_ICE_URL = re.compile(r"(?:stuns?|turns?):\S+")


def _opt(validator: Validator) -> Any:
    return attrs.field(default=None, validator=optional(validator))


@attrs.frozen(kw_only=True, repr=False)
class IceServer(CompactRepr):
    """A STUN or TURN server for the avatar's WebRTC connection.

    Attributes:
        urls: One or more ``stun:``/``turn:``/``turns:`` URLs.
        username: The TURN user name, if any.
        credential: The TURN credential, if any; never shown in reprs or errors.
    """

    urls: tuple[str, ...] = attrs.field(
        converter=to_tuple,
        validator=sequence(
            text(pattern=_ICE_URL, hint="a 'stun:', 'turn:' or 'turns:' URL"),
            what="a list of ICE server URLs",
            min_items=1,
        ),
    )
    username: str | None = _opt(text(secret=True))
    credential: str | None = attrs.field(
        default=None, repr=False, validator=optional(text(secret=True))
    )


_pixel = integer(lo=0)


def _point(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        raise fail(instance, attribute.name, value, "an (x, y) pair of non-negative integers")


@attrs.frozen(repr=False)
class VideoCrop(CompactRepr):
    """The part of the avatar video frame to stream.

    Attributes:
        top_left: The crop's top-left corner, ``(x, y)`` in pixels.
        bottom_right: The crop's bottom-right corner, ``(x, y)``, right of and below
            ``top_left``.
    """

    top_left: tuple[int, int] = attrs.field(converter=to_pair, validator=_point)
    bottom_right: tuple[int, int] = attrs.field(converter=to_pair, validator=_point)

    def __attrs_post_init__(self) -> None:
        (x1, y1), (x2, y2) = self.top_left, self.bottom_right
        if x2 <= x1 or y2 <= y1:
            raise fail(
                self, "bottom_right", self.bottom_right, f"a point right of and below {(x1, y1)}"
            )


@attrs.frozen(repr=False)
class VideoResolution(CompactRepr):
    """The avatar video's size in pixels.

    Attributes:
        width: Width, > 0.
        height: Height, > 0.
    """

    width: int = attrs.field(validator=integer(lo=1))
    height: int = attrs.field(validator=integer(lo=1))


@attrs.frozen(kw_only=True, repr=False)
class VideoBackground(CompactRepr):
    """The avatar video's background: a color or an image (exactly one).

    Attributes:
        color: A color such as ``"#FFFFFFFF"`` (RGBA hex).
        image_url: The http(s) URL of a background image.
    """

    color: str | None = _opt(text())
    image_url: str | None = _opt(url)

    def __attrs_post_init__(self) -> None:
        if (self.color is None) == (self.image_url is None):
            raise fail(
                self,
                "color",
                self.color,
                f"exactly one of color and image_url (image_url is {self.image_url!r})",
            )


@attrs.frozen(kw_only=True, repr=False)
class AvatarVideo(CompactRepr):
    """Video stream settings of the avatar. None fields take the service defaults.

    Attributes:
        bitrate: Bits per second (service default 2,000,000).
        codec: ``"h264"``, the only codec.
        crop: The part of the frame to stream.
        resolution: The frame size.
        background: A background color or image.
        gop_size: Group of pictures size, 1 to 2000 (service default 10).
    """

    bitrate: int | None = _opt(integer(lo=1))
    codec: str | None = _opt(one_of("h264"))
    crop: VideoCrop | None = attrs.field(
        default=None, validator=optional(instance_of(VideoCrop, what="a VideoCrop(...)"))
    )
    resolution: VideoResolution | None = attrs.field(
        default=None,
        validator=optional(instance_of(VideoResolution, what="a VideoResolution(width, height)")),
    )
    background: VideoBackground | None = attrs.field(
        default=None,
        validator=optional(
            instance_of(VideoBackground, what="a VideoBackground(color=... or image_url=...)")
        ),
    )
    gop_size: int | None = _opt(integer(1, 2000))


_angle = number(-math.pi, math.pi, what="an angle in radians from -pi to pi")
_position = number(-1.0, 1.0)


@attrs.frozen(kw_only=True, repr=False)
class AvatarScene(CompactRepr):
    """Where the avatar sits in the frame and how much it moves. None: service default.

    Attributes:
        zoom: > 0; below 1 zooms out, above 1 zooms in.
        position_x: -1 (left) to 1 (right), as a proportion of the frame width.
        position_y: -1 (up) to 1 (down), as a proportion of the frame height.
        rotation_x: Pitch in radians, -pi to pi.
        rotation_y: Yaw in radians, -pi to pi.
        rotation_z: Roll in radians, -pi to pi.
        amplitude: Movement amplitude, > 0 and <= 1 (1 = full).
    """

    zoom: float | None = _opt(number(0.0, math.inf, lo_open=True, what="a number > 0"))
    position_x: float | None = _opt(_position)
    position_y: float | None = _opt(_position)
    rotation_x: float | None = _opt(_angle)
    rotation_y: float | None = _opt(_angle)
    rotation_z: float | None = _opt(_angle)
    amplitude: float | None = _opt(number(0.0, 1.0, lo_open=True))


def _ice_servers(value: Iterable[IceServer] | None) -> tuple[IceServer, ...] | None:
    result: tuple[IceServer, ...] | None = as_tuple(value)
    return result


@attrs.frozen(kw_only=True, repr=False)
class Avatar(CompactRepr):
    """A video (or photo) avatar that speaks the agent's answers, streamed over WebRTC.

    Attributes:
        character: The avatar character's name or id, e.g. ``"lisa"``.
        style: The character's style, e.g. ``"casual-sitting"``.
        customized: Whether ``character`` is a custom avatar (default False).
        type: ``"video-avatar"`` or ``"photo-avatar"``; None: service default (video).
        model: The photo avatar's base model, ``"vasa-1"``; required for photo avatars.
        ice_servers: STUN/TURN servers for WebRTC.
        video: Video stream settings.
        scene: Position, zoom, rotation and movement of the avatar.
        output_protocol: ``"webrtc"`` (service default) or ``"websocket"``.
        output_audit_audio: Also send the audio over the WebSocket while video goes over
            WebRTC, for review.
    """

    character: str = attrs.field(validator=text())
    style: str | None = _opt(text())
    customized: bool = attrs.field(default=False, validator=boolean)
    type: str | None = _opt(one_of("video-avatar", "photo-avatar"))
    model: str | None = _opt(one_of("vasa-1"))
    ice_servers: tuple[IceServer, ...] | None = attrs.field(
        default=None,
        converter=_ice_servers,
        validator=optional(
            sequence(
                instance_of(IceServer, what="an IceServer(urls=...)"),
                what="a list of IceServer(...)",
            )
        ),
    )
    video: AvatarVideo | None = attrs.field(
        default=None, validator=optional(instance_of(AvatarVideo, what="an AvatarVideo(...)"))
    )
    scene: AvatarScene | None = attrs.field(
        default=None, validator=optional(instance_of(AvatarScene, what="an AvatarScene(...)"))
    )
    output_protocol: str | None = _opt(one_of("webrtc", "websocket"))
    output_audit_audio: bool | None = _opt(boolean)

    def __attrs_post_init__(self) -> None:
        if self.type == "photo-avatar" and self.model is None:
            raise fail(self, "model", None, "'vasa-1' for a photo avatar")


ANIMATION_OUTPUTS = ("blendshapes", "viseme_id")


@attrs.frozen(kw_only=True, repr=False)
class Animation(CompactRepr):
    """Animation data streamed with the audio, to drive a face (enable the ``animation``
    modality too).

    Attributes:
        outputs: Any of ``"blendshapes"`` and ``"viseme_id"``; None: service default
            (blendshapes).
        model_name: The animation model; None: service default (``"default"``).
    """

    outputs: tuple[str, ...] | None = attrs.field(
        default=None,
        converter=to_tuple,
        validator=optional(
            sequence(
                one_of(*ANIMATION_OUTPUTS),
                what="a set of 'blendshapes' and 'viseme_id'",
                min_items=1,
                unique=True,
            )
        ),
    )
    model_name: str | None = _opt(text())
