import CLinuxSyscalls
import CSeccomp
import Foundation

/// The seccomp filter every build step runs under (given to bwrap with `--seccomp`). It denies
/// what Docker's default profile denies to an unprivileged container: changing mounts and
/// namespaces (mount, umount2, pivot_root, the new mount API, unshare, setns, clone with a
/// namespace flag, clone3), the kernel keyring, ptrace, personality changes, bpf,
/// perf_event_open, userfaultfd, kexec, module loading, and the other calls that act on the
/// whole machine. Denied calls fail with EPERM (clone3 with ENOSYS, so libc falls back to
/// clone, which the filter can inspect).
public enum SeccompFilter {
    /// System calls refused outright.
    static let denied = [
        "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
        "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
        "keyctl", "add_key", "request_key",
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
        "bpf", "perf_event_open", "userfaultfd",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
        "reboot", "swapon", "swapoff", "acct", "syslog", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
        "iopl", "ioperm", "open_by_handle_at", "name_to_handle_at", "quotactl", "lookup_dcookie", "nfsservctl",
        "uselib", "sysfs", "_sysctl", "ustat", "vm86", "vm86old", "get_kernel_syms", "query_module",
    ]

    /// The namespace flags `clone` may not carry.
    static let namespaceFlags: [UInt64] = [
        0x0002_0000,  // CLONE_NEWNS
        0x0200_0000,  // CLONE_NEWCGROUP
        0x0400_0000,  // CLONE_NEWUTS
        0x0800_0000,  // CLONE_NEWIPC
        0x1000_0000,  // CLONE_NEWUSER
        0x2000_0000,  // CLONE_NEWPID
        0x4000_0000,  // CLONE_NEWNET
    ]

    /// The compiled BPF program, built once.
    public static let program: Result<[UInt8], RuntimeError> = build()

    static func build() -> Result<[UInt8], RuntimeError> {
        guard let ctx = seccomp_init(SLIPWAY_SCMP_ACT_ALLOW) else {
            return .failure(.unavailable("libseccomp cannot build the sandbox's seccomp filter"))
        }
        defer { seccomp_release(ctx) }
        let eperm = slipway_scmp_act_errno(UInt32(EPERM))
        func deny(_ name: String, _ action: UInt32, _ conditions: [scmp_arg_cmp] = []) -> Bool {
            let nr = seccomp_syscall_resolve_name(name)
            guard nr >= 0 else { return true }  // not a system call on this architecture
            return conditions.withUnsafeBufferPointer { seccomp_rule_add_array(ctx, action, nr, UInt32($0.count), $0.baseAddress) } == 0
        }
        for name in denied where !deny(name, eperm) {
            return .failure(.unavailable("libseccomp refused a rule for \(name)"))
        }
        for flag in namespaceFlags {
            let cond = scmp_arg_cmp(arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: flag, datum_b: flag)
            guard deny("clone", eperm, [cond]) else { return .failure(.unavailable("libseccomp refused the clone rule")) }
        }
        guard deny("clone3", slipway_scmp_act_errno(UInt32(ENOSYS))) else { return .failure(.unavailable("libseccomp refused the clone3 rule")) }
        // personality: only the default persona (0, PER_LINUX) and the query (0xffffffff). A
        // 32-bit value is neither exactly when two adjacent bits differ, and each such test is
        // one masked comparison (a rule may compare an argument only once).
        for bit in 0..<31 {
            let mask = UInt64(3) << UInt64(bit)
            for pattern in [UInt64(1) << UInt64(bit), UInt64(2) << UInt64(bit)] {
                let differ = scmp_arg_cmp(arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: pattern)
                guard deny("personality", eperm, [differ]) else { return .failure(.unavailable("libseccomp refused the personality rule")) }
            }
        }
        var fds: [Int32] = [0, 0]
        guard slipway_pipe_cloexec(&fds) == 0 else { return .failure(.io("cannot create a pipe for the seccomp filter")) }
        defer { close(fds[0]) }
        let rc = seccomp_export_bpf(ctx, fds[1])
        close(fds[1])
        guard rc == 0 else { return .failure(.unavailable("libseccomp cannot export the seccomp filter")) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return .success(out)
    }

    /// A descriptor holding the program for one bwrap run (the read end of a pipe, close-on-exec
    /// until the spawn hands it over). The caller closes it after the spawn.
    static func descriptor() throws -> Int32 {
        let bytes = try program.get()
        var fds: [Int32] = [0, 0]
        guard slipway_pipe_cloexec(&fds) == 0 else { throw RuntimeError.io("cannot create a pipe for the seccomp filter") }
        defer { close(fds[1]) }
        // The program is a few KB, far below a pipe's buffer: the write completes at once.
        let written = bytes.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            close(fds[0])
            throw RuntimeError.io("cannot pass the seccomp filter to bwrap")
        }
        return fds[0]
    }
}
