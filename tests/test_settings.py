"""EngineSettings: defaults, validation of every field, environment parsing, overrides."""

from __future__ import annotations

import dataclasses

import pytest
from PIL import features

from pixelpipe import (
    BlockShape,
    EngineSettings,
    Frames,
    OutputMode,
    PixelpipeError,
    SettingsError,
)


def _one_line(exc: SettingsError) -> None:
    assert isinstance(exc, PixelpipeError)
    assert isinstance(exc, ValueError)
    assert exc.reason
    assert "\n" not in exc.reason
    assert str(exc) == exc.reason


def test_defaults() -> None:
    s = EngineSettings()
    assert s.sizes == ()  # not given: the default for what is hidden
    assert s.grid_sizes == (8, 16, 32, 48, 64)
    assert s.block_px == ()
    assert s.shape is BlockShape.GRID
    assert s.output is OutputMode.FULL
    assert s.format == "source"
    assert s.quality is None
    assert s.keep_metadata is False
    assert s.frames is Frames.ALL
    assert s.max_bytes == 50 * 1024 * 1024
    assert s.max_pixels == 100_000_000
    assert dict(s.encoder_options) == {}
    assert s.uses_block_px is False


def test_frozen() -> None:
    s = EngineSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.sizes = (1,)  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# sizes / block_px


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ((8, 16), (8, 16)),
        ([4, 2, 9], (4, 2, 9)),
        ("8,16, 32", (8, 16, 32)),
        ("8 16\t32", (8, 16, 32)),
        ((1,), (1,)),
        ((1024,), (1024,)),
        ((8, 8, 16, 8), (8, 16)),  # duplicates removed, order kept
        ("64,8,64", (64, 8)),
    ],
)
def test_sizes_valid(value: object, expected: tuple[int, ...]) -> None:
    assert EngineSettings(sizes=value).sizes == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [(0,), (1025,), (-8,), (8, 0), "8,abc", "8;16", "", " , "])
def test_sizes_invalid(value: object) -> None:
    with pytest.raises(SettingsError) as info:
        EngineSettings(sizes=value)  # type: ignore[arg-type]
    _one_line(info.value)


def test_sizes_non_numeric_items_are_a_settings_error() -> None:
    with pytest.raises(SettingsError):
        EngineSettings(sizes=("eight",))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [((16,), (16,)), ("16,32", (16, 32)), ((1, 65535), (1, 65535)), ((32, 16, 32), (32, 16))],
)
def test_block_px_valid(value: object, expected: tuple[int, ...]) -> None:
    s = EngineSettings(block_px=value)  # type: ignore[arg-type]
    assert s.block_px == expected
    assert s.uses_block_px is True


@pytest.mark.parametrize("value", [(0,), (65536,), (-1,), "16,x"])
def test_block_px_invalid(value: object) -> None:
    with pytest.raises(SettingsError) as info:
        EngineSettings(block_px=value)  # type: ignore[arg-type]
    _one_line(info.value)


def test_block_px_alone_is_enough() -> None:
    s = EngineSettings(sizes=(), block_px=(16,))
    assert s.block_px == (16,)


# --------------------------------------------------------------------------------------------
# enums


@pytest.mark.parametrize(
    ("value", "expected"),
    [("grid", BlockShape.GRID), ("SQUARE", BlockShape.SQUARE), (" square ", BlockShape.SQUARE)],
)
def test_shape(value: str, expected: BlockShape) -> None:
    assert EngineSettings(shape=value).shape is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("full", OutputMode.FULL), ("Grid", OutputMode.GRID), ("both", OutputMode.BOTH)],
)
def test_output(value: str, expected: OutputMode) -> None:
    assert EngineSettings(output=value).output is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "expected"), [("all", Frames.ALL), ("FIRST", Frames.FIRST)])
def test_frames(value: str, expected: Frames) -> None:
    assert EngineSettings(frames=value).frames is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shape", "round"),
        ("shape", ""),
        ("output", "thumbnail"),
        ("output", "fulls"),
        ("frames", "last"),
        ("frames", "2"),
    ],
)
def test_enum_invalid(field: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        EngineSettings(**{field: value})  # type: ignore[arg-type]
    _one_line(info.value)
    assert value in info.value.reason or repr(value) in info.value.reason


# --------------------------------------------------------------------------------------------
# format / quality


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("source", "source"),
        ("jpeg", "jpeg"),
        ("jpg", "jpeg"),
        ("JPG", "jpeg"),
        ("png", "png"),
        ("PNG", "png"),
        ("webp", "webp"),
        ("gif", "gif"),
        ("tiff", "tiff"),
        ("tif", "tiff"),
        ("bmp", "bmp"),
        (" webp ", "webp"),
    ],
)
def test_format_valid(value: str, expected: str) -> None:
    assert EngineSettings(format=value).format == expected


def test_format_avif() -> None:
    if features.check("avif"):
        assert EngineSettings(format="avif").format == "avif"
    else:
        with pytest.raises(SettingsError):
            EngineSettings(format="avif")


@pytest.mark.parametrize("value", ["svg", "heic", "ico", "mpo", "jpeg2000", "", "pdf", "eps"])
def test_format_invalid(value: str) -> None:
    with pytest.raises(SettingsError) as info:
        EngineSettings(format=value)
    _one_line(info.value)


@pytest.mark.parametrize("value", [None, 1, 50, 100])
def test_quality_valid(value: int | None) -> None:
    assert EngineSettings(quality=value).quality == value


@pytest.mark.parametrize("value", [0, 101, -5, 1000])
def test_quality_invalid(value: int) -> None:
    with pytest.raises(SettingsError) as info:
        EngineSettings(quality=value)
    _one_line(info.value)


def test_quality_non_numeric_is_a_settings_error() -> None:
    with pytest.raises(SettingsError):
        EngineSettings(quality="high")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# limits


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (1234, 1234),
        ("1234", 1234),
        ("20MiB", 20 * 1024**2),
        ("20 MiB", 20 * 1024**2),
        ("5MB", 5_000_000),
        ("5mb", 5_000_000),
        ("1.5KiB", 1536),
        ("2k", 2000),
        ("1GiB", 1024**3),
        ("3b", 3),
    ],
)
def test_max_bytes_valid(value: object, expected: int) -> None:
    assert EngineSettings(max_bytes=value).max_bytes == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("40M", 40_000_000), ("100MP", 100_000_000), ("12mp", 12_000_000)],
)
def test_max_pixels_valid(value: object, expected: int) -> None:
    assert EngineSettings(max_pixels=value).max_pixels == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["max_bytes", "max_pixels"])
@pytest.mark.parametrize("value", [0, -1, "0", "abc", "20XB", "-5MB", "MiB", "", "1e6"])
def test_limits_invalid(field: str, value: object) -> None:
    with pytest.raises(SettingsError) as info:
        EngineSettings(**{field: value})  # type: ignore[arg-type]
    _one_line(info.value)


# --------------------------------------------------------------------------------------------
# keep_metadata / encoder_options


def test_keep_metadata_bool() -> None:
    assert EngineSettings(keep_metadata=True).keep_metadata is True
    assert EngineSettings(keep_metadata=False).keep_metadata is False


def test_keep_metadata_string_false_is_not_true() -> None:
    """A string from a config file must not silently mean 'keep the GPS position'."""
    try:
        s = EngineSettings(keep_metadata="false")  # type: ignore[arg-type]
    except SettingsError:
        return
    assert s.keep_metadata is False, f"keep_metadata='false' became {s.keep_metadata!r}"


def test_encoder_options_copied() -> None:
    opts = {"subsampling": 0}
    s = EngineSettings(encoder_options=opts)
    opts["subsampling"] = 2
    assert dict(s.encoder_options) == {"subsampling": 0}


# --------------------------------------------------------------------------------------------
# replace


def test_replace_validates_again() -> None:
    s = EngineSettings(sizes=(8,))
    t = s.replace(format="jpg", sizes="4,4,2")
    assert (t.format, t.sizes) == ("jpeg", (4, 2))
    assert s.sizes == (8,)
    with pytest.raises(SettingsError):
        s.replace(sizes=(0,))
    with pytest.raises(SettingsError):
        s.replace(format="nope")


# --------------------------------------------------------------------------------------------
# from_env


def test_from_env_empty_gives_defaults() -> None:
    assert EngineSettings.from_env({}) == EngineSettings()


def test_from_env_all_variables() -> None:
    env = {
        "PIXELPIPE_SIZES": "4, 12,4",
        "PIXELPIPE_BLOCK_PX": "10,20",
        "PIXELPIPE_SHAPE": "square",
        "PIXELPIPE_OUTPUT": "both",
        "PIXELPIPE_FORMAT": "JPG",
        "PIXELPIPE_QUALITY": "77",
        "PIXELPIPE_KEEP_METADATA": "yes",
        "PIXELPIPE_FRAMES": "first",
        "PIXELPIPE_MAX_BYTES": "20MiB",
        "PIXELPIPE_MAX_PIXELS": "40M",
        "UNRELATED": "ignored",
    }
    s = EngineSettings.from_env(env)
    assert s.sizes == (4, 12)
    assert s.block_px == (10, 20)
    assert s.shape is BlockShape.SQUARE
    assert s.output is OutputMode.BOTH
    assert s.format == "jpeg"
    assert s.quality == 77
    assert s.keep_metadata is True
    assert s.frames is Frames.FIRST
    assert s.max_bytes == 20 * 1024 * 1024
    assert s.max_pixels == 40_000_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_from_env_keep_metadata(value: str, expected: bool) -> None:
    assert EngineSettings.from_env({"PIXELPIPE_KEEP_METADATA": value}).keep_metadata is expected


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("PIXELPIPE_SIZES", "8,x"),
        ("PIXELPIPE_SIZES", "0"),
        ("PIXELPIPE_SIZES", "2000"),
        ("PIXELPIPE_BLOCK_PX", "0"),
        ("PIXELPIPE_SHAPE", "circle"),
        ("PIXELPIPE_OUTPUT", "none"),
        ("PIXELPIPE_FORMAT", "svg"),
        ("PIXELPIPE_QUALITY", "high"),
        ("PIXELPIPE_QUALITY", "0"),
        ("PIXELPIPE_QUALITY", "101"),
        ("PIXELPIPE_QUALITY", "7.5"),
        ("PIXELPIPE_KEEP_METADATA", "maybe"),
        ("PIXELPIPE_FRAMES", "some"),
        ("PIXELPIPE_MAX_BYTES", "lots"),
        ("PIXELPIPE_MAX_BYTES", "0"),
        ("PIXELPIPE_MAX_PIXELS", "-3"),
    ],
)
def test_from_env_invalid(var: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        EngineSettings.from_env({var: value})
    _one_line(info.value)


@pytest.mark.parametrize(
    "var",
    [
        "PIXELPIPE_SIZES",
        "PIXELPIPE_BLOCK_PX",
        "PIXELPIPE_SHAPE",
        "PIXELPIPE_OUTPUT",
        "PIXELPIPE_FORMAT",
        "PIXELPIPE_QUALITY",
        "PIXELPIPE_FRAMES",
        "PIXELPIPE_MAX_BYTES",
        "PIXELPIPE_MAX_PIXELS",
    ],
)
def test_from_env_blank_means_default(var: str) -> None:
    assert EngineSettings.from_env({var: "   "}) == EngineSettings()


def test_overrides_win_over_env() -> None:
    env = {
        "PIXELPIPE_SIZES": "4",
        "PIXELPIPE_SHAPE": "square",
        "PIXELPIPE_FORMAT": "png",
        "PIXELPIPE_QUALITY": "20",
        "PIXELPIPE_KEEP_METADATA": "1",
        "PIXELPIPE_MAX_BYTES": "1MiB",
    }
    s = EngineSettings.from_env(
        env,
        sizes=(9, 10),
        shape="grid",
        format="webp",
        quality=90,
        keep_metadata=False,
        max_bytes=123,
    )
    assert s.sizes == (9, 10)
    assert s.shape is BlockShape.GRID
    assert s.format == "webp"
    assert s.quality == 90
    assert s.keep_metadata is False
    assert s.max_bytes == 123


def test_none_overrides_do_not_clear_env() -> None:
    env = {"PIXELPIPE_SIZES": "4,5", "PIXELPIPE_FORMAT": "gif"}
    s = EngineSettings.from_env(env, sizes=None, format=None, quality=None)
    assert s.sizes == (4, 5)
    assert s.format == "gif"


def test_overrides_are_validated() -> None:
    with pytest.raises(SettingsError):
        EngineSettings.from_env({}, sizes=(0,))


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELPIPE_SIZES", "3,6")
    monkeypatch.setenv("PIXELPIPE_OUTPUT", "grid")
    s = EngineSettings.from_env()
    assert s.sizes == (3, 6)
    assert s.output is OutputMode.GRID


# --------------------------------------------------------------------------------------------
# Found in review: every bad value is a SettingsError, every good one accepted


def test_float_limits_are_accepted() -> None:
    s = EngineSettings(max_bytes=1.5e6, max_pixels=2e7)
    assert (s.max_bytes, s.max_pixels) == (1_500_000, 20_000_000)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_bytes": True},
        {"max_pixels": False},
        {"max_bytes": float("nan")},
        {"max_pixels": "40MiB"},  # a byte unit is not a pixel count
        {"max_bytes": [1]},
        {"encoder_options": None},
    ],
)
def test_more_bad_values_are_settings_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(SettingsError):
        EngineSettings(**kwargs)  # type: ignore[arg-type]


def test_an_invalid_pipeline_variable_is_named_and_conflicts_stay_whole() -> None:
    from pixelpipe.settings import Settings

    with pytest.raises(SettingsError, match=r"^OUTPUT_KEY_TEMPLATE: "):
        Settings.from_env({"PROCESSED_BUCKET": "out", "OUTPUT_KEY_TEMPLATE": "{nope}/{name}"})
    with pytest.raises(SettingsError, match=r"^PIXELPIPE_SIZES: "):
        Settings.from_env({"PROCESSED_BUCKET": "out", "PIXELPIPE_SIZES": "0"})
    # Two valid variables that conflict: the whole check's message, not one variable's.
    with pytest.raises(SettingsError, match="the processed bucket is the source bucket"):
        Settings.from_env({"PROCESSED_BUCKET": "b", "SOURCE_BUCKET": "b"})
