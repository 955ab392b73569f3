"""Training: one loop (`loop.py`) and a step function per family (`families.py`)."""
