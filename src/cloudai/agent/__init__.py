"""The example scheduling agent: an external program that places the master's queued
tasks over `MasterAgent` gRPC with one of the built-in pure policies (`cloudai agent`).

It imports nothing of the master, the worker, the API or the store: only the protocol
(`cloudai._proto`, `cloudai.rpc`) and the pure policies (`cloudai.scheduling`), as any
agent written outside this repository would.
"""
