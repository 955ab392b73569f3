"""Start GenStudio: `python app.py [--host H] [--port P] [--share]` (same as `genstudio serve`).

On a Hugging Face Space this file is the entry point; it binds 0.0.0.0 there.
"""

import os
import sys

from genstudio.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if os.environ.get("SPACE_ID") and "--host" not in args:  # inside a Space: listen on all interfaces
        args += ["--host", "0.0.0.0"]
    sys.exit(main(["serve", *args]))
