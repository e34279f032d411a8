"""The load generator: simulated shoppers (Locust) walking the shop's public API.

It runs in its own process (``python -m minishop.loadgen``, started by ``minishop load``
or ``minishop up --load N``) and nothing else in MiniShop imports it: Locust patches the
standard library with gevent on import, which would break every asyncio service (an
import-linter rule in pyproject.toml holds to it).

The modules that import Locust are ``users``, ``flood`` and ``runner``; ``journeys``,
``options`` and ``report`` are plain Python (what a shopper decides, the command line,
the printed figures), so their tests run without gevent.
"""
