"""`python -m cli ...` is `hub ...`."""

from cli.main import main

main()
