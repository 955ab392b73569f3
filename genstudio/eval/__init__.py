"""Metrics and the evaluation that writes them into a checkpoint's card."""
