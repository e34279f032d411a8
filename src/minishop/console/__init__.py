"""The MiniShop console: receives the lab's traces and logs over OTLP and shows every pillar.

The local mode's one place to look (CONTRACT section 8): traces with their waterfall, logs
searched with a LogQL subset, the Grafana dashboards drawn from Prometheus, alerts and
silences, and a service map, without Docker and offline.
"""
