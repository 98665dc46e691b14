"""PyTorch: the models, their training and their checkpoints.

- ``reaction/``    C3D (PBE), the landmark LSTM (LBE), mutual learning, PLM-IPE, baselines, registry
- ``training/``    reaction datasets and loaders, training, evaluation, reports, prediction
- ``preference/``  preference CNNs, EfficientNet transfer, training protocols, Grad-CAM
- ``recommend/``   the attention-pooled user profile
- ``checkpoint.py`` safetensors + JSON checkpoints (never unpickles)

May import: ``core`` and torch. Never ``app``, ``annotation`` or ``data``.
"""
