# Marugoto service image. Build: docker build -t marugoto .
# Run:   docker run -p 8000:8000 -e DATABASE_URL=... -e LINE_CHANNEL_SECRET=... \
#          -e LINE_CHANNEL_ACCESS_TOKEN=... marugoto
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY knowledge ./knowledge
COPY triage ./triage
COPY bot ./bot
COPY admin ./admin
RUN pip install . && useradd --system --home /app marugoto && chown marugoto /app

USER marugoto
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["marugoto", "serve", "--host", "0.0.0.0", "--port", "8000"]
