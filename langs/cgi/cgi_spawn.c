/*
 * Starting a script: posix_spawn() (a vfork-style clone: cheap from a big
 * worker; no shell), in a process group of its own, in its directory,
 * with stdin, stdout and stderr on new pipes, every other fd closed and
 * every signal at its default; a pidfd to wait for its end.
 */
#include "config.h"

#include "cgi.h"
#include "cgi_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <weft/plugin.h>

/* --------------------------------------------------------------- spawning */

static int
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* Linux 5.3; the fd is close-on-exec */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

/* See cgi_int.h. */
int
cgi_spawn(const char *exe, char **argv, char **env, const char *dir,
          struct cgi_child *ch)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 };
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t all, none;
    pid_t pid;
    int rc;

    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
        pipe2(er, O_CLOEXEC) < 0) {
        rc = errno;
        goto fail_pipes;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    /* dup2 clears close-on-exec on 0, 1 and 2; everything else closes,
     * inheritable or not (an app's own fds, a library's) */
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, er[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 29)
    posix_spawn_file_actions_addchdir_np(&fa, dir);
#endif
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                             POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    rc = posix_spawn(&pid, exe, &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        goto fail_pipes;
    }
    close(in[0]);
    close(out[1]);
    close(er[1]);
    ch->pid = pid;
    ch->in_fd = in[1];
    ch->out_fd = out[0];
    ch->err_fd = er[0];
    set_nonblock(ch->in_fd);
    set_nonblock(ch->out_fd);
    set_nonblock(ch->err_fd);
    ch->pidfd = open_pidfd(pid);
    return 0;

fail_pipes:
    {
        int *fds[] = { &in[0], &in[1], &out[0], &out[1], &er[0], &er[1] };
        size_t i;

        for (i = 0; i < 6; i++) {
            if (*fds[i] >= 0) {
                close(*fds[i]);
            }
        }
    }
    return rc;
}

