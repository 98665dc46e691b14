"""Per-labeler preference CNNs: cnn.py (VGG-style), efficientnet.py (pretrained transfer
backbone), train.py (Model 1 / Model 2 protocols, transfer learning), experiment.py (one
labeler's whole run), predict.py (load + P(preferred)), explain.py (Grad-CAM and agreement
with people's clicks).

May import: torch, ``core``, ``models.checkpoint``.
"""
