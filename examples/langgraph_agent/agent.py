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
    store.put(("memories", state["user"]), _key(fact), {"text": fact})
    return {"fact": fact}


def approve(state: State, *, store: BaseStore) -> dict[str, Any]:
    """Pause until the user says whether to keep the fact; forget it on a "no"."""
    answer = interrupt({"question": f"keep {state['fact']!r}?"})
    kept = str(answer).strip().lower() in ("y", "yes")
    if not kept:
        store.delete(("memories", state["user"]), _key(state["fact"]))
    return {"kept": kept}


def answer(state: State, *, store: BaseStore) -> dict[str, Any]:
    """Answer from the user's memories closest to the message."""
    if state.get("fact"):
        verb = "I will remember" if state.get("kept") else "I forgot"
        return {"reply": f"{verb}: {state['fact']}"}
    found = store.search(("memories", state["user"]), query=state["message"], limit=3)
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
    """One turn on ``thread``: the reply, or the question it paused on."""
    result = graph.invoke(data, {"configurable": {"thread_id": thread}})
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
    with Ledger.from_env() as ledger:
        ledger.tenants.create(args.tenant, exist_ok=True)
        graph = build(ledger, args.tenant)
        if args.command == "say":
            data: Any = {"user": args.user, "message": args.text, "fact": "", "kept": False}
        else:
            data = Command(resume=args.text)
        print(run(graph, args.thread, data))
    return 0


def _key(fact: str) -> str:
    return hashlib.sha256(fact.casefold().encode()).hexdigest()[:16]


if __name__ == "__main__":
    sys.exit(main())
