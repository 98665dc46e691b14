"""Image preference labeling (torch- and UI-free).

- ``session.py``           one labeler's session: what comes next, answers, undo, gold items
- ``image_sets.py``        image sources: the catalog, a folder, Fashion-MNIST
- ``fashion_mnist.py``     Fashion-MNIST from the Debian package (offline)
- ``preference_data.py``   one labeler's source and target labels, ready for training
- ``simulated_labeler.py`` labelers with documented rules, for protocols and tests

May import: ``core.store`` and the shared ``core`` modules.
"""
