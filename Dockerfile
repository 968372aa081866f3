# progtc server image. Mirrors `deno task serve`: the same Deno (from npm), the same permissions.
#   docker build -t progtc .
#   docker run --rm -p 8000:8000 -e PROGTC_API_KEY=your-secret-key progtc
FROM node:20-bookworm-slim

# util-linux provides prlimit (the sandboxes' data rlimit); it is part of Debian's base system.
RUN npm install -g deno@2.9.6 && deno --version

# Run as an unprivileged user; the sandboxes inherit it.
RUN useradd --create-home progtc
USER progtc
WORKDIR /home/progtc/app
ENV DENO_DIR=/home/progtc/.cache/deno

COPY --chown=progtc:progtc . .
# npm dependencies from deno.lock, then the Python memory snapshot (built once, here).
RUN deno install --frozen && deno task prepare

EXPOSE 8000
# Listen on all interfaces inside the container; the API key comes from PROGTC_API_KEY.
CMD ["deno", "task", "serve", "--host", "0.0.0.0", "--port", "8000"]
