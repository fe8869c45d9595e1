"""agentledger's reliability and security suite: fault and attack scenarios against real
processes (``python -m chaos [--quick]``)."""
