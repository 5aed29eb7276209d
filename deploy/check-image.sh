#!/usr/bin/env bash
# Builds Pilar's image (deploy/Dockerfile) with podman and runs it for real, from nothing:
#  1. installs podman, buildah, runc and debootstrap from Debian's packages if missing;
#  2. makes the base image debian:bookworm-slim with debootstrap from the mirror this host's apt uses
#     (no registry of images is needed), unless podman already has it;
#  3. builds pilar:latest, pip using this host's index and CA bundle, and PostgreSQL and nginx images
#     from Debian's packages (deploy/check/) standing in for postgres:16-bookworm and nginx:stable;
#  4. runs the image alone on SQLite in its volume, then deploy/compose.yaml whole with podman-compose,
#     and checks each over HTTP(S): /healthz, /readyz, sign-in, a case written and read back, the
#     projection process following, every process of the image running as the user pilar.
# Exits non-zero at the first failed check, naming it. Run as root: bash deploy/check-image.sh
# Caches (a second run is fast): the base's root filesystem, as a tar file, in $PILAR_IMAGE_CACHE
# (/var/cache/pilar-image-test) and podman's own images and layers.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${PILAR_IMAGE_CACHE:-/var/cache/pilar-image-test}
BASE=docker.io/library/debian:bookworm-slim
RUN_ID=pilar-check-$$
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
WORK=$(mktemp -d "/tmp/$RUN_ID.XXXX")
mkdir -p "$CACHE"

step() { printf '== %s [%ds]\n' "$*" "$SECONDS"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# This sandbox's runtime refuses what podman asks by default: crun cannot run with its hybrid
# cgroups (runc can), and no process may raise a limit above the host's own (nproc even to it).
# Harmless on an ordinary host, so always used here.
write_containers_conf() {
    cat > "$CACHE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF
    export CONTAINERS_CONF=$CACHE/containers.conf
}

ensure_tools() {
    local missing=()
    for tool in podman:podman buildah:buildah runc:runc debootstrap:debootstrap openssl:openssl curl:curl; do
        command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
    done
    if ((${#missing[@]})); then
        step "installing ${missing[*]}"
        apt-get install -y -q "${missing[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
    fi
}

# The mirror of the first deb822 source (or sources.list line) that this host's apt reads for Debian.
host_mirror() {
    local found
    found=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
            | sed -E 's/^deb (\[[^]]*\] )?/URIs: /' | awk '$2 ~ /\/debian\/?$/ {print $2; exit}')
    [ -n "$found" ] || fail "no Debian mirror in /etc/apt/sources.list*; set PILAR_DEBIAN_MIRROR"
    echo "$found"
}

# debian:bookworm-slim as Debian's own image is made: a minbase bootstrap, without documentation,
# manual pages and translations (kept out of later installs too), apt's lists and downloads emptied.
make_base_rootfs() {
    local root=$CACHE/rootfs mirror=${PILAR_DEBIAN_MIRROR:-$(host_mirror)}
    rm -rf "$root" "$CACHE/bookworm-slim.tar"
    step "debootstrap bookworm (minbase) from $mirror"
    debootstrap --variant=minbase bookworm "$root" "$mirror" > "$CACHE/debootstrap.log" 2>&1 \
        || fail "debootstrap, see $CACHE/debootstrap.log"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then  # the same suites and mirrors as this host
        cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/" && rm -f "$root/etc/apt/sources.list"
    fi
    cat > "$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$root"/usr/share/{man,info}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
        "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    tar --numeric-owner -C "$root" -cf "$CACHE/bookworm-slim.tar.part" . && mv "$CACHE/bookworm-slim.tar.part" "$CACHE/bookworm-slim.tar"
    rm -rf "$root"
}

ensure_base() {
    podman image exists "$BASE" && return
    [ -s "$CACHE/bookworm-slim.tar" ] || make_base_rootfs
    step "importing $BASE"
    podman import --change 'CMD ["bash"]' "$CACHE/bookworm-slim.tar" "$BASE" >/dev/null
}

# pip inside the build uses this host's index (pip config, else PyPI) and CA bundle (PIP_CERT or
# pip's `cert`, else the system's), so it works behind the same proxy as the host's pip.
pip_setting() {
    local env_name=$1 key=$2 value
    value=${!env_name:-}
    [ -n "$value" ] || value=$(python3 -m pip config get "global.$key" 2>/dev/null || true)
    echo "$value"
}

build_images() {
    local index ca
    index=$(pip_setting PIP_INDEX_URL index-url)
    ca=$(pip_setting PIP_CERT cert)
    [ -n "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
    step "building pilar:latest (index ${index:-https://pypi.org/simple})"
    build pilar deploy/Dockerfile . --ignorefile deploy/Dockerfile.dockerignore \
        ${index:+--build-arg "PIP_INDEX_URL=$index"} --secret "id=pip-ca,src=$ca"
    step "building the stand-ins for postgres and nginx (deploy/check/)"
    build pilar-check-postgres deploy/check/postgres.Dockerfile deploy/check
    build pilar-check-nginx deploy/check/nginx.Dockerfile deploy/check
    # What earlier runs built and this one replaced (their images, untagged now): this run's own
    # layers stay, the next run's cache.
    podman image prune -f --filter "until=$STARTED" >/dev/null
}

build() {
    local name=$1 file=$2 context=$3
    shift 3
    podman build --pull=never --format docker -f "$file" -t "$name:latest" "$@" "$context" > "$WORK/$name.log" 2>&1 \
        || { tail -40 "$WORK/$name.log"; fail "building $file"; }
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# json FIELD.PATH < body: one value of a JSON answer.
json() { python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[key]
print(value)' "$1"; }

# http METHOD PATH [BODY]: the answer's body on stdout, its status in $WORK/status; $URL, $CURL_ARGS, $TOKEN.
http() {
    local auth=()
    [ -z "${TOKEN:-}" ] || auth=(-H "Authorization: Bearer $TOKEN")
    curl -s "${CURL_ARGS[@]}" "${auth[@]}" -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} \
        -o "$WORK/body" -w '%{http_code}' "$URL$2" > "$WORK/status" || echo 000 > "$WORK/status"
    cat "$WORK/body" 2>/dev/null || true
}

expect() {  # expect STATUS WHAT: the last http call answered STATUS
    [ "$(cat "$WORK/status")" = "$1" ] || fail "$2: HTTP $(cat "$WORK/status"), expected $1: $(head -c 600 "$WORK/body" 2>/dev/null)"
}

wait_for() {  # wait_for PATH STATUS: PATH answers STATUS within 90 s (a server starting)
    local tries=0
    until [ "$(http GET "$1" >/dev/null; cat "$WORK/status")" = "$2" ]; do
        ((++tries < 180)) || fail "$1 not $2 within 90 s: HTTP $(cat "$WORK/status") $(cat "$WORK/body" 2>/dev/null)"
        sleep 0.5
    done
}

# /readyz: the store answers, a projection process leads and the views are current.
wait_ready() { wait_for /readyz 200; }

# The checks, against $URL, with the server's container $1: health, readiness, sign-in, a case
# written and read back, the views catching up with it, and every process of the container pilar's.
check_server() {
    local container=$1 person case position body tries=0
    wait_for /healthz 200
    [ "$(json status < "$WORK/body")" = ok ] || fail "/healthz said $(cat "$WORK/body")"
    wait_ready
    echo 'a-long-check-password' | podman exec -i "$container" pilar users add wati --role worker --pillar pkh \
        >"$WORK/users-add.log" 2>&1 || fail "pilar users add, in the container: $(cat "$WORK/users-add.log")"
    TOKEN=$(http POST /api/v1/auth/token '{"username": "wati", "password": "a-long-check-password"}' | json token)
    expect 200 "signing in"
    person=$(http POST /api/v1/beneficiaries '{"nik": "3501045403500001", "kk": "3501041203040005", "name": "Mbah Sainem",
        "birth_date": "1950-03-14", "sex": "P", "desa_code": "35.01.04.1001", "address": "RT 02 RW 01"}' | json id)
    expect 201 "registering a person"
    body=$(http POST /api/v1/cases "{\"beneficiary_id\": \"$person\", \"pillar\": \"pkh\", \"priority\": \"high\",
        \"categories\": [\"lansia_terlantar\"], \"referral\": {\"source\": \"musdes\", \"referred_by\": \"Kepala Desa\",
        \"reason\": \"lives alone\"}}")
    expect 201 "opening a case"
    case=$(json id <<<"$body"); position=$(json position <<<"$body")
    body=$(http GET "/api/v1/cases/$case"); expect 200 "reading the case back"
    [ "$(json beneficiary_id <<<"$body")/$(json pillar <<<"$body")" = "$person/pkh" ] || fail "the case read back: $body"
    until [ "$(http GET /readyz | json views.position)" -ge "$position" ]; do  # the projection process follows
        ((++tries < 60)) || fail "the views did not reach position $position in 30 s"
        sleep 0.5
    done
    users=$(podman top "$container" user huser args | tail -n +2)  # huser: the uid seen from the host
    [ -n "$users" ] && ! awk '$1 != "pilar" || $2 == "0" || $2 == "root" {bad = 1} END {exit !bad}' <<<"$users" \
        || fail "a process not running as pilar: $users"
    grep -q 'pilar.cli project' <<<"$users" || fail "no projection process in $container: $users"
    grep -q 'gunicorn' <<<"$users" || fail "no gunicorn in $container: $users"
    printf '   ok: %s: healthz, readyz, sign-in, case %s written and read back, views at %s, %s processes all pilar (uid %s)\n' \
        "$container" "$case" "$position" "$(wc -l <<<"$users")" "$(awk '{print $2; exit}' <<<"$users")"
    CASE=$case
}

# The image alone: the SQLite store in its volume, published on a port of 127.0.0.1.
run_alone() {
    local port
    port=$(free_port)
    step "the image alone, on SQLite in its volume, on 127.0.0.1:$port"
    podman run --rm -v "$RUN_ID-alone:/var/lib/pilar" --entrypoint pilar pilar:latest db init >/dev/null 2>"$WORK/alone-init.log" \
        || { cat "$WORK/alone-init.log"; fail "pilar db init in the image"; }
    podman run -d --name "$RUN_ID-alone" --no-healthcheck -v "$RUN_ID-alone:/var/lib/pilar" -e HOST=0.0.0.0 \
        -p "127.0.0.1:$port:8000" pilar:latest >/dev/null
    URL=http://127.0.0.1:$port TOKEN=
    CURL_ARGS=()
    check_server "$RUN_ID-alone"
    podman rm -f -t 20 "$RUN_ID-alone" >/dev/null
}

# deploy/compose.yaml whole (with deploy/check/compose.check.yaml's stand-ins), brought up in its
# own order: podman 4.3 cannot wait for a service to be healthy or to have completed, so this
# script waits for each as compose's depends_on says, using the compose file's own healthcheck.
compose() { "$PODMAN_COMPOSE" --in-pod false -p "$RUN_ID" -f deploy/compose.yaml -f deploy/check/compose.check.yaml "$@"; }

run_stack() {
    local tries=0 tls=$WORK/tls
    mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$tls/privkey.pem" -out "$tls/fullchain.pem" 2>/dev/null
    STACK=up
    export POSTGRES_PASSWORD=$(openssl rand -hex 16) PILAR_TLS_DIR=$tls PILAR_HTTP_PORT=$(free_port) PILAR_HTTPS_PORT=$(free_port)
    step "compose: db"
    compose up -d db >"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log"; fail "compose up db"; }
    until podman healthcheck run "${RUN_ID}_db_1" >/dev/null 2>&1; do
        ((++tries < 120)) || fail "db not healthy in 60 s: $(podman logs --tail 20 "${RUN_ID}_db_1" 2>&1)"
        sleep 0.5
    done
    step "compose: setup (pilar db init)"
    compose up -d --no-deps setup >>"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log"; fail "compose up setup"; }
    [ "$(podman wait "${RUN_ID}_setup_1")" = 0 ] || fail "setup: $(podman logs "${RUN_ID}_setup_1" 2>&1 | tail -20)"
    step "compose: net, pilar, nginx (HTTP on $PILAR_HTTP_PORT, HTTPS on $PILAR_HTTPS_PORT)"
    compose up -d --no-deps net pilar nginx >>"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log"; fail "compose up net pilar nginx"; }
    URL=http://127.0.0.1:$PILAR_HTTP_PORT TOKEN=
    CURL_ARGS=()
    wait_for /healthz 301  # nginx's plain HTTP sends clients to HTTPS
    URL=https://127.0.0.1:$PILAR_HTTPS_PORT CURL_ARGS=(--cacert "$tls/fullchain.pem")
    check_server "${RUN_ID}_pilar_1"
    for service in pilar nginx; do  # each restarts on its own; the store and keys outlive the container
        step "compose: restart $service, read the case again"
        podman restart -t 30 "${RUN_ID}_${service}_1" >>"$WORK/compose.log" 2>&1 || fail "restarting $service"
        wait_ready
        http GET "/api/v1/cases/$CASE" >/dev/null; expect 200 "the case after restarting $service"
    done
}

cleanup() {
    local code=$?
    [ "${PILAR_IMAGE_KEEP:-}" = 1 ] && { echo "kept: $RUN_ID (containers, volumes), $WORK"; return; }
    podman rm -f -t 5 "$RUN_ID-alone" >/dev/null 2>&1 || true
    podman volume rm -f "$RUN_ID-alone" >/dev/null 2>&1 || true
    local volumes
    if [ -n "$STACK" ]; then  # with the anonymous volumes (the image's VOLUME in `net`), which down leaves
        volumes=$(podman ps -aq --filter "label=io.podman.compose.project=$RUN_ID" \
                  | xargs -r podman inspect --format '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}')
        compose down -v -t 5 >/dev/null 2>&1 || true
        [ -z "${volumes// /}" ] || podman volume rm -f $volumes >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit "$code"
}

STACK=
trap cleanup EXIT
[ "$(id -u)" = 0 ] || fail "run as root (podman's rootful storage and networks)"
exec 9>"$CACHE/lock" && flock 9  # one run at a time: they share the base's root filesystem and the image names
PODMAN_COMPOSE=${PODMAN_COMPOSE:-.venv/bin/podman-compose}
[ -x "$PODMAN_COMPOSE" ] || fail "no podman-compose at $PODMAN_COMPOSE (make setup installs it; or set PODMAN_COMPOSE)"
write_containers_conf
ensure_tools
ensure_base
build_images
run_alone
run_stack
step "all checks passed"
