#!/bin/sh
# Makes a fresh clone runnable, and is quick when nothing changed. Run by `npm start` and
# `npm test` before anything else:
#   1. system packages: librdkafka-dev and a C compiler (the local Kafka program), and
#      docker-compose (the tests validate docker/compose.yml with it);
#   2. Node 24 and every dependency, with `npm ci` whenever package-lock.json changed;
#   3. the local Kafka program, built from dev/kafka-mock;
#   4. Postgres and Redis on their local defaults, started when they are installed but down.
set -eu
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "setup: need root to run: $*" >&2; exit 1
  fi
}

# docker-compose (Debian's v1) only validates docker/compose.yml in the tests; no engine is used.
if [ ! -f /usr/include/librdkafka/rdkafka_mock.h ] || ! command -v gcc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1 \
  || ! command -v docker-compose >/dev/null 2>&1; then
  echo "setup: installing librdkafka-dev, gcc, make and docker-compose" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends librdkafka-dev gcc make libc6-dev docker-compose >/dev/null
fi

stamp=node_modules/.setup-lock
if [ ! -x node_modules/.bin/node ] || ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

make -s -C dev/kafka-mock

# Only the local defaults are started here; a configured DATABASE_URL or REDIS_URL is the
# operator's to run.
if [ -z "${DATABASE_URL:-}" ] && command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "setup: starting Postgres" >&2
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
fi
if [ -z "${REDIS_URL:-}" ] && command -v redis-server >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  echo "setup: starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
