#!/usr/bin/env bash
# test.sh installs what the tests need and runs them all: vet, unit tests and the end-to-end
# tests (real server, embedded etcd, kubectl; real containerd when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

if [ "$(id -u)" -eq 0 ]; then
	bash hack/setup.sh --test
else
	echo "test.sh: not root: skipping package setup; tests that need root or containerd will skip"
fi

echo "test.sh: go vet"
go vet ./...

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "test.sh: building skiff for the end-to-end tests"
bin_dir=$(mktemp -d)
trap 'rm -rf "$bin_dir"' EXIT
go build -o "$bin_dir/skiff" ./cmd/skiff
export SKIFF_BIN="$bin_dir/skiff"

echo "test.sh: go test"
# A failing test must not stop the script before the summary (set -e, pipefail).
status=0
go test -count=1 -timeout 25m ./... 2>&1 | tee "$bin_dir/test.log" || status=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' "$bin_dir/test.log" || true)
failed=$(grep -c '^FAIL\s' "$bin_dir/test.log" || true)
echo "packages: $passed passed, $failed failed"
exit "$status"
