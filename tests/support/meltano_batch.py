"""Run many `meltano` command lines in one Python process, so that Meltano's ~2 s of imports
are paid once, not once per command.

Input (stdin): a JSON list of requests. A request is an argument list, run through Meltano's
real CLI entry point (`meltano.cli.main`), or {"argv": [...], "via": "services"}: the same
command line answered by the Meltano services that command uses, called here directly (see
`Services`), which skips what the CLI repeats on every command and which does not change what
it prints (logging and telemetry set-up, the version check, the system database migration,
reloading the project). {"argv": [...], "via": "both"} runs both, the CLI first, and reports in
"mismatch" where their results differ: the test's proof that the services answer as the CLI.
Output (stdout): a JSON list with, per request, {"argv", "code", "stdout", "stderr"} (and
"mismatch" for "both"), in the working directory and environment this process was started
with.

With `--serve`, one such list per input line, each with the project's folder and process
environment ({"root", "env", "requests"}), and one line of results per project (see `serve`).
"""
import contextlib
import io
import json
import os
import re
import sys
import tempfile
from pathlib import Path


def run_cli(argv):
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


MEMORY_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class Services:
    """The two command lines the differential tests run, answered by Meltano's services.

    `meltano [--environment=E | --no-environment] config --unsafe print --plugin-type T NAME
    [--format=env]` and `meltano [--environment=E | --no-environment] compile --directory D
    --unsafe`: the CLI parses exactly these (tests/config_meltano.rs, tests/compile_meltano/).
    """

    def __init__(self):
        from meltano.core.db import project_engine
        from meltano.core.logging import setup_logging
        from meltano.core.migration_service import MigrationService
        from meltano.core.project import Project

        # Meltano's log lines go to stderr (`meltano.cli.cli.cli` sets this up per command).
        setup_logging()
        # Every setting lookup copies the process environment (`SettingsService.env` in
        # `meltano/core/settings_service.py`, `{**os.environ, ...}`), and `os.environ` decodes
        # each name and value on every copy: a quarter of the time. A plain dict with the same
        # content answers every read the same (nothing here starts a process).
        if not isinstance(os.environ, dict):
            os.environ = dict(os.environ)
        # `meltano.cli.cli.cli`: `Project.find(dotenv_file=None)` in the working directory.
        self.project = Project.find()
        # The settings service of the last plugin asked for, with its answers: the JSON and
        # the env output of one plugin in one environment come from the same
        # `config_with_metadata` call with the same arguments, as two CLI commands would
        # compute it twice (nothing changes in between).
        self.last = None
        # `meltano.cli.params.pass_project(migrate=True)`: the system database, migrated.
        engine, _ = project_engine(self.project, default=True)
        MigrationService(engine).upgrade(silent=True)

    def run(self, argv):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                self.dispatch(list(argv))
            return {"argv": argv, "code": 0, "stdout": out.getvalue(), "stderr": ""}
        except Exception as error:  # the CLI's exit 1, with the exception's own words
            return {
                "argv": argv,
                "code": 1,
                "stdout": out.getvalue(),
                "stderr": f"{type(error).__name__}: {error}",
            }

    def dispatch(self, argv):
        environment, no_environment = None, False
        if argv[0].startswith("--environment="):
            environment = argv.pop(0).split("=", 1)[1]
        elif argv[0] == "--no-environment":
            argv.pop(0)
            no_environment = True
        match argv:
            case ["config", "--unsafe", "print", "--plugin-type", plugin_type, name, *rest]:
                self.config_print(environment, no_environment, plugin_type, name, rest)
            case ["compile", "--directory", directory, "--unsafe"]:
                self.compile(environment, no_environment, Path(directory))
            case _:
                raise ValueError(f"not a command the services answer: {argv}")

    def select(self, environment, no_environment):
        """`meltano.cli.cli.detect_selected_environment`: (selected, is the default)."""
        from meltano.cli.cli import detect_selected_environment

        return detect_selected_environment(
            cli_environment=environment,
            cli_no_environment=no_environment,
            project=self.project,
        )

    def config_print(self, environment, no_environment, plugin_type, name, rest):
        """`meltano.cli.config.print_config`, with `--unsafe` (`redacted=False`)."""
        import click
        import dotenv
        from meltano.core.db import project_engine
        from meltano.core.plugin import PluginType
        from meltano.core.plugin.settings_service import PluginSettingsService
        from meltano.core.setting_definition import SettingValueJSONEncoder

        # The `config` group's `environment_optional_ignore_default` behaviour
        # (`meltano.cli.utils.activate_explicitly_provided_environment`).
        selected, is_default = self.select(environment, no_environment)
        if selected and not is_default:
            self.project.activate_environment(selected)
        else:
            self.project.deactivate_environment()
        key = (selected if selected and not is_default else None, plugin_type, name)
        if self.last is None or self.last[0] != key:
            # `meltano.cli.config._get_plugin` and `_get_settings`.
            plugin = self.project.plugins.find_plugin(
                name,
                plugin_type=PluginType.from_cli_argument(plugin_type),
                configurable=True,
            )
            settings = PluginSettingsService(self.project, plugin)
            settings.config_with_metadata = remembered(settings.config_with_metadata)
            self.last = (key, settings)
        settings = self.last[1]
        _, Session = project_engine(self.project)  # noqa: N806
        with Session() as session:
            if rest == []:
                config = settings.as_dict(
                    extras=False,
                    process=True,
                    session=session,
                    redacted=False,
                    redacted_value="*****",
                )
                click.echo(json.dumps(config, cls=SettingValueJSONEncoder, indent=2))
            elif rest == ["--format=env"]:
                env = settings.as_env(
                    extras=False, session=session, redacted=False, redacted_value="*****"
                )
                # `dotenv.set_key` rewrites and renames the file per variable: in memory when
                # the machine has a memory file system, as the same text.
                with tempfile.TemporaryDirectory(dir=MEMORY_DIR) as temp_dir:
                    path = Path(temp_dir) / ".env"
                    for key, value in env.items():
                        dotenv.set_key(path, key, value)
                    click.echo(path.read_text())
            else:
                raise ValueError(f"not an option the services answer: {rest}")

    def compile(self, environment, no_environment, directory):
        """`meltano.cli.compile.compile_command`, with `--unsafe` (`redact_secrets=False`)."""
        import click
        from meltano.core.environment import Environment
        from meltano.core.manifest import Manifest

        # `meltano.cli.compile._environments` for one explicit choice (compile has no
        # environment behaviour: the project is refreshed with each environment it compiles).
        selected, is_default = self.select(environment, no_environment)
        if no_environment:
            chosen = None
        elif selected and not is_default:
            chosen = Environment.find(self.project.meltano.environments, selected)
        else:
            raise ValueError("the services compile one environment, or none")
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / (
            "meltano-manifest.json" if chosen is None else f"meltano-manifest.{chosen.name}.json"
        )
        self.project.refresh(environment=chosen)
        self.last = None
        manifest = Manifest(project=self.project, path=path, check_schema=False, redact_secrets=False)
        with path.open("w") as manifest_file:
            json.dump(manifest.data, manifest_file, indent=4, sort_keys=True)
            manifest_file.write("\n")
        click.echo(f"Compiled {path}")


def remembered(config_with_metadata):
    """`config_with_metadata` answering a repeated call (same arguments but the database
    session, which only the system database store reads, empty here) from the first."""
    answers = {}

    def call(**kwargs):
        key = tuple(sorted((name, repr(value)) for name, value in kwargs.items() if name != "session"))
        if key not in answers:
            answers[key] = config_with_metadata(**kwargs)
        return answers[key]

    return call


def mismatch(cli, services):
    """How the CLI's result and the services' differ, or None."""
    if cli["code"] != services["code"]:
        return f"exit {cli['code']} from the CLI, {services['code']} from the services"
    if cli["code"] == 0 and "compile" not in cli["argv"] and cli["stdout"] != services["stdout"]:
        return f"the CLI printed:\n{cli['stdout']}\nthe services:\n{services['stdout']}"
    if cli["code"] != 0:
        # The CLI prints the exception's message (a crash also with its traceback), wrapped
        # to the terminal's width; a temporary folder has another name in each run.
        def words(text):
            return re.sub(r"/(?:tmp|dev/shm)/tmp\w+", "TEMP", "".join(text.split()))

        message = services["stderr"].split(": ", 1)[-1]
        if words(message) not in words(cli["stderr"]):
            return f"the CLI failed with:\n{cli['stderr']}\nthe services with:\n{services['stderr']}"
    return None


def compiled_manifests(argv):
    """The manifest files a compile command line wrote, by name."""
    directory = Path(argv[argv.index("--directory") + 1])
    return {path.name: path.read_text() for path in sorted(directory.glob("*.json"))}


def answer(requests):
    """The result of each request, in order."""
    results = [None] * len(requests)
    services = None

    def order(index):
        # The CLI first: what its first command writes into the project (a `project_id`, the
        # system database) is then there for the services too, as it is for each later
        # command. Then the services' commands by environment (an environment switch reloads
        # the project), each plugin's two outputs together.
        request = requests[index]
        if isinstance(request, list) or request["via"] == "both":
            return (0, index)
        argv = request["argv"]
        return (1, argv[0] if argv[0].startswith("--") else "", argv[1:], index)

    for index in sorted(range(len(requests)), key=order):
        request = requests[index]
        if isinstance(request, list):
            results[index] = run_cli(request)
            continue
        argv = request["argv"]
        if services is None:
            services = Services()
        if request["via"] == "services":
            results[index] = services.run(argv)
            continue
        cli = run_cli(argv)
        services.last = None  # the CLI may have changed the project the services hold
        cli_files = compiled_manifests(argv) if "compile" in argv and cli["code"] == 0 else {}
        result = services.run(argv)
        why = mismatch(cli, result)
        if why is None and cli_files and compiled_manifests(argv) != cli_files:
            why = "the compiled manifests differ"
        result["mismatch"] = why
        results[index] = result
    return results


def serve():
    """Answer one project per input line, {"root", "env", "requests"}, with one line of
    results, until stdin ends: Meltano's imports are paid once per worker, not per project.
    Each project runs as a process of its own would: in its folder, with exactly its
    environment, and nothing of the previous project's (`Project.find`'s remembered
    project, logging set up again)."""
    from meltano.core.project import Project

    for line in sys.stdin:
        job = json.loads(line)
        os.chdir(job["root"])
        os.environ.clear()
        os.environ.update(job["env"])
        Project.deactivate()
        results = answer(job["requests"])
        sys.__stdout__.write(json.dumps(results) + "\n")
        sys.__stdout__.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        json.dump(answer(json.load(sys.stdin)), sys.__stdout__)
