"""A sixth service that exists only for the tests: what adding a service takes.

Its manifest entry (``SHIPPING``) is added to a throwaway copy of the shop's manifest,
never to the real one; the tests then check that the command line, the gateway and
the deployment-file checks follow that one entry. It declares a database (and keeps
nothing in it) so that the database checks have something to follow too.
"""

from minishop.manifest import ServiceEntry

SHIPPING = ServiceEntry(
    "shipping",
    "tests.support.shipping",
    8005,
    calls=("orders",),
    owns_database=True,
    public_api=True,
)
