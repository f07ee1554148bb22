# /etc/ikcgate.hcl: ikcgate in front of a Perl IKC server on 10.0.0.5:603.

kernel {
  name    = "ikcgate"
  aliases = ["gw1"]
}

listen = ["tcp 0.0.0.0:6603", "unix:/run/ikcgate/ikc.sock"]

# In order of preference. Storable first: every Perl peer has it.
freezers = ["Storable", "Sereal"]

drain_timeout = "20s"

limits {
  max_frame_size      = 16777216
  max_depth           = 256
  max_connections     = 2000
  negotiation_timeout = "10s"
  call_timeout        = "30s"
  send_queue          = 1024
  work_queue          = 256
  queue_full          = "block"
}

access {
  allow_networks = ["10.0.0.0/8", "127.0.0.1"]
  allow_kernels  = ["app-*", "cron"]
}

route "demo/*" {
  kind    = "go"
  handler = "demo"
}

# Everything of session "orders" still lives in Perl.
route "orders/*" {
  kind    = "upstream"
  address = "tcp 10.0.0.5:603"
  wait    = "5s"
}

route "billing/charge" {
  kind    = "http"
  url     = "http://127.0.0.1:8080/ikc/charge"
  timeout = "10s"
  headers = { "Authorization" = "Bearer s3cr3t" }
}

logging {
  level  = "info"
  format = "json"
}

operations {
  listen = "127.0.0.1:6604"
}
