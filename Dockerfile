# syntax=docker/dockerfile:1
# restage: static Go binary on distroless (CA certificates, no shell), non-root,
# with the RDS CA bundle so that TLS to RDS is verified (RESTAGE_TLS_CA_FILE).
# Build for the Fargate task (ARM64 by default in the Terraform module):
#   docker buildx build --platform linux/arm64 \
#     --build-arg VERSION=$(git describe --always) \
#     --build-arg RDS_CA_SHA256=<sha256 of the bundle, see docs/terraform.md> -t restage .

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

# The RDS global CA bundle, checked against a digest the builder supplies:
# no default, so a build never trusts whatever the download returned. The
# check comes first so that a missing digest fails before any download.
ARG RDS_CA_SHA256
RUN test -n "$RDS_CA_SHA256" || { echo "build argument RDS_CA_SHA256 is required: the SHA-256 of https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem (docs/terraform.md)" >&2; exit 1; }
RUN curl -fsS --proto '=https' --tlsv1.2 -o /out/rds-ca.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
RUN echo "$RDS_CA_SHA256  /out/rds-ca.pem" | sha256sum -c - || { echo "rds-ca.pem does not match RDS_CA_SHA256: AWS rotated the bundle or the download was tampered with" >&2; exit 1; }

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/restage /usr/local/bin/restage
COPY --from=build /out/rds-ca.pem /etc/restage/rds-ca.pem
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/restage"]
CMD ["run"]
