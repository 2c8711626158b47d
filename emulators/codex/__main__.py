"""``python -m emulators.codex``."""

from emulators.codex.main import main

main()
