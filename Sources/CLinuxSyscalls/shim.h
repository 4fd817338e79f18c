// Linux system calls that glibc has no wrapper for, or only a variadic one Swift cannot call.
#ifndef SLIPWAY_CLINUXSYSCALLS_H
#define SLIPWAY_CLINUXSYSCALLS_H
// No _GNU_SOURCE and no <sys/socket.h> here: a module that sees glibc's headers with other
// feature macros than the other C modules do (fd_set's members differ) breaks a clean build.
#include <asm/socket.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <unistd.h>

/// glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later), declared here because
/// <spawn.h> declares it only with _GNU_SOURCE.
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/// Makes a spawned child close every descriptor from `from` up, after the other file actions:
/// it inherits only what it is given, never a descriptor some other part of the process left
/// without close-on-exec.
static inline int slipway_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

/// openat2(2): opens `path` relative to `dirfd` with `resolve` flags (RESOLVE_BENEATH, ...).
/// Returns the descriptor, or -1 with errno (ENOSYS where the kernel predates Linux 5.6).
static inline int slipway_openat2(int dirfd, const char *path, unsigned long long flags, unsigned long long mode,
                                  unsigned long long resolve) {
    struct open_how how = {0};
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/// statx(2) of an open descriptor: its device, inode and birth time. Returns 0, or -1 with
/// errno, or 1 when the file system records no birth time.
static inline int slipway_file_birth(int fd, unsigned long long *device, unsigned long long *inode, long long *seconds, unsigned int *nanoseconds) {
    struct statx x = {0};
    if (syscall(SYS_statx, fd, "", 0x1000 /* AT_EMPTY_PATH, declared only with _GNU_SOURCE */, STATX_INO | STATX_BTIME, &x) != 0) return -1;
    if (!(x.stx_mask & STATX_BTIME)) return 1;
    *device = ((unsigned long long)x.stx_dev_major << 32) | x.stx_dev_minor;
    *inode = x.stx_ino;
    *seconds = x.stx_btime.tv_sec;
    *nanoseconds = x.stx_btime.tv_nsec;
    return 0;
}

/// pipe2(2) with O_CLOEXEC: both ends close on exec, so no concurrently spawned child inherits them.
static inline int slipway_pipe_cloexec(int fds[2]) { return (int)syscall(SYS_pipe2, fds, O_CLOEXEC); }

/// fgetxattr(2) through syscall(2), so no xattr header need be seen here: the value of
/// extended attribute `name` of `fd` into `value`; its length, or -1 with errno.
static inline long slipway_fgetxattr(int fd, const char *name, void *value, unsigned long size) {
    return syscall(SYS_fgetxattr, fd, name, value, size);
}

// fsetxattr(2), through the system call (its glibc prototype needs <sys/xattr.h>).
static inline int slipway_fsetxattr(int fd, const char *name, const void *value, unsigned long size) {
    return (int)syscall(SYS_fsetxattr, fd, name, value, size, 0);
}

/// Makes this process a child subreaper: orphans of its descendants are reparented to it.
static inline int slipway_become_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

/// accept4(2) with SOCK_CLOEXEC (which Linux defines as O_CLOEXEC), so no child spawned at the
/// same moment inherits the connection.
static inline int slipway_accept_cloexec(int fd) { return (int)syscall(SYS_accept4, fd, 0, 0, O_CLOEXEC); }

/// The uid of a Unix socket's peer (SO_PEERCRED, the kernel's `struct ucred`); -1 when it
/// cannot be read.
static inline long long slipway_peer_uid(int fd) {
    struct { int pid; unsigned int uid; unsigned int gid; } cred;
    unsigned int len = sizeof cred;
    if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    return (long long)cred.uid;
}

/// gettid(2): the calling thread's id (for per-thread priority).
static inline int slipway_gettid(void) { return (int)syscall(SYS_gettid); }

/// statfs(2)'s f_type of the file system holding `path` (what kind it is: tmpfs, ext4, …), read
/// through the system call into a buffer of the kernel's struct statfs (120 bytes on 64-bit
/// Linux, f_type first), so that no header here claims glibc's statfs names; -1 on failure.
static inline long slipway_file_system_type(const char *path) {
    long buf[16];
    if (syscall(SYS_statfs, path, buf) != 0) return -1;
    return buf[0];
}

static const unsigned long long SLIPWAY_RESOLVE_BENEATH = RESOLVE_BENEATH;
static const unsigned long long SLIPWAY_RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS;
static const unsigned long long SLIPWAY_RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS;

// The user namespace that owns the namespace open at `fd` (NS_GET_USERNS), as a new
// close-on-exec descriptor; -1 with errno on failure.
static inline int slipway_owning_userns(int fd) {
    int u = ioctl(fd, 0xb701 /* NS_GET_USERNS */);
    if (u >= 0) fcntl(u, F_SETFD, FD_CLOEXEC);
    return u;
}

#endif
