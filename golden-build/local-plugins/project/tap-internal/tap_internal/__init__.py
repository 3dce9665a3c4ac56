"""A small Singer tap: `batch` users per run, after the bookmark of the state it is given."""

import json
import sys

import six  # a dependency, installed from the plugin's hashed lock

STREAM = {
    "tap_stream_id": "users",
    "stream": "users",
    "schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
    "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}}],
}


def main():
    args = sys.argv[1:]
    config = json.load(open(args[args.index("--config") + 1]))
    if "--discover" in args:
        print(json.dumps({"streams": [STREAM]}))
        return
    start = 0
    if "--state" in args:
        start = json.load(open(args[args.index("--state") + 1]))["bookmarks"]["users"]["n"]
    print(json.dumps({"type": "SCHEMA", "stream": "users", "schema": STREAM["schema"], "key_properties": ["n"]}))
    for n in six.moves.range(start + 1, start + 1 + config["batch"]):
        print(json.dumps({"type": "RECORD", "stream": "users", "record": {"n": n}}))
    print(json.dumps({"type": "STATE", "value": {"bookmarks": {"users": {"n": start + config["batch"]}}}}))
