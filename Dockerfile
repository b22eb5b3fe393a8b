# syntax=docker/dockerfile:1.7
#
# omnizip container image.
#
#   docker build -t omnizip .
#   docker run --rm -p 8080:8080 omnizip
#
# Build stage: the Swift toolchain CI uses (6.3.1 on Debian 12) and the same command CI runs,
# `make release` (= `make deps`, which apt-installs the -dev packages, then
# `swift build -c release --static-swift-stdlib`). Runtime stage: debian:12-slim plus only the
# shared libraries the binary links (ldd of .build/release/omnizip, mapped to Debian packages;
# scripts/deploy/smoke.sh re-checks that list in a chroot holding nothing else).
#
# Pinned by tag. For reproducible production builds also pin the digests
# (FROM swift:6.3.1-bookworm@sha256:... / debian:12.11-slim@sha256:...), e.g. with Renovate.

FROM swift:6.3.1-bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The Swift image has gcc and git but not make.
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Cached layers: the -dev packages (from the Makefile's APT_PACKAGES) and the Swift dependencies
# change far less often than the sources.
COPY Makefile Package.swift ./
RUN make deps && swift package resolve

COPY Sources ./Sources
COPY Tests ./Tests
# Exactly CI's release build; keep the symbol table (readable crash backtraces), drop DWARF.
RUN make release \
    && install -D -m 0755 .build/release/omnizip /out/usr/local/bin/omnizip \
    && strip --strip-debug /out/usr/local/bin/omnizip \
    && /out/usr/local/bin/omnizip --version

FROM debian:12.11-slim AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ARG OMNIZIP_VERSION=0.1.0
LABEL org.opencontainers.image.title="omnizip" \
      org.opencontainers.image.description="OmniZip token-compression sidecar for omnimodal LLM servers" \
      org.opencontainers.image.version="${OMNIZIP_VERSION}" \
      org.opencontainers.image.base.name="debian:12.11-slim"

# Runtime libraries, one package per line of `ldd omnizip` (see deploy/README.md, "Runtime libraries"):
#   libopenblas.so.0 -> libopenblas0-pthread   libgfortran.so.5 -> libgfortran5
#   libquadmath.so.0 -> libquadmath0           libuv.so.1       -> libuv1
#   libhttp_parser.so.2.9 -> libhttp-parser2.9 libstdc++.so.6   -> libstdc++6
#   libgcc_s.so.1 -> libgcc-s1                 libc/libm/ld.so  -> libc6 (already in the base)
# The Swift runtime and Foundation are linked statically (--static-swift-stdlib).
# Versions are not pinned: Debian's archive keeps only the current (security-patched) version of
# each package in a stable release, so an exact pin breaks the build at the next security update;
# the base tag pins the release (bookworm) and therefore the ABI.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libgcc-s1 \
        libgfortran5 \
        libhttp-parser2.9 \
        libopenblas0-pthread \
        libquadmath0 \
        libstdc++6 \
        libuv1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 omnizip \
    && useradd --system --uid 10001 --gid omnizip --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin omnizip

COPY --from=build /out/usr/local/bin/omnizip /usr/local/bin/omnizip

# One BLAS thread per worker: omnizip parallelises across requests/workers itself, and OpenBLAS's
# own thread pool would oversubscribe the CPU limit.
ENV OPENBLAS_NUM_THREADS=1 \
    OMNIZIP_PORT=8080 \
    OMNIZIP_LOG_FORMAT=json

USER 10001:10001
EXPOSE 8080

# No curl/wget in debian-slim, and omnizip has no probe subcommand. bash is already in the image
# (essential package), so the check uses bash's /dev/tcp: one HTTP/1.1 request to /livez, pass
# only on a "200" status line. Kubernetes ignores HEALTHCHECK (it uses the probes in deploy/);
# this is for docker / docker compose.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>\"/dev/tcp/127.0.0.1/${OMNIZIP_PORT:-8080}\" && printf 'GET /livez HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 _ code _ <&3 && [ \"$code\" = 200 ]"]

# omnizip handles SIGTERM itself (stop accepting, /readyz 503, finish in-flight, exit 0). It runs
# as PID 1 without an init: it starts no child processes, so there is nothing to reap.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/omnizip", "serve"]
