#!/usr/bin/env python3
"""N idle keep-alive HTTP connections held by one server process: memory per connection.

Starts each server (pinned to core 0), records its RSS, opens N connections, sends one
request on each and reads the answer, leaves them all open and idle for a moment, records
the RSS again, and reports (RSS after - RSS before) / N. Same run, same client, for each
server given.

  benches/idle_keepalive.py N server-binary...   (binaries take `127.0.0.1:PORT`)
"""
import os, resource, socket, subprocess, sys, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on {port} never came up")

def main():
    n = int(sys.argv[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = 19300
    print("| server | connections | RSS before → after (KiB) | per idle connection |")
    print("|---|---|---|---|")
    for binary in sys.argv[2:]:
        port += 1
        srv = subprocess.Popen(["taskset", "-c", "0", binary, f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=lambda: resource.setrlimit(
                                   resource.RLIMIT_NOFILE, (hard, hard)))
        try:
            wait_port(port)
            time.sleep(0.3)
            before = rss_kib(srv.pid)
            conns = []
            req = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(req)
                got = b""
                while b"\r\n\r\n" not in got:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise SystemExit("server closed a connection")
                    got += chunk
                conns.append(s)
            time.sleep(1.0)  # every connection idle past any linger
            after = rss_kib(srv.pid)
            name = os.path.basename(binary)
            per = (after - before) * 1024 // n
            print(f"| {name} | {n} | {before} → {after} | {per} B |")
            for s in conns:
                s.close()
        finally:
            srv.kill()
            srv.wait()

main()
