/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The maps the injectors share (bpf/include/weft_shared_maps.bpf.h), pinned
 * by name in one directory: $WEFT_PIN_DIR, default WEFT_PIN_DIR (on bpffs,
 * mounted when absent). libbpf creates a pin when it is missing and reuses it
 * when present (bpf_object_open_opts.pin_root_path = weft_pins.dir), so
 * whichever injector starts first creates them and start order never
 * matters.
 *
 * A pin belongs to the processes that hold its map. One that no process
 * holds (its users were killed) is stale: removed at the next start, so a
 * restart gets a fresh, empty map. A pin that a running process holds is
 * never removed; at a clean exit the last user removes the pins. Starting
 * and stopping run under an flock of the directory, so one injector's exit
 * and another's start cannot interleave. The holders are found in
 * /proc/PID/fdinfo: injectors sharing a pin directory share a pid namespace.
 *
 *   weft_pins_begin()  before opening the BPF object (NAME__open_opts(&p->opts)):
 *                      directory ready, lock taken, stale pins removed (one
 *                      line each)
 *   weft_pins_loaded() after loading (or failing to): lock released
 *   weft_pins_end()    at exit, after the BPF object was closed: the pins
 *                      removed when no other process holds their maps
 */
#ifndef WEFT_PINS_H
#define WEFT_PINS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>

struct weft_pins {
	char dir[PATH_MAX];
	int dfd;     /* the directory, locked from begin to loaded and in end */
	bool open;   /* dfd is valid (a zeroed struct: nothing to end) */
	bool shared; /* a pin existed that a running process holds */
	struct bpf_object_open_opts opts; /* pin_root_path = dir: open the skeleton with these */
};

/* 0, or -errno with one line in err. */
int weft_pins_begin(struct weft_pins *p, char *err, size_t errlen);
void weft_pins_loaded(struct weft_pins *p);
void weft_pins_end(struct weft_pins *p);

/* Delete every entry of map fd (keys up to 64 bytes): a shared map whose entries are ours. */
void weft_map_clear(int fd);

#endif /* WEFT_PINS_H */
