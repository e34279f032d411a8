"""The load generator's command line (``python -m minishop.loadgen``), checked before start.

``minishop load`` and ``minishop up --load N`` build this command line; a person may also
run it directly. Every value is checked here, so a bad one is one clear line, not a
traceback from inside Locust.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

API_KEY_VARIABLE = "MINISHOP_LOAD_API_KEY"
"""The gateway API key to send (``X-API-Key``), when the gateway requires one. An
environment variable rather than an option, so it never shows in a process list."""
DEFAULT_WEB_PORT = 8089  # Locust's own default


class OptionError(ValueError):
    """A value the generator cannot run with; the message says which and why."""


@dataclass(frozen=True)
class Options:
    host: str
    users: int
    spawn_rate: float
    duration: float  # seconds; 0 runs until stopped
    think_min: float
    think_max: float
    web: bool
    web_host: str
    web_port: int
    autostart: bool
    flags_file: Path | None
    progress_interval: float  # seconds; 0 prints no progress line
    wait_ready: float  # seconds to wait for the gateway's /health/ready
    log_level: str
    api_key: str | None = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minishop.loadgen",
        description="Simulated shoppers against the MiniShop gateway (Locust).",
    )
    parser.add_argument("--host", required=True, help="The gateway's base URL.")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--spawn-rate", type=float, default=2.0, help="Users started per second.")
    parser.add_argument("--duration", type=float, default=0.0, help="Seconds; 0: until stopped.")
    parser.add_argument("--think-min", type=float, default=1.0, help="Seconds between steps.")
    parser.add_argument("--think-max", type=float, default=3.0)
    parser.add_argument("--web", action="store_true", help="Serve Locust's web UI.")
    parser.add_argument("--web-host", default="127.0.0.1")
    parser.add_argument("--web-port", type=int, default=DEFAULT_WEB_PORT)
    parser.add_argument(
        "--autostart", action="store_true", help="With --web: start the users at once."
    )
    parser.add_argument("--flags-file", type=Path, default=None, help="Watched for traffic_flood.")
    parser.add_argument("--progress-interval", type=float, default=5.0)
    parser.add_argument("--wait-ready", type=float, default=0.0)
    parser.add_argument("--log-level", default="WARNING")
    return parser


def parse_options(argv: list[str], environ: dict[str, str] | None = None) -> Options:
    """The options of ``argv``; raises OptionError naming the first value that cannot work.

    argparse itself exits (status 2) on an unknown option or a non-number.
    """
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    parts = urlsplit(args.host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OptionError(
            f"--host must be an http(s) URL such as http://127.0.0.1:8080, not {args.host!r}"
        )
    if args.users < 1:
        raise OptionError("--users must be at least 1")
    if args.spawn_rate <= 0:
        raise OptionError("--spawn-rate must be above 0 (users started per second)")
    if args.duration < 0:
        raise OptionError("--duration must be 0 (until stopped) or more seconds")
    if not 0 <= args.think_min <= args.think_max:
        raise OptionError("--think-min must be between 0 and --think-max")
    if not 1 <= args.web_port <= 65535:
        raise OptionError("--web-port must be a port number (1-65535)")
    if args.progress_interval < 0 or args.wait_ready < 0:
        raise OptionError("--progress-interval and --wait-ready are seconds, 0 or more")
    if args.autostart and not args.web:
        raise OptionError("--autostart only applies with --web (headless runs start at once)")
    if args.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise OptionError("--log-level is one of debug, info, warning, error")
    return Options(
        host=args.host.rstrip("/"),
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration=args.duration,
        think_min=args.think_min,
        think_max=args.think_max,
        web=args.web,
        web_host=args.web_host,
        web_port=args.web_port,
        autostart=args.autostart,
        flags_file=args.flags_file,
        progress_interval=args.progress_interval,
        wait_ready=args.wait_ready,
        log_level=args.log_level.upper(),
        api_key=env.get(API_KEY_VARIABLE) or None,
    )
