#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "template.h"

#define POOL_MAX_WORKERS 256

static volatile sig_atomic_t pool_term, pool_hup, pool_chld;

static void
pool_on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT) {
		pool_term = 1;
		/* Makes libfcgi's accept loop give up instead of retrying. */
		FCGX_ShutdownPending();
	} else if (sig == SIGHUP)
		pool_hup = 1;
	else if (sig == SIGCHLD)
		pool_chld = 1;
}

/* No SA_RESTART: a blocked accept() must return EINTR so we can stop. */
static void
pool_catch(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pool_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void
pool_default(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

int
pool_listen(const char *addr, char *err, size_t errlen)
{
	int	 fd;
	const char *path;

	if (strncmp(addr, "unix:", 5) == 0) {
		path = addr + 5;
		/* A socket left by a previous run would make bind fail. */
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
		fd = FCGX_OpenSocket(path, 128);
	} else
		fd = FCGX_OpenSocket(addr, 128);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr,
		    strerror(errno));
		return -1;
	}
	return fd;
}

static int
pool_reload(const char *path, struct app *app, struct config **cfg)
{
	struct config	*ncfg;
	struct app	 napp;
	char		 err[512];

	if (path == NULL) {
		log_warn("SIGHUP: no --config file to reload");
		return -1;
	}
	if ((ncfg = config_load(path, err, sizeof(err))) == NULL ||
	    app_init(&napp, ncfg, err, sizeof(err)) == -1) {
		log_err("reload refused, keeping the running config: %s", err);
		config_free(ncfg);
		return -1;
	}
	app_free(app);
	config_free(*cfg);
	*app = napp;
	*cfg = ncfg;
	log_set_level(ncfg->log_level);
	log_info("reloaded %s", path);
	return 0;
}

int
pool_worker(const char *config_path, struct config *cfg, int fd,
    int reload_on_hup)
{
	struct app	 app;
	FCGX_Request	 r;
	sigset_t	 block, old;
	char		 err[512];
	long		 served = 0;
	int		 rc;

	pool_catch(SIGTERM);
	pool_catch(SIGINT);
	if (reload_on_hup)
		pool_catch(SIGHUP);
	else
		signal(SIGHUP, SIG_IGN);
	pool_default(SIGCHLD);
	signal(SIGPIPE, SIG_IGN);

	if (app_init(&app, cfg, err, sizeof(err)) == -1) {
		log_err("%s", err);
		config_free(cfg);
		return 1;
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, fd,
	    FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("FastCGI initialisation failed");
		app_free(&app);
		config_free(cfg);
		return 1;
	}

	/*
	 * Signals are blocked while a request runs, so a SIGTERM lets it
	 * finish (drain) and only then stops the loop.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	for (;;) {
		if (cfg->max_requests > 0 && served >= cfg->max_requests) {
			log_info("recycling after %ld requests", served);
			break;
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (pool_term) {
			sigprocmask(SIG_BLOCK, &block, NULL);
			break;
		}
		rc = FCGX_Accept_r(&r);
		sigprocmask(SIG_BLOCK, &block, NULL);
		if (rc < 0) {
			if (!pool_term)
				log_err("accept failed: %d", rc);
			break;
		}
		app_handle(&app, &r);
		FCGX_Finish_r(&r);
		served++;
		if (pool_hup) {
			pool_hup = 0;
			pool_reload(config_path, &app, &cfg);
		}
	}
	FCGX_Free(&r, 0);
	app_free(&app);
	config_free(cfg);
	return 0;
}

struct pool_child {
	pid_t		 pid;
	unsigned int	 gen;
};

static struct pool_child pool_kids[2 * POOL_MAX_WORKERS];

static int
pool_spawn(const char *config_path, int fd, unsigned int gen)
{
	struct config	*wcfg;
	char		 err[512];
	pid_t		 pid;
	size_t		 i;

	for (i = 0; i < sizeof(pool_kids) / sizeof(pool_kids[0]); i++)
		if (pool_kids[i].pid == 0)
			break;
	if (i == sizeof(pool_kids) / sizeof(pool_kids[0]))
		return -1;
	if ((pid = fork()) == -1) {
		log_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		pool_term = pool_hup = pool_chld = 0;
		/*
		 * The worker gets its own copy of the config: the supervisor's
		 * may be replaced on reload, and a worker owns what it frees.
		 */
		if ((wcfg = config_load(config_path, err, sizeof(err))) ==
		    NULL) {
			log_err("%s", err);
			_exit(1);
		}
		_exit(pool_worker(config_path, wcfg, fd, 0));
	}
	pool_kids[i].pid = pid;
	pool_kids[i].gen = gen;
	return 0;
}

static size_t
pool_count(unsigned int gen, int any)
{
	size_t	 i, n = 0;

	for (i = 0; i < sizeof(pool_kids) / sizeof(pool_kids[0]); i++)
		if (pool_kids[i].pid && (any || pool_kids[i].gen == gen))
			n++;
	return n;
}

static void
pool_signal_gen(unsigned int gen, int all, int sig)
{
	size_t	 i;

	for (i = 0; i < sizeof(pool_kids) / sizeof(pool_kids[0]); i++)
		if (pool_kids[i].pid && (all || pool_kids[i].gen == gen))
			kill(pool_kids[i].pid, sig);
}

/* Collects dead children; returns how many of generation gen died badly. */
static void
pool_reap(unsigned int gen, int *crashes)
{
	pid_t	 pid;
	int	 st;
	size_t	 i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < sizeof(pool_kids) / sizeof(pool_kids[0]); i++)
			if (pool_kids[i].pid == pid)
				break;
		if (i == sizeof(pool_kids) / sizeof(pool_kids[0]))
			continue;
		if (WIFSIGNALED(st))
			log_warn("worker %ld killed by signal %d",
			    (long)pid, WTERMSIG(st));
		else if (WEXITSTATUS(st) != 0)
			log_warn("worker %ld exited with status %d",
			    (long)pid, WEXITSTATUS(st));
		if (pool_kids[i].gen == gen && (WIFSIGNALED(st) ||
		    WEXITSTATUS(st) != 0))
			(*crashes)++;
		pool_kids[i].pid = 0;
	}
}

int
pool_supervise(const char *config_path, struct config *cfg, int fd,
    int nworkers, const char *listen_addr)
{
	sigset_t	 block, old;
	unsigned int	 gen = 1;
	int		 crashes = 0, want = nworkers;
	struct timespec	 until, now;
	struct config	*ncfg;
	struct tmpl_set	*t;
	char		 err[512];

	if (config_path == NULL) {
		log_err("standalone mode needs --config");
		return 1;
	}
	pool_catch(SIGTERM);
	pool_catch(SIGINT);
	pool_catch(SIGHUP);
	pool_catch(SIGCHLD);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);

	log_info("supervisor started, %d workers", want);
	while (!pool_term) {
		pool_chld = 0;
		pool_reap(gen, &crashes);
		if (pool_hup) {
			pool_hup = 0;
			/*
			 * Validate everything a worker would load before
			 * touching the running generation; a bad file keeps
			 * the old workers serving.
			 */
			if ((ncfg = config_load(config_path, err,
			    sizeof(err))) == NULL ||
			    (t = tmpl_load_dir(ncfg->template_dir, err,
			    sizeof(err))) == NULL) {
				log_err("reload refused: %s", err);
				config_free(ncfg);
			} else {
				tmpl_free(t);
				config_free(cfg);
				cfg = ncfg;
				log_set_level(cfg->log_level);
				/* The listener stays open: no request lost. */
				pool_signal_gen(gen, 0, SIGTERM);
				gen++;
				log_info("reloading: generation %u", gen);
			}
		}
		while ((int)pool_count(gen, 0) < want) {
			if (crashes > want * 3) {
				/* Crash loop: don't fork-bomb, wait a bit. */
				sleep(1);
				crashes = 0;
			}
			if (pool_spawn(config_path, fd, gen) == -1)
				break;
		}
		if (!pool_term && !pool_hup && !pool_chld)
			sigsuspend(&old);
	}

	log_info("draining %zu workers", pool_count(gen, 1));
	pool_signal_gen(gen, 1, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += cfg->drain_seconds;
	while (pool_count(gen, 1) > 0) {
		pool_reap(gen, &crashes);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > until.tv_sec) {
			log_warn("drain timeout: killing %zu workers",
			    pool_count(gen, 1));
			pool_signal_gen(gen, 1, SIGKILL);
			until.tv_sec = now.tv_sec + 5;
		}
		if (pool_count(gen, 1) > 0)
			usleep(20000);
	}
	if (strncmp(listen_addr, "unix:", 5) == 0)
		unlink(listen_addr + 5);
	config_free(cfg);
	log_info("supervisor stopped");
	return 0;
}
