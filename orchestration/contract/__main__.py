"""`python -m orchestration.contract` prints the column tables for docs/extract_contract.md."""

from .docs import markdown_tables

print(markdown_tables())
