"""Step definitions, one module per domain (behave loads every module here).

A package only so that the import-layering check can see them."""
