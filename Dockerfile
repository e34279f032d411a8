# One image for every MiniShop service: `minishop serve <service>` picks which.
# Built in two stages so the final image holds the installed package and nothing of
# the build; it runs as an unprivileged user.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home minishop \
    && install -d -o minishop -g minishop /app/data
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
USER minishop
WORKDIR /app
# Users' SQLite files when no database URL is set; Compose sets PostgreSQL URLs.
VOLUME ["/app/data"]
EXPOSE 8001 8002 8003 8004 8080 8090 8070
ENTRYPOINT ["minishop"]
CMD ["serve", "gateway"]
