"""Streamlit apps: the volunteer flow, the labeling tool, the researcher pages."""
