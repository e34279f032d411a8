"""Gateway: the one door clients use; routing, API keys and rate limits."""
