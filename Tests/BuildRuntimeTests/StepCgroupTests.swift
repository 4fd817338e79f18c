import Testing
@testable import BuildRuntime

/// StepCgroup's reading of proc files, on texts written here (no cgroup is made).
@Suite struct StepCgroupTests {
    /// Where a process's cgroup folder is, from /proc/PID/cgroup and /proc/PID/mountinfo: a
    /// hierarchy mounted at its root or at a cgroup of its own (as in a container), mount points
    /// with escaped spaces, and none for a controller only cgroup v2 has, or not mounted.
    @Test func cgroupFoldersAreFoundFromProcFiles() {
        let cgroups = "12:pids:/user.slice/u 1\n4:memory:/process_api/abc\n3:cpu,cpuacct:/\n0::/init.scope\n"
        let mounts = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            35 31 0:32 /process_api /sys/fs/cgroup/mem\\040ory rw,relatime shared:9 - cgroup cgroup rw,memory
            39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """
        #expect(StepCgroup.folder(of: "pids", cgroups: cgroups, mountInfo: mounts) == "/sys/fs/cgroup/pids/user.slice/u 1")
        #expect(StepCgroup.folder(of: "memory", cgroups: cgroups, mountInfo: mounts) == "/sys/fs/cgroup/mem ory/abc")
        #expect(StepCgroup.folder(of: "cpu", cgroups: cgroups, mountInfo: mounts) == nil, "no cpu hierarchy is mounted")
        #expect(StepCgroup.folder(of: "pids", cgroups: "0::/init.scope\n", mountInfo: mounts) == nil, "cgroup v2 only")
        let elsewhere = "35 31 0:32 /other /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        #expect(StepCgroup.folder(of: "memory", cgroups: cgroups, mountInfo: elsewhere) == nil, "the mount does not show the process's cgroup")
    }
}
