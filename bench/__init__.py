"""Benchmarks (`hub bench ...`): each measures one part of the hub beside a plain baseline.

Only the CLI imports this package; the runtime and the core never do (import-linter checks).
"""
