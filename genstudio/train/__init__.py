"""Training: one loop (`loop.py`) and a module per family (`families/`), recipes (`recipes.py`)."""
