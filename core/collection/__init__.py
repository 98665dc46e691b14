"""Collecting reactions: what a volunteer agrees to, sees and records.

- ``consent.py``       the versioned consent text
- ``config.py``        the collection app's settings (environment variables)
- ``session_plan.py``  which outfits a volunteer sees (pure, seeded, balanced coverage)
- ``recorder.py``      one take: frames in, a normalised H.264 file out, committed atomically
- ``catalog.py``       importing tops, bottoms and outfits (all or nothing)
- ``splits.py``        the train/test split by volunteer (PLM-IPE §4.1)

May import: ``core.store`` and the shared ``core`` modules. Never torch, UI or ``models``.
"""
