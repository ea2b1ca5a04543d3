# openztp: multi-stage build on Debian 12; the runtime image carries only
# ztpd and the shared libraries it links.
FROM docker.io/library/debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc make pkg-config libc6-dev libh2o-evloop-dev libssl-dev \
      libpq-dev libjansson-dev libsodium-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY tools ./tools
COPY services ./services
COPY redirect ./redirect
COPY activation ./activation
COPY admin-api ./admin-api
COPY migrations ./migrations
COPY console ./console
RUN make -j"$(nproc)" build/ztpd

FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libh2o-evloop0.13 libpq5 libsodium23 libjansson4 libssl3 libcurl4 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ztp
COPY --from=build /src/build/ztpd /usr/local/bin/ztpd
USER 10001:10001
ENV ZTP_LISTEN=0.0.0.0:8080
EXPOSE 8080
# exec form: ztpd is PID 1 and receives SIGTERM itself, then drains
ENTRYPOINT ["/usr/local/bin/ztpd"]
CMD ["serve"]
