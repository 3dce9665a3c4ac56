"""A small Singer target: appends each record to `out`, then prints each state after them."""

import json
import sys


def main():
    args = sys.argv[1:]
    config = json.load(open(args[args.index("--config") + 1]))
    with open(config["out"], "a") as out:
        for line in sys.stdin:
            message = json.loads(line)
            if message["type"] == "RECORD":
                out.write(json.dumps(message["record"]) + "\n")
                out.flush()
            elif message["type"] == "STATE":
                print(json.dumps(message["value"]), flush=True)
