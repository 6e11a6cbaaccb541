#!/usr/bin/env bash
# Fetches the googleapis protos shipped by the npm package `google-proto-files` into
# benches/corpus/ (git-ignored), for `grpc-double roundtrip` runs over a large real tree.
#
#   benches/fetch-googleapis.sh            # version 5.0.3, the one docs/performance.md used
#   GOOGLE_PROTO_FILES_VERSION=x.y.z benches/fetch-googleapis.sh
#
# The package's own google/protobuf/ is removed: grpc-double resolves the well-known types
# itself (protox's bundled copies), as buf and protoc do.
set -euo pipefail
cd "$(dirname "$0")"
version="${GOOGLE_PROTO_FILES_VERSION:-5.0.3}"
dest="corpus/googleapis"
if [[ -f "$dest/.version" && "$(cat "$dest/.version")" == "$version" ]]; then
  echo "benches/$dest already holds google-proto-files@$version"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "google-proto-files@$version" >/dev/null)
tar -xzf "$tmp"/google-proto-files-*.tgz -C "$tmp"
rm -rf "$dest"
mkdir -p "$dest"
cp -R "$tmp/package/google" "$tmp/package/grafeas" "$dest/"
rm -rf "$dest/google/protobuf"
echo "$version" > "$dest/.version"
echo "benches/$dest: $(find "$dest" -name '*.proto' | wc -l) .proto files from google-proto-files@$version"
