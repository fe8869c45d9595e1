"""A small application built on agentledger, with tables of its own."""
