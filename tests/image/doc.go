// Package image checks the one container image every role runs (deploy/Dockerfile) without a
// container daemon: base images pinned, a non-root user, the entrypoint, CA roots, tzdata and
// ffmpeg, the Go toolchain matching go.mod. Where `docker info` works it also builds the image
// and inspects it; elsewhere that test says why it skipped.
package image
