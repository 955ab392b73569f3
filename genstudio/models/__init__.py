"""Network families, one file each. Importing this package registers every architecture."""

from genstudio.models import cascade, classifier, gan, inpaint, restyle, sr, vae  # noqa: F401
