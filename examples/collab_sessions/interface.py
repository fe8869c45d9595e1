"""The collaborative-session interface both storage backends implement.

Every call takes and returns plain JSON-ready values (dicts of str, int, float, bool, None,
lists; times as ISO-8601 UTC text), so an agent sees the same results whichever backend
``STORAGE_BACKEND`` chose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

MEMORY_TYPES = (
    "idea",
    "decision",
    "question",
    "action_item",
    "context",
    "preference",
    "fact",
    "risk",
)
TASK_TYPES = ("code", "research", "document", "analysis")
TASK_STATUSES = ("pending", "claimed", "completed", "failed", "cancelled")
CHUNK_FORMATS = ("dialogue", "summary", "transcript")
ARTIFACT_TYPES = ("code", "document", "research", "prd", "report")
# The session lifecycle, {status: {action: next status}}: the seed's active | paused |
# completed, and archived after completed. The PostgreSQL backend's database enforces the
# same table (agentledger.sessions.SESSION_LIFECYCLE; a test compares the two).
SESSION_MOVES: dict[str, dict[str, str]] = {
    "active": {"pause": "paused", "complete": "completed"},
    "paused": {"resume": "active", "complete": "completed"},
    "completed": {"archive": "archived"},
    "archived": {},
}
# The seed's sample agents, pre-loaded into every store.
SAMPLE_AGENTS: tuple[dict[str, Any], ...] = (
    {
        "name": "claude_code",
        "type": "code",
        "command": "claude",
        "capabilities": ["code", "refactor", "review", "document"],
    },
    {
        "name": "codex",
        "type": "code",
        "command": "codex",
        "capabilities": ["code", "test"],
    },
    {
        "name": "gemini_cli",
        "type": "analysis",
        "command": "gemini",
        "capabilities": ["analysis", "research", "document"],
    },
    {
        "name": "researcher",
        "type": "research",
        "command": "researcher",
        "capabilities": ["research", "summarise"],
    },
)


class StorageError(Exception):
    """A backend refused a call: the message names the value and the field at fault."""


class SessionBackend(Protocol):
    """What an agent calls, on either backend.

    Sessions: ``create_session`` / ``load_session`` / ``save_session`` (title, participants,
    summary, metadata; status along SESSION_MOVES) / ``list_sessions`` /
    ``list_active_sessions`` (status active) / ``get_session_summary``. Session dicts
    carry ``chunk_count``, ``memory_count``, ``task_count``, ``artifact_count`` and
    ``last_activity``, kept by the store itself.

    Chunks: conversation text of any size, returned byte-identical; ``search_conversations``
    returns hits best first with ``rank`` and a ``snippet`` whose matches are wrapped in
    ``<mark>``...``</mark>``.

    Memories: one per (session, key); a second ``store_memory`` of a key updates it.
    ``query_memories`` filters by type, tags (all must be present) and text.

    Tasks: ``claim_task(agent_name, control_agent)`` takes the highest-priority pending task
    addressed to ``agent_name`` (or to no agent), oldest first among equals, marks it
    ``claimed`` by ``control_agent`` and returns it; None when there is none.
    ``complete_task`` / ``fail_task`` settle a claimed task. ``task_counts`` is the seed's
    task-queue view: a count per status.
    """

    backend: str

    def close(self) -> None: ...

    def create_session(
        self,
        title: str,
        participants: Sequence[str] = (),
        *,
        session_id: str | None = None,
        summary: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    def load_session(self, session_id: str) -> dict[str, Any] | None: ...

    def save_session(self, session: Mapping[str, Any]) -> dict[str, Any]: ...

    def list_sessions(
        self, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]: ...

    def list_active_sessions(self, limit: int = 100) -> list[dict[str, Any]]: ...

    def get_session_summary(self, session_id: str) -> dict[str, Any]: ...

    def delete_session(self, session_id: str) -> bool: ...

    def add_conversation_chunk(
        self,
        session_id: str,
        content: str,
        *,
        format: str = "dialogue",
        extracted_items: Any = None,
        author: str | None = None,
        chunk_id: str | None = None,
    ) -> dict[str, Any]: ...

    def get_conversation_chunk(self, chunk_id: str) -> dict[str, Any]: ...

    def search_conversations(
        self, query: str, *, session_id: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]: ...

    def store_memory(
        self,
        session_id: str,
        memory_type: str,
        key: str,
        content: Any,
        tags: Sequence[str] = (),
    ) -> dict[str, Any]: ...

    def get_memory(self, session_id: str, key: str) -> dict[str, Any] | None: ...

    def query_memories(
        self,
        session_id: str,
        *,
        memory_type: str | None = None,
        tags: Sequence[str] | None = None,
        text: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]: ...

    def create_task(
        self,
        session_id: str,
        agent_name: str | None,
        task_type: str,
        input_data: Mapping[str, Any] | None = None,
        *,
        priority: int = 0,
    ) -> dict[str, Any]: ...

    def claim_task(self, agent_name: str, control_agent: str) -> dict[str, Any] | None: ...

    def complete_task(
        self, task_id: str, output_data: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...

    def fail_task(self, task_id: str, error: str) -> dict[str, Any]: ...

    def get_task(self, task_id: str) -> dict[str, Any]: ...

    def list_tasks(self, session_id: str, *, status: str | None = None) -> list[dict[str, Any]]: ...

    def task_counts(self, session_id: str | None = None) -> dict[str, int]: ...

    def store_artifact(
        self,
        session_id: str,
        name: str,
        content: str,
        *,
        artifact_type: str = "document",
        format: str = "markdown",
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    def get_artifact(
        self, session_id: str, name: str, *, version: int | None = None
    ) -> dict[str, Any] | None: ...

    def search_artifacts(
        self, query: str, *, session_id: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]: ...

    def list_agents(self, status: str | None = None) -> list[dict[str, Any]]: ...


def choice(field: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise StorageError(f"{field} is {value!r}; expected one of {', '.join(allowed)}")
    return value


def next_status(current: str, target: str) -> str | None:
    """The lifecycle action from ``current`` to ``target`` (None when they are equal)."""
    if current == target:
        return None
    for action, to in SESSION_MOVES.get(current, {}).items():
        if to == target:
            return action
    raise StorageError(f"status cannot go from {current!r} to {target!r}")
