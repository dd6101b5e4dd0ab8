/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where an OpenSSL SSL object keeps its read BIO, and where a BIO keeps its
 * method and fd, measured on the very library weft-tcpopt probes, so the BPF
 * side can go SSL -> BIO -> fd -> socket at an SSL call's entry instead of
 * watching every read/write system call on the machine.
 */
#ifndef WEFT_TCPOPT_SSL_LAYOUT_H
#define WEFT_TCPOPT_SSL_LAYOUT_H

struct tcpopt_ssl_layout {
	int rbio_off;	/* SSL *: offset of BIO *rbio */
	int method_off; /* BIO *: offset of const BIO_METHOD *method */
	int num_off;	/* BIO *: offset of int num (the fd of a socket BIO) */
};

/*
 * Measure the layout with the library's own accessors (SSL_set_fd,
 * SSL_get_rbio, BIO_s_socket) in a short-lived child process, so nothing of
 * it stays mapped here. 0 on success, -1 (all offsets -1) when the library
 * cannot be loaded or the layout is ambiguous.
 */
int tcpopt_ssl_layout(const char *libssl, struct tcpopt_ssl_layout *out);

#endif /* WEFT_TCPOPT_SSL_LAYOUT_H */
