"""peakcnn: learn the regulatory code of a genome from its peaks."""

__version__ = "0.1.0"
