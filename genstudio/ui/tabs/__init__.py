"""One module per tab: each builds its layout, owns its state and callbacks, wires its own
events, and says how to restore its settings from a recipe."""
