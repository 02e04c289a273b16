"""The recording proxy: forwards the Docker API byte for byte and records what passes.

    from tracer.proxy.server import Proxy
    with Proxy(listen="unix:///run/dockertrace/docker.sock",
               upstream="unix:///var/run/docker.sock", sink=print) as p:
        ...  # DOCKER_HOST=p.address

Pieces (each module's docstring says more):
- server.py   the Proxy object: binds safely (listen.py), starts the forwarding process,
              records the copies it streams back (read in batches), calls the sink.
- relay.py    the forwarding process: one blocking thread per connection (poll, then recv and
              send) while writes go at once, one per direction once one would wait; bytes
              are written on before their copy is made (small copies sent together, bulk
              output spliced, its copy a tee); half-closes passed on; nothing times out.
- core.py     sans-I/O: one connection's bytes in, events out; its first bytes choose what
              follows it: http1.py (HTTP/1.1, h11 parses; memo.py remembers repeated
              messages' parses, facts.py what their heads say), rawpipe.py (an upgraded
              stream: frames.py decodes its stdout/stderr), h2.py (HTTP/2: gRPC calls,
              with grpc.py and protobuf.py); exchange.py (a request and its answer),
              ttybook.py (which containers have a TTY), peer.py; secrets are redacted by
              tracer/redact.py.
- tracer/cli/proxy.py  `dockertrace proxy`.

Behaviour a learner can rely on:
- What the client sees is what the daemon sent: no byte added, dropped or changed, no timeout
  on long polls, a half-close passed on and the other direction kept open until it ends.
- Daemon unreachable: the client's connection is closed without a byte (the CLI reports a
  failed connection, never a daemon answer), and `upstream.unreachable` is recorded.
- Malformed request: forwarded like any bytes; the daemon answers it (400, then close) and the
  record says which request could not be parsed. Other connections carry on.
- TCP listening only with TLS and verified client certificates; TLS cannot half-close, so over
  TLS the end of the daemon's side closes the connection.
- Secrets (X-Registry-Auth, Authorization, secret-looking Env values, credential fields) never
  appear in an event.
"""
