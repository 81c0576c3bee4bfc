"""portlint: lint firewall rules and container port declarations against a port catalog."""

__version__ = "0.1.0"
