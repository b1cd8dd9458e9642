"""Import a CRM's own export (HubSpot, Salesforce, ...) into a contract extract folder with a YAML mapping.

`crm-warehouse import --mapping FILE SRC DEST` reads the export folder SRC and writes `DEST/<date>/` (one
`<entity>.csv` per delivered entity and `_manifest.json`, exactly what the loader expects) plus the site
configuration `DEST/crm.yml` (currency, delivered entities). Modules, one job each:

| module | job |
|---|---|
| `spec` | parse and validate the mapping file (errors name the file and key path) |
| `columns` | one column spec: its forms and options, checked against the contract column |
| `source` | check the source files and columns the mapping names; load them into DuckDB as text |
| `transform` | the mapping as DuckDB SQL: one contract-text table per entity; unmapped codes; the date |
| `output` | write the extract folder (manifest last, refuse to overwrite) and merge `crm.yml` |
| `importer` | the steps in order, and the summary the CLI prints |

Shipped mappings live in `mappings/` (`hubspot.yml`, `salesforce.yml`); docs/mappings.md describes the
language.
"""

from pathlib import Path

MAPPINGS_DIR = Path(__file__).parent / "mappings"
