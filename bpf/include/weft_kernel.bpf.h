/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel facts the injectors' BPF programs share: constants vmlinux.h does
 * not carry (they are macros in the kernel) and the walk from a file
 * descriptor of the current task to its file and socket (task->files->fdt
 * through the task's BTF pointer, then CO-RE reads; no kprobe needed).
 */
#ifndef WEFT_KERNEL_BPF_H
#define WEFT_KERNEL_BPF_H

#define AF_INET	 2
#define AF_INET6 10
#define SOL_TCP	 6
#define S_IFMT	 00170000
#define S_IFSOCK 0140000

/* The struct file behind fd in the current task, or NULL. */
static __always_inline struct file *weft_fd_file(long fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt;
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0)
		return NULL;
	/*
	 * Loads through the task's BTF pointer (the verifier makes each a load
	 * that reads 0 on a fault): no helper call per step. The slot itself is
	 * read with a helper (fds is a plain pointer to the verifier).
	 */
	fdt = t->files->fdt;
	if (!fdt || (unsigned long)fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/*
 * The file behind fd when fd is a socket, else NULL; *inode (unless inode is
 * NULL): its inode, read once for the caller.
 */
static __always_inline struct file *weft_fd_socket_file_inode(long fd, struct inode **inode)
{
	struct file *f = weft_fd_file(fd);
	struct inode *i;
	umode_t mode;

	if (!f)
		return NULL;
	i = BPF_CORE_READ(f, f_inode);
	mode = BPF_CORE_READ(i, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	if (inode)
		*inode = i;
	return f;
}

/* The file behind fd when fd is a socket, else NULL. */
static __always_inline struct file *weft_fd_socket_file(long fd)
{
	return weft_fd_socket_file_inode(fd, NULL);
}

/*
 * The sock behind socket fd, or NULL; ino (unless NULL): the socket's inode
 * number, which names the connection for as long as the socket lives (a
 * freed sock's memory is reused, the number is not).
 */
static __always_inline struct sock *weft_fd_sock_ino(long fd, __u64 *ino)
{
	struct inode *i = NULL;
	struct file *f = weft_fd_socket_file_inode(fd, &i);
	struct socket *so;

	if (!f)
		return NULL;
	if (ino)
		*ino = BPF_CORE_READ(i, i_ino);
	so = BPF_CORE_READ(f, private_data);
	return so ? BPF_CORE_READ(so, sk) : NULL;
}

/* The sock behind socket fd, or NULL. */
static __always_inline struct sock *weft_fd_sock(long fd)
{
	return weft_fd_sock_ino(fd, NULL);
}

#endif /* WEFT_KERNEL_BPF_H */
