"""Command line and Gradio demo."""
