# Sourced by memory.sh and instances.sh: serves a directory from nginx on a free 127.0.0.1 port
# (one worker, ETags on, no access log), its config and temporary files under a directory of
# the caller's. (run.sh writes its own: several hosts and tuned keep-alive for wrk.)
#
#   start_nginx NGINX_DIR ROOT    # sets nginx_port and nginx_pid; the caller stops nginx_pid
start_nginx() {
    local dir="$1" root="$2" bin
    bin="$(command -v nginx || echo /usr/sbin/nginx)"
    mkdir -p "$dir"
    nginx_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    types { application/rss+xml rss; application/atom+xml atom; }
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    etag on;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server { listen 127.0.0.1:$nginx_port; root $root; }
}
CONF
    "$bin" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" &
    nginx_pid=$!
}
