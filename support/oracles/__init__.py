"""Independent oracles: the expected values the steps check, computed without the emulators' code.

Each oracle gets its answer from a second implementation (the ``multiformats`` library for CIDs,
google.protobuf with a schema written out here from the upstream ``.proto`` sources) or from the
rules of the real system written out in its own terms (nim-codex's keyed Merkle tree, status-go's
archive IDs). None imports the wire package's codecs, which the emulators use to produce what the
steps check; ``lint-imports`` forbids it.
"""
