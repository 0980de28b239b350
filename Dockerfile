# syntax=docker/dockerfile:1
# Static build, distroless runtime, non-root. The task runs `restage run`.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY app ./app
COPY internal ./internal
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/restage ./app

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/restage /restage
USER nonroot:nonroot
ENTRYPOINT ["/restage"]
CMD ["run"]
