"""``python -m minishop``: the command line, except ``serve NAME``, which starts the service
without loading the command line's libraries (see ``minishop.serve``)."""

import sys

if len(sys.argv) == 3 and sys.argv[1] == "serve" and not sys.argv[2].startswith("-"):
    from minishop.serve import main as serve

    sys.exit(serve(sys.argv[2:]))

from minishop.cli.app import main

main()
