"""Run many `meltano` command lines in one Python process, so that Meltano's ~2 s of imports
are paid once per project instead of once per command.

Input (stdin): a JSON list of argument lists, e.g. [["config", "--unsafe", "print", "tap-x"]].
Output (stdout): a JSON list with, per command, {"argv", "code", "stdout", "stderr"}.
Each command goes through Meltano's real entry point (`meltano.cli.main`), in the working
directory and environment this process was started with.
"""

import contextlib
import io
import json
import sys


def run(argv):
    from meltano.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    sys.argv = ["meltano", *argv]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main() or 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except Exception as error:  # a crash is a failed command, as it is for the CLI
            print(f"{type(error).__name__}: {error}", file=err)
            code = 1
    return {"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()[-4000:]}


def main():
    commands = json.load(sys.stdin)
    results = [run(argv) for argv in commands]
    json.dump(results, sys.__stdout__)


if __name__ == "__main__":
    main()
