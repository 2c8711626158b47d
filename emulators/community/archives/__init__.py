"""Community history archives over a storage node (status-backend.md §3–§5, archive.md):
``service`` (the RPC face and lifecycle), ``manager`` (owner: creation, periodic loop),
``downloader`` and ``importer`` (member), ``storage`` (the storage node process) and
``codex_rest`` (its REST client)."""
