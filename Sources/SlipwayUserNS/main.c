// slipway-userns: runs a command as root of a new user namespace that maps a whole range of
// ids (bwrap 0.8 maps one), in a new mount namespace where, optionally, an overlay of image
// layers is mounted first (bwrap 0.8 has no --overlay). Dockerfile RUN steps need both: a step
// that runs `chown 1000`, `useradd` or apt (user _apt) needs more than one id, and the step's
// changes are the overlay's upper folder, which becomes the new layer.
//
//   slipway-userns --uid-map INNER:OUTER:COUNT… --gid-map INNER:OUTER:COUNT… [--newuidmap]
//                  [--chdir DIR] [--lower DIR]… --upper DIR --work DIR --merged DIR
//                  [MOUNT]… -- COMMAND [ARG…]
//   slipway-userns … --root DIR [MOUNT]… -- COMMAND [ARG…]
//
// With --idmapped NAME (as root only, repeatable; NAME a folder in --chdir), the folder NAME is
// seen through an id-mapped mount (MOUNT_ATTR_IDMAP, read-only) of the namespace's maps: an id
// k on disk shows as host id OUTER+k, so as the namespace's own id k. It holds a Dockerfile
// layer written with the namespace's ids as they are inside, whose files may be hard links
// of the source snapshot's (owned by root): a COPY shares its bytes with the snapshot. The
// helper makes each such mount before the namespace exists (only root, in the initial user
// namespace, may) and attaches it on NAME itself in the new mount namespace, so --lower and
// --mount-overlay name it as any folder; it is only ever an overlay's lower, never bound into
// a step's root, and read-only, so no step writes through it.
//
// where each MOUNT (a RUN --mount, or the step's resolv.conf) is one of
//   --mount-bind DIR SUB TARGET ro|rw              SUB inside the host folder DIR (a cache folder)
//   --mount-overlay UPPER,WORK,LOWER… SUB TARGET ro|rw   SUB inside an overlay of LOWERs (a stage)
//   --mount-tmpfs SIZE TARGET                        an empty tmpfs of at most SIZE bytes
//
// Each map maps COUNT ids from INNER (in the namespace) to OUTER (on the host). As root the maps are written to /proc/PID/{uid,gid}_map; with --newuidmap (a
// user that is not root) the setuid `newuidmap`/`newgidmap` write them, within the user's
// /etc/subuid and /etc/subgid ranges. Lower folders are given topmost first; with --chdir they
// may be relative to DIR, which keeps the mount options under the kernel's one-page limit. The
// overlay is mounted with `userxattr` (the only way it mounts in a user namespace): whiteouts
// are 0:0 character devices and opaque folders carry user.overlay.opaque=y.
//
//   slipway-userns --exec-as UID:GID -- COMMAND [ARG…]
//
// runs COMMAND as UID:GID (no supplementary groups), from a root that may change ids: inside a
// step's sandbox, for a Dockerfile `USER` other than root (bwrap's --uid needs a user namespace
// of its own, which would map one id).
//
//   slipway-userns --apply-owners LIST ROOT
//
// run as the command of a namespace (as its root), gives paths under ROOT the owners and modes
// LIST says: records "UID GID MODE PATH", each ended by a NUL, MODE octal or "-" (a symlink),
// PATH relative to ROOT. What a user that is not root extracted keeps that user's ids; only
// the namespace's root may give it the ids of the subordinate range. Symlinks are never
// followed; a path that is gone is skipped.
//
//   slipway-userns --configure-tap USERNS_FD NETNS_FD
//
// joins a step's user namespace and network namespace (open descriptors) and configures tap0,
// which slirp4netns made there: MTU 65520, 10.0.2.100/24, up, default route via 10.0.2.2. It
// leaves the loopback alone: bwrap sets that up in the same namespace at the same time, and
// slirp4netns's own --configure (which brings lo up too) races it.
//
//   slipway-userns --configure-tap USERNS_FD NETNS_FD --loopback
//
// does the same and brings the loopback up too: for a namespace `--hold-net` made, where no
// bwrap sets it up.
//
//   slipway-userns --hold-net READY_FD
//
// makes a user namespace mapping one id onto the caller (as root of it) and a network namespace
// it owns, writes a byte to READY_FD, and holds them until it is killed (or its engine dies):
// a step network made ahead of the step that takes it (StepNetworkPool), which slirp4netns
// joins and `--configure-tap … --loopback` configures.
//
//   slipway-userns --join-net USERNS_FD NETNS_FD -- COMMAND [ARG…]
//
// joins such a held user namespace and its network namespace (open descriptors, closed before
// COMMAND runs), as root of that namespace, and runs COMMAND there: a buildpack step's bwrap
// (or the helper that mounts its overlay workspace first), which then unshares every namespace
// but the network.
//
//   slipway-userns --step-driver COMMANDS_FD RESULTS_FD
//
// runs inside a buildpacks phase's sandbox (one sandbox per phase, as lifecycle runs its
// detector and builder in one container) and runs its steps one at a time: each record read
// from COMMANDS_FD ("LENGTH\n" then LENGTH bytes of NUL-ended fields: MARKER, DIR, ARGC, ARGC
// arguments, then NAME=VALUE environment entries) is run in DIR with exactly that environment;
// when it has exited, every process it left is killed and reaped (the driver is the pid
// namespace's first process, bwrap's --as-pid-1, so they are its children, and no step can
// signal it), MARKER is written as a line to stdout and to stderr (so the engine knows it has
// every line of the step), and the exit status (128+signal when killed) as a line to
// RESULTS_FD. Both descriptors are close-on-exec, and the driver is not dumpable, so a step
// reaches neither. End of COMMANDS_FD ends the driver, and the sandbox with it.
//
//   slipway-userns --uid-map 0:UID:1 --gid-map 0:GID:1 [--chdir DIR] --lower DIR… --upper DIR --work DIR
//                  --merged DIR --in-place -- COMMAND [ARG…]
//
// mounts the overlay on the folder --merged names, where it is, in the new mount namespace
// only, and runs COMMAND there with no other change: a buildpacks build's /workspace, which
// bwrap then binds. The namespace maps one id onto the caller (a user that is not root may
// write that map itself, after denying setgroups), so what the build writes belongs to the
// caller, as without the overlay.
//
// --root gives COMMAND the folder DIR itself instead of an overlay (where overlayfs cannot be
// mounted, Slipway copies the layers into a folder and compares it afterwards).
//
// With an overlay (or --root), COMMAND finds the step's root at /tmp/slipway-root and this
// helper at /tmp/slipway-exec-as, on a small tmpfs over /tmp in its own mount namespace (the
// host's /tmp is untouched): the namespace's root is another host id than the caller, and may
// not be allowed to walk the paths that lead to them (a 0700 state directory). Both are bound
// from descriptors opened before the ids changed, which needs no walk.
//
// Every MOUNT is placed by this helper, inside the step's root, before COMMAND (bwrap) runs, and
// only through descriptors, so that nothing a build wrote can send a mount to a host path:
// - its source: DIR opened before the ids change, or the overlay mounted on the helper's own
//   tmpfs with its folders named by descriptor; then SUB is opened inside that source with
//   openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), so a symlink (`/`,
//   `../../..`) resolves inside the source as it would in a container, never on the host;
// - its target: TARGET, a path without symlinks that Slipway worked out inside the stage, is
//   walked component by component from the root's descriptor with O_NOFOLLOW; a missing
//   component is made (a folder, or an empty file for a file source); a symlink or a file where
//   a folder belongs fails the step, whatever its place;
// - the mount: open_tree(OPEN_TREE_CLONE), mount_setattr(MOUNT_ATTR_RDONLY) when ro, and
//   move_mount onto the target's descriptor (a tmpfs: fsopen/fsconfig(size)/fsmount).
// The root's /proc and /dev, where bwrap mounts its own, must be folders (made when missing).
// bwrap then binds /tmp/slipway-root, with these mounts inside it, as the step's /.
//
// Step limits, as the first flags of the modes that make a namespace (or with --limits-only):
//   slipway-userns [--cgroup-procs FILE]… [--rlimit nproc=N|as=BYTES]… --uid-map …
//   slipway-userns --limits-only [--cgroup-procs FILE]… [--rlimit nproc=N|as=BYTES]… -- COMMAND [ARG…]
// Before anything else, the helper writes its own pid into each FILE (a cgroup's cgroup.procs)
// and sets each rlimit (soft and hard), so that everything it starts is held to them; with
// --limits-only it then runs COMMAND in its place (a buildpack step's bwrap).
//
// The helper stays as the parent: it forwards SIGTERM, SIGINT and SIGHUP to the namespace's
// first process and exits with its status (128+signal when it was killed). Its own failures
// exit 125 with a message on stderr. C, linked statically, like the launcher.
//
// It dies with the engine that started it (PR_SET_PDEATHSIG SIGKILL, and its namespace's first
// process with it): an engine killed with SIGKILL leaves no step running, adopted by PID 1
// (bwrap's --die-with-parent then takes the sandbox down). A parent that died before the
// helper asked is seen by getppid() no longer being the pid the engine gave it in
// SLIPWAY_PARENT_PID; what bwrap started directly leaves in the moment before bwrap asks is
// left to the next engine's start (LeftoverProcesses).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <unistd.h>

#define MAX_MAPS 8
#define MAX_LOWERS 512
#define MAX_MOUNTS 24
#define MAX_OVERLAY_MOUNT_DIRS 64
#define HELPER_FAILED 125

struct map { unsigned long inner, outer, count; };

// [0] users, [1] groups.
static struct map maps[2][MAX_MAPS];
static int nmaps[2];
static const char *lowers[MAX_LOWERS];
static int nlowers;
static const char *upper, *work, *merged, *chdir_to, *root_dir;
// Each MOUNT, in the order given.
enum mount_kind { MOUNT_BIND, MOUNT_OVERLAY, MOUNT_TMPFS };
static struct step_mount {
    enum mount_kind kind;
    const char *dir;                            // MOUNT_BIND: the host folder
    const char *dirs[MAX_OVERLAY_MOUNT_DIRS];   // MOUNT_OVERLAY: upper, work, lowers…
    int ndirs;
    int fds[MAX_OVERLAY_MOUNT_DIRS];            // their descriptors (MOUNT_BIND: fds[0])
    const char *sub, *target, *size;
    int readonly;
} mounts[MAX_MOUNTS];
static int nmounts;
static int use_newuidmap, in_place;
static pid_t child = -1;
// --idmapped folders, and their id-mapped mounts (made before the namespace, attached in it).
static const char *idmapped[MAX_LOWERS];
static int idmapped_fds[MAX_LOWERS];
static int nidmapped;

static void die(const char *what) {
    fprintf(stderr, "slipway-userns: %s: %s\n", what, strerror(errno));
    _exit(HELPER_FAILED);
}

static void usage(const char *why) {
    fprintf(stderr, "slipway-userns: %s\nusage: slipway-userns --uid-map INNER:OUTER:COUNT… --gid-map INNER:OUTER:COUNT… [--newuidmap] [--chdir DIR] "
                    "[--lower DIR… --upper DIR --work DIR --merged DIR] -- COMMAND [ARG…]\n", why);
    exit(HELPER_FAILED);
}

// A path that goes into overlay's comma- and colon-separated options as it is.
static int plain_path(const char *p) { return *p && !strpbrk(p, ",:\\\n"); }

// Asks for SIGKILL when the parent (`expected`) dies; exits at once when it has died already
// (the helper, or its child, was adopted before it asked).
static void die_with_parent(pid_t expected) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("prctl(PR_SET_PDEATHSIG)");
    if (getppid() != expected) _exit(HELPER_FAILED);
}

// The parent the engine says it is (SLIPWAY_PARENT_PID, taken out of what the helper runs):
// an engine killed before the helper asked to die with it has left it adopted, and getppid()
// now names the adopter. Without the variable (the helper run by hand), the current parent.
static pid_t engine_pid(void) {
    const char *v = getenv("SLIPWAY_PARENT_PID");
    pid_t expected = getppid();
    if (v && *v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end == 0 && n > 0) expected = (pid_t)n;
    }
    unsetenv("SLIPWAY_PARENT_PID");
    return expected;
}

static void forward(int sig) {
    if (child > 0) kill(child, sig);
}

// Writes the maps of kind k (0 users, 1 groups) to /proc/PID/<file> (as root), or runs
// `tool PID inner outer count …`.
static void write_maps(pid_t pid, int k, const char *file, const char *tool) {
    int count = nmaps[k];
    if (use_newuidmap) {
        char *argv[3 + 3 * MAX_MAPS];
        char numbers[1 + 3 * MAX_MAPS][24];
        int n = 0;
        argv[n++] = (char *)tool;
        snprintf(numbers[0], sizeof numbers[0], "%d", (int)pid);
        argv[n++] = numbers[0];
        for (int i = 0; i < count; i++) {
            snprintf(numbers[1 + 3 * i], 24, "%lu", maps[k][i].inner);
            snprintf(numbers[2 + 3 * i], 24, "%lu", maps[k][i].outer);
            snprintf(numbers[3 + 3 * i], 24, "%lu", maps[k][i].count);
            argv[n++] = numbers[1 + 3 * i];
            argv[n++] = numbers[2 + 3 * i];
            argv[n++] = numbers[3 + 3 * i];
        }
        argv[n] = NULL;
        pid_t p = fork();
        if (p < 0) die("fork");
        if (p == 0) {
            execvp(tool, argv);
            fprintf(stderr, "slipway-userns: cannot run %s (install the uidmap package): %s\n", tool, strerror(errno));
            _exit(HELPER_FAILED);
        }
        int status;
        while (waitpid(p, &status, 0) < 0)
            if (errno != EINTR) die("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "slipway-userns: %s refused the id map; the user needs a range of at least the mapped size in /etc/sub%cid "
                            "(for example: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER)\n",
                    tool, file[0]);
            exit(HELPER_FAILED);
        }
        return;
    }
    char path[64], text[MAX_MAPS * 72] = "";
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    for (int i = 0; i < count; i++) {
        char line[72];
        snprintf(line, sizeof line, "%lu %lu %lu\n", maps[k][i].inner, maps[k][i].outer, maps[k][i].count);
        strcat(text, line);
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die(path);
    close(fd);
}

static void mount_overlay(void) {
    size_t size = 64 + strlen(upper) + strlen(work);
    for (int i = 0; i < nlowers; i++) size += strlen(lowers[i]) + 1;
    char *options = malloc(size);
    if (!options) die("malloc");
    strcpy(options, "lowerdir=");
    for (int i = 0; i < nlowers; i++) {
        if (i) strcat(options, ":");
        strcat(options, lowers[i]);
    }
    strcat(options, ",upperdir=");
    strcat(options, upper);
    strcat(options, ",workdir=");
    strcat(options, work);
    strcat(options, ",userxattr");
    if ((long)strlen(options) >= sysconf(_SC_PAGESIZE) - 1) {
        fprintf(stderr, "slipway-userns: the overlay options are longer than a page (%zu bytes); use --chdir and relative lower folders\n", strlen(options));
        _exit(HELPER_FAILED);
    }
    if (mount("overlay", merged, "overlay", 0, options) != 0) die("mounting the overlay");
    free(options);
}

// Splits a --mount-overlay value at its commas into upper, work and at least one lower.
static void parse_overlay_dirs(struct step_mount *m, char *v) {
    for (char *save = NULL, *p = strtok_r(v, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (m->ndirs == MAX_OVERLAY_MOUNT_DIRS) usage("too many folders in a --mount-overlay");
        if (!plain_path(p)) usage("a --mount-overlay folder may not hold ':' or '\\'");
        m->dirs[m->ndirs++] = p;
    }
    if (m->ndirs < 3) usage("--mount-overlay takes UPPER,WORK,LOWER[,LOWER…]");
}

// Mounts the overlay of --mount-overlay m on the folder target, its folders named by the
// descriptors opened before the ids changed.
static void mount_overlay_source(struct step_mount *m, const char *target) {
    size_t size = 64 + 32 * (size_t)m->ndirs;
    char *options = malloc(size), part[48];
    if (!options) die("malloc");
    strcpy(options, "lowerdir=");
    for (int d = 2; d < m->ndirs; d++) {
        snprintf(part, sizeof part, "%s/proc/self/fd/%d", d > 2 ? ":" : "", m->fds[d]);
        strcat(options, part);
    }
    snprintf(part, sizeof part, ",upperdir=/proc/self/fd/%d", m->fds[0]);
    strcat(options, part);
    snprintf(part, sizeof part, ",workdir=/proc/self/fd/%d", m->fds[1]);
    strcat(options, part);
    strcat(options, ",userxattr");
    if (mount("overlay", target, "overlay", 0, options) != 0) die("mounting a --mount-overlay");
    free(options);
}

// Fails the step, naming the mount's target: what a build made stands in its way.
static void refuse_target(const char *target, const char *why) {
    fprintf(stderr, "slipway-userns: the mount target %s %s\n", target, why);
    _exit(HELPER_FAILED);
}

// Opens (O_PATH) the path target inside the folder root, walking it component by component
// without following any symlink, and makes what is missing: folders on the way, and at the end
// a folder (is_dir) or an empty file. A symlink anywhere, or a file where a folder belongs,
// fails the step: target is a path Slipway resolved inside the stage, so either means the
// tree is not what it was.
static int open_target(int root, const char *target, int is_dir) {
    char *copy = strdup(target), *save = NULL;
    if (!copy) die("strdup");
    int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
    if (cur < 0) die("dup");
    char *part = strtok_r(copy, "/", &save);
    if (!part) refuse_target(target, "is the root");
    while (part) {
        char *next = strtok_r(NULL, "/", &save);
        int last = next == NULL;
        if (!strcmp(part, ".") || !strcmp(part, "..")) refuse_target(target, "is not a plain path");
        int fd = openat(cur, part, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            if (!last || is_dir) {
                if (mkdirat(cur, part, 0755) != 0 && errno != EEXIST) die("making a mount target folder");
            } else {
                int f = openat(cur, part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (f < 0) die("making a mount target file");
                close(f);
            }
            fd = openat(cur, part, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) die("opening a mount target");
        struct stat st;
        if (fstat(fd, &st) != 0) die("fstat");
        if (S_ISLNK(st.st_mode)) refuse_target(target, "passes through a symlink; a mount never follows one");
        if (!last && !S_ISDIR(st.st_mode)) refuse_target(target, "passes through something that is not a folder");
        if (last && is_dir && !S_ISDIR(st.st_mode)) refuse_target(target, "is not a folder, and the mount's source is one");
        if (last && !is_dir && !S_ISREG(st.st_mode)) refuse_target(target, "is not a file, and the mount's source is one");
        close(cur);
        cur = fd;
        part = next;
    }
    free(copy);
    return cur;
}

// Opens (O_PATH) the path sub inside the source folder src as a container would: symlinks and
// `..` resolve inside src (RESOLVE_IN_ROOT), never above it, and nothing crosses a mount.
static int open_source(int src, const char *sub, const char *target) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    int fd = (int)syscall(SYS_openat2, src, *sub ? sub : ".", &how, sizeof how);
    if (fd < 0) {
        fprintf(stderr, "slipway-userns: the source %s of the mount at %s: %s\n", *sub ? sub : "/", target, strerror(errno));
        _exit(HELPER_FAILED);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) die("fstat");
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "slipway-userns: the source %s of the mount at %s is neither a folder nor a file\n", sub, target);
        _exit(HELPER_FAILED);
    }
    return fd;
}

// Places MOUNT m inside the step's root (open at root); k numbers it for its staging folder
// on the helper's tmpfs.
static void place_mount(struct step_mount *m, int k, int root) {
    int tree;
    if (m->kind == MOUNT_TMPFS) {
        int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0) die("fsopen(tmpfs)");
        if (fsconfig(fs, FSCONFIG_SET_STRING, "size", m->size, 0) != 0) die("setting a tmpfs mount's size");
        if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "1777", 0) != 0) die("setting a tmpfs mount's mode");
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) die("creating a tmpfs mount");
        tree = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (tree < 0) die("fsmount(tmpfs)");
        close(fs);
        int target = open_target(root, m->target, 1);
        if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) die("placing a tmpfs mount");
        close(target);
        close(tree);
        return;
    }
    int src = m->fds[0];
    if (m->kind == MOUNT_OVERLAY) {
        char staging[64];
        snprintf(staging, sizeof staging, "/tmp/slipway-mounts/%d", k);
        if (mkdir(staging, 0755) != 0) die(staging);
        mount_overlay_source(m, staging);
        src = open(staging, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (src < 0) die(staging);
    }
    int sub = open_source(src, m->sub, m->target);
    struct stat st;
    if (fstat(sub, &st) != 0) die("fstat");
    tree = open_tree(sub, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (tree < 0) die("open_tree");
    if (m->readonly) {
        struct mount_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.attr_set = MOUNT_ATTR_RDONLY;
        if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) die("making a mount read-only");
    }
    int target = open_target(root, m->target, S_ISDIR(st.st_mode));
    if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) die("placing a mount");
    close(target);
    close(tree);
    close(sub);
    if (src != m->fds[0]) close(src);
}

// The root's /proc and /dev, where bwrap mounts its own, are folders: made when missing, and a
// symlink or a file there fails the step (bwrap would follow it outside).
static void check_system_folder(int root, const char *name) {
    struct stat st;
    if (fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT || mkdirat(root, name, 0755) != 0) die(name);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "slipway-userns: the step's /%s is not a folder (a symlink or a file in a layer); a step needs it as a folder\n", name);
        _exit(HELPER_FAILED);
    }
}

static void set_ipv4(struct sockaddr *sa, const char *address) {
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    in->sin_family = AF_INET;
    inet_pton(AF_INET, address, &in->sin_addr);
}

// Brings the loopback of the current network namespace up.
static void loopback_up(int s) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) die("reading lo's flags");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) die("bringing lo up");
}

static int configure_tap(int argc, char **argv) {
    int loopback = argc == 5 && !strcmp(argv[4], "--loopback");
    if (argc != 4 && !loopback) usage("--configure-tap takes USERNS_FD NETNS_FD [--loopback]");
    if (setns(atoi(argv[2]), CLONE_NEWUSER) != 0) die("joining the step's user namespace");
    if (setns(atoi(argv[3]), CLONE_NEWNET) != 0) die("joining the step's network namespace");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) die("socket");
    if (loopback) loopback_up(s);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "tap0");
    ifr.ifr_mtu = 65520;
    if (ioctl(s, SIOCSIFMTU, &ifr) != 0) die("setting tap0's MTU");
    set_ipv4(&ifr.ifr_addr, "10.0.2.100");
    if (ioctl(s, SIOCSIFADDR, &ifr) != 0) die("setting tap0's address");
    set_ipv4(&ifr.ifr_netmask, "255.255.255.0");
    if (ioctl(s, SIOCSIFNETMASK, &ifr) != 0) die("setting tap0's netmask");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) die("reading tap0's flags");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) die("bringing tap0 up");
    struct rtentry route;
    memset(&route, 0, sizeof route);
    set_ipv4(&route.rt_dst, "0.0.0.0");
    set_ipv4(&route.rt_gateway, "10.0.2.2");
    set_ipv4(&route.rt_genmask, "0.0.0.0");
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    route.rt_dev = "tap0";
    if (ioctl(s, SIOCADDRT, &route) != 0) die("adding the default route");
    return 0;
}

static void write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die(path);
    close(fd);
}

static int hold_net(int argc, char **argv) {
    if (argc != 3) usage("--hold-net takes READY_FD");
    int ready = atoi(argv[2]);
    char map[64];
    unsigned uid = (unsigned)geteuid(), gid = (unsigned)getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) die("creating the user and network namespaces");
    write_text("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1\n", uid);
    write_text("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %u 1\n", gid);
    write_text("/proc/self/gid_map", map);
    char c = 1;
    if (write(ready, &c, 1) != 1) die("telling the engine");
    close(ready);
    for (;;) pause();
}

static int join_net(int argc, char **argv) {
    if (argc < 6 || strcmp(argv[4], "--")) usage("--join-net takes USERNS_FD NETNS_FD -- COMMAND");
    int userns = atoi(argv[2]), netns = atoi(argv[3]);
    if (setns(userns, CLONE_NEWUSER) != 0) die("joining the step network's user namespace");
    if (setns(netns, CLONE_NEWNET) != 0) die("joining the step network's namespace");
    close(userns);
    close(netns);
    execvp(argv[5], &argv[5]);
    fprintf(stderr, "slipway-userns: cannot run %s: %s\n", argv[5], strerror(errno));
    return 127;
}

// Reads exactly n bytes; 0 at a clean end before the first byte, -1 on error or a short read.
static int read_exactly(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return got == 0 && r == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

#define MAX_STEP_RECORD (8 << 20)

static int step_driver(int argc, char **argv) {
    if (argc != 4) usage("--step-driver takes COMMANDS_FD RESULTS_FD");
    int in = atoi(argv[2]), out = atoi(argv[3]);
    if (fcntl(in, F_SETFD, FD_CLOEXEC) != 0 || fcntl(out, F_SETFD, FD_CLOEXEC) != 0) die("the driver's descriptors");
    if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("prctl");
    if (getpid() != 1) usage("--step-driver runs as the first process of its pid namespace (bwrap --as-pid-1)");
    for (;;) {
        char digits[24];
        size_t n = 0;
        for (;;) {
            int r = read_exactly(in, digits + n, 1);
            if (r == 0 && n == 0) return 0;  // the engine is done with this phase
            if (r != 1) die("reading a step");
            if (digits[n] == '\n') break;
            if (++n == sizeof digits) usage("a step record's length is too long");
        }
        digits[n] = 0;
        char *end = NULL;
        unsigned long length = strtoul(digits, &end, 10);
        if (!n || *end || length == 0 || length > MAX_STEP_RECORD) usage("a bad step record length");
        char *record = malloc(length + 1);
        if (!record) die("malloc");
        if (read_exactly(in, record, length) != 1) die("reading a step");
        record[length] = 0;
        size_t count = 0;
        for (size_t k = 0; k < length; k++) count += record[k] == 0;
        char **fields = calloc(count + 1, sizeof *fields);
        if (!fields) die("calloc");
        char *p = record;
        for (size_t k = 0; k < count; k++) { fields[k] = p; p += strlen(p) + 1; }
        unsigned long nargs = count >= 3 ? strtoul(fields[2], NULL, 10) : 0;
        if (count < 4 || nargs == 0 || nargs > count - 3) usage("a bad step record");
        char *marker = fields[0], *dir = fields[1];
        char **args = calloc(nargs + 1, sizeof *args);
        if (!args) die("calloc");
        for (unsigned long k = 0; k < nargs; k++) args[k] = fields[3 + k];
        char **env = &fields[3 + nargs];  // to the NULL at fields[count]
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            // Under the build's memory limit the kernel kills the step, never the driver
            // (which could not then say how the step ended).
            int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
            if (adj >= 0) {
                if (write(adj, "1000", 4) != 4) {}  // a kernel without it kills whom it chooses
                close(adj);
            }
            if (chdir(dir) != 0) {
                fprintf(stderr, "cannot enter %s: %s\n", dir, strerror(errno));
                _exit(127);
            }
            execve(args[0], args, env);
            fprintf(stderr, "cannot run %s: %s\n", args[0], strerror(errno));
            _exit(127);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR) die("waitpid");
        // Whatever the step left running goes now, before the engine reads what it wrote.
        kill(-1, SIGKILL);
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
        int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        char line[64];
        dprintf(1, "%s\n", marker);
        dprintf(2, "%s\n", marker);
        int k = snprintf(line, sizeof line, "%d\n", code);
        if (write(out, line, (size_t)k) != k) die("writing a step's result");
        free(args);
        free(fields);
        free(record);
    }
}

static int apply_owners(int argc, char **argv) {
    if (argc != 4) usage("--apply-owners takes LIST ROOT");
    int root = open(argv[3], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) die(argv[3]);
    FILE *list = fopen(argv[2], "re");
    if (!list) die(argv[2]);
    char *record = NULL;
    size_t size = 0;
    while (getdelim(&record, &size, '\0', list) > 0) {
        unsigned long uid, gid;
        char mode_text[16];
        int offset = 0;
        if (sscanf(record, "%lu %lu %15s %n", &uid, &gid, mode_text, &offset) != 3 || offset == 0) usage("a bad --apply-owners record");
        char *save = NULL, *part = strtok_r(record + offset, "/", &save), *next;
        int dir = fcntl(root, F_DUPFD_CLOEXEC, 0);
        while (dir >= 0 && part && (next = strtok_r(NULL, "/", &save))) {
            int inner = openat(dir, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            close(dir);
            dir = inner;
            part = next;
        }
        if (dir < 0 || !part) {  // a folder on the way is gone (or is no folder now)
            if (dir >= 0) close(dir);
            continue;
        }
        struct stat st;
        if (fstatat(dir, part, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (fchownat(dir, part, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) != 0) die("setting an owner");
            // chown clears setuid and setgid: the mode goes back on, never through a symlink.
            if (strcmp(mode_text, "-") && !S_ISLNK(st.st_mode) && fchmodat(dir, part, (mode_t)strtoul(mode_text, NULL, 8), 0) != 0) die("setting a mode");
        }
        close(dir);
    }
    free(record);
    fclose(list);
    return 0;
}

// Applies the leading --cgroup-procs FILE and --rlimit nproc=N|as=BYTES flags from argv[i]
// on: joins each cgroup and sets each limit (never above the hard limit there is). Returns the
// index of the first other argument.
static int apply_limits(int argc, char **argv, int i) {
    for (; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--cgroup-procs")) {
            char pid[24];
            int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
            int fd = open(v, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, pid, n) != n) die(v);
            close(fd);
        } else if (!strcmp(a, "--rlimit")) {
            int resource = !strncmp(v, "nproc=", 6) ? RLIMIT_NPROC : !strncmp(v, "as=", 3) ? RLIMIT_AS : -1;
            const char *number = strchr(v, '=');
            char *end = NULL;
            errno = 0;
            unsigned long long n = number ? strtoull(number + 1, &end, 10) : 0;
            if (resource < 0 || errno || !end || end == number + 1 || *end || n == 0) usage("--rlimit takes nproc=N or as=BYTES");
            struct rlimit r;
            if (getrlimit(resource, &r) != 0) die("getrlimit");
            if (r.rlim_max == RLIM_INFINITY || n < r.rlim_max) r.rlim_max = n;
            r.rlim_cur = r.rlim_max;
            if (setrlimit(resource, &r) != 0) die("setting a step's rlimit");
        } else {
            break;
        }
    }
    return i;
}

static int limits_only(int argc, char **argv) {
    int i = apply_limits(argc, argv, 2);
    if (i + 1 >= argc || strcmp(argv[i], "--")) usage("--limits-only takes [--cgroup-procs FILE]… [--rlimit nproc=N|as=BYTES]… -- COMMAND");
    execvp(argv[i + 1], &argv[i + 1]);
    fprintf(stderr, "slipway-userns: cannot run %s: %s\n", argv[i + 1], strerror(errno));
    return 127;
}

static int exec_as(int argc, char **argv) {
    unsigned long uid, gid;
    if (argc < 5 || sscanf(argv[2], "%lu:%lu", &uid, &gid) != 2 || strcmp(argv[3], "--")) usage("--exec-as takes UID:GID -- COMMAND");
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) die("changing to the step's user");
    execvp(argv[4], &argv[4]);
    fprintf(stderr, "slipway-userns: cannot run %s: %s\n", argv[4], strerror(errno));
    return 127;
}

// Makes the --idmapped mounts: a user namespace of the maps, held by a child only while the
// mounts take its mapping, then each folder's tree cloned and given that mapping, read-only.
static void make_idmapped_mounts(void) {
    if (!nidmapped) return;
    if (getuid() != 0 || use_newuidmap) {
        fprintf(stderr, "slipway-userns: --idmapped needs root (only root may give a mount an id mapping)\n");
        exit(HELPER_FAILED);
    }
    int ready[2], done[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(done, O_CLOEXEC) != 0) die("pipe");
    pid_t holder = fork();
    if (holder < 0) die("fork");
    if (holder == 0) {
        close(ready[0]);
        close(done[1]);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(HELPER_FAILED);
        if (unshare(CLONE_NEWUSER) != 0) _exit(HELPER_FAILED);
        char c = 1;
        if (write(ready[1], &c, 1) != 1) _exit(HELPER_FAILED);
        // Held until the parent has the mounts (its end closes, or it dies).
        while (read(done[0], &c, 1) < 0 && errno == EINTR) {}
        _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    char c;
    if (read(ready[0], &c, 1) != 1) {
        fprintf(stderr, "slipway-userns: cannot make a user namespace for the id-mapped folders\n");
        exit(HELPER_FAILED);
    }
    write_maps(holder, 0, "uid_map", "newuidmap");
    write_maps(holder, 1, "gid_map", "newgidmap");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)holder);
    int userns = open(path, O_RDONLY | O_CLOEXEC);
    if (userns < 0) die(path);
    int base = chdir_to ? open(chdir_to, O_PATH | O_DIRECTORY | O_CLOEXEC) : AT_FDCWD;
    if (chdir_to && base < 0) die(chdir_to);
    for (int i = 0; i < nidmapped; i++) {
        int tree = (int)syscall(SYS_open_tree, base, idmapped[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_NO_AUTOMOUNT | AT_SYMLINK_NOFOLLOW);
        if (tree < 0) die(idmapped[i]);
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, .userns_fd = (__u64)userns };
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) die("giving a layer folder the namespace's id mapping");
        idmapped_fds[i] = tree;
    }
    if (base >= 0) close(base);
    close(userns);
    close(done[1]);
    while (waitpid(holder, NULL, 0) < 0)
        if (errno != EINTR) die("waitpid");
    close(ready[0]);
}

// In the step's mount namespace (as its root, with the working folder at --chdir): puts each
// id-mapped mount on its own folder, and points any --mount-overlay descriptor of that folder,
// opened before, at the mount.
static void attach_idmapped_mounts(int base_fd) {
    for (int i = 0; i < nidmapped; i++) {
        if (syscall(SYS_move_mount, idmapped_fds[i], "", AT_FDCWD, idmapped[i], MOVE_MOUNT_F_EMPTY_PATH) != 0) die("placing an id-mapped layer folder");
        close(idmapped_fds[i]);
        for (int k = 0; k < nmounts; k++) {
            struct step_mount *m = &mounts[k];
            for (int d = 0; m->kind == MOUNT_OVERLAY && d < m->ndirs; d++) {
                if (strcmp(m->dirs[d], idmapped[i])) continue;
                close(m->fds[d]);
                m->fds[d] = openat(base_fd >= 0 ? base_fd : AT_FDCWD, m->dirs[d], O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (m->fds[d] < 0) die(m->dirs[d]);
            }
        }
    }
}

int main(int argc, char **argv) {
    // Not for --exec-as or --step-driver: they run inside a step's sandbox, which bwrap holds.
    if (argc > 1 && !strcmp(argv[1], "--step-driver")) return step_driver(argc, argv);
    if (argc < 2 || strcmp(argv[1], "--exec-as")) die_with_parent(engine_pid());
    if (argc > 1 && !strcmp(argv[1], "--limits-only")) return limits_only(argc, argv);
    int limits_end = apply_limits(argc, argv, 1);
    if (argc > 1 && !strcmp(argv[1], "--exec-as")) return exec_as(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "--configure-tap")) return configure_tap(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "--hold-net")) return hold_net(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "--join-net")) return join_net(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "--apply-owners")) return apply_owners(argc, argv);
    int i = 1;
    for (; i < argc; i++) {
        if (i < limits_end) { i++; continue; }  // --cgroup-procs and --rlimit, applied already
        const char *a = argv[i];
        if (!strcmp(a, "--")) { i++; break; }
        if (!strcmp(a, "--newuidmap")) { use_newuidmap = 1; continue; }
        if (!strcmp(a, "--in-place")) { in_place = 1; continue; }
        if (i + 1 >= argc) usage("a flag needs a value");
        const char *v = argv[++i];
        if (!strcmp(a, "--uid-map") || !strcmp(a, "--gid-map")) {
            int k = a[2] == 'g';
            if (nmaps[k] == MAX_MAPS) usage("too many maps");
            struct map *m = &maps[k][nmaps[k]++];
            if (sscanf(v, "%lu:%lu:%lu", &m->inner, &m->outer, &m->count) != 3 || m->count == 0) usage("a map is INNER:OUTER:COUNT");
        } else if (!strcmp(a, "--lower")) {
            if (nlowers == MAX_LOWERS) usage("too many --lower");
            if (!plain_path(v)) usage("a --lower folder may not hold ',', ':' or '\\'");
            lowers[nlowers++] = v;
        } else if (!strcmp(a, "--upper") || !strcmp(a, "--work") || !strcmp(a, "--merged")) {
            if (!plain_path(v)) usage("an overlay folder may not hold ',', ':' or '\\'");
            if (a[2] == 'u') upper = v;
            else if (a[2] == 'w') work = v;
            else merged = v;
        } else if (!strcmp(a, "--idmapped")) {
            if (nidmapped == MAX_LOWERS) usage("too many --idmapped");
            if (!plain_path(v) || strchr(v, '/') || !strcmp(v, "..") || !strcmp(v, ".")) usage("an --idmapped folder is a name of a folder in --chdir");
            idmapped[nidmapped++] = v;
        } else if (!strcmp(a, "--chdir")) {
            chdir_to = v;
        } else if (!strcmp(a, "--root")) {
            root_dir = v;
        } else if (!strcmp(a, "--mount-bind") || !strcmp(a, "--mount-overlay") || !strcmp(a, "--mount-tmpfs")) {
            if (nmounts == MAX_MOUNTS) usage("too many mounts");
            struct step_mount *m = &mounts[nmounts++];
            int tmpfs = a[8] == 't';
            if (i + (tmpfs ? 1 : 3) >= argc) usage("a mount flag needs its values");
            if (tmpfs) {
                m->kind = MOUNT_TMPFS;
                m->size = v;
                m->target = argv[++i];
            } else {
                m->kind = a[8] == 'b' ? MOUNT_BIND : MOUNT_OVERLAY;
                if (m->kind == MOUNT_BIND) m->dir = v;
                else parse_overlay_dirs(m, argv[i]);
                m->sub = argv[++i];
                m->target = argv[++i];
                const char *mode = argv[++i];
                if (strcmp(mode, "ro") && strcmp(mode, "rw")) usage("a mount's mode is ro or rw");
                m->readonly = !strcmp(mode, "ro");
            }
            if (m->target[0] != '/' || !m->target[1]) usage("a mount target is an absolute path below /");
        } else {
            usage("unknown flag");
        }
    }
    if (i >= argc) usage("no command");
    if (nmaps[0] == 0 || nmaps[1] == 0) usage("give --uid-map and --gid-map");
    int overlay = nlowers || upper || work || merged;
    if (overlay && !(nlowers && upper && work && merged)) usage("an overlay needs --lower, --upper, --work and --merged");
    if (overlay && root_dir) usage("--root and an overlay exclude each other");
    if (nmounts && !overlay && !root_dir) usage("mounts need an overlay or --root");
    if (in_place && (!overlay || nmounts)) usage("--in-place takes an overlay and nothing else");
    if (nidmapped && (!overlay || !chdir_to || root_dir)) usage("--idmapped takes an overlay and --chdir");
    make_idmapped_mounts();

    int ready[2], go[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) die("pipe");
    pid_t helper = getpid();
    child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        // bwrap (or the command) follows the helper, whichever way the helper ends.
        die_with_parent(helper);
        close(ready[0]);
        close(go[1]);
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) die("creating the user and mount namespaces");
        // Opened in the new mount namespace (so that mounts relative to them work) but still
        // with the caller's host ids, before it becomes the namespace's root (another host id).
        int base_fd = chdir_to ? open(chdir_to, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
        if (chdir_to && base_fd < 0) die(chdir_to);
        // By its path: /proc/self/exe itself belongs to the mount namespace left behind.
        char self_path[4096];
        ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
        if (n <= 0) die("/proc/self/exe");
        self_path[n] = 0;
        int self_fd = open(self_path, O_PATH | O_CLOEXEC);
        if (self_fd < 0) die(self_path);
        int root_fd = -1;
        if (root_dir) {
            root_fd = openat(base_fd >= 0 ? base_fd : AT_FDCWD, root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (root_fd < 0) die(root_dir);
        }
        for (int k = 0; k < nmounts; k++) {
            struct step_mount *m = &mounts[k];
            if (m->kind == MOUNT_BIND) {
                m->fds[0] = open(m->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (m->fds[0] < 0) die(m->dir);
            }
            for (int d = 0; m->kind == MOUNT_OVERLAY && d < m->ndirs; d++) {
                m->fds[d] = openat(base_fd >= 0 ? base_fd : AT_FDCWD, m->dirs[d], O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (m->fds[d] < 0) die(m->dirs[d]);
            }
        }
        char c = 1;
        if (write(ready[1], &c, 1) != 1) die("telling the parent");
        if (read(go[0], &c, 1) != 1) _exit(HELPER_FAILED);  // the parent failed and said why
        if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) die("becoming root of the namespace (is id 0 mapped?)");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("making mounts private");
        if (base_fd >= 0 && fchdir(base_fd) != 0) die(chdir_to);
        attach_idmapped_mounts(base_fd);
        if (in_place) {
            mount_overlay();
        } else if (overlay || root_dir) {
            int m = root_fd;
            if (overlay) {
                mount_overlay();
                m = open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (m < 0) die("opening the merged folder");
            }
            char source[64];
            // The helper's own scratch: mount points only, so a few pages.
            if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") != 0) die("mounting a tmpfs over /tmp");
            check_system_folder(m, "proc");
            check_system_folder(m, "dev");
            if (nmounts && mkdir("/tmp/slipway-mounts", 0755) != 0) die("/tmp/slipway-mounts");
            for (int k = 0; k < nmounts; k++) place_mount(&mounts[k], k, m);
            if (mkdir("/tmp/slipway-root", 0755) != 0) die("/tmp/slipway-root");
            snprintf(source, sizeof source, "/proc/self/fd/%d", m);
            if (mount(source, "/tmp/slipway-root", NULL, MS_BIND | MS_REC, NULL) != 0) die("binding the merged folder");
            int f = open("/tmp/slipway-exec-as", O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
            if (f < 0) die("/tmp/slipway-exec-as");
            close(f);
            snprintf(source, sizeof source, "/proc/self/fd/%d", self_fd);
            if (mount(source, "/tmp/slipway-exec-as", NULL, MS_BIND, NULL) != 0) die("binding the helper");
        }
        if ((chdir_to || in_place) && chdir("/") != 0) die("/");
        execvp(argv[i], &argv[i]);
        fprintf(stderr, "slipway-userns: cannot run %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    close(ready[1]);
    close(go[0]);
    signal(SIGTERM, forward);
    signal(SIGINT, forward);
    signal(SIGHUP, forward);
    char c;
    if (read(ready[0], &c, 1) != 1) {
        int status;
        waitpid(child, &status, 0);
        exit(WIFEXITED(status) ? WEXITSTATUS(status) : HELPER_FAILED);
    }
    // setgroups must be denied before an unprivileged gid_map; newgidmap does it itself.
    if (!use_newuidmap && getuid() != 0) {
        int self_only = nmaps[0] == 1 && nmaps[1] == 1 && maps[0][0].count == 1 && maps[1][0].count == 1 &&
                        maps[0][0].outer == getuid() && maps[1][0].outer == getgid();
        if (!self_only) {
            fprintf(stderr, "slipway-userns: only root may write id maps itself (other than one id onto the caller's own); pass --newuidmap\n");
            exit(HELPER_FAILED);
        }
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/setgroups", (int)child);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "deny", 4) != 4) die(path);
        close(fd);
    }
    write_maps(child, 0, "uid_map", "newuidmap");
    write_maps(child, 1, "gid_map", "newgidmap");
    if (write(go[1], &c, 1) != 1) die("starting the child");
    for (int k = 0; k < nidmapped; k++) close(idmapped_fds[k]);  // the child has attached its own
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) die("waitpid");
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
