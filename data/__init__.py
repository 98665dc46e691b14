"""The demo catalog and generators of demo/test media (user data lives under the data home)."""
