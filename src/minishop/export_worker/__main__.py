"""``python -m minishop.export_worker``: started by a service's span processor, never by hand."""

from minishop.export_worker.worker import main

raise SystemExit(main())
