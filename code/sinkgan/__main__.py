"""``python -m sinkgan``: the ``sinkgan`` command (the Snakemake rules use this form)."""
import sys

from .cli import main

sys.exit(main())
