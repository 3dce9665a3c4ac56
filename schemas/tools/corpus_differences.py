#!/usr/bin/env python3
"""Compare meltc's meltano.yml schema with Meltano's own schema on the corpus.

Dev tool, not run by the tests. It regenerates schemas/corpus-differences.json and
checks the snippet folders next to this script:

  python3 -m venv /tmp/schema-venv
  /tmp/schema-venv/bin/pip install jsonschema ruamel.yaml
  /tmp/schema-venv/bin/python schemas/tools/corpus_differences.py \
      /work/shared/corpus schemas/meltano.schema.json \
      /work/shared/reference/meltano/meltano.schema.json

Arguments: CORPUS_DIR MELTC_SCHEMA MELTANO_SCHEMA [--output FILE]
(default output: corpus-differences.json next to MELTC_SCHEMA).

What it does:
- For each project folder of CORPUS_DIR: the YAML documents of the project are
  meltano.yml plus every file its `include_paths` match (pathlib glob, as Meltano
  does; matches sorted, meltano.yml skipped, duplicates dropped). Each document is
  validated on its own against both schemas (Draft 2020-12, `iter_errors`).
- YAML is read as YAML 1.2 (ruamel.yaml, safe, pure, version 1.2) with the
  timestamp constructor replaced by the plain-string one, so unquoted dates stay
  the written text, as under the YAML 1.2 core schema that meltc uses.
- Errors are keyed by (file, JSON-pointer instance path, keyword). The output lists,
  per project, the files validated, the errors only Meltano's schema reports
  (`meltano_only`, each with a short `why`) and the errors only meltc's schema
  reports (`meltc_only`, expected empty). Written deterministically: sorted keys,
  sorted lists, indent 2, trailing newline.
- bad-snippets/*.yml must each be rejected by meltc's schema; good-snippets/*.yml
  must each be accepted. The first line of each snippet is a comment saying why.

Exit status: 0 if every corpus document and every good snippet passes meltc's
schema and every bad snippet fails it; 1 otherwise; 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor

PLUGIN_TYPES = (
    "extractors",
    "loaders",
    "transforms",
    "orchestrators",
    "transformers",
    "files",
    "utilities",
    "mappers",
)


class _Yaml12Constructor(SafeConstructor):
    """Safe constructor that keeps timestamps as their source text (YAML 1.2 core)."""


_Yaml12Constructor.add_constructor(
    "tag:yaml.org,2002:timestamp", _Yaml12Constructor.construct_yaml_str
)


def load_yaml(path: pathlib.Path):
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    yaml.Constructor = _Yaml12Constructor
    return yaml.load(path.read_text(encoding="utf-8"))


def project_files(project: pathlib.Path) -> list[str]:
    """meltano.yml plus the files its include_paths match, relative POSIX paths."""
    main = project / "meltano.yml"
    files = ["meltano.yml"]
    doc = load_yaml(main)
    patterns = doc.get("include_paths") if isinstance(doc, dict) else None
    seen = {main.resolve()}
    for pattern in patterns if isinstance(patterns, list) else []:
        for match in sorted(project.glob(pattern)):
            resolved = match.resolve()
            if resolved in seen or not match.is_file():
                continue
            seen.add(resolved)
            files.append(match.relative_to(project).as_posix())
    on_disk = {
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and p.suffix in (".yml", ".yaml")
    }
    for extra in sorted(on_disk - set(files)):
        print(f"note: {project.name}/{extra} is not matched by include_paths", file=sys.stderr)
    return files


def pointer(parts) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def error_keys(validator, doc, file: str) -> dict[tuple[str, str, str], jsonschema.ValidationError]:
    keys = {}
    for err in validator.iter_errors(doc):
        keys.setdefault((file, pointer(err.absolute_path), err.validator), err)
    return keys


def _known_plugin_keys(meltano_schema: dict, plugin_type: str) -> set[str]:
    defs = meltano_schema["$defs"]["plugins"]
    known = set(defs["plugin_generic"]["properties"])
    spec = defs[plugin_type]
    for sub in spec.get("allOf", []):
        ref = sub.get("$ref", "")
        if ref.startswith("#/$defs/plugins/"):
            known |= set(defs[ref.rsplit("/", 1)[1]].get("properties", {}))
        known |= set(sub.get("properties", {}))
    return known


def why_meltano_only(err: jsonschema.ValidationError, meltano_schema: dict, err_file: str) -> str:
    """Short reason why meltc accepts what Meltano's schema rejects."""
    path = list(err.absolute_path)
    inst = err.instance
    kw = err.validator
    if inst is None and kw == "type":
        where = (
            "" if len(path) != 1 or err_file == "meltano.yml"
            else " (but a null top-level key in an included file crashes Meltano's indexer: checked outside the schema)"
        )
        return (
            "null value: Meltano's loader reads a null here as absent/empty "
            f"(`x or {{}}` / `x or []`), so its run time accepts it{where}"
        )
    if kw == "unevaluatedProperties" and len(path) == 3 and path[0] == "plugins":
        known = _known_plugin_keys(meltano_schema, path[1])
        unknown = sorted(k for k in inst if k not in known)
        reported = [k for k in inst if repr(k) in err.message]
        note = ""
        if len(reported) > len(unknown):
            note = " (Meltano's message also lists known keys because another error in the same entry voided its annotations)"
        return (
            f"unknown plugin key(s) {', '.join(unknown)}: Meltano keeps them as plugin extras "
            f"(`_<key>` settings, spec 3); meltc accepts them and warns{note}"
        )
    if kw == "additionalProperties" and "settings" in path:
        known = set(meltano_schema["$defs"]["base_setting"]["properties"])
        unknown = sorted(k for k in inst if k not in known)
        return (
            f"unknown setting-definition key(s) {', '.join(unknown)}: accepted by Meltano's "
            "SettingDefinition(**attrs) and ignored (spec 4); meltc warns"
        )
    if path == ["cli", "log_config"] and kw == "type":
        return (
            "inline logging mapping: Meltano flattens project settings, so cli.log_config "
            "silently falls back to logging.yaml; accepted, meltc warns"
        )
    if kw == "pattern" and path[-1:] == ["interval"]:
        return "cron checked only by `meltano schedule add/set`; meltc checks it outside the schema"
    if kw == "enum" and "capabilities" in path:
        return "Meltano ignores capabilities it does not know"
    if kw == "const" and path == ["version"]:
        return "Meltano only warns that `version` is deprecated"
    if kw == "additionalProperties" and path in ([], [0]):
        return "unknown top-level key: Meltano keeps it as a project setting (spec 2); meltc warns"
    if kw in ("additionalProperties", "unevaluatedProperties"):
        return "unknown key where Meltano's run time keeps or ignores it; meltc warns (schemas/README.md)"
    print(f"warning: unclassified difference {pointer(path)} {kw}: {err.message}", file=sys.stderr)
    return "accepted by Meltano's run time (see schemas/README.md)"


def check_snippets(folder: pathlib.Path, validator, theirs, expect_valid: bool) -> bool:
    """Check that every snippet is accepted (good) or rejected (bad) by meltc's schema.

    The line also says what Meltano's schema does with it, for the README.
    """
    ok = True
    for snippet in sorted(folder.glob("*.yml")):
        first = snippet.read_text(encoding="utf-8").splitlines()[0]
        doc = load_yaml(snippet)
        errors = list(validator.iter_errors(doc))
        verdict = "rejects" if any(True for _ in theirs.iter_errors(doc)) else "accepts"
        passed = (not errors) if expect_valid else bool(errors)
        ok &= passed
        status = "ok  " if passed else "FAIL"
        detail = "" if expect_valid or not errors else f" -> {pointer(errors[0].absolute_path) or '/'}: {errors[0].message[:100]}"
        if expect_valid and errors:
            detail = f" -> unexpected: {pointer(errors[0].absolute_path) or '/'}: {errors[0].message[:100]}"
        print(f"{status} {folder.name}/{snippet.name} [Meltano's schema {verdict}]: {first.lstrip('# ')}{detail}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=pathlib.Path)
    parser.add_argument("meltc_schema", type=pathlib.Path)
    parser.add_argument("meltano_schema", type=pathlib.Path)
    parser.add_argument("--output", type=pathlib.Path)
    args = parser.parse_args()

    ours_schema = json.loads(args.meltc_schema.read_text(encoding="utf-8"))
    theirs_schema = json.loads(args.meltano_schema.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(ours_schema)
    ours = jsonschema.Draft202012Validator(ours_schema)
    theirs = jsonschema.Draft202012Validator(theirs_schema)

    ok = True
    result = {}
    for project in sorted(p for p in args.corpus.iterdir() if (p / "meltano.yml").is_file()):
        files = project_files(project)
        meltano_only, meltc_only = [], []
        for file in files:
            doc = load_yaml(project / file)
            ours_keys = error_keys(ours, doc, file)
            theirs_keys = error_keys(theirs, doc, file)
            for key in sorted(theirs_keys.keys() - ours_keys.keys()):
                meltano_only.append(
                    {"file": key[0], "path": key[1], "keyword": key[2],
                     "why": why_meltano_only(theirs_keys[key], theirs_schema, key[0])}
                )
            for key in sorted(ours_keys.keys() - theirs_keys.keys()):
                meltc_only.append(
                    {"file": key[0], "path": key[1], "keyword": key[2],
                     "why": f"meltc is stricter: {ours_keys[key].message[:160]}"}
                )
            for key, err in sorted(ours_keys.items()):
                ok = False
                print(f"FAIL {project.name}/{file}: {key[1] or '/'}: {err.message[:160]}")
        sort_key = lambda d: (d["file"], d["path"], d["keyword"])  # noqa: E731
        result[project.name] = {
            "files": sorted(files),
            "meltano_only": sorted(meltano_only, key=sort_key),
            "meltc_only": sorted(meltc_only, key=sort_key),
        }
        counts = f"{len(meltano_only)} meltano-only, {len(meltc_only)} meltc-only"
        print(f"{project.name}: {len(files)} file(s), {counts}")

    output = args.output or args.meltc_schema.parent / "corpus-differences.json"
    output.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {output}")

    here = pathlib.Path(__file__).resolve().parent
    ok &= check_snippets(here / "bad-snippets", ours, theirs, expect_valid=False)
    ok &= check_snippets(here / "good-snippets", ours, theirs, expect_valid=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
