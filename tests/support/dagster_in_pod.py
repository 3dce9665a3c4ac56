"""Dagster in the image: run a job of the generated definitions.py with the real `dagster job
execute`, or list its schedules, and print what happened as one JSON document.

    python dagster_in_pod.py DEFINITIONS execute JOB   -> {"exit", "status", "events", "stderr"}
    python dagster_in_pod.py DEFINITIONS schedules     -> {"schedules": [{name, job, cron,
                                                           timezone, status}]}

Run by the image's own Dagster (the project's `dagster` utility virtualenv) inside the pod
sandbox, with DAGSTER_HOME in the pod's /tmp; `stderr` is the run's captured stderr of its
step (where meltc-run's log lines land), read from the instance's compute log folder.
"""

import glob
import importlib.util
import json
import os
import subprocess
import sys


def execute(definitions: str, job: str) -> dict:
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    cli = subprocess.run(
        [dagster, "job", "execute", "-f", definitions, "-j", job],
        capture_output=True,
        text=True,
    )
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    runs = instance.get_runs(limit=1)
    if not runs:
        return {"exit": cli.returncode, "status": None, "events": [], "stderr": cli.stderr}
    run = runs[0]
    events = [
        entry.dagster_event.event_type_value
        for entry in instance.all_logs(run.run_id)
        if entry.dagster_event is not None
    ]
    home = os.environ["DAGSTER_HOME"]
    captured = "".join(
        open(path, encoding="utf-8").read()
        for path in sorted(glob.glob(f"{home}/storage/{run.run_id}/compute_logs/*.err"))
    )
    return {
        "exit": cli.returncode,
        "job": run.job_name,
        "status": run.status.value,
        "events": events,
        "stderr": captured,
    }


def schedules(definitions: str) -> dict:
    spec = importlib.util.spec_from_file_location("definitions", definitions)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    repository = module.defs.get_repository_def()
    return {
        "schedules": [
            {
                "name": schedule.name,
                "job": schedule.job_name,
                "cron": schedule.cron_schedule,
                "timezone": schedule.execution_timezone,
                "status": schedule.default_status.value,
            }
            for schedule in sorted(repository.schedule_defs, key=lambda s: s.name)
        ]
    }


definitions, command = sys.argv[1:3]
# Dagster wants its home to exist; in the pod it is a folder of the emptyDir at /tmp.
os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
result = execute(definitions, sys.argv[3]) if command == "execute" else schedules(definitions)
json.dump(result, sys.stdout)
