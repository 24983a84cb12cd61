# syntax=docker/dockerfile:1
# vipd's container image (docs/container-image.md). The builder compiles the native data-path module
# and bundles the TypeScript with the parts of its dependencies it uses into one file; the runtime
# stage holds Node, that bundle and the native module, and nothing that builds or installs software.
#
#   docker build -t vipd:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/vipd:0.1.0 --push .
#
# test/integration/dockerfile.test.ts runs the builder's steps and starts the result, so this recipe
# cannot rot unnoticed on machines without a Docker engine.

# The builder and the runtime must share a Debian release: the native module links the builder's
# libstdc++ and glibc.
ARG NODE_VERSION=24.21.0
ARG DEBIAN_RELEASE=bookworm

FROM node:${NODE_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /build
# Dependencies first, so that editing the source does not reinstall them. npm ci runs the package's
# install script, which builds src/net/native with node-gyp (the full image has python3, make, g++).
COPY package.json package-lock.json ./
COPY scripts/build-native.ts scripts/
COPY src/net/native/ src/net/native/
RUN npm ci --no-audit --no-fund
COPY scripts/build.ts scripts/
COPY cmd/ cmd/
COPY src/ src/
RUN npm run build

FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="vipd" \
      org.opencontainers.image.description="Layer-2 VIP failover agent for bare-metal Kubernetes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim"
# BIRD 2 (bird and birdc) for the BGP and ECMP modes: the DaemonSet's BIRD sidecar runs this image
# too (vipd manifest daemonset --bgp, docs/bgp.md), and the agent drives that BIRD with birdc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bird2 \
 && rm -rf /var/lib/apt/lists/*
# vipd never installs anything at run time: without the package managers the image is smaller and
# has less for a scanner (or an attacker) to find.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-v*
WORKDIR /opt/vipd
COPY --from=builder /build/package.json ./
COPY --from=builder /build/dist/vipd.js dist/
COPY --from=builder /build/src/net/native/build/Release/vipd_net.node src/net/native/build/Release/
# Root, but only in name: the pod spec drops every capability except NET_ADMIN (addresses and routes
# over netlink) and NET_RAW (the AF_PACKET socket), and NET_BIND_SERVICE for BIRD's container,
# forbids privilege escalation and mounts this file system read-only. A non-root user cannot be
# given those capabilities by Kubernetes (see docs/container-image.md).
USER root
# The V8 flags are those of src/cli/node-flags.ts (why: see there).
ENTRYPOINT ["node", "--max-semi-space-size=1", "--optimize-for-size", "/opt/vipd/dist/vipd.js"]
CMD ["--help"]
