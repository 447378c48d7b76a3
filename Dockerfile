# Debt Tracker images for users who have Docker: one image holds both programs
# (dt-server and dt-eventstore); docker-compose.yml runs them. Built with the same
# ./manage.sh commands as on a plain Debian 12 machine. (CI does not build this image;
# README.md says what CI runs.)
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN apt-get update \
 && ./manage.sh install-deps --build-only \
 && ./manage.sh build dt-server dt-eventstore \
 && rm -rf /var/lib/apt/lists/*

FROM debian:12-slim
# The shared libraries the two programs link (ldd build/src/bin/dt-server), and curl for
# the health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libsqlite3-0 libpq5 libargon2-1 librocksdb7.8 libspdlog1.10 libfmt9 libssl3 \
      curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/src/bin/dt-server /src/build/src/bin/dt-eventstore /usr/local/bin/
RUN useradd --system --home-dir /data --shell /usr/sbin/nologin debt \
 && mkdir -p /data && chown debt:debt /data
USER debt
WORKDIR /data
VOLUME /data
# The same settings as manage.sh, with the data in the volume and logs on the console.
ENV DEBT_TRACKER_DATA_DIR=/data \
    DEBT_TRACKER_LOG_FILE=off \
    DATABASE_URL=sqlite:/data/projections.db \
    EVENTSTORE_DB=/data/eventstore \
    EVENTSTORE_NODE_IP=0.0.0.0 \
    EVENTSTORE_LOG_HTTP_REQUESTS=true \
    DEBT_TRACKER_BIND=0.0.0.0
EXPOSE 8000 2113
CMD ["dt-server"]
