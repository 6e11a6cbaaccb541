#!/usr/bin/env bash
# Differential test: run `buf breaking` (from npm) and `grpc-double breaking` on every fixture pair
# under fixtures/breaking/, with only that pair's rule selected, and compare (file, line, column,
# rule, message) of every finding. Known, documented differences are listed in KNOWN below.
#
# Needs network once (npm install @bufbuild/buf into a temp dir) unless BUF points at a buf binary.
# Usage: .ci/buf-diff.sh            (exit 1 on an unexpected difference)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [[ -z "${BUF:-}" ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm install --silent @bufbuild/buf >/dev/null 2>&1)
  BUF="$tmp/node_modules/.bin/buf"
fi
"$BUF" --version >/dev/null

cargo build --quiet --bin grpc-double
GD="$root/target/debug/grpc-double"

# Rules where we differ from buf on purpose (docs/breaking.md, "Where we differ from buf").
# - PACKAGE_{ENUM,EXTENSION,MESSAGE}_NO_DELETE: buf misses a package's last enum/extension/message.
# - FIELD_WIRE_LOSSY_TYPE: ours only.
# - FIELD_SAME_DEFAULT: protox's source info spans the value, buf's the whole `default = ..`.
# - FIELD_SAME_ONEOF: buf's message has a stray `q` ("..."User"q moved from oneof...").
# - Deprecated rules: buf runs their replacements (FIELD_SAME_CTYPE, FIELD_SAME_LABEL) or nothing
#   (FILE_SAME_JAVA_STRING_CHECK_UTF8, MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT), and its compiler
#   rejects php_generic_services.
KNOWN=" PACKAGE_ENUM_NO_DELETE PACKAGE_EXTENSION_NO_DELETE PACKAGE_MESSAGE_NO_DELETE FIELD_WIRE_LOSSY_TYPE
  FIELD_SAME_DEFAULT FIELD_SAME_ONEOF FIELD_SAME_CTYPE FIELD_SAME_LABEL
  FILE_SAME_JAVA_STRING_CHECK_UTF8 MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT FILE_SAME_PHP_GENERIC_SERVICES "

# Editions forms only: buf finds required fields by LABEL_REQUIRED, which an editions file never
# has (features.field_presence = LEGACY_REQUIRED), so it misses them; we report them.
KNOWN_EDITIONS=" MESSAGE_SAME_REQUIRED_FIELDS "

normalise() { # JSON lines -> "file:line:col:TYPE:message", file name without the input dir, sorted
  python3 -c '
import json, sys, os
rows = set()
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    v = json.loads(line)
    rows.add("%s:%s:%s:%s:%s" % (os.path.basename(v.get("path", "")), v.get("start_line", 1), v.get("start_column", 1), v["type"], v.get("message", "")))
print("\n".join(sorted(rows)))'
}

failed=0
# Each rule's pair, then its editions forms (edition-2023/, edition-2024/).
for dir in fixtures/breaking/*/ fixtures/breaking/*/edition-*/; do
  case "$dir" in
    */edition-*/) rule=$(basename "$(dirname "$dir")" | tr a-z A-Z); form=" ($(basename "$dir"))" ;;
    *) rule=$(basename "$dir" | tr a-z A-Z); form="" ;;
  esac
  case "$rule" in
    EXTENSION_NO_DELETE|PACKAGE_EXTENSION_NO_DELETE|FIELD_SAME_DEFAULT|MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT) version=v2 ;;
    *) version=v1 ;;
  esac
  config="{\"version\":\"$version\",\"breaking\":{\"use\":[\"$rule\"]}}"
  ours=$(cd "$dir/current" && "$GD" breaking . --against ../previous --use "$rule" --error-format json | normalise || true)
  theirs=$(cd "$dir/current" && "$BUF" breaking . --against ../previous --config "$config" --error-format json 2>&1 | normalise || true)
  if [[ "$ours" == "$theirs" ]]; then
    echo "same     $rule$form"
  elif [[ " $(echo $KNOWN) " == *" $rule "* ]] || [[ -n "$form" && "$KNOWN_EDITIONS" == *" $rule "* ]]; then
    echo "known    $rule$form"
    diff <(echo "$theirs") <(echo "$ours") | sed 's/^/         /' || true
  else
    echo "DIFFERS  $rule$form"
    diff <(echo "$theirs") <(echo "$ours") | sed 's/^/         /' || true
    failed=1
  fi
done
# Deletions: of whole files and packages, with no path in buf's output (`<input>:1:1`, no "path"
# in JSON); of top-level elements, in a file at no position (1:1-1:1). Every format, byte for
# byte, on every form of those fixtures.
deletions="file_no_delete package_no_delete package_service_no_delete enum_no_delete message_no_delete
  service_no_delete extension_no_delete"
for dir in $(for d in $deletions; do echo fixtures/breaking/$d/ fixtures/breaking/$d/edition-*/; done); do
  rule=$(echo "$dir" | cut -d/ -f3 | tr a-z A-Z)
  for format in text json msvs junit github-actions gitlab-code-quality; do
    ours=$(cd "$dir/current" && "$GD" breaking . --against ../previous --use "$rule" --error-format "$format" || true)
    theirs=$(cd "$dir/current" && "$BUF" breaking . --against ../previous --config "{\"version\":\"v2\",\"breaking\":{\"use\":[\"$rule\"]}}" --error-format "$format" 2>&1 || true)
    if [[ "$ours" == "$theirs" ]]; then
      echo "bytes    $dir $format"
    else
      echo "DIFFERS  $dir $format"
      diff <(echo "$theirs") <(echo "$ours") | sed 's/^/         /' || true
      failed=1
    fi
  done
done
exit $failed
