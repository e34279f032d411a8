"""The ``minishop`` command line: run one service, or the whole shop."""
