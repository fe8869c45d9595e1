"""A small LangGraph agent on agentledger: it notes what a user asks it to remember, pauses
for the user's approval (a LangGraph interrupt), and answers from everything it remembers.

Memories live in the store under ``("memories", user)``, so a new thread finds what an
earlier one noted; a paused thread lives in the checkpointer, so another process resumes it.

    python -m examples.langgraph_agent.agent say  --thread t1 --user ana "remember I like green tea"
    python -m examples.langgraph_agent.agent resume --thread t1 yes    # in a new process
    python -m examples.langgraph_agent.agent say  --thread t2 --user ana "what do I like to drink?"

The embedded PostgreSQL is used unless ``DATABASE_URL`` is set; the tenant is ``--tenant``
(``langgraph-demo``), created when missing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph.types import Command, interrupt

from agentledger import HashingEmbedder, Ledger
from agentledger.integrations.langgraph import AgentLedgerSaver, AgentLedgerStore

REMEMBER = "remember "
# The store keeps ``("memories", label)`` as the source ``"langgraph:memories." + label``,
# at most 200 characters: what is left for the user's label.
MAX_USER_LABEL = 200 - len("langgraph:memories.")


class NothingToResume(LookupError):
    """``resume`` on a thread that is not paused (never seen, or already answered)."""

    def __init__(self, thread: str) -> None:
        super().__init__(f"thread {thread} has nothing to resume")
        self.thread = thread


def user_label(user: str) -> str:
    """The namespace label of ``user``: the id itself, with ``%``, ``.`` and NUL written as
    ``%25``, ``%2E`` and ``%00`` (LangGraph's labels cannot hold a dot), so that an email
    works and two ids never share a label. ValueError for an empty or too long id."""
    if not user:
        raise ValueError("the user must not be empty")
    label = user.replace("%", "%25").replace(".", "%2E").replace("\x00", "%00")
    if len(label) > MAX_USER_LABEL:
        raise ValueError(
            f"the user is {len(label)} characters once encoded; the limit is {MAX_USER_LABEL}"
        )
    return label


def memories(user: str) -> tuple[str, str]:
    """The store namespace of ``user``'s memories."""
    return ("memories", user_label(user))


class State(TypedDict, total=False):
    user: str
    message: str
    fact: str
    kept: bool
    reply: str


def note(state: State, *, store: BaseStore) -> dict[str, Any]:
    """Store what the user asks to remember (before approval, so that it survives a pause)."""
    message = state["message"]
    if not message.lower().startswith(REMEMBER):
        return {"fact": ""}
    fact = message[len(REMEMBER) :].strip()
    store.put(memories(state["user"]), _key(fact), {"text": fact})
    return {"fact": fact}


def approve(state: State, *, store: BaseStore) -> dict[str, Any]:
    """Pause until the user says whether to keep the fact; forget it on a "no"."""
    answer = interrupt({"question": f"keep {state['fact']!r}?"})
    kept = str(answer).strip().lower() in ("y", "yes")
    if not kept:
        store.delete(memories(state["user"]), _key(state["fact"]))
    return {"kept": kept}


def answer(state: State, *, store: BaseStore) -> dict[str, Any]:
    """Answer from the user's memories closest to the message."""
    if state.get("fact"):
        verb = "I will remember" if state.get("kept") else "I forgot"
        return {"reply": f"{verb}: {state['fact']}"}
    found = store.search(memories(state["user"]), query=state["message"], limit=3)
    if not found:
        return {"reply": "you have not told me anything yet"}
    return {"reply": "you told me: " + "; ".join(str(item.value["text"]) for item in found)}


def build(ledger: Ledger, tenant: str) -> CompiledStateGraph[State, None, State, State]:
    """The graph, with its checkpointer and store bound to ``tenant``."""
    scope = ledger.tenant(tenant)
    builder = StateGraph(State)
    builder.add_node("note", note)
    builder.add_node("approve", approve)
    builder.add_node("answer", answer)
    builder.add_edge(START, "note")
    builder.add_conditional_edges("note", lambda s: "approve" if s.get("fact") else "answer")
    builder.add_edge("approve", "answer")
    builder.add_edge("answer", END)
    return builder.compile(
        checkpointer=AgentLedgerSaver(scope),
        store=AgentLedgerStore(scope, embedder=HashingEmbedder(), fields=["text"]),
    )


def run(graph: CompiledStateGraph[State, None, State, State], thread: str, data: Any) -> str:
    """One turn on ``thread``: the reply, or the question it paused on. A ``Command`` (a
    resume) on a thread with no pending question raises NothingToResume."""
    config: Any = {"configurable": {"thread_id": thread}}
    if isinstance(data, Command) and not graph.get_state(config).interrupts:
        raise NothingToResume(thread)
    result = graph.invoke(data, config)
    pauses = result.get("__interrupt__") if isinstance(result, dict) else None
    if pauses:
        return f"paused: {pauses[0].value['question']}"
    return str(result["reply"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["say", "resume"])
    parser.add_argument("text", help="the message, or the answer to the question paused on")
    parser.add_argument("--thread", required=True)
    parser.add_argument("--user", default="ana")
    parser.add_argument("--tenant", default="langgraph-demo")
    args = parser.parse_args(argv)
    try:
        user_label(args.user)
    except ValueError as error:
        print(f"--user {args.user!r}: {error}", file=sys.stderr)
        return 2
    with Ledger.from_env() as ledger:
        ledger.tenants.create(args.tenant, exist_ok=True)
        graph = build(ledger, args.tenant)
        if args.command == "say":
            data: Any = {"user": args.user, "message": args.text, "fact": "", "kept": False}
        else:
            data = Command(resume=args.text)
        try:
            print(run(graph, args.thread, data))
        except NothingToResume as error:
            print(error, file=sys.stderr)
            return 1
    return 0


def _key(fact: str) -> str:
    return hashlib.sha256(fact.casefold().encode()).hexdigest()[:16]


if __name__ == "__main__":
    sys.exit(main())
