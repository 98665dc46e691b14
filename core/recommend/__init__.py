"""Recommending outfits from reactions and ratings (torch-free).

- ``data.py``                  user x outfit interactions and a per-volunteer holdout
- ``als.py``                   implicit-feedback ALS and a popularity baseline
- ``calibration.py``           PLM-IPE probabilities -> reaction scores in rating units
- ``outfit_features.py``       outfit feature vectors for content-based (cold-start) methods
- ``average_profile.py``       averaging profile (the torch-free baseline of the attention model)
- ``evaluate.py``              precision/recall@k on held-out ratings
- ``service.py``               recommendations for one volunteer, with reasons
- ``simulated_volunteers.py``  SIMULATED volunteers with known tastes

May import: the shared ``core`` modules. The attention model lives in ``models/recommend``
and is handed in by the caller.
"""
