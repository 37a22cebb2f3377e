"""Tell-It-Once Hub core library: contracts, policy, audit, settings. Imports no agents or connectors."""

__version__ = "0.1.0"
