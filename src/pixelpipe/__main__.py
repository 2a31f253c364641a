"""``python -m pixelpipe`` is the ``pixelpipe`` command."""

from .cli import main

main()
