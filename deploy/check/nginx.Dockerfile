# nginx from Debian's packages with the official nginx image's interface, as far as
# deploy/compose.yaml uses it (sites in /etc/nginx/conf.d, nginx in the foreground, logs to the
# container's output): deploy/check-image.sh runs the compose file with it.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
