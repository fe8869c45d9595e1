"""The work tools: enqueue, claim and settle tasks; start sessions, add conversation chunks,
search them, and read a session at a glance."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from agentledger.errors import InvalidInput
from agentledger.integrations.mcp.auth import Access
from agentledger.integrations.mcp.shapes import (
    ChunkHits,
    ChunkResult,
    ClaimedTasks,
    JsonObject,
    NewId,
    SessionDigest,
    SessionResult,
    TaskResult,
)
from agentledger.integrations.mcp.toolkit import READ, WRITE, WRITE_AGAIN, tool

Queue = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="The queue's name; workers claim from one queue.",
        examples=["research"],
    ),
]
Format = Literal["dialogue", "summary", "transcript"]
# Long enough for a model to think between claiming and settling; the library's default
# suits programs.
CLAIM_LEASE = 300.0


def register(server: MCPServer, access: Access) -> None:
    @tool(server, WRITE)
    async def tasks_enqueue(
        queue: Queue,
        input: Annotated[
            dict[str, object] | None,
            Field(
                description="What the worker needs to do the task.",
                examples=[{"url": "https://example.com/report"}],
            ),
        ] = None,
        task_type: Annotated[
            str, Field(max_length=200, description="What kind of task.", examples=["summarise"])
        ] = "",
        priority: Annotated[
            int, Field(ge=-1000, le=1000, description="Higher is claimed first.")
        ] = 0,
        agent_name: Annotated[
            str | None,
            Field(description="Address it to one agent: only claims naming it take it."),
        ] = None,
        max_attempts: Annotated[
            int, Field(ge=1, le=100, description="Tries before it goes dead.")
        ] = 5,
        run_after: Annotated[
            dt.datetime | None,
            Field(
                description="Not before this time (ISO 8601 with a zone).",
                examples=["2030-01-01T09:00:00Z"],
            ),
        ] = None,
        dedup_key: Annotated[
            str | None,
            Field(
                description="While a task with this key is unfinished, enqueueing again "
                "returns it instead of adding another.",
                examples=["summarise:report-7"],
            ),
        ] = None,
    ) -> TaskResult:
        """Put a task on a queue for a worker (an agent or a program) to claim and do."""
        tasks = (await access.scope("writer")).tasks
        task = await tasks.enqueue(
            queue,
            input,
            task_type=task_type,
            priority=priority,
            agent_name=agent_name,
            max_attempts=max_attempts,
            run_after=run_after,
            dedup_key=dedup_key,
        )
        return TaskResult(task=task)

    @tool(server, WRITE)
    async def tasks_claim(
        queue: Queue,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many tasks.")] = 1,
        lease: Annotated[
            float,
            Field(
                gt=0,
                le=86_400,
                description="Seconds the tasks are yours; unsettled by then, another claim "
                "may take them over.",
            ),
        ] = CLAIM_LEASE,
        worker: Annotated[
            str | None, Field(max_length=200, description="Your name, recorded as claimed_by.")
        ] = None,
        agent: Annotated[
            str | None, Field(description="Also take tasks addressed to this agent.")
        ] = None,
    ) -> ClaimedTasks:
        """Take the next ready tasks of a queue (highest priority, then oldest) and lease
        them to you. Do each, then settle it with tasks_settle."""
        tasks = (await access.scope("writer")).tasks
        claimed = await tasks.claim(queue, limit=limit, lease=lease, worker=worker, agent=agent)
        return ClaimedTasks(tasks=claimed)

    @tool(server, WRITE_AGAIN)
    async def tasks_settle(
        task_id: Annotated[int, Field(ge=1, description="The claimed task's id.")],
        token: Annotated[
            UUID, Field(description="The task's claim_token, as tasks_claim gave it.")
        ],
        action: Annotated[
            Literal["complete", "fail", "release"],
            Field(
                description="complete: done (with output); fail: it went wrong (with error; "
                "retried later unless retry is false or attempts are spent); release: give "
                "it back untouched for someone else."
            ),
        ],
        output: Annotated[
            dict[str, object] | None,
            Field(description="The result, with complete.", examples=[{"summary": "..."}]),
        ] = None,
        error: Annotated[str | None, Field(description="What went wrong, with fail.")] = None,
        retry: Annotated[bool, Field(description="With fail: may it be tried again?")] = True,
    ) -> TaskResult:
        """Finish a task you claimed: complete, fail or release it. Refused with a conflict
        error when your lease ran out and another claim took the task."""
        tasks = (await access.scope("writer")).tasks
        if action == "complete":
            task = await tasks.complete(task_id, output, token=token)
        elif action == "release":
            task = await tasks.release(task_id, token=token)
        else:
            if not error:
                raise InvalidInput("say what went wrong to fail a task", field="error")
            task = await tasks.fail(task_id, error, retry=retry, token=token)
        return TaskResult(task=task)

    @tool(server, WRITE)
    async def sessions_create(
        title: Annotated[
            str,
            Field(
                min_length=1,
                max_length=500,
                description="What it is about.",
                examples=["Q3 launch planning"],
            ),
        ],
        participants: Annotated[
            list[str] | None,
            Field(description="The people and agents taking part.", examples=[["ana", "claude"]]),
        ] = None,
        summary: Annotated[str, Field(description="What it is for, or has reached so far.")] = "",
        metadata: JsonObject = None,
        id: NewId = None,
    ) -> SessionResult:
        """Start a collaborative session: a place for a conversation's chunks and artifacts
        that people and agents come back to."""
        sessions = (await access.scope("writer")).sessions
        created = await sessions.create(
            title, participants=participants, summary=summary, metadata=metadata, id=id
        )
        return SessionResult(session=created)

    @tool(server, WRITE)
    async def sessions_add_chunk(
        session_id: Annotated[UUID, Field(description="The session's id.")],
        content: Annotated[
            str,
            Field(
                min_length=1,
                description="The conversation text, any length.",
                examples=["ana: shall we ship on Monday?\nclaude: yes, the tests pass."],
            ),
        ],
        format: Annotated[
            Format,
            Field(description="dialogue (turns), summary (a digest) or transcript (verbatim)."),
        ] = "dialogue",
        author: Annotated[
            str | None, Field(max_length=200, description="Who wrote it.", examples=["ana"])
        ] = None,
        extracted: Annotated[
            object,
            Field(
                description="Anything pulled out of it, as JSON (decisions, action items...).",
                examples=[{"decisions": ["ship on Monday"]}],
            ),
        ] = None,
        id: Annotated[
            UUID | None,
            Field(description="Your id for it: adding the same id again returns it."),
        ] = None,
    ) -> ChunkResult:
        """Append a chunk of conversation to a session (it gets the session's next seq).
        The session must be active or paused."""
        sessions = (await access.scope("writer")).sessions
        chunk = await sessions.add_chunk(
            session_id, content, format=format, author=author, extracted=extracted, id=id
        )
        return ChunkResult(chunk=chunk)

    @tool(server, READ)
    async def sessions_search(
        query: Annotated[
            str,
            Field(
                min_length=1,
                description='Web-search syntax: words, "a phrase", OR, -excluded.',
                examples=["launch date"],
            ),
        ],
        session_id: Annotated[UUID | None, Field(description="Only this session.")] = None,
        format: Annotated[Format | None, Field(description="Only chunks of this format.")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="At most this many hits.")] = 10,
    ) -> ChunkHits:
        """Full-text search over every session's conversation chunks, best match first,
        each hit with a snippet around the match."""
        sessions = (await access.scope("reader")).sessions
        hits = await sessions.search(query, session_id=session_id, format=format, limit=limit)
        return ChunkHits(hits=hits)

    @tool(server, READ)
    async def sessions_summary(
        session_id: Annotated[UUID, Field(description="The session's id.")],
        chunks: Annotated[
            int, Field(ge=1, le=100, description="How many of the latest chunks to list.")
        ] = 5,
    ) -> SessionDigest:
        """A session at a glance: its title, participants, status and summary, its latest
        chunks and the latest version of each artifact."""
        sessions = (await access.scope("reader")).sessions
        digest = await sessions.get_summary(session_id, chunks=chunks)
        return SessionDigest(
            session=digest.session,
            recent_chunks=digest.recent_chunks,
            artifacts=digest.artifacts,
        )
