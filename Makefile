# restage — see README.md. `make demo` and `make test` are the two commands a
# newcomer needs; both install/start the local servers when needed.
GO        ?= go
BIN       := bin/restage
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
TESTFLAGS ?= -count=1 -timeout 30m

.PHONY: all build test demo bench servers lint fmt vet staticcheck clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./app

servers:
	bash scripts/servers.sh

test: servers
	$(GO) test $(TESTFLAGS) ./...

demo: servers build
	bash scripts/demo.sh

bench: servers
	bash scripts/bench.sh

lint: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l app internal test); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf bin
