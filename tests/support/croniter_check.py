"""For each expression on stdin (a JSON list of [expression, kubernetes rendering or null]):
croniter 6.0.0's verdict (Dagster vendors it), Dagster's `is_valid_cron_string`, and the next
fire times from 2026-01-01 of the expression and of its rendering, as croniter computes them.
"""

import datetime
import json
import sys

from dagster._utils.schedules import is_valid_cron_string
from dagster._vendored.croniter import croniter


def fires(expression):
    try:
        it = croniter(expression, datetime.datetime(2026, 1, 1))
        return [it.get_next(datetime.datetime).isoformat() for _ in range(60)]
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return type(error).__name__


out = []
for expression, rendering in json.load(sys.stdin):
    out.append(
        {
            "croniter": croniter.is_valid(expression),
            "dagster": is_valid_cron_string(expression),
            "fires": fires(expression) if croniter.is_valid(expression) else None,
            "rendering_fires": fires(rendering) if rendering else None,
        }
    )
json.dump(out, sys.stdout)
