#!/usr/bin/env bash
# CI: the committed protobuf code (formats/generated/) must be exactly what protobufjs-cli
# generates from formats/hotpatch.proto. Regenerates into a temp dir and fails on any diff.
set -euo pipefail
cd "$(dirname "$0")/.."
# The schema must also be valid for the reference compiler, not just for protobufjs.
if command -v protoc > /dev/null; then
  protoc --proto_path=formats --descriptor_set_out=/dev/null formats/hotpatch.proto || { echo "protoc rejects formats/hotpatch.proto"; exit 1; }
else
  echo "note: protoc not installed (apt: protobuf-compiler); skipping the reference schema check"
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bash formats/gen-proto.sh "$tmp"
status=0
for f in hotpatch.js hotpatch.d.ts; do
  if ! diff -u "formats/generated/$f" "$tmp/$f" > "$tmp/$f.diff"; then
    echo "formats/generated/$f differs from what formats/hotpatch.proto generates:"
    head -40 "$tmp/$f.diff"
    status=1
  fi
done
if [ $status -ne 0 ]; then echo "run: npm run gen:proto   (and commit formats/generated/)"; exit 1; fi
echo "formats/generated/ matches formats/hotpatch.proto"
