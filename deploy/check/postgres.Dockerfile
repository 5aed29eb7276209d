# PostgreSQL from Debian's packages with the official postgres image's interface, as far as
# deploy/compose.yaml uses it (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD, the data volume,
# pg_isready): deploy/check-image.sh runs the compose file with it where Docker Hub is out of reach.
FROM debian:bookworm-slim
RUN mkdir -p /etc/postgresql-common \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
    && install -d -o postgres -g postgres -m 2775 /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
ENTRYPOINT ["postgres-entrypoint.sh"]
