"""Meltano's own catalog code on many inputs, in one Python process (Meltano's venv).

Input (stdin), JSON: {"fnmatch": [[name, pattern], ...], "cases": [case, ...]} where a case
is {"catalog": <catalog>, "extras": {"_select": [...], "_metadata": {...}, "_schema": {...},
"_select_filter": [...], "_catalog": null | "path"}, "config": {...}, "pip_url": null | str}.

Output (the file named by the first argument: Meltano's debug log goes to stdout), JSON: {"fnmatch": [bool, ...], "cases": [result, ...]} where a result is
{"catalog_file": text written by Meltano or null, "error": message or null,
"warnings": [message, ...], "cache_key": str or null}.

Each case goes through the real `SingerTap.apply_catalog_rules` (the method `meltano run`
calls before a tap syncs) with a stand-in for the plugin invoker that holds the extras, the
capabilities and the run files.
"""

import asyncio
import fnmatch
import json
import sys
import tempfile
import types
from pathlib import Path

from meltano.core.plugin.singer.tap import SingerTap

WARNINGS = []


def warn(message):
    if message not in WARNINGS:
        WARNINGS.append(message)


def record_stream(stream_id):
    warn(f"Stream `{stream_id}` was not found in the catalog")


def record_property(stream_id, breadcrumb):
    warn(f"Property `{'.'.join(breadcrumb[1:])}` was not found in the schema of stream `{stream_id}`")


# The real methods are lru_cached across the process (each warning once); each case starts
# afresh instead, still once per warning.
SingerTap._warn_missing_stream = staticmethod(record_stream)
SingerTap._warn_missing_property = staticmethod(record_property)


def run_case(case, directory):
    WARNINGS.clear()
    catalog_path = Path(directory) / "tap.properties.json"
    key_path = Path(directory) / "tap.properties.cache_key"
    key_path.unlink(missing_ok=True)
    catalog_path.write_text(json.dumps(case["catalog"]))
    extras = {"_catalog": None, "_select_filter": [], **case["extras"]}
    invoker = types.SimpleNamespace(
        capabilities=frozenset({"catalog", "discover"}),
        plugin_config_extras=extras,
        plugin_config=case.get("config", {}),
        plugin=types.SimpleNamespace(pip_url=case.get("pip_url")),
        files={"catalog": catalog_path, "catalog_cache_key": key_path},
    )
    # Only the methods matter here: no plugin definition, no project.
    tap = SingerTap.__new__(SingerTap)
    result = {"catalog_file": None, "error": None, "warnings": [], "cache_key": None}
    try:
        asyncio.run(tap.apply_catalog_rules(invoker))
        result["catalog_file"] = catalog_path.read_text()
        result["cache_key"] = key_path.read_text() if key_path.exists() else None
    except Exception as error:  # Meltano fails the run: the comparison wants an error too
        result["error"] = f"{type(error).__name__}: {error}"
    result["warnings"] = list(WARNINGS)
    return result


def main():
    request = json.load(sys.stdin)
    matches = [fnmatch.fnmatch(name, pattern) for name, pattern in request.get("fnmatch", [])]
    with tempfile.TemporaryDirectory() as directory:
        results = [run_case(case, directory) for case in request.get("cases", [])]
    with open(sys.argv[1], "w") as output:
        json.dump({"fnmatch": matches, "cases": results}, output)


if __name__ == "__main__":
    main()
