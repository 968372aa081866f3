# progtc server image. NOT BUILT IN THIS REPOSITORY'S CI: the machine that develops it has no
# container engine; the file is kept plain so that it is easy to check by reading.
#   docker build -t progtc .
#   docker run --rm -p 8000:8000 -e PROGTC_API_KEY=your-secret-key progtc
# Layers, least to most often changed: base and packages, npm dependencies (deno.json and
# deno.lock only), the sources, the Python memory snapshot built from them.
FROM denoland/deno:debian-2.9.6

# tini: a real init as PID 1 (signals forwarded, zombies reaped: the server spawns sandboxes).
# curl: the health check. util-linux (prlimit, the sandboxes' data rlimit) is in the base system.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini curl \
  && rm -rf /var/lib/apt/lists/*

# Everything below runs as the image's unprivileged `deno` user; the sandboxes inherit it.
RUN mkdir -p /app /deno-dir && chown deno:deno /app /deno-dir
USER deno
WORKDIR /app
ENV DENO_DIR=/deno-dir \
    MALLOC_MMAP_THRESHOLD_=65536 \
    PROGTC_HOST=0.0.0.0 \
    PROGTC_PORT=8000

# npm dependencies pinned by deno.lock: re-run only when these two files change.
COPY --chown=deno:deno deno.json deno.lock ./
RUN deno install --frozen

# The sources the server runs (tests, benchmarks and docs stay out: see .dockerignore).
COPY --chown=deno:deno mod.ts protocol.ts cli.ts ./
COPY --chown=deno:deno server/ server/
COPY --chown=deno:deno runner/ runner/
COPY --chown=deno:deno client/ client/
# Compile once, and build the Python memory snapshot now rather than at the first Python program.
RUN deno cache cli.ts && deno task prepare

EXPOSE 8000
# 200 only when sandboxes can start now (docs/PROTOCOL.md, GET /ready).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8000/ready >/dev/null || exit 1

ENTRYPOINT ["/usr/bin/tini", "--"]
# Not `deno task serve`: no shell in between, and no echo of the command line. Settings come
# from PROGTC_* variables (PROGTC_API_KEY, PROGTC_STATE_SECRET, ...); SIGTERM drains for
# --drain-timeout (25 s, within Docker's and Kubernetes' default grace periods when raised to
# 30 s: `docker stop -t 30`).
CMD ["deno", "run", "--v8-flags=--max-semi-space-size=2", "--allow-all", "cli.ts", "serve"]
