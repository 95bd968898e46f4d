#!/usr/bin/env bash
# Builds the runtime image in CI (needs a Docker engine with BuildKit; see docs/ci.md#image-build):
#  1. resolves the base image tags to digests (or takes NODE_IMAGE / RUNTIME_IMAGE already pinned),
#  2. exports the release files and signs their manifest with the KMS release key (when GLIMMER_RELEASE_KMS_KEY_ID is set),
#  3. builds the final image with the signed files and tags it IMAGE (e.g. <account>.dkr.ecr.<region>.amazonaws.com/glimmer/runtime:<git sha>).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${IMAGE:?set IMAGE to the repository:tag to build}"
# The Node release pinned in .nvmrc (Active LTS); the build stage is Debian 13 (glibc of distroless debian13).
NODE_VERSION="$(tr -d '[:space:]v' < .nvmrc)"
NODE_TAG="${NODE_TAG:-docker.io/library/node:${NODE_VERSION}-trixie}"
RUNTIME_TAG="${RUNTIME_TAG:-gcr.io/distroless/nodejs${NODE_VERSION%%.*}-debian13:nonroot}"

pin() { # name@sha256:<digest> of a tag, from the registry
  local digest
  digest="$(docker buildx imagetools inspect "$1" --format '{{json .Manifest.Digest}}' | tr -d '"')"
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "cannot resolve a digest for $1" >&2; exit 1; }
  echo "${1%%:*}@${digest}"
}
NODE_IMAGE="${NODE_IMAGE:-$(pin "$NODE_TAG")}"
RUNTIME_IMAGE="${RUNTIME_IMAGE:-$(pin "$RUNTIME_TAG")}"
args=(-f deploy/Dockerfile --build-arg "NODE_IMAGE=${NODE_IMAGE}" --build-arg "RUNTIME_IMAGE=${RUNTIME_IMAGE}")
echo "bases: ${NODE_IMAGE} ${RUNTIME_IMAGE}"

rm -rf release
docker build "${args[@]}" --target release-files --output type=local,dest=release .
if [[ -n "${GLIMMER_RELEASE_KMS_KEY_ID:-}" ]]; then
  node --import tsx scripts/sign-release.ts --root release --key-id "${GLIMMER_RELEASE_KMS_KEY_ID}"
  docker build "${args[@]}" --build-context release=release --tag "${IMAGE}" .
else
  echo "GLIMMER_RELEASE_KMS_KEY_ID is not set: the image keeps the build's development signature (not for production)" >&2
  docker build "${args[@]}" --tag "${IMAGE}" .
fi
