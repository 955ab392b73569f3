"""GenStudio: see what generative models do.

Nothing heavy is imported here, so `import genstudio` stays instant; torch and
gradio load only when a submodule that needs them is imported.
"""

__version__ = "0.1.0"
