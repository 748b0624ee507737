# tributary in a container: `docker build -t tributary .` then
#   docker run -p 8088:8088 -v tributary:/var/lib/tributary tributary
# and subscribe to http://localhost:8088/feed.atom. Mount a config at /etc/tributary/config.toml
# and add `-e TRIBUTARY_CONFIG=/etc/tributary/config.toml` to use your own feed list.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock clippy.toml ./
COPY src src
COPY config config
COPY benches benches
RUN cargo build --release --locked \
    && mkdir -p /state \
    && chown 65532:65532 /state

# distroless: glibc and nothing else; no shell, no package manager. TLS roots are built in.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/tributary /usr/local/bin/tributary
COPY --from=build --chown=65532:65532 /state /var/lib/tributary
ENV STATE_DIRECTORY=/var/lib/tributary
WORKDIR /var/lib/tributary
VOLUME ["/var/lib/tributary"]
USER 65532:65532
EXPOSE 8088
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
    CMD ["/usr/local/bin/tributary", "healthcheck", "--url", "http://127.0.0.1:8088/healthz"]
ENTRYPOINT ["/usr/local/bin/tributary"]
CMD ["run", "--listen", "0.0.0.0:8088"]
