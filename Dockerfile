# syntax=docker/dockerfile:1
# Multi-stage build: dependencies are compiled in their own cached layer, the runtime image
# holds only the two binaries and runs as an unprivileged user.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Release binaries without symbols: a smaller image (local release builds keep them for
# profiling).
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
# 1. Dependencies only: manifests plus empty sources, so this layer is reused until
#    Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY swift-core/Cargo.toml swift-core/Cargo.toml
COPY swift-server/Cargo.toml swift-server/Cargo.toml
COPY swift-cli/Cargo.toml swift-cli/Cargo.toml
# fake-stripe is a workspace member (tests only): its manifest must be there, it is not built.
COPY fake-stripe/Cargo.toml fake-stripe/Cargo.toml
RUN mkdir -p swift-core/src swift-server/src swift-cli/src fake-stripe/src migrations \
 && echo 'fn main() {}' > swift-core/build.rs \
 && touch swift-core/src/lib.rs fake-stripe/src/lib.rs \
 && echo 'fn main() {}' > fake-stripe/src/main.rs \
 && echo 'fn main() {}' > swift-server/src/main.rs && touch swift-server/src/lib.rs \
 && echo 'fn main() {}' > swift-cli/src/main.rs \
 && cargo build --release --locked -p swift-server -p swift-cli \
 && rm -rf swift-core swift-server/src swift-cli/src fake-stripe
# 2. The project itself (.dockerignore keeps target/, .env, node_modules and .git out).
COPY . .
RUN touch swift-core/src/lib.rs swift-server/src/lib.rs swift-server/src/main.rs swift-cli/src/main.rs \
 && cargo build --release --locked -p swift-server -p swift-cli

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --create-home swift
COPY --from=build /src/target/release/swift-server /src/target/release/swift-cli /usr/local/bin/
USER swift
WORKDIR /app
ENV LISTEN_ADDR=0.0.0.0:8000 LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["swift-server"]
