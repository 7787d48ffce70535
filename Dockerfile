# syntax=docker/dockerfile:1
# flowscope agent image: build on Debian 12, run on Debian 12 slim with the shared libraries only.
#
#   docker build -t ghcr.io/flowscope/flowscope:0.1.0 .
#
# The BPF programs are compiled against the vmlinux.h checked in for the architecture
# (bpf/vmlinux/<arch>/vmlinux.h), so the build host's kernel does not matter. To build against
# another kernel's types, put its BTF file in the context as vmlinux.btf and add
#   --build-arg FLOWSCOPE_BTF=/src/vmlinux.btf
# The programs are CO-RE: the BTF only supplies type layouts, relocated at load time on each node,
# so the image does not depend on the build host's kernel. See docs/deploy.md.

ARG DEBIAN_RELEASE=bookworm

FROM debian:${DEBIAN_RELEASE} AS build
# scripts/setup.sh's build_pkgs, without the test framework (cmocka) and ccache; the test
# style_dockerfile checks that the two lists agree.
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		build-essential cmake pkg-config clang llvm bpftool \
		libbpf-dev libelf-dev zlib1g-dev \
		libinih-dev uthash-dev \
		libnetfilter-conntrack-dev libmnl-dev \
		librdkafka-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler \
		libmicrohttpd-dev libjansson-dev \
		libyaml-dev libcurl4-openssl-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG FLOWSCOPE_BTF=
# RelWithDebInfo (-O2), the build type the suite runs on, then stripped. FLOWSCOPE_WERROR stays
# at its default (on for this type): CI builds every type with -Werror on this Debian release.
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DFLOWSCOPE_TESTS=OFF -DFLOWSCOPE_BENCH=OFF -DFLOWSCOPE_BTF="${FLOWSCOPE_BTF}" \
	&& cmake --build /build -j"$(nproc)" --target flowscope \
	&& strip /build/agent/flowscope

FROM debian:${DEBIAN_RELEASE}-slim
# The libraries flowscope links (libelf and zlib come with libbpf; style_dockerfile checks that
# every library the binary names has its package here), and CA certificates for Kafka
# over TLS with a public CA (librdkafka reads the system store).
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		libbpf1 libelf1 zlib1g libinih1 libnetfilter-conntrack3 libmnl0 \
		librdkafka1 libprotobuf-c1 libmicrohttpd12 libjansson4 libyaml-0-2 libcurl4 \
		ca-certificates \
	&& rm -rf /var/lib/apt/lists/*
COPY --from=build /build/agent/flowscope /usr/local/bin/flowscope
COPY LICENSE /usr/share/doc/flowscope/
COPY LICENSES /usr/share/doc/flowscope/LICENSES/
# Fail the build, not the pod, when a library is missing.
RUN ! ldd /usr/local/bin/flowscope | grep 'not found' && flowscope --version
# Root on purpose: the agent loads BPF programs and checks for euid 0. The chart grants it a
# handful of capabilities instead of a privileged container.
USER 0
ENTRYPOINT ["/usr/local/bin/flowscope"]
