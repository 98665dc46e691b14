"""The volunteer flow's text comes from one catalogue per language: rendered in a test-only
language whose every message is marked, no page of the flow shows an unmarked word."""
from __future__ import annotations

import json
import re
import shutil
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from annotation import i18n
from core.errors import SettingsError
from tests.annotation.test_volunteer_apptest import PAGE, _button, _captions, _store, camera  # noqa: F401

MARK = re.compile(r"⟦[^⟦⟧]*⟧")  # innermost first: a message may hold another (a button's name)


def _pseudo_catalogue(folder) -> None:
    """``xx.toml``: English's catalogue with every message wrapped in ⟦ ⟧ (placeholders kept)."""
    english = tomllib.loads((i18n.CATALOG_DIR / "en.toml").read_text(encoding="utf-8"))
    lines = []
    for section, messages in english.items():
        lines.append(f"[{section}]")
        lines += [f"{json.dumps(k)} = {json.dumps('⟦' + v.strip() + '⟧', ensure_ascii=False)}" for k, v in messages.items()]
    (folder / "xx.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copy(i18n.CATALOG_DIR / "en.toml", folder / "en.toml")


def _texts(at: AppTest) -> list[str]:
    """Every text a volunteer reads on the page (the withdrawal code's box aside)."""
    out = [e.value for kind in ("title", "markdown", "caption", "info", "warning", "success", "error")
           for e in getattr(at, kind)]
    out += [w.label for kind in ("button", "checkbox", "text_input", "selectbox", "select_slider") for w in getattr(at, kind)]
    out += [o for w in at.selectbox for o in w.options] + [w.placeholder for w in at.selectbox]
    out += [o for w in at.select_slider for o in w.options if not o.isdigit()]
    out += [p.proto.text for p in at.get("progress")] + _captions(at)
    return out


def _unmarked(at: AppTest) -> list[str]:
    return [text for text in _texts(at) if re.search(r"[A-Za-z]{2,}", _strip_marked(text))]


def _strip_marked(text: str) -> str:
    while MARK.search(text):
        text = MARK.sub("", text)
    return text


def test_the_flow_in_a_test_only_language_shows_no_untranslated_text(camera, home, monkeypatch, tmp_path,  # noqa: F811
                                                                     request):
    _pseudo_catalogue(tmp_path)
    monkeypatch.setattr(i18n, "CATALOG_DIR", tmp_path)
    monkeypatch.setenv("IPE_LANGUAGE", "xx")
    monkeypatch.setenv("IPE_OUTFITS_PER_SESSION", "1")
    import annotation.resources as resources
    resources.get_config.clear()
    request.addfinalizer(resources.get_config.clear)  # the next AppTest of this process reads its own settings

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    pages = {"consent": _unmarked(at)}
    at.checkbox[0].check().run()
    _button(at, "⟦I agree").click().run()
    pages["profile"] = _unmarked(at)
    at.selectbox[0].select("25-34")
    at.selectbox[1].select("female").run()
    _button(at, "⟦Continue").click().run()
    pages["camera"] = _unmarked(at)
    _button(at, "⟦Start the session").click().run()
    pages["outfit"] = _unmarked(at)
    at.select_slider[0].set_value(50).run()
    pages["rated"] = _unmarked(at)
    _button(at, "⟦Confirm").click().run()
    assert not at.exception, at.exception
    assert at.session_state["flow"]["stage"] == "thanks"
    pages["thanks"] = _unmarked(at)
    assert pages == {name: [] for name in pages}
    with _store(home) as store:
        (volunteer,) = store.list_volunteers()
        assert volunteer["consent_version"].endswith("/xx")  # what was read: the text's version and language


def test_a_catalogue_missing_messages_or_language_is_one_clear_error(tmp_path) -> None:
    shutil.copy(i18n.CATALOG_DIR / "en.toml", tmp_path / "en.toml")
    (tmp_path / "de.toml").write_text('[consent]\ntitle = "Danke"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"lacks \d+ message"):
        i18n.Catalog("de", tmp_path)
    with pytest.raises(SettingsError, match="no catalogue .*fr.toml; languages here: de, en"):
        i18n.Catalog("fr", tmp_path)
    english = i18n.Catalog("en")
    assert english("outfit.progress", position=2, total=15) == "2 / 15"
    assert english.option("prefer not to say") == "prefer not to say"
