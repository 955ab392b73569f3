"""Pure task functions: arrays and a loaded model in, arrays out. No gradio here."""
