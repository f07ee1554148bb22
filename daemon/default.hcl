# ikcgate's built-in configuration: what `ikcgate` runs with no -config.
# Every key is described in daemon/CONFIG.md.

kernel {
  name = "ikcgate"
}

# IKC listeners: Perl clients (IKC::Client, ClientLite) connect here.
listen = ["tcp 127.0.0.1:6603"]

freezers = ["Storable", "Sereal"]

# Operations HTTP: /metrics, /healthz, /readyz.
operations {
  listen = "127.0.0.1:6604"
}

# The demo session: demo/echo, time, sleep, count, total, fail, whoami, respond.
route "demo/*" {
  kind    = "go"
  handler = "demo"
}

logging {
  level  = "info"
  format = "text"
}
