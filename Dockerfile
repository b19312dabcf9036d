# m365guard container image: a static musl binary on distroless/static (no shell, no
# package manager), running as a non-root user.
#
#   docker run --rm -v "$PWD:/work" ghcr.io/m365guard/m365guard scan --snapshot snapshot.json
#
# Build stage: Rust on Alpine, whose native target is musl, so the binary is static
# without a cross toolchain on amd64 and arm64 alike.
FROM rust:1.95-alpine AS build
# musl-dev: crt files and libc.a for the static link.
RUN apk add --no-cache musl-dev=~1.2
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin m365guard \
    && cp target/release/m365guard /m365guard \
    && /m365guard --version

# Runtime: distroless static (CA certificates, /etc/passwd with nonroot, no shell).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /m365guard /usr/local/bin/m365guard
# 65532 is distroless's "nonroot" user, numeric so Kubernetes runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/m365guard"]
CMD ["--help"]
