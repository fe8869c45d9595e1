"""A LangGraph agent that remembers across threads (AgentLedgerStore) and resumes across
process restarts (AgentLedgerSaver)."""
