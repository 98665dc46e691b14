"""The reaction models of PLM-IPE: c3d.py (PBE), lbe.py (LBE), mutual.py (the losses),
plm_ipe.py (both estimators + fusion + the alternating step), baselines.py (EarlyFusion,
LateFusion, ablations), registry.py (``build_model(variant, **cfg)``).

May import: torch, ``core``, ``models.checkpoint``.
"""
