"""The attention-pooled user profile of the mobile paper (attention_profile.py).

May import: torch, ``core.recommend``.
"""
