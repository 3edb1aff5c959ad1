# A static cartd image: the binary (pure Go, CGO_ENABLED=0) on distroless/static, run as a
# non-root user, with a HEALTHCHECK that runs `cartd healthcheck` (the image has no shell or
# curl). docs/install.md explains how to build and run it.
#
#   docker build --build-arg VERSION=v1.2.3 -t cartd:v1.2.3 .
#   docker run -p 8080:8080 -v cartd-data:/data -e CARTD_ADMIN_KEY=sk_... cartd:v1.2.3
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=
ARG COMMIT=
ARG DATE=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w \
        -X github.com/cartd/cartd/internal/buildinfo.version=${VERSION} \
        -X github.com/cartd/cartd/internal/buildinfo.commit=${COMMIT} \
        -X github.com/cartd/cartd/internal/buildinfo.date=${DATE}" \
      -o /out/cartd ./cmd/cartd \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cartd /cartd
# The SQLite file lives in /data, a volume owned by the image's non-root user (65532).
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV CARTD_ADDR=:8080 \
    CARTD_DB=sqlite:/data/cartd.db \
    CARTD_LOG_FORMAT=json \
    CARTD_SHUTDOWN_DRAIN=5s
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/cartd", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/cartd"]
CMD ["serve"]
