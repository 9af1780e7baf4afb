# Shared by the HTTP benchmark scripts (sourced, not run).

# Waits until an HTTP server answers on 127.0.0.1:$1 (up to 5 s).
wait_http() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.05
  done
  echo "no HTTP server came up on port $1" >&2
  return 1
}
