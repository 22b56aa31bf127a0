#!/bin/sh
# Pin every image the deployment files name to the digest its tag points at
# now (`repo:tag` -> `repo:tag@sha256:...`), or refresh the digests already
# there. The tag stays for people; the digest is what the engine pulls, so a
# re-pushed tag changes nothing until this runs again (review the diff, then
# commit it). Needs a registry client that can reach the registries: skopeo,
# crane, or `docker buildx imagetools`.
#
#   sh scripts/pin-images.sh            rewrite the files in place
#   sh scripts/pin-images.sh --check    list images without a digest; exit 1 if any
set -eu
cd "$(dirname "$0")/.."
files="docker-compose.yml docker-compose.ha.yml k8s/telemetry-deployment.yaml k8s/prometheus-operator.yaml"

# Images as written: `image: X` in YAML, the daemon's own (built here) left out.
images() {
  grep -hoE '^[[:space:]]*(-[[:space:]]*)?image:[[:space:]]*[^[:space:]#]+' $files |
    sed -E 's/.*image:[[:space:]]*//; s/^"//; s/"$//' |
    grep -vE '^(network-telemetry:|registry\.example\.com/|\$\{)' | sort -u
}

if [ "${1:-}" = "--check" ]; then
  missing=$(images | grep -v '@sha256:' || true)
  [ -z "$missing" ] && { echo "every image is pinned to a digest"; exit 0; }
  echo "images without a digest (run sh scripts/pin-images.sh):"; echo "$missing"; exit 1
fi

digest() {
  if command -v skopeo >/dev/null 2>&1; then skopeo inspect --format '{{.Digest}}' "docker://$1"
  elif command -v crane >/dev/null 2>&1; then crane digest "$1"
  elif command -v docker >/dev/null 2>&1; then docker buildx imagetools inspect --format '{{json .Manifest.Digest}}' "$1" | tr -d '"'
  else echo "pin-images.sh: needs skopeo, crane or docker buildx to ask the registries" >&2; exit 2
  fi
}

for ref in $(images); do
  name=${ref%@*}
  d=$(digest "$name")
  case "$d" in sha256:*) ;; *) echo "pin-images.sh: no digest for $name (got '$d')" >&2; exit 1 ;; esac
  # The same image everywhere it appears, with or without an old digest.
  esc=$(printf '%s' "$name" | sed 's/[.[\/*^$]/\\&/g')
  for f in $files; do
    sed -i -E "s#(image:[[:space:]]*\"?)$esc(@sha256:[0-9a-f]{64})?#\1$name@$d#" "$f"
  done
  echo "$name@$d"
done
