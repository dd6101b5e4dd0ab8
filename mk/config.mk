# Toolchain and flags shared by every part of the build.
B        ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
VERSION  := 0.1.0

CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
PROTOC_C ?= protoc-c

ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

WARN     := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 -Wvla
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -D_GNU_SOURCE -DWEFT_VERSION=\"$(VERSION)\" \
            -I. -Icommon -Iexporter -Ioffsets -Ianalyzer -Ibpf/include -I$(B)/gen -I$(B)/bpf \
            -fno-strict-aliasing -MMD -MP
LDFLAGS  ?=

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
              -I$(B)/gen -Ibpf/include -Ibpf

# Libraries, by the pkg-config names Debian ships.
LIBBPF_LIBS := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
