"""``python -m agentledger.cli``: the same as the ``agentledger`` command."""

from agentledger.cli import main

main()
