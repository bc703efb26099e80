/*
 * pool: the process model (doc/architecture.md, Processes). The
 * supervisor keeps N workers on one listening socket and outlives their
 * crashes, reloads and recycling; each worker serves one request at a
 * time, so nothing a worker holds needs a lock. With [monitor] enabled
 * it also keeps one health monitor child (monitor.h), which serves no
 * request and is restarted, reloaded and stopped like a worker.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#if defined(__SANITIZE_ADDRESS__)
#define WABA_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define WABA_LSAN 1
#endif
#endif
#ifdef WABA_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#include "app.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "meta_gate.h"
#include "metrics.h"
#include "monitor.h"
#include "push.h"
#include "sender.h"
#include "pool.h"

#define POOL_MAX_WORKERS 256

static volatile sig_atomic_t pool_term, pool_hup, pool_chld;

static void
pool_on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		pool_term = 1;
	else if (sig == SIGHUP)
		pool_hup = 1;
	else if (sig == SIGCHLD)
		pool_chld = 1;
}

/* No SA_RESTART: a wait interrupted by a signal returns to the loop. */
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
	int         fd;
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

/*
 * Spawned mode's SIGHUP: a new config and templates replace the running
 * ones only when all of them load; otherwise the worker keeps serving
 * with what it has.
 */
static void
pool_reload(const char *path, struct app *app)
{
	struct app napp;
	char       err[512];

	if (path == NULL) {
		log_warn("SIGHUP: no --config file to reload");
		return;
	}
	if (app_load(&napp, path, err, sizeof(err)) == -1) {
		log_err("reload refused, keeping the running config: %s", err);
		return;
	}
	if (app_start(&napp, err, sizeof(err)) == -1) {
		log_err("reload refused, keeping the running config: %s", err);
		app_free(&napp);
		return;
	}
	app_free(app);
	*app = napp;
	log_set_level(app->cfg->log_level);
	log_set_format(app->cfg->log_json);
	log_info("reloaded %s", path);
}

/*
 * Waits until fd is readable or a signal arrived. Signals are blocked
 * everywhere else in the worker and only let in here, by ppoll's (or
 * epoll_pwait's) atomic mask swap: a SIGTERM or SIGHUP can't slip in
 * between the check of the flags and a wait that would then sleep until
 * the next request. ep, when not -1, is the worker's epoll set holding
 * the shared listener with EPOLLEXCLUSIVE: a connection then wakes one
 * idle worker, not all of them (with ppoll on the listener every idle
 * worker woke for each request, and all but one found EAGAIN: CPU taken
 * from the one serving it, measured with bench/gateway.py). Returns 1
 * when fd is readable, 0 on a signal, 2 when timeout_ms (-1: none)
 * passed, -1 on an error.
 */
static int
pool_wait(int fd, int ep, const sigset_t *mask, long timeout_ms)
{
	struct pollfd      pfd;
	struct epoll_event ev;
	struct timespec    ts;
	int                n;

	if (ep != -1) {
		n = epoll_pwait(ep, &ev, 1,
		    timeout_ms >= 0 ? (int)timeout_ms : -1, mask);
	} else {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
		n = ppoll(&pfd, 1, timeout_ms >= 0 ? &ts : NULL, mask);
	}
	if (n == -1) {
		if (errno == EINTR)
			return 0;
		log_err("poll: %s", strerror(errno));
		return -1;
	}
	return n > 0 ? 1 : 2;
}

/*
 * The listener in an epoll set of this worker's own, woken exclusively
 * (Linux 4.5). -1 when that fails: pool_wait then polls, as before.
 */
static int
pool_epoll(int fd)
{
	struct epoll_event ev;
	int                ep;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("epoll on the listener: %s; polling instead",
		    strerror(errno));
		close(ep);
		return -1;
	}
	return ep;
}

/*
 * Whether the connection may end with close() alone, not libfcgi's
 * lingering close (shutdown, then reading until the web server's EOF,
 * up to 2 s), which keeps a TCP stack from resetting a connection the
 * web server still writes to, under our answer. On a Unix socket a
 * reset never loses what we wrote (the web server reads its queue
 * first), and once the request's stdin has been read to its end
 * (req_read_body) the web server writes nothing more: the linger buys
 * nothing there and costs three system calls and a sleep and wake-up
 * per request (doc/architecture.md, The accept loop). A refusal before
 * the body was read, a stream that ended in an error (libfcgi marks it
 * closed too, while the web server may still be writing), or a TCP
 * listener still lingers.
 */
static int
pool_close_plain(FCGX_Request *r, int unix_listener)
{
	return unix_listener && !r->keepConnection && r->in != NULL &&
	    FCGX_HasSeenEOF(r->in) == EOF && FCGX_GetError(r->in) == 0;
}

static int
pool_is_unix(int fd)
{
	struct sockaddr_storage ss;
	socklen_t               len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    ss.ss_family == AF_UNIX;
}

int
pool_worker(const char *config_path, struct app *app, int fd, int reload_on_hup)
{
	FCGX_Request r;
	sigset_t     block, old;
	char         err[512];
	long         served = 0;
	int          rc, fl, ep, unix_listener, status = 0;

	pool_catch(SIGTERM);
	pool_catch(SIGINT);
	if (reload_on_hup)
		pool_catch(SIGHUP);
	else
		signal(SIGHUP, SIG_IGN);
	pool_default(SIGCHLD);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Signals are blocked except while waiting for a connection, so a
	 * SIGTERM lets the running request finish (drain) and a SIGHUP
	 * reloads between two requests, never in the middle of one.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigdelset(&old, SIGTERM);
	sigdelset(&old, SIGINT);
	sigdelset(&old, SIGHUP);
	sigdelset(&old, SIGCHLD); /* blocked by the supervisor */

	if (app_start(app, err, sizeof(err)) == -1) {
		log_err("%s", err);
		app_free(app);
		return 1;
	}
	/*
	 * Siblings share the listener: after a wake-up another worker may
	 * take the connection first. Non-blocking, our accept then fails
	 * with EAGAIN and we wait again, instead of sleeping in accept()
	 * with signals blocked and missing a SIGTERM.
	 */
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_err("listening socket: %s", strerror(errno));
		app_free(app);
		return 1;
	}
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, fd, 0) != 0) {
		log_err("FastCGI initialisation failed");
		app_free(app);
		return 1;
	}
	ep = pool_epoll(fd);
	unix_listener = pool_is_unix(fd);

	for (;;) {
		if (pool_term)
			break;
		if (pool_hup) {
			pool_hup = 0;
			pool_reload(config_path, app);
		}
		if (app->cfg->max_requests > 0 &&
		    served >= app->cfg->max_requests) {
			log_info("recycling after %ld requests", served);
			break;
		}
		/*
		 * A connection the web server keeps open (FCGI_KEEP_CONN)
		 * brings the next request on itself, not on the listener.
		 */
		/* Idle, the send tallies are written once due (app_idle). */
		if ((rc = r.ipcFd >= 0
		            ? pool_wait(r.ipcFd, -1, &old, app_idle_ms(app))
		            : pool_wait(fd, ep, &old, app_idle_ms(app))) ==
		    -1) {
			status = 1;
			break;
		}
		if (rc == 2)
			app_idle(app, 0);
		if (rc != 1)
			continue;
		rc = FCGX_Accept_r(&r);
		/* A client gone before we took its connection is not ours. */
		if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR ||
		    rc == -ECONNABORTED)
			continue;
		if (rc < 0) {
			/* Exit 1: the supervisor's crash-loop guard applies. */
			log_err("accept failed: %s", strerror(-rc));
			status = 1;
			break;
		}
		/* Where accept(2) passes O_NONBLOCK on, libfcgi wants blocking. */
		if ((fl = fcntl(r.ipcFd, F_GETFL)) != -1 && (fl & O_NONBLOCK))
			fcntl(r.ipcFd, F_SETFL, fl & ~O_NONBLOCK);
		app_handle(app, &r);
		if (pool_close_plain(&r, unix_listener))
			(void)FCGX_Detach(&r);
		FCGX_Finish_r(&r);
		/* After the answer has gone: no request waits for these. */
		app_idle(app, 0);
		served++;
	}
	FCGX_Free(&r, 0);
	if (ep != -1)
		close(ep);
	app_free(app);
	return status;
}

void
pool_crash_add(struct pool_crashes *c, long long now_ms)
{
	if (c->n == POOL_CRASH_RING) {
		/* Full: the oldest is the least relevant. */
		c->head = (c->head + 1) % POOL_CRASH_RING;
		c->n--;
	}
	c->at[(c->head + c->n) % POOL_CRASH_RING] = now_ms;
	c->n++;
}

unsigned int
pool_crash_recent(struct pool_crashes *c, long long now_ms, long long window_ms)
{
	/* Crashes are added in time order: the old ones are at the head. */
	while (c->n > 0 && c->at[c->head] <= now_ms - window_ms) {
		c->head = (c->head + 1) % POOL_CRASH_RING;
		c->n--;
	}
	return c->n;
}

/*
 * A forked worker leaves by _exit(): the supervisor's atexit handlers
 * and stdio buffers are not the worker's to run. _exit() skips
 * LeakSanitizer's check too, so a sanitizer build (scripts/test
 * --sanitize) runs that check here first: a leak in a worker is then
 * reported like one in the supervisor.
 */
static void
pool_child_exit(int status)
{
#ifdef WABA_LSAN
	__lsan_do_leak_check();
#endif
	_exit(status);
}

/* What a child of the supervisor is: one of the workers, or a helper. */
enum pool_role {
	POOL_WORKER = 0,
	POOL_MONITOR, /* the health monitor ([monitor] enabled) */
	POOL_PUSHER,  /* the events' push ([events] push_url) */
	POOL_SENDER,  /* the outbox's sender ([sender] enabled) */
	POOL_ROLES
};

static const char *const pool_role_name[POOL_ROLES] = { "worker", "monitor",
	"pusher", "sender" };

struct pool_child {
	pid_t          pid;
	unsigned int   gen;
	enum pool_role role;
};

static struct pool_child pool_kids[2 * POOL_MAX_WORKERS];

/*
 * The health monitor child: the supervisor's app (config, key ring), its
 * own database connection and curl handle, and the privileges the
 * workers have (dropped before the supervisor forks anyone). The
 * inherited mask blocks SIGTERM: it comes in only while the monitor
 * sleeps, so a check under way finishes and gives its lease back.
 */
/*
 * What every helper child (the monitor, the pusher) starts with: its
 * name in ps and /proc/PID/comm, SIGTERM/SIGINT caught but let in only
 * through *wait_mask (while it sleeps), SIGHUP ignored (the supervisor
 * reloads by replacing it), and the app started (its own connections).
 * -1 when it cannot start: logged, app freed.
 */
static int
pool_helper_start(struct app *app, const char *comm, sigset_t *wait_mask)
{
	char err[512];

	prctl(PR_SET_NAME, comm, 0, 0, 0);
	pool_catch(SIGTERM);
	pool_catch(SIGINT);
	signal(SIGHUP, SIG_IGN);
	pool_default(SIGCHLD);
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_SETMASK, NULL, wait_mask);
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
	if (app_start(app, err, sizeof(err)) == -1) {
		log_err("%s: %s", comm, err);
		app_free(app);
		return -1;
	}
	return 0;
}

static int
pool_monitor(struct app *app)
{
	struct monitor m;
	sigset_t       wait_mask;

	if (pool_helper_start(app, "waba-monitor", &wait_mask) == -1)
		return 1;
	monitor_init(&m, app->cfg, app->db, &app->vault, app->graph);
	m.stop = &pool_term;
	monitor_loop(&m, &wait_mask);
	app_free(app);
	return 0;
}

int
pool_sender(struct app *app)
{
	char err[512];
	int  rc;

	/* Shows as such in ps and /proc/PID/comm. */
	prctl(PR_SET_NAME, "waba-sender", 0, 0, 0);
	pool_catch(SIGTERM);
	pool_catch(SIGINT);
	signal(SIGHUP, SIG_IGN);
	pool_default(SIGCHLD);
	signal(SIGPIPE, SIG_IGN);
	/* The loop polls at least every 50 ms: a signal is seen then. */
	{
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	if (app_start(app, err, sizeof(err)) == -1) {
		log_err("sender: %s", err);
		app_free(app);
		return 1;
	}
	rc = sender_run(app, &pool_term);
	app_free(app);
	return rc;
}

/*
 * The pusher child (push.h): like the monitor, the supervisor's app and
 * the workers' privileges, its own connections and curl handle, and
 * SIGTERM let in only while it sleeps, so a push under way finishes and
 * its cursor is saved.
 */
static int
pool_pusher(struct app *app)
{
	struct push *p;
	sigset_t     wait_mask;
	char         err[512];

	if (pool_helper_start(app, "waba-push", &wait_mask) == -1)
		return 1;
	if ((p = push_new(app->cfg, app->db, err, sizeof(err))) == NULL) {
		log_err("push: %s", err);
		app_free(app);
		return 1;
	}
	push_loop(p, &pool_term, &wait_mask);
	push_free(p);
	app_free(app);
	return 0;
}

/*
 * The child inherits app, the state the supervisor validated last, and
 * re-reads nothing: so a file broken after that (reload refused, or an
 * edit never followed by SIGHUP) cannot reach a replacement worker.
 */
static int
pool_spawn(struct app *app, int fd, unsigned int gen, enum pool_role role)
{
	pid_t  pid;
	size_t i;

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
		/*
		 * The supervisor's flags are not ours. The inherited mask
		 * still blocks SIGTERM and SIGHUP: one sent to us now stays
		 * pending until pool_worker's ppoll lets it in, rather than
		 * being caught here and erased by this reset.
		 */
		pool_term = pool_hup = pool_chld = 0;
		if (role != POOL_WORKER)
			/* It serves no request: the socket is not its. */
			close(fd);
		if (role == POOL_MONITOR)
			pool_child_exit(pool_monitor(app));
		if (role == POOL_PUSHER)
			pool_child_exit(pool_pusher(app));
		if (role == POOL_SENDER)
			pool_child_exit(pool_sender(app));
		pool_child_exit(pool_worker(NULL, app, fd, 0));
	}
	pool_kids[i].pid = pid;
	pool_kids[i].gen = gen;
	pool_kids[i].role = role;
	if (role != POOL_WORKER)
		log_info("%s started (pid %ld)", pool_role_name[role],
		    (long)pid);
	return 0;
}

/* Workers of generation gen, or (any) every child, monitor included. */
static size_t
pool_count(unsigned int gen, int any)
{
	size_t i, n = 0;

	for (i = 0; i < sizeof(pool_kids) / sizeof(pool_kids[0]); i++)
		if (pool_kids[i].pid &&
		    (any ||
		        (pool_kids[i].gen == gen &&
		            pool_kids[i].role == POOL_WORKER)))
			n++;
	return n;
}

/* 1 when generation gen has its child of that role. */
static int
pool_has(unsigned int gen, enum pool_role role)
{
	size_t i;

	for (i = 0; i < sizeof(pool_kids) / sizeof(pool_kids[0]); i++)
		if (pool_kids[i].pid && pool_kids[i].role == role &&
		    pool_kids[i].gen == gen)
			return 1;
	return 0;
}

static void
pool_signal_gen(unsigned int gen, int all, int sig)
{
	size_t i;

	for (i = 0; i < sizeof(pool_kids) / sizeof(pool_kids[0]); i++)
		if (pool_kids[i].pid && (all || pool_kids[i].gen == gen))
			kill(pool_kids[i].pid, sig);
}

/*
 * Collects dead children; notes when one of generation gen died badly,
 * in crashes[] by its role.
 */
static void
pool_reap(unsigned int gen, struct pool_crashes *crashes)
{
	pid_t  pid;
	int    st;
	size_t i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < sizeof(pool_kids) / sizeof(pool_kids[0]); i++)
			if (pool_kids[i].pid == pid)
				break;
		if (i == sizeof(pool_kids) / sizeof(pool_kids[0]))
			continue;
		/* Killed inside a Meta call, it could not give its slot
		   back: before its pid can be anyone's again. */
		gate_forget(pid);
		if (WIFSIGNALED(st))
			log_warn("%s %ld killed by signal %d",
			    pool_role_name[pool_kids[i].role], (long)pid,
			    WTERMSIG(st));
		else if (WEXITSTATUS(st) != 0)
			log_warn("%s %ld exited with status %d",
			    pool_role_name[pool_kids[i].role], (long)pid,
			    WEXITSTATUS(st));
		if (pool_kids[i].gen == gen &&
		    (WIFSIGNALED(st) || WEXITSTATUS(st) != 0))
			pool_crash_add(&crashes[pool_kids[i].role], clk_ms());
		pool_kids[i].pid = 0;
	}
}

int
pool_supervise(const char *config_path, struct app *app, int fd, int nworkers,
    const char *listen_addr)
{
	sigset_t                   block, old;
	static struct pool_crashes crashes[POOL_ROLES];
	unsigned int               gen = 1;
	int                        want = nworkers, hold;
	struct timespec            until, now, pause = { 1, 0 };
	struct app                 napp;
	char                       err[512];

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

	/* Shared by every worker forked from here (meta_gate.h). */
	if (gate_init_pool(nworkers, err, sizeof(err)) == -1) {
		log_err("%s", err);
		return 1;
	}
	/* /metrics' counters, likewise (metrics.h). */
	if (metrics_init_pool(err, sizeof(err)) == -1) {
		log_err("%s", err);
		return 1;
	}
	log_info("supervisor started, %d workers", want);
	while (!pool_term) {
		pool_chld = 0;
		pool_reap(gen, crashes);
		if (pool_hup) {
			pool_hup = 0;
			/*
			 * Load everything a worker needs before touching the
			 * running generation; a bad file keeps the old
			 * workers serving, and their replacements on the
			 * state they were started with.
			 */
			if (app_load(&napp, config_path, err, sizeof(err)) ==
			    -1)
				log_err("reload refused, keeping the running "
				        "config: %s",
				    err);
			else {
				/* We are that user now: no way back to root. */
				if ((napp.cfg->user == NULL) !=
				        (app->cfg->user == NULL) ||
				    (napp.cfg->user &&
				        strcmp(napp.cfg->user,
				            app->cfg->user) != 0))
					log_warn(
					    "[server] user changed: it takes "
					    "effect at the next start");
				app_free(app);
				*app = napp;
				log_set_level(app->cfg->log_level);
				log_set_format(app->cfg->log_json);
				/* The listener stays open: no request lost. */
				pool_signal_gen(gen, 0, SIGTERM);
				gen++;
				log_info("reloading: generation %u", gen);
			}
		}
		hold = 0;
		while ((int)pool_count(gen, 0) < want) {
			/*
			 * Crash loop: more than 3 crashes per worker within
			 * the last POOL_CRASH_WINDOW_MS. Don't fork-bomb:
			 * respawn after a pause, reaping and taking signals
			 * meanwhile. Crashes spread over the pool's life
			 * leave the window and never trigger it.
			 */
			if (pool_crash_recent(&crashes[POOL_WORKER], clk_ms(),
			        POOL_CRASH_WINDOW_MS) >
			    (unsigned int)want * 3) {
				hold = 1;
				break;
			}
			/* fork failed: try again after the pause too. */
			if (pool_spawn(app, fd, gen, POOL_WORKER) == -1) {
				hold = 1;
				break;
			}
		}
		/* The monitor and the pusher: the same guard, each on its own. */
		if (app->cfg->monitor_enabled && !pool_term &&
		    !pool_has(gen, POOL_MONITOR)) {
			if (pool_crash_recent(&crashes[POOL_MONITOR], clk_ms(),
			        POOL_CRASH_WINDOW_MS) > 3 ||
			    pool_spawn(app, fd, gen, POOL_MONITOR) == -1)
				hold = 1;
		}
		if (app->cfg->push_url != NULL && !pool_term &&
		    !pool_has(gen, POOL_PUSHER)) {
			if (pool_crash_recent(&crashes[POOL_PUSHER], clk_ms(),
			        POOL_CRASH_WINDOW_MS) > 3 ||
			    pool_spawn(app, fd, gen, POOL_PUSHER) == -1)
				hold = 1;
		}
		/* The sender (issue 13): the same guard again. */
		if (app->cfg->sender_enabled && !pool_term &&
		    !pool_has(gen, POOL_SENDER)) {
			if (pool_crash_recent(&crashes[POOL_SENDER], clk_ms(),
			        POOL_CRASH_WINDOW_MS) > 3 ||
			    pool_spawn(app, fd, gen, POOL_SENDER) == -1)
				hold = 1;
		}
		if (!pool_term && !pool_hup && !pool_chld) {
			if (hold)
				ppoll(NULL, 0, &pause, &old);
			else
				sigsuspend(&old);
		}
	}

	log_info("draining %zu workers", pool_count(gen, 1));
	pool_signal_gen(gen, 1, SIGTERM);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += app->cfg->drain_seconds;
	while (pool_count(gen, 1) > 0) {
		pool_reap(gen, crashes);
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
	app_free(app);
	log_info("supervisor stopped");
	return 0;
}
