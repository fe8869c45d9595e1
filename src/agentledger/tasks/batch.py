"""New tasks: each one checked, and a batch packed into its insert statement's columns."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from operator import attrgetter
from typing import Any

from agentledger import validation as v
from agentledger.tasks.records import NewTask


def queue_name(value: object) -> str:
    return v.text("queue", value, max_len=200)


def checked_task(queue: str, task: NewTask | Mapping[str, Any], where: str = "") -> NewTask:
    """One task checked (a plain mapping is its input); errors name the field, after
    ``where`` (``tasks[i]`` in a batch)."""

    def at(name: str) -> str:
        return f"{where}.{name}" if where else name

    if not isinstance(task, NewTask):
        task = NewTask(input=v.json_object(where or "input", task))
    return NewTask(
        input=v.json_object(at("input"), task.input),
        task_type=v.text(at("task_type"), task.task_type, max_len=200, min_len=0),
        priority=v.integer(at("priority"), task.priority, low=-(2**31), high=2**31 - 1),
        queue=queue_name(task.queue if task.queue is not None else queue),
        agent_name=v.optional_text(at("agent_name"), task.agent_name, max_len=200),
        max_attempts=v.integer(at("max_attempts"), task.max_attempts, low=1, high=1000),
        retry_delay=v.number(at("retry_delay"), task.retry_delay, low=0, high=86_400),
        run_after=v.aware_datetime(at("run_after"), task.run_after),
        session_id=v.optional_text(at("session_id"), task.session_id, max_len=200),
        entity_id=v.optional_text(at("entity_id"), task.entity_id, max_len=200),
        dedup_key=v.optional_text(at("dedup_key"), task.dedup_key, max_len=500),
    )


# Every NewTask field with its array parameter in the batch inserts (a field's scalar
# parameter, in the single insert and the plain batch insert, has the field's own name).
BATCH_ARRAYS = {
    "input": "inputs",
    "queue": "queues",
    "task_type": "task_types",
    "agent_name": "agent_names",
    "priority": "priorities",
    "max_attempts": "attempt_limits",
    "retry_delay": "retry_delays",
    "run_after": "run_afters",
    "session_id": "session_ids",
    "entity_id": "entity_ids",
    "dedup_key": "dedup_keys",
}
# The fields whose column may travel once for a whole batch in the plain insert: inputs
# always travel per task, and a batch with dedup keys takes the other statement.
SHAREABLE = tuple(field for field in BATCH_ARRAYS if field not in ("input", "dedup_key"))


def batch_columns(queue: str, items: Sequence[NewTask | Mapping[str, Any]]) -> dict[str, list[Any]]:
    """A batch checked, each task once, as the batch insert's arrays (BATCH_ARRAYS).

    A plain mapping is a task's input with every other field at its default."""
    inputs: list[str] = []
    tasks: list[NewTask] = []
    plain = NewTask(queue=queue)
    for i, task in enumerate(items):
        if isinstance(task, NewTask):
            inputs.append(_input_json(f"tasks[{i}].input", task.input))
            tasks.append(checked_task(queue, replace(task, input=None), f"tasks[{i}]"))
        else:
            inputs.append(_input_json(f"tasks[{i}]", task))
            tasks.append(plain)
    # Inputs only (the usual batch): every other column repeats one value, known as such.
    shared = tasks.count(plain) == len(tasks)
    columns: dict[str, list[Any]] = {}
    for field, array in BATCH_ARRAYS.items():
        if field == "input":
            columns[array] = inputs
        elif shared:
            columns[array] = Repeated([getattr(plain, field)] * len(tasks))
        else:
            columns[array] = list(map(attrgetter(field), tasks))
    return columns


class Repeated(list[Any]):
    """A batch column known to hold one value for every task."""


def plain_batch(columns: dict[str, list[Any]]) -> dict[str, Any]:
    """The plain insert's parameters for a batch's arrays (no dedup keys): a column that
    holds one value for every task travels once, as its field's scalar parameter with a
    NULL array; the others as arrays with a NULL scalar. Inputs always travel as an array
    (it sets the batch's length)."""
    params: dict[str, Any] = {"inputs": columns["inputs"]}
    for field in SHAREABLE:
        array = BATCH_ARRAYS[field]
        values = columns[array]
        first = values[0]
        if type(values) is Repeated or all(
            value == first and type(value) is type(first) for value in values
        ):
            params[array], params[field] = None, first
        else:
            params[array], params[field] = values, None
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
        else:
            # ASCII (ensure_ascii), so its length is its size in bytes. A surrogate escape
            # is a pair (a character past U+FFFF) or a lone half that jsonb refuses: the
            # full check tells them apart.
            if (
                len(text) <= v.MAX_JSON_BYTES
                and "\\u0000" not in text
                and ("\\ud" not in text or not _SURROGATE_ESCAPE.search(text))
            ):
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
_SURROGATE_ESCAPE = re.compile(r"\\ud[89a-f]")
# One encoder for every input (json.dumps with options builds a new one per call).
_encode = json.JSONEncoder(allow_nan=False).encode
