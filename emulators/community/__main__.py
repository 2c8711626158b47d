"""``python -m emulators.community``."""

from emulators.community.main import main

main()
