# Sourced by scripts/test.sh and scripts/production-check.sh: a throw-away PostgreSQL 15 cluster
# on a free loopback port. `pg_start` installs PostgreSQL 15 when missing (as root), starts the
# cluster and sets PG_PORT, PG_DIR, PG_CTL_STOP (a command that stops it) and pg_url; `pg_stop`
# stops it and removes its files (set as an EXIT trap by pg_start).

pg_start() {
    pg_bin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
    if [ -z "$pg_bin" ]; then
        if [ "$(id -u)" = 0 ]; then
            (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15) >/dev/null || return 1
            pg_bin=/usr/lib/postgresql/15/bin
        else
            echo "PostgreSQL 15 is needed: run 'sudo apt-get install postgresql-15'." >&2
            return 1
        fi
    fi
    PG_DIR=$(mktemp -d /tmp/crm-pg.XXXXXX)
    PG_PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_DIR"
        as_pg=(runuser -u postgres --)
    fi
    PG_CTL_STOP="${as_pg[*]} $pg_bin/pg_ctl -D $PG_DIR/data -m fast -w stop"
    trap pg_stop EXIT
    "${as_pg[@]}" "$pg_bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null || return 1
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
        -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c full_page_writes=off -c max_connections=${PG_MAX_CONNECTIONS:-50}" \
        start >/dev/null || { cat "$PG_DIR/log"; return 1; }
    pg_url="postgres://postgres@127.0.0.1:$PG_PORT"
}

pg_stop() {
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
}
