"""The operators' command-line tool: `python -m ops --help` (docs/operations.md)."""
