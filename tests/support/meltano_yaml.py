"""Read YAML documents the way Meltano reads meltano.yml, for tests/yaml_meltano.rs.

stdin: a JSON list of documents (strings). stdout: a JSON list with, per document, either
{"value": ...} (the loaded document as JSON: mapping keys as text, a date as
{"python-type": "date"} so that it never passes for a string) or {"error": message, "line": n,
"column": n} (1-based; line and column are null when ruamel.yaml gives no position).

The loader is Meltano's own `meltano.core.yaml.yaml` (a ruamel.yaml round-trip `YAML()`), the
object `meltano.core.yaml.load` reads every project file with.
"""

import json
import sys

from meltano.core import yaml as meltano_yaml
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError


def plain(value):
    """The loaded value as JSON (ruamel.yaml's round-trip types are subclasses of these)."""
    if isinstance(value, dict):
        return {key_text(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return {"python-type": type(value).__name__}


def key_text(key):
    """A mapping key as meltc writes it: `null`, `true`/`false`, or its text."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def line_column(document, index):
    """1-based line and column of a character index."""
    before = document[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def read(document):
    try:
        return {"value": plain(meltano_yaml.yaml.load(document))}
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        return {
            "error": str(error.problem or error.context),
            "line": mark.line + 1 if mark else None,
            "column": mark.column + 1 if mark else None,
        }
    except ReaderError as error:
        line, column = line_column(document, error.position)
        return {"error": f"unacceptable character #x{error.character:04x}", "line": line, "column": column}
    except Exception as error:  # noqa: BLE001 - ruamel.yaml's own failures (NotImplementedError)
        return {"error": f"{type(error).__name__}: {error}", "line": None, "column": None}


json.dump([read(document) for document in json.load(sys.stdin)], sys.stdout)
