"""Gradio layout (`app.py`) and thin callbacks (`callbacks.py`)."""
