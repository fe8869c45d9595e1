"""New tasks: each one checked, and a batch packed into its insert statement's columns."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from operator import attrgetter
from typing import Any

from agentledger import validation as v
from agentledger.errors import InvalidInput
from agentledger.tasks.records import NewTask


def queue_name(value: object) -> str:
    return v.text("queue", value, max_len=200)


def _when(field: str, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(f"{field} must be a timezone-aware datetime", field=field)
    return value


def checked_task(queue: str, task: NewTask | Mapping[str, Any], index: int) -> NewTask:
    """One task of a batch checked (a plain mapping is its input); errors name
    ``tasks[index]`` and the field."""
    if not isinstance(task, NewTask):
        task = NewTask(input=v.json_object(f"tasks[{index}]", task))
    at = f"tasks[{index}]"
    return NewTask(
        input=v.json_object(f"{at}.input", task.input),
        task_type=v.text(f"{at}.task_type", task.task_type, max_len=200, min_len=0),
        priority=v.integer(f"{at}.priority", task.priority, low=-(2**31), high=2**31 - 1),
        queue=queue_name(task.queue if task.queue is not None else queue),
        agent_name=v.optional_text(f"{at}.agent_name", task.agent_name, max_len=200),
        max_attempts=v.integer(f"{at}.max_attempts", task.max_attempts, low=1, high=1000),
        retry_delay=v.number(f"{at}.retry_delay", task.retry_delay, low=0, high=86_400),
        run_after=_when(f"{at}.run_after", task.run_after),
        session_id=v.optional_text(f"{at}.session_id", task.session_id, max_len=200),
        entity_id=v.optional_text(f"{at}.entity_id", task.entity_id, max_len=200),
        dedup_key=v.optional_text(f"{at}.dedup_key", task.dedup_key, max_len=500),
    )


def batch_columns(queue: str, items: Sequence[NewTask | Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Validate a batch into the statement's columns, each task checked once.

    A plain mapping is a task's input with every other field at its default."""
    inputs: list[str] = []
    tasks: list[NewTask] = []
    plain = NewTask(queue=queue)
    for i, task in enumerate(items):
        if isinstance(task, NewTask):
            inputs.append(_input_json(f"tasks[{i}].input", task.input))
            tasks.append(checked_task(queue, replace(task, input=None), i))
        else:
            inputs.append(_input_json(f"tasks[{i}]", task))
            tasks.append(plain)
    # Inputs only (the usual batch): every other column repeats one value, known as such.
    shared = tasks.count(plain) == len(tasks)
    columns: dict[str, list[Any]] = {"inputs": inputs}
    for column, field in _BATCH_FIELDS.items():
        if shared:
            columns[column] = Repeated([getattr(plain, field)] * len(tasks))
        else:
            columns[column] = list(map(attrgetter(field), tasks))
    return columns


class Repeated(list[Any]):
    """A batch column known to hold one value for every task."""


# A batch's columns (but its inputs), by the NewTask field each is read from.
_BATCH_FIELDS = {
    "queues": "queue",
    "task_types": "task_type",
    "agent_names": "agent_name",
    "priorities": "priority",
    "max_attempts": "max_attempts",
    "retry_delays": "retry_delay",
    "run_afters": "run_after",
    "session_ids": "session_id",
    "entity_ids": "entity_id",
    "dedup_keys": "dedup_key",
}

# The plain insert's columns that may travel once for the whole batch, by their scalar's name.
UNIFORM = {
    "queues": "queue",
    "task_types": "task_type",
    "agent_names": "agent_name",
    "priorities": "priority",
    "max_attempts": "max_attempt",
    "retry_delays": "retry_delay",
    "run_afters": "run_after",
    "session_ids": "session_id",
    "entity_ids": "entity_id",
}


def plain_batch(columns: dict[str, list[Any]]) -> dict[str, Any]:
    """The plain insert's parameters: a column with one value for every task as that value
    (and a NULL array), the others as arrays; inputs always as an array (it sets the batch's
    length)."""
    params: dict[str, Any] = {"inputs": columns["inputs"]}
    for name, scalar in UNIFORM.items():
        values = columns[name]
        first = values[0]
        if type(values) is Repeated or all(
            value == first and type(value) is type(first) for value in values
        ):
            params[name], params[scalar] = None, first
        else:
            params[name], params[scalar] = values, None
    return params


def _input_json(field: str, value: object) -> str:
    """A task's input as JSON text: one encoding for the common case (a dict of JSON values
    that encodes cleanly); anything else gets the full check, which names the problem."""
    if value is None:
        return "{}"
    if type(value) is dict and _plain_json(value, 0):
        try:
            text = _encode(value)
        except (TypeError, ValueError):
            pass
        else:  # ASCII (ensure_ascii), so its length is its size in bytes
            if len(text) <= v.MAX_JSON_BYTES and "\\u0000" not in text:
                return text
    return json.dumps(v.json_object(field, value))


def _plain_json(value: object, depth: int) -> bool:
    """Containers whose keys are strings, not nested too deeply (the scalars are checked by
    encoding: json.dumps refuses non-finite numbers and foreign types)."""
    if depth > 60:
        return False
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) in _CONTAINERS and not _plain_json(item, depth + 1):
                return False
    elif type(value) in _CONTAINERS:
        for item in value:  # type: ignore[attr-defined]
            if type(item) in _CONTAINERS and not _plain_json(item, depth + 1):
                return False
    return True


_CONTAINERS = (dict, list, tuple)
# One encoder for every input (json.dumps with options builds a new one per call).
_encode = json.JSONEncoder(allow_nan=False).encode
