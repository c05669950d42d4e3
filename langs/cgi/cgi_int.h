/*
 * What the files of the cgi plugin share (cgi.c, cgi_env.c, cgi_spawn.c).
 * Plugin-internal: hidden by -fvisibility=hidden; the plugin exports only
 * wf_plugin_cgi.
 */
#ifndef WEFT_CGI_INT_H
#define WEFT_CGI_INT_H

#include <stddef.h>
#include <sys/types.h>

#include <weft/plugin.h>

#include "cgi.h"

/* Configuration, set in the master at start-up (cgi.c), read after. */
extern struct wf_strlist cgi_opt_unset;    /* --cgi-unset */
extern char *cgi_path_env;                  /* "PATH=..." */
extern char **cgi_pass_env;                 /* --cgi-pass-env "NAME=value" */
extern size_t cgi_npass;
extern char cgi_software[64];               /* SERVER_SOFTWARE */

/* An environment being built: v[0..n) "NAME=value", v[n] NULL. */
struct cgi_envb {
    char **v;
    size_t n, cap;
};

/*
 * Build the environment of the script t of mount m for request c (redir:
 * the path?query of a local redirect being run, or NULL) into e. Returns 0,
 * or -1 when out of memory (e holds what was added: free it). Core context.
 */
int cgi_build_env(struct wf_core *c, const struct cgi_mount *m,
                  const struct cgi_target *t, const char *redir,
                  struct cgi_envb *e);

/* Free what e holds. */
void cgi_env_free(struct cgi_envb *e);

/* A started script: its pid (and process group) and our pipe ends. */
struct cgi_child {
    pid_t pid;
    int in_fd, out_fd, err_fd;  /* non-blocking, close-on-exec */
    int pidfd;                  /* -1 without pidfd_open (Linux < 5.3) */
};

/*
 * Start exe with argv and env in directory dir, in a new process group,
 * its stdin, stdout and stderr the ends of three new pipes; ch gets the
 * other ends. Returns 0, or an errno value (nothing is left open; the
 * caller logs it). Any context of a worker.
 */
int cgi_spawn(const char *exe, char **argv, char **env, const char *dir,
              struct cgi_child *ch);

#endif
