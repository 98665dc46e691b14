"""The app's entries (annotation/home.py): the volunteers' link shows the volunteer flow and
nothing that leads elsewhere; the staff entries link to each other."""
from __future__ import annotations

import tomllib

from streamlit.testing.v1 import AppTest

from tests.conftest import REPO

HOME = str(REPO / "annotation" / "home.py")


def test_the_study_link_shows_only_the_volunteer_flow(home) -> None:
    at = AppTest.from_file(HOME, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.session_state["flow"]["stage"] == "consent"
    assert len(at.sidebar) == 0  # no navigation, no page links
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"] == {"toolbarMode": "minimal", "showSidebarNavigation": False}


def test_staff_pages_link_to_each_other_and_not_to_the_volunteer_flow(home, monkeypatch) -> None:
    monkeypatch.setenv("IPE_RESEARCHER_PASSWORD", "x")
    at = AppTest.from_file(HOME, default_timeout=60)
    at.switch_page("researcher_page.py").run()
    assert not at.exception, at.exception
    links = [el.proto.label for el in at.sidebar if type(el).__name__ == "PageLink"]
    assert links == ["Label images", "Researchers"]
    assert all(el.proto.icon.startswith(":material/") for el in at.sidebar if type(el).__name__ == "PageLink")
