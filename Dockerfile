FROM python:3.11-slim

LABEL org.opencontainers.image.title="news-alert-bot" \
      org.opencontainers.image.description="Self-hosted news monitor: feeds, YAML rules, chat alerts" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BOT_RULES_DIR=/app/rules \
    BOT_STATE_DIR=/app/state \
    BOT_DB_URL=sqlite:////app/state/bot.db \
    BOT_HTTP_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
RUN pip install . \
 && groupadd --gid 10001 bot \
 && useradd --create-home --uid 10001 --gid 10001 bot \
 && mkdir -p /app/state \
 && chown 10001:10001 /app/state
COPY rules ./rules

# Numeric, so the runtime (and Kubernetes' runAsNonRoot) can tell it is not root without
# reading the image's /etc/passwd.
USER 10001:10001
VOLUME ["/app/state"]
EXPOSE 8080
# Exec form: no shell in between, so the probe's exit status is python's own.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["bot"]
CMD ["run"]
