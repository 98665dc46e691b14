"""The volunteer flow's text: one catalogue per language, ``annotation/locales/<language>.toml``.

A catalogue is a TOML file of sections of messages (``t("camera.title")``), formatted with
``str.format`` placeholders. ``IPE_LANGUAGE`` picks the study's language (default ``en``, the
one that ships). Every catalogue must have every key English has: a missing key or catalogue is
one clear error when the page starts, never an English fallback shown to a volunteer.
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from core.errors import SettingsError

CATALOG_DIR = Path(__file__).resolve().parent / "locales"
SOURCE_LANGUAGE = "en"


def _flat(table: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict) and prefix == "":
            out.update(_flat(value, f"{key}."))
        else:
            out[f"{prefix}{key}"] = str(value).strip("\n")
    return out


@lru_cache(maxsize=8)
def _load(folder: Path, language: str) -> dict[str, str]:
    path = folder / f"{language}.toml"
    if not path.is_file():
        have = sorted(p.stem for p in folder.glob("*.toml"))
        raise SettingsError(f"IPE_LANGUAGE={language!r}: no catalogue {path}; languages here: {', '.join(have)}")
    try:
        messages = _flat(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SettingsError(f"the catalogue {path} is not valid TOML: {err}") from None
    if language != SOURCE_LANGUAGE:
        missing = sorted(set(_load(folder, SOURCE_LANGUAGE)) - set(messages))
        if missing:
            raise SettingsError(f"the catalogue {path} lacks {len(missing)} message(s): {', '.join(missing[:8])}; "
                                f"copy them from {SOURCE_LANGUAGE}.toml and translate them")
    return messages


class Catalog:
    """The messages of one language."""

    def __init__(self, language: str, folder: Path | None = None) -> None:
        self.language = language
        self.messages = _load(folder or CATALOG_DIR, language)

    def __call__(self, key: str, **values: object) -> str:
        return self.messages[key].format(**values) if values else self.messages[key]

    def option(self, value: str) -> str:
        """How a configured answer (an age band, a gender) reads; the stored value stays as it is."""
        return self.messages.get(f"options.{value}", value)
