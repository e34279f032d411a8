"""Through the gateway, on both databases: what a client sends never reaches a log in clear.

The write that failed on PostgreSQL with the row's values in its exception was a
registration whose name holds a NUL byte; whatever the services answer it with (a
500 before, a 422 once input validation refuses it), no log line may carry the
address or the name.
"""

from __future__ import annotations

import io

from minishop.observability.logging import configure_logging
from tests.support.shop import Shop

EMAIL = "ada.private@example.com"
NAME_PART = "Lovelace"


async def test_no_personal_data_in_any_log_line(shop: Shop) -> None:
    stream = io.BytesIO()
    configure_logging("gateway", "INFO", stream=stream)  # every line of the five services
    async with shop.client() as client:
        registered = await client.post(
            "/api/v1/users", json={"email": EMAIL, "name": f"Ada {NAME_PART}"}
        )
        assert registered.status_code == 201, registered.text
        again = await client.post("/api/v1/users", json={"email": EMAIL, "name": "Ada"})
        assert again.status_code == 409, again.text
        nul = await client.post(
            "/api/v1/users", json={"email": f"x{EMAIL}", "name": f"Ada\x00{NAME_PART}"}
        )
        assert nul.status_code in (201, 422, 500), nul.text  # 201 on SQLite, else refused
        card = await client.post(
            "/api/v1/users",
            json={"email": "4242 4242 4242 4242", "name": "card number as an address"},
        )
        assert card.status_code < 600

    written = stream.getvalue().decode("utf-8", "replace")
    assert written.count("POST /api/v1/users") >= 8  # an access line per service and request
    for secret in (EMAIL, NAME_PART, "4242 4242"):
        assert secret not in written, f"{secret!r} reached a log line"
