"""Partial CRM sites for tests: a generated landing cut down to the entities a site delivers, with its crm.yml."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from orchestration import contract


def restrict_landing(src: Path, dest: Path, entities: list[str], site: dict | None = None) -> Path:
    """Copy the extract folders of `src` into `dest` keeping only `entities` (files and manifest entries) and
    the `_truth/` folder; write `dest/crm.yml` = {"entities": entities, **site}. Returns dest."""
    unknown = set(entities) - set(contract.LOAD_ORDER)
    assert not unknown, unknown
    dest.mkdir(parents=True, exist_ok=True)
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        if folder.name.startswith("_"):
            shutil.copytree(folder, dest / folder.name)
            continue
        manifest = json.loads((folder / contract.MANIFEST_NAME).read_text(encoding="utf-8"))
        kept = [f for f in manifest["files"] if f["entity"] in entities]
        (dest / folder.name).mkdir()
        for f in kept:
            shutil.copyfile(folder / f["file"], dest / folder.name / f["file"])
        manifest["files"] = kept
        (dest / folder.name / contract.MANIFEST_NAME).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    config = {"entities": list(entities), **(site or {})}
    (dest / "crm.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return dest
