"""The collection app's settings: dataclass defaults, environment overrides, clear errors."""
from __future__ import annotations

import pytest

from core.collection.config import CollectionConfig
from core.errors import SettingsError


def test_unset_variables_keep_the_dataclass_defaults() -> None:
    assert CollectionConfig.from_env({}) == CollectionConfig()


def test_set_variables_override() -> None:
    config = CollectionConfig.from_env({"IPE_OUTFITS_PER_SESSION": "4", "IPE_MAX_RECORD_SECONDS": "6.5",
                                        "IPE_PROFILE_FIELDS": '["height"]', "IPE_RESEARCH_MODE": "recommender"})
    assert (config.outfits_per_session, config.max_record_seconds, config.extra_fields, config.research_mode) == (
        4, 6.5, ("height",), "recommender")
    assert config.min_record_seconds == CollectionConfig().min_record_seconds


@pytest.mark.parametrize("var, value", [("IPE_OUTFITS_PER_SESSION", "many"), ("IPE_OUTFITS_PER_SESSION", "0"),
                                        ("IPE_MAX_RECORD_SECONDS", "-1"), ("IPE_PROFILE_FIELDS", "{not json"),
                                        ("IPE_PROFILE_FIELDS", '{"a": 1}'), ("IPE_RESEARCH_MODE", "sometimes")])
def test_a_bad_value_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        CollectionConfig.from_env({var: value})
