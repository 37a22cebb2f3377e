"""`hub`: the command line, one module per command group, composed in `cli.main`.

The CLI sits on top of everything: it imports the composition root (`runtime`), the benchmarks
(`bench`) and the core (`hub`); none of them imports it (import-linter checks).
"""
