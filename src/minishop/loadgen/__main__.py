"""``python -m minishop.loadgen``: gevent patches the standard library before anything else."""

from gevent import monkey

monkey.patch_all()

from minishop.loadgen.runner import main  # noqa: E402 - after the patch, by design

raise SystemExit(main())
