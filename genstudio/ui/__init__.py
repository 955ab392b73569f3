"""Gradio app (`app.py`), one module per tab (`tabs/`) and what tabs share (`common.py`)."""
