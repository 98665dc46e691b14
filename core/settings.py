"""Every ``IPE_*`` setting in one place: its type, default and meaning (pydantic-settings).

The apps and commands read their settings here, once, at start; a bad value is one
:class:`core.errors.SettingsError` line that names the variable, never a traceback. The README's
settings table is generated from this class (``python -m app settings --markdown``), so the two
cannot drift. Defaults of component settings come from the component's own frozen dataclass
(``CollectionConfig``, ``LabelingConfig``), which stay the one place they are written.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_args, get_origin

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.collection.config import CollectionConfig
from core.errors import SettingsError
from core.labeling.session import LabelingConfig
from core.media_limits import MediaLimits
from core.store.lease import StoreTiming
from core.turn import LocalTurn, serving_turn

PREFIX = "IPE_"
_C = CollectionConfig()
_L = LabelingConfig()
_M = MediaLimits()
_S = StoreTiming()
_T = LocalTurn(listen="")


class Settings(BaseSettings):
    """The kit's settings; each field is the environment variable ``IPE_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True, case_sensitive=False)

    # where things are
    home: Path = Field(Path("var"), description="the data home: store, videos, catalog, features, runs, exports")
    fashion_mnist: Path | None = Field(None, description="folder of the Fashion-MNIST .gz files (default: the Debian "
                                       "package's /usr/share/datasets/fashion-mnist)")
    fan_weights: Path | None = Field(None, description="face-alignment's FAN weights file (optional landmark backend; "
                                     "never downloaded by the kit)")
    store_url: SecretStr | None = Field(None, description="the study's PostgreSQL database "
                                        "(`postgresql://user:password@host/db`; README \"Running a larger study\"); "
                                        "none: the DuckDB file in the data home")
    store_lock_wait_s: float = Field(_S.lock_wait_s, ge=0, le=3600, description="how long a process (the collection "
                                     "app, a CLI command) waits for the store while another holds it, then fails "
                                     "naming the holder")
    store_idle_release_s: float = Field(_S.idle_release_s, ge=0, le=3600, description="an idle process lets go of "
                                        "the store after this many seconds (at once when another process waits)")
    # serving
    host: str = Field("127.0.0.1", description="address the apps listen on (`scripts/run.sh`)")
    streamlit_port: int = Field(8501, ge=1, le=65535, description="port of the collection app (`scripts/run.sh`)")
    gradio_port: int = Field(7860, ge=1, le=65535, description="port of the model demo (`scripts/run.sh`)")
    researcher_password: SecretStr | None = Field(None, description="password of the researcher pages (default: "
                                                  "generated once into `<home>/researcher-password` by `scripts/run.sh`)")
    demo_auth: SecretStr | None = Field(None, description="`user:password` for the Gradio demo (none: open on this host)")
    tls_cert: Path | None = Field(None, description="certificate (PEM) for HTTPS (`scripts/run.sh`); with `IPE_TLS_KEY`")
    tls_key: Path | None = Field(None, description="private key (PEM) of `IPE_TLS_CERT`")
    tls: Literal["auto", "on", "off"] = Field("auto", description="`auto`: HTTPS when `IPE_TLS_CERT` is set or "
                                              "`IPE_HOST` is not a loopback address (then with a self-signed "
                                              "certificate made once under `<home>/tls`); `on`: always HTTPS; `off`: "
                                              "plain HTTP")
    # collection
    outfits_per_session: int = Field(_C.outfits_per_session, ge=1, le=200, description="outfits a volunteer sees per session")
    max_record_seconds: float = Field(_C.max_record_seconds, gt=0, le=600,
                                      description="longest take, in seconds of media time")
    min_record_seconds: float = Field(_C.min_record_seconds, gt=0, le=600,
                                      description="shorter takes are stored as `short` (shown to researchers)")
    retention: str = Field(_C.retention, min_length=1, description="how long recordings are kept (stated in the consent text)")
    profile_fields: tuple[str, ...] = Field(_C.extra_fields, description="extra optional profile questions, a JSON "
                                            'list of labels, e.g. `["height", "favourite colour"]`')
    research_mode: Literal["off", "recommender"] = Field(_C.research_mode, description="`recommender`: a returning "
                                                         "volunteer's outfits are ordered by the recommender")
    self_view: bool = Field(_C.self_view, description="show volunteers their own camera picture while an outfit is "
                            "shown (stored with each session); off: only at the camera check")
    reservation_s: float = Field(_C.reservation_s, gt=0, le=86400, description="an open session's planned outfits "
                                 "stay reserved (no other server hands them out) this many seconds after it started "
                                 "or last stored a take; then they are free again (an abandoned tab)")
    language: str = Field(_C.language, pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$",
                          description="language of the volunteer pages: the catalogue `annotation/locales/<language>.toml`")
    capture: Literal["webrtc", "browser"] = Field(_C.capture, description="how takes are recorded: `webrtc` "
                                                  "streams the camera to the server live (lab stations); `browser` "
                                                  "records each take in the volunteer's browser and uploads it in "
                                                  "chunks (remote studies; needs HTTPS off this machine)")
    video_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = Field(
        _C.video_preset, description="libx264 preset of the stored videos (both capture paths; same MP4, H.264, "
        "640x480, 30 fps): `superfast` / `ultrafast` cost the server ~0.6x / ~0.4x the encoder CPU of `veryfast` "
        "for ~1.5x / ~3x the file size")
    camera_stall_s: float = Field(_C.camera_stall_s, gt=0, le=120,
                                  description="seconds the camera may deliver no frames after the volunteer turns it "
                                  "on (or during the session) before the page says so and reconnects it by itself; "
                                  "each restart doubles it for the new connection (at most 8x), until frames flow")
    turn_url: str | None = Field(None, description="TURN server for remote volunteers on the live WebRTC path "
                                 "(`turn:host:port`); none by default, and no public STUN ever")
    turn_user: str | None = Field(None, description="TURN user name")
    turn_credential: SecretStr | None = Field(None, description="TURN credential")
    turn: Literal["off", "local"] = Field("off", description="`local`: `scripts/run.sh` also runs a TURN server "
                                         "(Debian's coturn) on `IPE_HOST` and the app hands each browser "
                                         "time-limited credentials for it (README \"Remote volunteers on the live "
                                         "path: TURN\"); live path only: nothing is started with "
                                         "`IPE_CAPTURE=browser`, whose takes are uploaded over HTTPS")
    turn_port: int = Field(_T.port, ge=1, le=65535, description="port of the `IPE_TURN=local` server (UDP and TCP)")
    turn_host: str | None = Field(None, description="the name or address volunteers' browsers reach the "
                                  "`IPE_TURN=local` server at (default: `IPE_HOST`)")
    turn_credential_lifetime_s: int = Field(_T.credential_lifetime_s, ge=60, le=7 * 86400,
                                            description="a browser's TURN credentials allow new relays for this "
                                            "many seconds (renewed for a page when half is used)")
    # labeling
    label_subgroup: int = Field(_L.subgroup_size, ge=1, description="images per subgroup before a pause")
    label_break_s: float = Field(_L.break_s, ge=0, description="pause between subgroups, in seconds")
    label_slow_s: float = Field(_L.slow_threshold_s, gt=0, description="answers slower than this are flagged (not dropped)")
    label_gold_fraction: float = Field(_L.gold_fraction, ge=0, le=1, description="share of images repeated as gold items")
    label_gold_min: int = Field(_L.gold_min, ge=0, description="at least this many gold repeats")
    label_gold_max: int = Field(_L.gold_max, ge=0, description="at most this many gold repeats")
    label_gold_gap: int = Field(_L.gold_min_gap, ge=1, description="images between an image and its gold repeat, at least")
    label_undo_depth: int = Field(_L.undo_depth, ge=0, description="answers that can be undone")
    label_max_images: int | None = Field(_L.max_images, ge=1, description="cap on images per labeling session (none: all)")
    label_seed: int = Field(_L.seed, description="seed of the image order")
    # limits on user media (checked from headers before decoding; README "Limits on user media")
    max_image_pixels: int = Field(_M.max_image_pixels, ge=1, description="largest image a visitor may bring, in pixels")
    max_video_pixels: int = Field(_M.max_video_pixels, ge=1, description="largest video frame, in pixels (1920x1080)")
    max_video_frames: int = Field(_M.max_video_frames, ge=1, description="most frames in a video")
    preview_side: int = Field(_M.preview_side, ge=1, description="heat-map overlays are drawn on a preview this many "
                              "pixels a side, at most")
    # tests only
    test_loopback_ice: bool = Field(False, description="tests only: let WebRTC offer 127.0.0.1 inside the tests' "
                                    "loopback-only network namespace; never set in production")

    @field_validator("store_url")
    @classmethod
    def _postgres(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (leave it unset for the DuckDB file in the data home)")
        return value

    @field_validator("profile_fields", mode="before")
    @classmethod
    def _labels(cls, value: object) -> object:
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value)
            except ValueError as err:
                raise ValueError(f'must be a JSON list of labels, e.g. ["height"] ({err})') from None
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError('must be a JSON list of labels, e.g. ["height", "favourite colour"]')
        return tuple(value)

    def collection(self) -> CollectionConfig:
        return CollectionConfig(outfits_per_session=self.outfits_per_session, max_record_seconds=self.max_record_seconds,
                                min_record_seconds=self.min_record_seconds, retention=self.retention,
                                extra_fields=self.profile_fields, research_mode=self.research_mode,
                                self_view=self.self_view, language=self.language, capture=self.capture,
                                camera_stall_s=self.camera_stall_s, reservation_s=self.reservation_s,
                                video_preset=self.video_preset)

    def local_turn(self) -> LocalTurn | None:
        """The kit's own TURN server when ``IPE_TURN=local`` (SettingsError when IPE_HOST cannot serve it)."""
        if self.turn != "local":
            return None
        return serving_turn(host=self.host, port=self.turn_port, public_host=self.turn_host,
                            lifetime_s=self.turn_credential_lifetime_s, turn_url=self.turn_url)

    def store_timing(self) -> StoreTiming:
        return StoreTiming(lock_wait_s=self.store_lock_wait_s, idle_release_s=self.store_idle_release_s)

    def media_limits(self) -> MediaLimits:
        return MediaLimits(max_image_pixels=self.max_image_pixels, max_video_pixels=self.max_video_pixels,
                           max_video_frames=self.max_video_frames, preview_side=self.preview_side)

    def labeling(self) -> LabelingConfig:
        return LabelingConfig(subgroup_size=self.label_subgroup, break_s=self.label_break_s,
                              slow_threshold_s=self.label_slow_s, gold_fraction=self.label_gold_fraction,
                              gold_min=self.label_gold_min, gold_max=self.label_gold_max, gold_min_gap=self.label_gold_gap,
                              undo_depth=self.label_undo_depth, max_images=self.label_max_images, seed=self.label_seed)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``environ`` (default: the process environment); SettingsError on a bad value."""
    try:
        if environ is None:
            return Settings()
        values = {k[len(PREFIX):].lower(): v for k, v in environ.items() if k.upper().startswith(PREFIX) and v != ""}
        return Settings.model_validate({k: v for k, v in values.items() if k in Settings.model_fields})
    except ValidationError as err:
        problems = []
        for e in err.errors():
            name = PREFIX + "_".join(str(p) for p in e["loc"][:1]).upper()
            field = Settings.model_fields.get(str(e["loc"][0]) if e["loc"] else "")
            secret = field is not None and SecretStr in (field.annotation, *get_args(field.annotation))
            shown = "(hidden)" if secret else repr(e.get("input"))  # a secret is never echoed
            problems.append(f"{name}={shown}: {e['msg'].removeprefix('Value error, ')}")
        raise SettingsError("bad setting: " + "; ".join(problems)) from None


def settings_markdown() -> str:
    """The README's settings table."""
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "—" if default is None else f"`{list(default) if isinstance(default, tuple) else default}`"
        rows.append(f"| `{PREFIX}{name.upper()}` | {_type_name(field.annotation)} | {shown} | {field.description} |")
    return "\n".join(rows) + "\n"


def _type_name(annotation: object) -> str:
    """A reader's name for a field's type: ``path, optional``, ``one of off / recommender``, ..."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal:
        return "one of " + " / ".join(f"`{a}`" for a in get_args(annotation))
    if len(args) == 1 and type(None) in get_args(annotation):
        return _type_name(args[0]) + ", optional"
    if get_origin(annotation) is tuple:
        return "JSON list of text"
    names = {Path: "path", str: "text", int: "integer", float: "number", bool: "true / false", SecretStr: "secret text"}
    return names.get(annotation, str(annotation))
