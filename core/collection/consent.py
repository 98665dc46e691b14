"""The consent a volunteer gives before anything touches the camera: three separate choices.

Their wording and the consent text itself are in the volunteer pages' catalogues, one per
language (``annotation/locales/<language>.toml``, section ``consent``), with the text's
version. Change the text -> change that version: the version and the language
(``"2026-11-1/en"``) and the time of consent are stored with every volunteer, so it is always
known what each person read and agreed to. Recording is required; the other two are optional.
"""
from __future__ import annotations

CHOICES = ("recording", "training", "publication")
