"""The neutral wire package: what the suite and the emulators both speak.

Generated protobuf/gRPC stubs (``wire.pb.<name>``, built from ``proto/`` by
``python -m wire.build_protos``), the archive codec and the hash ratchet. It imports neither
``support`` nor ``emulators``, and both may import it.
"""
