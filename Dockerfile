# syntax=docker/dockerfile:1
# uaef in a container: built in the Swift image, run from a slim one with the binary alone.
# No Docker engine runs on this project's machines, so the image is built elsewhere; the tests
# lint this file with hadolint (docs/deploying.md, "Containers").

FROM swift:6.3-noble AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product uaef --static-swift-stdlib \
    && install -D "$(swift build -c release --show-bin-path)/uaef" /out/uaef

FROM ubuntu:24.04
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libsqlite3-0 tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/uaef --create-home uaef
COPY --from=build /out/uaef /usr/local/bin/uaef
USER 10001:10001
WORKDIR /var/lib/uaef
ENV UAEF_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["uaef"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
