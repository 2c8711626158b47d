"""What the emulators' ``socketserver`` servers share: how soon a stop is seen."""

# Seconds between the serving loop's checks for ``shutdown()``. socketserver's default, 0.5 s,
# made each server of an emulated process add up to half a second to its stop; the real programs
# stop their listeners at once.
SHUTDOWN_POLL = 0.05
