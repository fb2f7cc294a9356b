"""Type stubs for the Rust extension ``lpwa._lpwa``."""

__version__: str
