# syntax=docker/dockerfile:1
# restage: static Go binary on distroless (CA certificates, no shell), non-root.
# Build for the Fargate task (ARM64 by default in the Terraform module):
#   docker buildx build --platform linux/arm64 --build-arg VERSION=$(git describe --always) -t restage .

# Build on the builder's platform; Go cross-compiles to the target's.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY app ./app
COPY internal ./internal
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/restage ./app

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/restage /usr/local/bin/restage
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/restage"]
CMD ["run"]
