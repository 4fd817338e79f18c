// Tries, from inside a build step, what the sandbox's seccomp filter and --disable-userns must
// refuse, and prints NAME=ok or NAME=<errno name> for each. Built static by the test. Never run it outside the sandbox: as root it
// really mounts and unshares.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long rc) {
    if (rc >= 0) { printf("%s=ok\n", name); return; }
    const char *e = errno == EPERM ? "EPERM" : errno == ENOSYS ? "ENOSYS" : errno == EACCES ? "EACCES" : errno == EINVAL ? "EINVAL" : "OTHER";
    printf("%s=%s\n", name, e);
}

static long clone_with(unsigned long flags) {
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, 0, 0);
    return pid;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);  // nothing buffered is printed twice by a forked child
    report("unshare-user", unshare(CLONE_NEWUSER));
    report("unshare-mount", unshare(CLONE_NEWNS));
    report("clone-newuser", clone_with(CLONE_NEWUSER));
    report("clone-newnet", clone_with(CLONE_NEWNET));
    report("clone-plain", clone_with(0));
    unsigned long long args[11] = {0};
    args[4] = SIGCHLD;  // exit_signal
    long r3 = syscall(SYS_clone3, args, sizeof args);
    if (r3 == 0) _exit(0);
    if (r3 > 0) waitpid((pid_t)r3, 0, 0);
    report("clone3", r3);
    report("mount", mount("none", "/tmp", "tmpfs", 0, 0));
    report("umount2", umount2("/proc", MNT_DETACH));
    report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
    report("setns", syscall(SYS_setns, 0, 0));
    report("keyctl", syscall(SYS_keyctl, 0, -3, 0));
    report("add_key", syscall(SYS_add_key, "user", "k", "v", 1, -2));
    report("ptrace", ptrace(PTRACE_TRACEME, 0, 0, 0));
    report("personality-query", personality(0xffffffff));
    report("personality-change", personality(PER_LINUX32));
    report("bpf", syscall(SYS_bpf, 0, 0, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));
    report("userfaultfd", syscall(SYS_userfaultfd, 0));
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, 0, 0));
    report("init_module", syscall(SYS_init_module, 0, 0, ""));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, 0, 0, 0));
    return 0;
}
