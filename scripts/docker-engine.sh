#!/usr/bin/env bash
# Make a Docker engine answer on this machine, and have mmdebstrap ready to build the
# docker backend's images offline (DESIGN.md, "Docker without a registry").
#
#   1. install Debian's docker.io, mmdebstrap and iptables when they are missing;
#   2. start dockerd in the background when no engine answers (log: $SOPDRILL_DOCKERD_LOG);
#   3. wait until `docker info` answers; exit non-zero with one line if it never does.
#
# Idempotent: on a machine where an engine answers and the tools are installed it only
# checks. CI runs it before the docker drills; by hand: scripts/docker-engine.sh
set -euo pipefail

log="${SOPDRILL_DOCKERD_LOG:-/tmp/sopdrill-dockerd.log}"
wait_s="${SOPDRILL_DOCKERD_WAIT_S:-60}"

say() { echo "docker-engine: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root to run '$*' (no sudo); run this script as root"
    exit 1
  fi
}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

if docker info >/dev/null 2>&1; then
  say "an engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

# A machine restarted under a dead engine keeps its pid files; a pid reused by another
# process makes dockerd wait for a "containerd still running" that is not (seen here: the
# old containerd pid was a kworker). Only a pid file naming no live containerd/dockerd goes.
stale_pid() {
  local file="$1" name="$2" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file" 2>/dev/null || true)"
  [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = "$name" ] && return 1
  return 0
}

if pgrep -x dockerd >/dev/null 2>&1; then
  say "dockerd runs but does not answer yet; waiting"
else
  for pair in /var/run/docker/containerd/containerd.pid:containerd /var/run/docker.pid:dockerd; do
    if stale_pid "${pair%%:*}" "${pair##*:}"; then
      say "removing the stale pid file ${pair%%:*} (no ${pair##*:} runs under its pid)"
      as_root rm -f "${pair%%:*}"
    fi
  done
  say "starting dockerd in the background (log: $log)"
  # setsid: the engine must outlive this script and the CI step that ran it.
  as_root setsid dockerd >"$log" 2>&1 < /dev/null &
fi

for _ in $(seq 1 "$((wait_s * 4))"); do
  if docker info >/dev/null 2>&1; then
    say "the engine answers"
    exit 0
  fi
  sleep 0.25
done
say "dockerd did not answer within ${wait_s} s; see $log (last line: $(tail -n 1 "$log" 2>/dev/null))"
exit 1
