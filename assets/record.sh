#!/usr/bin/env bash
# Makes the bundled recordings with dockertrace itself on a live machine (root, dockerd, eBPF):
#   run-echo-hi.jsonl        docker run --rm IMAGE echo hi (the image is cached)
#   run-pull.jsonl           docker run of an image that is pulled first (local registry)
#   run-missing-image.jsonl  docker run of an image no registry has: dockerd's HTTP error
#   two-runs.jsonl           two docker runs at once, each its own trace
# Usage: sudo bash assets/record.sh   (after `bash tracer/setup.sh env`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dt="$here/../.venv/bin/dockertrace"
image=$(docker image inspect alpine:latest >/dev/null 2>&1 && echo alpine || echo dockertrace/busybox)

reg=$(mktemp -d)
cat >"$reg/config.yml" <<CONF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $reg/data}}
http: {addr: 127.0.0.1:5000}
CONF
docker-registry serve "$reg/config.yml" >"$reg/log" 2>&1 &
regpid=$!
cleanup() {
    kill "$regpid" 2>/dev/null || true
    wait "$regpid" 2>/dev/null || true
    docker rmi -f 127.0.0.1:5000/dockertrace/pulled:latest >/dev/null 2>&1 || true
    rm -rf "$reg"
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:5000/v2/ >/dev/null && break; sleep 0.1; done

"$dt" run --brief --image "$image" --record "$here/run-echo-hi.jsonl" -- echo hi

docker tag "$image" 127.0.0.1:5000/dockertrace/pulled:latest
docker push -q 127.0.0.1:5000/dockertrace/pulled:latest >/dev/null
docker rmi 127.0.0.1:5000/dockertrace/pulled:latest >/dev/null
"$dt" run --brief --image 127.0.0.1:5000/dockertrace/pulled:latest \
    --record "$here/run-pull.jsonl" -- echo pulled

"$dt" run --brief --image 127.0.0.1:5000/dockertrace/missing:latest \
    --record "$here/run-missing-image.jsonl" -- echo never || true
"$dt" record -o "$here/two-runs.jsonl" -- \
    sh -c "docker run --rm $image echo one & docker run --rm $image echo two; wait"
echo "recordings written to $here"
