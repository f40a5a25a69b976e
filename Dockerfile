# syntax=docker/dockerfile:1
# callme as a static, non-root container. Build: docker build -t callme .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (the SQLite driver is modernc.org/sqlite), so the binary is static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/callme .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/callme /callme
USER nonroot:nonroot
EXPOSE 8080
# SQLite needs a writable directory; with MySQL (CALLME_DB=mysql://…) none is used.
WORKDIR /home/nonroot
ENTRYPOINT ["/callme"]
