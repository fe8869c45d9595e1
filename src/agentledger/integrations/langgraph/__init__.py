"""LangGraph on agentledger: a long-term memory store on the memory module and a
checkpointer on the checkpoints module, each bound to one tenant (``pip install
'agentledger[langgraph]'``).

    store = AgentLedgerStore(ledger.tenant("acme"), embedder=HashingEmbedder())
    saver = AgentLedgerSaver(ledger.tenant("acme"))
    graph = builder.compile(checkpointer=saver, store=store)

``AsyncAgentLedgerStore`` and ``AsyncAgentLedgerSaver`` take an ``AsyncLedger`` tenant.
"""

try:
    import langgraph.checkpoint.base
    import langgraph.store.base  # noqa: F401
except ImportError as exc:  # pragma: no cover - only without the extra
    raise ImportError(
        "agentledger.integrations.langgraph needs LangGraph: pip install 'agentledger[langgraph]'"
    ) from exc

from agentledger.integrations.langgraph.items import (
    DEFAULT_KIND as DEFAULT_KIND,
    SOURCE_PREFIX as SOURCE_PREFIX,
)
from agentledger.integrations.langgraph.saver import (
    AgentLedgerSaver as AgentLedgerSaver,
    AsyncAgentLedgerSaver as AsyncAgentLedgerSaver,
)
from agentledger.integrations.langgraph.store import (
    AgentLedgerStore as AgentLedgerStore,
    AsyncAgentLedgerStore as AsyncAgentLedgerStore,
)
