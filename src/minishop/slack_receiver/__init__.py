"""A stand-in for Slack's incoming webhooks, so alert notifications can be seen locally."""
