// The Slipway CNB launcher: the entry point of every image Slipway exports, following the
// platform spec's `launcher`:
//
//   /cnb/process/<type> [<arg>...]               that buildpack process, with the user's args
//   /cnb/lifecycle/launcher [--] [<cmd> <arg>...]  the default process; or a user's command,
//                                                 direct after `--`, else through a shell
//
// It reads /layers/config/launcher.conf (written at export: launch layers in order, processes),
// applies each launch layer's env/, env.launch/ and env.launch/<type>/ files with the buildpack
// spec's suffix rules, puts bin/ and lib/ on the search paths, runs exec.d programs (their
// output sets env), drops CNB_APP_DIR, CNB_LAYERS_DIR and CNB_PROCESS_TYPE and /cnb/process
// from the front of PATH, then replaces itself with the process: directly, or through bash with
// each layer's profile.d scripts and the app's .profile sourced. Its own failures exit with
// 80-89. Written in C and linked statically so that it runs in any run image.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TOKENS 65536

static char *tokens[MAX_TOKENS];
static int ntokens;

// Exit codes of the launcher's own failures (platform spec: 80-89 are launch errors).
enum { EXIT_BAD_IMAGE = 80, EXIT_NO_PROCESS = 81, EXIT_CANNOT_RUN = 82, EXIT_EXEC_D = 83 };

static void die_with(int code, const char *fmt, const char *arg) {
    fprintf(stderr, "launcher: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(code);
}

static void die(const char *fmt, const char *arg) { die_with(EXIT_BAD_IMAGE, fmt, arg); }

static char *read_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) { cap *= 2; buf = realloc(buf, cap + 1); }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static void load_config(const char *path) {
    size_t len = 0;
    char *buf = read_file(path, &len);
    if (!buf) die("cannot read %s; is this an image built by Slipway?", path);
    size_t i = 0;
    while (i < len && ntokens < MAX_TOKENS) {
        tokens[ntokens++] = buf + i;
        i += strlen(buf + i) + 1;
    }
}

static int is_dir(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISDIR(st.st_mode); }

static void prepend(const char *name, const char *value, const char *delim) {
    const char *old = getenv(name);
    if (!old || !*old) { setenv(name, value, 1); return; }
    char *v = malloc(strlen(value) + strlen(delim) + strlen(old) + 1);
    sprintf(v, "%s%s%s", value, delim, old);
    setenv(name, v, 1);
    free(v);
}

static void append(const char *name, const char *value, const char *delim) {
    const char *old = getenv(name);
    if (!old || !*old) { setenv(name, value, 1); return; }
    char *v = malloc(strlen(value) + strlen(delim) + strlen(old) + 1);
    sprintf(v, "%s%s%s", old, delim, value);
    setenv(name, v, 1);
    free(v);
}

static int valid_name(const char *s) {
    if (!*s || (*s >= '0' && *s <= '9')) return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int only_files(const struct dirent *e) { return e->d_name[0] != '.'; }

static void apply_env_dir(const char *dir) {
    struct dirent **list;
    int n = scandir(dir, &list, only_files, alphasort);
    if (n < 0) return;
    for (int i = 0; i < n; i++) {
        const char *file = list[i]->d_name;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || ends_with(file, ".delim")) continue;
        char name[1024];
        snprintf(name, sizeof name, "%s", file);
        const char *action = "";
        static const char *suffixes[] = {".override", ".default", ".prepend", ".append"};
        for (int s = 0; s < 4; s++) {
            if (ends_with(name, suffixes[s])) {
                name[strlen(name) - strlen(suffixes[s])] = 0;
                action = suffixes[s] + 1;
                break;
            }
        }
        if (!valid_name(name)) continue;
        char *value = read_file(path, NULL);
        if (!value) continue;
        char delimpath[4096];
        snprintf(delimpath, sizeof delimpath, "%s/%s.delim", dir, name);
        char *delim = read_file(delimpath, NULL);
        const char *d = delim ? delim : "";
        if (!*action || strcmp(action, "override") == 0) setenv(name, value, 1);
        else if (strcmp(action, "default") == 0) { if (!getenv(name)) setenv(name, value, 1); }
        else if (strcmp(action, "prepend") == 0) prepend(name, value, d);
        else if (strcmp(action, "append") == 0) append(name, value, d);
        free(value);
        free(delim);
    }
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
}

// Parses exec.d output: lines of `NAME = "value"` (TOML basic strings) and sets them.
static void apply_exec_output(char *out) {
    char *line = strtok(out, "\n");
    while (line) {
        while (*line == ' ' || *line == '\t') line++;
        char *eq = strchr(line, '=');
        if (*line && *line != '#' && eq) {
            char *end = eq;
            while (end > line && (end[-1] == ' ' || end[-1] == '\t')) end--;
            *end = 0;
            char *v = eq + 1;
            while (*v == ' ' || *v == '\t') v++;
            if (*v == '"' || *v == '\'') {
                char quote = *v++;
                char *w = v, *r = v;
                while (*r && *r != quote) {
                    if (quote == '"' && *r == '\\' && r[1]) {
                        r++;
                        switch (*r) { case 'n': *w++ = '\n'; break; case 't': *w++ = '\t'; break; default: *w++ = *r; }
                        r++;
                    } else {
                        *w++ = *r++;
                    }
                }
                *w = 0;
                if (valid_name(line)) setenv(line, v, 1);
            }
        }
        line = strtok(NULL, "\n");
    }
}

static void run_exec_d(const char *dir) {
    struct dirent **list;
    int n = scandir(dir, &list, only_files, alphasort);
    if (n < 0) return;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, X_OK) != 0) continue;
        int p[2];
        if (pipe(p) != 0) continue;
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            if (p[1] != 3) { dup2(p[1], 3); close(p[1]); }
            char *args[] = {path, NULL};
            execv(path, args);
            _exit(127);
        }
        close(p[1]);
        size_t cap = 4096, len = 0;
        char *out = malloc(cap + 1);
        for (;;) {
            if (len == cap) { cap *= 2; out = realloc(out, cap + 1); }
            ssize_t r = read(p[0], out + len, cap - len);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            len += (size_t)r;
        }
        out[len] = 0;
        close(p[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die_with(EXIT_EXEC_D, "exec.d program %s failed", path);
        apply_exec_output(out);
        free(out);
    }
    for (int i = 0; i < n; i++) free(list[i]);
    free(list);
}

/// The scripts a shell process sources, in order: each launch layer's profile.d/*, then its
/// profile.d/<type>/*, then <app>/.profile.
static char *profile_script(const char *type, const char *app) {
    size_t cap = 4096, len = 0;
    char *script = malloc(cap);
    script[0] = 0;
#define ADD(...) do { \
        int need = snprintf(NULL, 0, __VA_ARGS__); \
        while (len + (size_t)need + 1 > cap) { cap *= 2; script = realloc(script, cap); } \
        len += (size_t)sprintf(script + len, __VA_ARGS__); \
    } while (0)
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i + 1 < ntokens; i++) {
            if (strcmp(tokens[i], "layer") != 0) continue;
            if (pass == 1 && !type) continue;
            char dir[4096];
            if (pass == 0) snprintf(dir, sizeof dir, "%s/profile.d", tokens[i + 1]);
            else snprintf(dir, sizeof dir, "%s/profile.d/%s", tokens[i + 1], type);
            struct dirent **list;
            int n = scandir(dir, &list, only_files, alphasort);
            if (n < 0) continue;
            for (int j = 0; j < n; j++) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", dir, list[j]->d_name);
                struct stat st;
                // Quoted for the shell: paths come from layers Slipway named, with no single quotes.
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && !strchr(path, '\'')) ADD(". '%s'\n", path);
                free(list[j]);
            }
            free(list);
        }
    }
    char dot[4096];
    snprintf(dot, sizeof dot, "%s/.profile", app);
    struct stat st;
    if (stat(dot, &st) == 0 && S_ISREG(st.st_mode) && !strchr(dot, '\'')) ADD(". '%s'\n", dot);
#undef ADD
    return script;
}

/// Replaces the launcher with `cmd` (argv-style, NULL-terminated): directly, or through bash
/// with the profile scripts sourced first (the words joined by spaces, as the spec's shell
/// processes are, so `$X` in them is expanded).
static void run(char **cmd, int direct, const char *type, const char *app) {
    // The process does not see the launcher's own settings.
    unsetenv("CNB_APP_DIR");
    unsetenv("CNB_LAYERS_DIR");
    unsetenv("CNB_PROCESS_TYPE");
    const char *path = getenv("PATH");
    if (path && strncmp(path, "/cnb/process", 12) == 0 && (path[12] == ':' || path[12] == 0)) setenv("PATH", path[12] ? path + 13 : "", 1);
    if (direct) {
        execvp(cmd[0], cmd);
        die_with(EXIT_CANNOT_RUN, "cannot run %s", cmd[0]);
    }
    char *profiles = profile_script(type, app);
    size_t len = strlen(profiles) + 1;
    for (char **w = cmd; *w; w++) len += strlen(*w) + 1;
    char *script = malloc(len + 1);
    strcpy(script, profiles);
    for (char **w = cmd; *w; w++) {
        strcat(script, *w);
        strcat(script, w[1] ? " " : "");
    }
    const char *shell = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
    char *args[] = {(char *)shell, (char *)"-c", script, NULL};
    execv(shell, args);
    die_with(EXIT_CANNOT_RUN, "cannot run a shell (%s) for this process", shell);
}

int main(int argc, char **argv) {
    const char *layers_dir = getenv("CNB_LAYERS_DIR");
    if (!layers_dir || !*layers_dir) layers_dir = "/layers";
    const char *app = getenv("CNB_APP_DIR");
    if (!app || !*app) app = "/workspace";
    char conf[4096];
    snprintf(conf, sizeof conf, "%s/config/launcher.conf", layers_dir);
    load_config(conf);

    // Which process: the type named by $0 (/cnb/process/<type>), else a user's command, else
    // CNB_PROCESS_TYPE, else the default process.
    const char *type = NULL;
    const char *slash = strrchr(argv[0], '/');
    const char *base = slash ? slash + 1 : argv[0];
    int named_by_path = strncmp(argv[0], "/cnb/process/", 13) == 0 || (strcmp(base, "launcher") != 0 && strcmp(base, "slipway-launcher") != 0);
    if (named_by_path) type = base;
    int user_direct = argc > 1 && strcmp(argv[1], "--") == 0;
    char **user_cmd = NULL;
    if (!named_by_path && argc > 1) {
        user_cmd = argv + (user_direct ? 2 : 1);
        if (!*user_cmd) die_with(EXIT_NO_PROCESS, "%s", "'--' must be followed by a command");
    }
    if (!type && !user_cmd) type = getenv("CNB_PROCESS_TYPE");
    const char *def = NULL;
    for (int i = 0; i + 1 < ntokens; i++)
        if (strcmp(tokens[i], "default") == 0) def = tokens[i + 1];
    if (!type && !user_cmd) type = def;

    // Find the process: process, type, workdir, direct|shell, replace|append, ncmd, cmd..., nargs, args...
    char **cmd = NULL, **dargs = NULL;
    int ncmd = 0, nargs = 0, direct = 1, replace = 1;
    const char *workdir = NULL;
    for (int i = 0; i < ntokens;) {
        if (strcmp(tokens[i], "layer") == 0 || strcmp(tokens[i], "default") == 0) { i += 2; continue; }
        if (strcmp(tokens[i], "process") != 0 || i + 6 >= ntokens) break;
        const char *t = tokens[i + 1];
        const char *wd = tokens[i + 2];
        int d = strcmp(tokens[i + 3], "direct") == 0;
        int r = strcmp(tokens[i + 4], "replace") == 0;
        int nc = atoi(tokens[i + 5]);
        if (nc < 0 || i + 6 + nc >= ntokens) die("%s", "launcher.conf is damaged");
        char **c = &tokens[i + 6];
        int na = atoi(tokens[i + 6 + nc]);
        if (na < 0 || i + 7 + nc + na > ntokens) die("%s", "launcher.conf is damaged");
        char **a = &tokens[i + 7 + nc];
        if (type && strcmp(t, type) == 0) { cmd = c; ncmd = nc; dargs = a; nargs = na; workdir = wd; direct = d; replace = r; }
        i += 7 + nc + na;
    }
    if (type && !cmd && !user_cmd) die_with(EXIT_NO_PROCESS, "this image has no process type '%s' (see /cnb/process)", type);
    if (!type && !user_cmd) die_with(EXIT_NO_PROCESS, "%s", "this image has no default process; run /cnb/process/<type> or pass a command");

    // Apply the environment of every launch layer, in order.
    for (int i = 0; i + 1 < ntokens; i++) {
        if (strcmp(tokens[i], "layer") != 0) continue;
        const char *layer = tokens[i + 1];
        char p[4096];
        snprintf(p, sizeof p, "%s/env", layer); apply_env_dir(p);
        snprintf(p, sizeof p, "%s/env.launch", layer); apply_env_dir(p);
        if (type) { snprintf(p, sizeof p, "%s/env.launch/%s", layer, type); apply_env_dir(p); }
        snprintf(p, sizeof p, "%s/bin", layer); if (is_dir(p)) prepend("PATH", p, ":");
        snprintf(p, sizeof p, "%s/lib", layer); if (is_dir(p)) prepend("LD_LIBRARY_PATH", p, ":");
    }
    for (int i = 0; i + 1 < ntokens; i++) {
        if (strcmp(tokens[i], "layer") != 0) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/exec.d", tokens[i + 1]); run_exec_d(p);
        if (type) { snprintf(p, sizeof p, "%s/exec.d/%s", tokens[i + 1], type); run_exec_d(p); }
    }

    if (user_cmd) {
        // A user's command, not a buildpack process: in the app folder, in the launch environment.
        if (chdir(app) != 0) die_with(EXIT_CANNOT_RUN, "cannot change to the app folder %s", app);
        run(user_cmd, user_direct, NULL, app);
    }

    const char *dir = workdir && *workdir ? workdir : app;
    if (chdir(dir) != 0) die_with(EXIT_CANNOT_RUN, "cannot change to working directory %s", dir);

    // The command, then the arguments: for Buildpack API 0.9 and later the user's replace the
    // process's defaults; before, they follow them.
    int user = argc - 1;
    int keep_defaults = !(replace && user > 0);
    int total = ncmd + (keep_defaults ? nargs : 0) + user;
    char **out = calloc((size_t)total + 1, sizeof(char *));
    int k = 0;
    for (int i = 0; i < ncmd; i++) out[k++] = cmd[i];
    if (keep_defaults) for (int i = 0; i < nargs; i++) out[k++] = dargs[i];
    for (int i = 1; i < argc; i++) out[k++] = argv[i];
    out[k] = NULL;
    run(out, direct, type, app);
    return EXIT_CANNOT_RUN;
}
