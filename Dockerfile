# One image for every MiniShop service: `minishop serve <service>` picks which.
# Built in stages so the final image holds the installed package and nothing of
# the build; it runs as an unprivileged user.
# The console's front-end files, from the npm registry as pinned by package-lock.json.
FROM node:20.18.1-bookworm-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The same files ./dev copies, packaged with the wheel (static/vendor): three files, and
# speedscope's release build (the console's CPU profile viewer) as a folder.
COPY --from=assets /assets/node_modules/uplot/dist/uPlot.iife.min.js \
     /assets/node_modules/uplot/dist/uPlot.min.css \
     /assets/node_modules/htmx.org/dist/htmx.min.js \
     ./src/minishop/console/adapters/web/static/vendor/
COPY --from=assets /assets/node_modules/speedscope/dist/release/ \
     ./src/minishop/console/adapters/web/static/vendor/speedscope/
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home minishop \
    && install -d -o minishop -g minishop /app/data \
    && install -d -o minishop -g minishop /var/lib/minishop/flags
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
USER minishop
WORKDIR /app
# Users' SQLite files when no database URL is set; Compose sets PostgreSQL URLs.
VOLUME ["/app/data"]
EXPOSE 8001 8002 8003 8004 8080 8090 8070
ENTRYPOINT ["minishop"]
CMD ["serve", "gateway"]
