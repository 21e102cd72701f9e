.PHONY: build test unit e2e bench fmt vet start

build:
	go build -o bin/skiff ./cmd/skiff

# The whole suite, as CI runs it (installs Debian packages when root).
test:
	bash hack/test.sh

unit:
	go test -short ./...

e2e: build
	SKIFF_BIN=$(CURDIR)/bin/skiff go test -count=1 ./test/e2e/...

bench: build
	go run ./bench/apiserver -skiff $(CURDIR)/bin/skiff

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	go vet ./...

start:
	bash hack/start.sh
