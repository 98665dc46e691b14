"""Every IPE_* setting declared once: typed, defaulted from the components, checked at start,
and the README's table generated from the declaration."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from core.collection.config import CollectionConfig
from core.errors import SettingsError
from core.labeling.session import LabelingConfig
from core.settings import load_settings, settings_markdown
from tests.conftest import REPO


def test_defaults_are_the_components_own() -> None:
    settings = load_settings({})
    assert settings.collection() == CollectionConfig() and settings.labeling() == LabelingConfig()


def test_values_override_and_reach_the_components() -> None:
    settings = load_settings({"IPE_OUTFITS_PER_SESSION": "4", "IPE_PROFILE_FIELDS": '["height"]',
                              "IPE_LABEL_SLOW_S": "0.8", "IPE_RESEARCH_MODE": "recommender", "OTHER": "x"})
    assert settings.collection().outfits_per_session == 4 and settings.collection().extra_fields == ("height",)
    assert settings.labeling().slow_threshold_s == 0.8 and settings.research_mode == "recommender"


@pytest.mark.parametrize("var, value", [("IPE_OUTFITS_PER_SESSION", "many"), ("IPE_OUTFITS_PER_SESSION", "0"),
                                        ("IPE_MAX_RECORD_SECONDS", "-1"), ("IPE_PROFILE_FIELDS", "{not json"),
                                        ("IPE_RESEARCH_MODE", "sometimes"), ("IPE_STREAMLIT_PORT", "70000"),
                                        ("IPE_LABEL_GOLD_FRACTION", "2")])
def test_a_bad_value_is_one_line_naming_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var) as err:
        load_settings({var: value})
    assert "\n" not in str(err.value)


def test_the_cli_refuses_a_bad_setting_at_start_without_a_traceback(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "app", "--home", str(tmp_path), "stats"], cwd=REPO,
                            capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "IPE_MAX_RECORD_SECONDS": "ten"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: bad setting: IPE_MAX_RECORD_SECONDS='ten'")


def test_every_variable_the_code_reads_is_declared_and_the_readme_table_is_generated() -> None:
    code = "\n".join(p.read_text() for folder in ("core", "models", "app", "annotation", "data")
                     for p in (REPO / folder).rglob("*.py"))
    read = set(re.findall(r"\"(IPE_[A-Z0-9_]+)\"", code)) - {"IPE_"}
    declared = set(re.findall(r"`(IPE_[A-Z0-9_]+)`", settings_markdown()))
    assert read <= declared, f"read but not declared in core/settings.py: {sorted(read - declared)}"
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- settings:begin -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert block == settings_markdown(), "regenerate the README table: python -m app settings --markdown"
