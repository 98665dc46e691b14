"""Domain logic with no UI and no torch models, one subpackage per track.

- ``store/``       the DuckDB store: connection and locking, migrations, atomic recordings,
                   deletion, sweep, export/import, run folders, file hashing and atomic writes
- ``collection/``  consent, collection settings, session planning, the take recorder, catalog, splits
- ``reaction/``    video, faces + landmarks, tracking, alignment, the 36 regions, the 72-d flow
                   descriptor, C3D clips, the feature cache
- ``labeling/``    labeling sessions, image sources, Fashion-MNIST, a labeler's training data,
                   simulated labelers
- ``recommend/``   interaction matrices, ALS, calibration, average profiles, outfit features,
                   evaluation, the recommendation service, simulated volunteers
- ``errors.py``, ``paths.py``, ``labels.py``: shared by every track

May import: the standard library and third-party numeric/media libraries. Never ``models``,
``app``, ``annotation``, ``data``, torch, streamlit or gradio (import-linter contracts in
``pyproject.toml``).
"""
