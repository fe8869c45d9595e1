"""The run log: every trigger an agent pipeline handles, with timings, tokens and outcome."""

from agentledger.runs.records import (
    Run as Run,
    RunStat as RunStat,
)
