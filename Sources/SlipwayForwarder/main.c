// slipway: what editors, tools and shell pipelines run.
//
// It speaks JSON-RPC on stdin/stdout exactly as the engine does, by relaying the client's bytes
// unchanged to the shared engine of its state directory over a Unix socket, and the engine's
// bytes back, starting the engine (`slipway-engine engine`, detached) when none runs. It is C,
// linked statically, and loads nothing else, so a short-lived client costs about what starting
// /bin/true does; everything else (`engine …`, `--embedded`, `--help`, `--version`) is handed
// to the Swift binary `slipway-engine` beside it.
//
// On the socket, bytes travel in frames: one type byte, a 32-bit big-endian length, the
// payload. Client to engine: 'H' hello (JSON: version, args), 'D' data, 'E' end of input.
// Engine to client: 'W' welcome ("ok", "retry <text>" or "fail <code> <text>"), 'D' data,
// 'C' close ("<exit status>\n<text for stderr>"). spec/protocol.md describes them.
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slipway_version.h"

#define FRAME_HEADER 5
#define MAX_FRAME (1 << 20)
#define CHUNK (64 << 10)
#define START_TIMEOUT_MS 30000

static char state_dir[PATH_MAX];
/// The state directory and its run/ folder, held open once checked (open_own_folder): every
/// file the forwarder opens there is opened relative to them, never through a symbolic link.
static int state_fd = -1, run_fd = -1;
/// <state>/run/engine.sock, for messages; what connect is given is socket_address.
static char socket_path[PATH_MAX];
static char socket_address[64];

static void fail(int code, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "slipway: ");
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    exit(code);
}

// MARK: Where things are

/// The Swift binary beside this one (or $SLIPWAY_ENGINE).
static const char *engine_binary(void) {
    static char path[PATH_MAX];
    const char *given = getenv("SLIPWAY_ENGINE");
    if (given && *given) return given;
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
    if (n <= 0) fail(1, "%s", "cannot find its own executable");
    path[n] = 0;
    char *slash = strrchr(path, '/');
    strcpy(slash ? slash + 1 : path, "slipway-engine");
    return path;
}

/// mkdir -p with `mode` for the folders it makes.
static int make_dirs(const char *path, mode_t mode) {
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf) return -1;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, mode) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST) return -1;
    return 0;
}

/// Opens `name` (relative to `parent`) as a folder of this user's own: a real folder, not a
/// symbolic link, owned by the effective uid, that no other user may write. Anything else is
/// refused, saying what is wrong and what to do: whoever can write where the engine writes by
/// name (engine.log, engine.lock, the socket) can plant a symbolic link there, and root keeps
/// out of a folder another user controls as well. `path` names the folder in messages. The
/// engine applies the same rule (StateDirectoryGuard).
static int open_own_folder(int parent, const char *name, const char *path, int is_state_dir) {
    const char *otherwise = is_state_dir ? "use a state directory of your own (--state-dir DIR)" : "remove it and run again";
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) fail(1, "%s is a symbolic link or not a folder; %s", path, otherwise);
    if (fd < 0) fail(1, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) fail(1, "cannot read %s: %s", path, strerror(errno));
    if (st.st_uid != geteuid()) fail(1, "%s belongs to uid %u, not to this user (uid %u); %s", path, (unsigned)st.st_uid, (unsigned)geteuid(), otherwise);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        fail(1, "%s can be written by other users (mode %04o); run 'chmod 700 %s' if only you have written there, else %s", path,
             (unsigned)(st.st_mode & 07777), path, otherwise);
    return fd;
}

/// --state-dir DIR, else $SLIPWAY_HOME, else $XDG_STATE_HOME/slipway, else ~/.local/state/slipway;
/// made (0700) when missing, used only when it is this user's own.
static void resolve_state_dir(int argc, char **argv) {
    const char *given = NULL;
    char buf[PATH_MAX];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc) given = argv[++i];
    }
    if (!given) given = getenv("SLIPWAY_HOME");
    if (!given || !*given) {
        const char *xdg = getenv("XDG_STATE_HOME");
        const char *home = getenv("HOME");
        if (xdg && *xdg) snprintf(buf, sizeof buf, "%s/slipway", xdg);
        else snprintf(buf, sizeof buf, "%s/.local/state/slipway", home && *home ? home : "/");
        given = buf;
    }
    if (make_dirs(given, 0700) != 0) fail(1, "cannot create the state directory %s", given);
    if (!realpath(given, state_dir)) fail(1, "cannot use the state directory %s", given);
    state_fd = open_own_folder(AT_FDCWD, state_dir, state_dir, 1);
}

/// The socket is <state>/run/engine.sock, reached through a descriptor of run/ as
/// /proc/self/fd/N/engine.sock, which fits a socket address (sun_path, 108 bytes) whatever the
/// state directory's length: the socket never lives outside the state directory, where another
/// user could take its folder first. The engine binds it the same way (EngineAddress).
static void open_socket_folder(void) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/run", state_dir);
    if (mkdirat(state_fd, "run", 0700) != 0 && errno != EEXIST) fail(1, "cannot create %s: %s", path, strerror(errno));
    run_fd = open_own_folder(state_fd, "run", path, 0);
    snprintf(socket_path, sizeof socket_path, "%s/engine.sock", path);
    snprintf(socket_address, sizeof socket_address, "/proc/self/fd/%d/engine.sock", run_fd);
    if (access("/proc/self/fd", X_OK) != 0) fail(1, "%s", "/proc is not mounted; slipway reaches the engine's socket through /proc/self/fd");
}

static int connect_engine(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, socket_address, sizeof a.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    // The client's requests (secrets among them) go only to an engine of its own user: a
    // socket another user planted (in /tmp, say) is not talked to.
    struct ucred peer;
    socklen_t peer_len = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0 || peer.uid != geteuid()) {
        fprintf(stderr, "slipway: %s is served by uid %u, not this user (uid %u); refusing to talk to it\n", socket_path, (unsigned)peer.uid,
                (unsigned)geteuid());
        exit(1);
    }
    return fd;
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/// The last line of engine.log, for a failed start.
static void print_log_tail(void) {
    char buf[4096];
    int fd = openat(state_fd, "engine.log", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, from);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    while (n > 0 && buf[n - 1] == '\n') buf[--n] = 0;
    char *last = strrchr(buf, '\n');
    fprintf(stderr, "%s\n", last ? last + 1 : buf);
}

/// engine.log, opened for the engine's output: a regular file of this user's, never reached
/// through a symbolic link (one planted there would send the engine's output into its target).
/// Not close-on-exec, like /dev/null for its input: both are made for the engine to inherit,
/// and either may be opened as descriptor 0, 1 or 2 already (when this client's were closed).
static int open_engine_log(void) {
    int fd = openat(state_fd, "engine.log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (fd < 0 && errno == ELOOP)
        fail(1, "%s/engine.log is a symbolic link; the engine's output goes only to a file of its own there: remove it and run again", state_dir);
    if (fd < 0) fail(1, "cannot open %s/engine.log: %s", state_dir, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
        fail(1, "%s/engine.log is not a file of this user's; remove it and run again", state_dir);
    fcntl(fd, F_SETFL, O_APPEND);  // O_NONBLOCK only kept the open from waiting on a FIFO
    return fd;
}

static void wait_for_engine_exit(const char *why, long bound_ms);

/// How long a client waits for an engine past its socket (finishing its stop) to let go of
/// engine.lock before it starts the next: such an engine has only its last steps to take.
#define LAST_STEPS_MS 2000

/// Starts the engine (one at a time: a lock file serialises starters, and the engine holds
/// engine.lock), waits until its socket answers, and connects.
static int start_engine(int argc, char **argv) {
    int lock = openat(state_fd, "engine.start.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock < 0) fail(1, "cannot open %s/engine.start.lock: %s", state_dir, strerror(errno));
    while (flock(lock, LOCK_EX) != 0 && errno == EINTR) {}
    int fd = connect_engine();  // started by another client meanwhile
    if (fd >= 0) {
        close(lock);
        return fd;
    }
    // An engine that has closed its socket may still be finishing its stop, holding
    // engine.lock: a new one would find the state directory in use. Wait for it, briefly and
    // silently; a process that holds it for longer (`slipway --embedded`) is named by the
    // engine that then fails to start.
    wait_for_engine_exit(NULL, LAST_STEPS_MS);
    const char *engine = engine_binary();
    char **args = calloc((size_t)argc + 6, sizeof *args);
    int n = 0;
    args[n++] = (char *)"slipway-engine";
    args[n++] = (char *)"engine";
    args[n++] = (char *)"--state-dir";
    args[n++] = state_dir;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--state-dir") == 0) { i++; continue; }
        args[n++] = argv[i];
    }
    args[n] = NULL;
    int in = open("/dev/null", O_RDONLY);
    if (in < 0) fail(1, "cannot open /dev/null: %s", strerror(errno));
    int log = open_engine_log();
    pid_t pid = fork();
    if (pid < 0) fail(1, "%s", "cannot start the engine (fork)");
    if (pid == 0) {
        setsid();
        dup2(in, 0);
        dup2(log, 1);
        dup2(log, 2);
        // The engine outlives this client: it must hold none of the client's descriptors (a
        // caller waiting for the end of a pipe it gave this client would wait for the engine).
        close_range(3, ~0U, 0);
        execv(engine, args);
        dprintf(2, "slipway: cannot run %s: %s\n", engine, strerror(errno));
        _exit(127);
    }
    close(in);
    close(log);
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 2) {
        fd = connect_engine();
        if (fd >= 0) break;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            // The engine stopped before listening: a bad flag, or another engine holds the lock.
            fd = connect_engine();
            if (fd >= 0) break;
            fprintf(stderr, "slipway: the engine could not start: ");
            print_log_tail();
            exit(WIFEXITED(status) && WEXITSTATUS(status) == 2 ? 2 : 1);
        }
        sleep_ms(2);
    }
    close(lock);
    if (fd < 0) fail(1, "the engine did not answer on %s; see engine.log in the state directory", socket_path);
    // The engine is detached; if it stops while this client runs, the kernel reaps it.
    signal(SIGCHLD, SIG_IGN);
    free(args);
    return fd;
}

// MARK: Frames

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd pf = {fd, POLLOUT, 0};
                poll(&pf, 1, -1);
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void put_header(unsigned char *h, char type, uint32_t len) {
    h[0] = (unsigned char)type;
    h[1] = (unsigned char)(len >> 24);
    h[2] = (unsigned char)(len >> 16);
    h[3] = (unsigned char)(len >> 8);
    h[4] = (unsigned char)len;
}

/// A buffer of bytes to send to the engine, written as the socket takes them.
static unsigned char *out_buf;
static size_t out_len, out_cap;

static void queue_frame(char type, const void *payload, uint32_t len) {
    if (out_len + FRAME_HEADER + len > out_cap) {
        out_cap = (out_len + FRAME_HEADER + len) * 2;
        out_buf = realloc(out_buf, out_cap);
        if (!out_buf) fail(1, "%s", "out of memory");
    }
    put_header(out_buf + out_len, type, len);
    memcpy(out_buf + out_len + FRAME_HEADER, payload, len);
    out_len += FRAME_HEADER + len;
}

/// Appends `s` to `buf` as a JSON string.
static size_t json_string(char *buf, size_t at, size_t cap, const char *s) {
    if (at + 2 >= cap) return at;
    buf[at++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && at + 8 < cap; p++) {
        if (*p == '"' || *p == '\\') { buf[at++] = '\\'; buf[at++] = (char)*p; }
        else if (*p < 0x20) at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", *p);
        else buf[at++] = (char)*p;
    }
    buf[at++] = '"';
    return at;
}

static void send_hello(int argc, char **argv) {
    static char hello[256 << 10];
    size_t n = (size_t)snprintf(hello, sizeof hello, "{\"version\":\"%s\",\"pid\":%d,\"args\":[", SLIPWAY_VERSION, (int)getpid());
    for (int i = 1; i < argc; i++) {
        if (i > 1) hello[n++] = ',';
        n = json_string(hello, n, sizeof hello - 4, argv[i]);
    }
    n += (size_t)snprintf(hello + n, sizeof hello - n, "]}");
    queue_frame('H', hello, (uint32_t)n);
}

/// Reads one whole frame (blocking); returns its type, or 0 at end of stream.
static unsigned char *in_buf;
static size_t in_len, in_cap;

static int fill(int fd) {
    if (in_cap - in_len < CHUNK) {
        in_cap = in_cap ? in_cap * 2 : 2 * CHUNK;
        in_buf = realloc(in_buf, in_cap);
        if (!in_buf) fail(1, "%s", "out of memory");
    }
    ssize_t r = read(fd, in_buf + in_len, in_cap - in_len);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
    if (r <= 0) return 0;
    in_len += (size_t)r;
    return 1;
}

/// A complete frame at the front of in_buf: its type, payload and length; 0 if none yet.
static int take_frame(char *type, unsigned char **payload, uint32_t *len) {
    if (in_len < FRAME_HEADER) return 0;
    uint32_t l = ((uint32_t)in_buf[1] << 24) | ((uint32_t)in_buf[2] << 16) | ((uint32_t)in_buf[3] << 8) | in_buf[4];
    if (l > MAX_FRAME) fail(1, "%s", "the engine sent a frame larger than the protocol allows");
    if (in_len < FRAME_HEADER + l) return 0;
    *type = (char)in_buf[0];
    *payload = in_buf + FRAME_HEADER;
    *len = l;
    return 1;
}

static void drop_frame(uint32_t len) {
    memmove(in_buf, in_buf + FRAME_HEADER + len, in_len - FRAME_HEADER - len);
    in_len -= FRAME_HEADER + len;
}

static void engine_gone(void) {
    fprintf(stderr, "slipway: the engine stopped unexpectedly; see %s/engine.log. The next slipway starts a new one.\n", state_dir);
    exit(1);
}

/// What the engine said when it sent this client away ("retry <text>"), for the wait that follows.
static char retry_reason[1024];

/// Sends the hello and reads the welcome. Returns 1 when the engine takes the client, 0 when
/// the engine is going away (it is of another version, or stopping, or it closed the
/// connection before answering: it stopped just as this client came), so start a new one.
static int handshake(int fd, int argc, char **argv) {
    retry_reason[0] = 0;
    send_hello(argc, argv);
    int sent = write_all(fd, out_buf, out_len);
    out_len = 0;
    if (sent != 0) return 0;
    char type;
    unsigned char *p;
    uint32_t len;
    while (!take_frame(&type, &p, &len)) {
        if (!fill(fd)) return 0;
    }
    char text[4096];
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    memcpy(text, p, n);
    text[n] = 0;
    drop_frame(len);
    if (type == 'W' && strncmp(text, "ok", 2) == 0) return 1;
    if (type == 'W' && strncmp(text, "retry", 5) == 0) {
        snprintf(retry_reason, sizeof retry_reason, "%s", text[5] == ' ' ? text + 6 : "the engine is going away");
        return 0;
    }
    if (type == 'W' && strncmp(text, "fail ", 5) == 0) {
        char *msg = strchr(text + 5, ' ');
        fprintf(stderr, "slipway: %s\n", msg ? msg + 1 : text);
        exit(atoi(text + 5));
    }
    fail(1, "the engine answered the handshake with '%s'", text);
    return 0;
}

/// Waits until no process holds the state directory's engine.lock: the engine that said
/// "retry" (a stop, which waits for the running builds, may take minutes: `bound_ms` 0 waits as
/// long as it takes) or one finishing its stop (at most `bound_ms`). Says on stderr what it
/// waits for, `why` (unless NULL), once the wait is longer than a moment.
static void wait_for_engine_exit(const char *why, long bound_ms) {
    int lock = openat(state_fd, "engine.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock < 0) return;  // nothing to wait on: starting the engine says what is wrong
    int told = 0;
    for (long waited = 0; !bound_ms || waited < bound_ms; waited += 5) {
        if (flock(lock, LOCK_EX | LOCK_NB) == 0) {
            flock(lock, LOCK_UN);
            break;
        }
        if (why && !told && waited >= 500) {
            char pid[32] = "?";
            ssize_t n = pread(lock, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 1] = 0;
            if (n > 0 && pid[n - 1] == '\n') pid[n - 1] = 0;
            fprintf(stderr, "slipway: %s (pid %s); waiting for it to exit, then starting a new engine\n", why, pid);
            told = 1;
        }
        sleep_ms(5);
    }
    close(lock);
}

// MARK: Relay

/// The engine's closing frame: "<status>\n<text for stderr>". Writes the text and exits.
static void closing(const unsigned char *p, uint32_t len) {
    char status[16] = {0};
    const unsigned char *nl = memchr(p, '\n', len);
    size_t digits = nl ? (size_t)(nl - p) : len;
    memcpy(status, p, digits < sizeof status - 1 ? digits : sizeof status - 1);
    if (nl && (size_t)(nl - p) + 1 < len) write_all(2, nl + 1, len - (size_t)(nl - p) - 1);
    exit(atoi(status));
}

/// Writes `n` buffers whole to stdout, in one writev when it takes them all.
static int write_all_v(struct iovec *parts, int n) {
    while (n > 0) {
        ssize_t w = writev(1, parts, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd pf = {1, POLLOUT, 0};
                poll(&pf, 1, -1);
                continue;
            }
            return -1;
        }
        while (n > 0 && (size_t)w >= parts->iov_len) {
            w -= (ssize_t)parts->iov_len;
            parts++;
            n--;
        }
        if (n > 0) {
            parts->iov_base = (char *)parts->iov_base + w;
            parts->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/// Handles every whole frame buffered from the engine: the payloads of data frames go to
/// stdout together, in one writev (not one write per frame), and the buffer moves once; a
/// close frame ends the process once what came before it is written. -1 when stdout is gone.
static int relay_frames(void) {
    enum { MAX_PARTS = 64 };
    struct iovec parts[MAX_PARTS];
    int n = 0;
    size_t at = 0;
    while (in_len - at >= FRAME_HEADER) {
        const unsigned char *h = in_buf + at;
        uint32_t len = ((uint32_t)h[1] << 24) | ((uint32_t)h[2] << 16) | ((uint32_t)h[3] << 8) | h[4];
        if (len > MAX_FRAME) fail(1, "%s", "the engine sent a frame larger than the protocol allows");
        if (in_len - at < FRAME_HEADER + len) break;
        if (h[0] == 'C') {
            if (write_all_v(parts, n) != 0) return -1;
            closing(h + FRAME_HEADER, len);
        }
        if (h[0] == 'D' && len > 0) parts[n++] = (struct iovec){(void *)(h + FRAME_HEADER), len};
        at += FRAME_HEADER + len;
        if (n == MAX_PARTS) {
            if (write_all_v(parts, n) != 0) return -1;
            n = 0;
        }
    }
    if (write_all_v(parts, n) != 0) return -1;
    memmove(in_buf, in_buf + at, in_len - at);
    in_len -= at;
    return 0;
}

static void relay(int sock) {
    int flags = fcntl(sock, F_GETFL);
    fcntl(sock, F_SETFL, flags | O_NONBLOCK);
    int stdin_open = 1, eof = 0;
    static unsigned char chunk[CHUNK];
    for (;;) {
        struct pollfd pf[2];
        int n = 0;
        // stdin is read only while little waits to go out, so a busy engine slows its client.
        int read_stdin = stdin_open && out_len < 4 * CHUNK;
        pf[n++] = (struct pollfd){sock, (short)(POLLIN | (out_len ? POLLOUT : 0)), 0};
        if (read_stdin) pf[n++] = (struct pollfd){0, POLLIN, 0};
        if (poll(pf, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            fail(1, "%s", "poll failed");
        }
        if (read_stdin && pf[1].revents) {
            ssize_t r = read(0, chunk, sizeof chunk);
            if (r > 0) {
                queue_frame('D', chunk, (uint32_t)r);
            } else if (r == 0 || errno != EINTR) {
                queue_frame('E', "", 0);
                stdin_open = 0;
            }
        }
        if (out_len && (pf[0].revents & POLLOUT)) {
            ssize_t w = write(sock, out_buf, out_len);
            if (w > 0) {
                memmove(out_buf, out_buf + w, out_len - (size_t)w);
                out_len -= (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                eof = 1;
            }
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (!fill(sock)) eof = 1;
        }
        // The client stopped reading stdout: nothing more can be said to it.
        if (relay_frames() != 0) exit(0);
        if (eof) engine_gone();
    }
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((i == 1 && strcmp(a, "engine") == 0) || strcmp(a, "--embedded") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 ||
            strcmp(a, "--version") == 0) {
            execv(engine_binary(), argv);
            fail(1, "cannot run %s", engine_binary());
        }
    }
    resolve_state_dir(argc, argv);
    open_socket_folder();
    for (int attempt = 0; attempt < 3; attempt++) {
        int sock = connect_engine();
        if (sock < 0) sock = start_engine(argc, argv);
        if (handshake(sock, argc, argv)) relay(sock);
        close(sock);
        in_len = 0;
        // An engine that said why it sent this client away is going: as long as it takes.
        if (retry_reason[0]) wait_for_engine_exit(retry_reason, 0);
        else wait_for_engine_exit("the engine went away as this client came", START_TIMEOUT_MS);
    }
    fail(1, "%s", "the engine of this state directory kept going away; see engine.log there");
    return 1;
}
