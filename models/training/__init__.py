"""Training and evaluating the reaction models.

data.py (feature sets, in memory or streamed) -> loader.py / npz_arrays.py (batches) ->
train.py (one variant -> a run folder; distributed.py for torchrun/DDP) -> evaluate.py
(metrics) -> report.py (the paper's tables); predict.py loads a run for prediction;
reaction_scores.py scores stored views for the recommender; synthetic.py makes SYNTHETIC
feature sets; fer_baseline.py is the frame-level expression baseline.

May import: torch, ``core``, ``models.reaction``, ``models.checkpoint``.
"""
