# shellcheck shell=bash
# Starting and stopping the Cellpipe companion server next to a JupyterLab (sourced by lab.sh and
# ui-test-servers.sh). The server records where it listens in $home/server.json; the JupyterLab
# extension's proxy finds it there through CELLPIPE_HOME.

companion_pid=""

# companion_live HOME: prints the URL of a live server recorded in HOME/server.json, if any.
companion_live() {
  local file="$1/server.json"
  [ -f "$file" ] || return 1
  node -e '
    const fs = require("node:fs");
    try {
      const s = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
      process.kill(s.pid, 0);
      console.log(s.url);
    } catch { process.exit(1); }' "$file"
}

# companion_healthy URL: true when the server answers GET /healthz with 200 (node: no curl needed).
companion_healthy() {
  node -e 'fetch(process.argv[1] + "/healthz").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
}

# companion_start ROOT HOME LOGFILE [extra serve args...]: starts `cellpipe serve` in the background
# and waits until it answers /healthz. Sets companion_pid and companion_url.
companion_start() {
  local root="$1" home="$2" logfile="$3"
  shift 3
  local cli="$root/server/dist/cli.js"
  if [ ! -f "$cli" ]; then
    echo "companion: $cli is missing (run: npm run build)" >&2
    return 1
  fi
  mkdir -p "$home"
  node "$cli" serve --home "$home" --port 0 "$@" >"$logfile" 2>&1 &
  companion_pid=$!
  local i
  for i in $(seq 1 300); do
    if ! kill -0 "$companion_pid" 2>/dev/null; then
      echo "companion: the server exited while starting; $logfile:" >&2
      tail -n 30 "$logfile" >&2
      companion_pid=""
      return 1
    fi
    companion_url=$(sed -n 's/^cellpipe listening on \(http[^ ]*\).*/\1/p' "$logfile" | head -n 1)
    if [ -n "$companion_url" ] && companion_healthy "$companion_url"; then
      echo "companion: listening on $companion_url (home $home, log $logfile)" >&2
      return 0
    fi
    sleep 0.2
  done
  echo "companion: no answer from the server after 60 s; $logfile:" >&2
  tail -n 30 "$logfile" >&2
  companion_stop
  return 1
}

# companion_stop: stops the server companion_start started (no-op when none).
companion_stop() {
  [ -n "$companion_pid" ] || return 0
  if kill -0 "$companion_pid" 2>/dev/null; then
    kill -TERM "$companion_pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do
      kill -0 "$companion_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$companion_pid" 2>/dev/null || true
  fi
  wait "$companion_pid" 2>/dev/null || true
  companion_pid=""
}
