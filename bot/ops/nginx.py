"""nginx (Debian's package) as the one URL in front of several Rasa replicas: config and command line.

The stack starts it as a child process with everything (config, pid, logs, temp files) inside the runtime dir,
so it needs no system configuration and stops with the stack.
"""
from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

INSTALL_HINT = "nginx is not installed: `apt-get install nginx` (Debian's package; only --replicas needs it)"

# The UI sends its chat id in this header so one person's turns stay on one replica (a replica's lock store is in
# memory without REDIS_URL). Requests without it (tools, health checks) are spread by request id. It only routes:
# who the sender is comes from the signed body checked by the channel, never from this header.
ROUTE_HEADER = "X-Chat-Session"

TEMPLATE = """\
# Written by bot/ops/nginx.py for one stack run; edits are overwritten.
daemon off;
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  # Bodies stay in memory (the channel's own limit is 16 KB; larger posts still reach it and get its message),
  # so workers never write temp files in the runtime dir, which only the stack's user may enter.
  client_max_body_size 1m;
  client_body_buffer_size 1m;
  proxy_max_temp_file_size 0;
  map $http_{header_var} $route_key {{ "" $request_id; default $http_{header_var}; }}
  upstream rasa {{
    hash $route_key consistent;
{servers}
    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 120s;
      proxy_next_upstream error timeout http_502 http_503;
      add_header X-Replica $upstream_addr always;
    }}
  }}
}}
"""


def nginx_binary() -> str:
    """Path of the nginx executable, or a RuntimeError naming the package to install."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)),
                                         None)
    if not found:
        raise RuntimeError(INSTALL_HINT)
    return found


def worker_user() -> str:
    """The `user` line: as root, workers drop to www-data (Debian's nginx user); otherwise nginx can't switch."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return ""
    for name in ("www-data", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return f"user {name} {'www-data' if name == 'www-data' else 'nogroup'};\n"
    return ""


def write_config(prefix: Path, port: int, backends: list[int]) -> Path:
    """Write nginx.conf for `port` in front of Rasa replicas on `backends` (loopback ports); return its path."""
    prefix.mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in backends)
    header_var = ROUTE_HEADER.lower().replace("-", "_")
    path = prefix / "nginx.conf"
    path.write_text(TEMPLATE.format(user=worker_user(), prefix=prefix, servers=servers, port=port,
                                    header_var=header_var))
    return path


def command(prefix: Path, port: int, backends: list[int]) -> list[str]:
    """The command line that runs nginx in the foreground with a config written for these ports."""
    conf = write_config(prefix, port, backends)
    return [nginx_binary(), "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "error.log")]
