/*
 * waba-connect: the FastCGI application. Two ways to run
 * (doc/architecture.md, Processes): spawned by the web server with the
 * listening socket on FCGI_LISTENSOCK_FILENO, or standalone with --listen
 * and a supervisor.
 */
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fastcgi.h>
#include <fcgiapp.h>
#include <sodium.h>

#include "app.h"
#include "config.h"
#include "log.h"
#include "meta_gate.h"
#include "metrics.h"
#include "pool.h"
#include "priv.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: waba-connect [--config FILE] [--listen ADDR] "
	    "[--workers N] [--check] [--routes] [--sender]\n"
	    "\n"
	    "  --config FILE   configuration (default: $WABA_CONNECT_CONFIG)\n"
	    "  --listen ADDR   standalone mode: HOST:PORT or unix:PATH\n"
	    "                  (default: [server] listen)\n"
	    "  --workers N     standalone mode: worker processes "
	    "(default: [server] workers)\n"
	    "  --check         load config, key ring and templates, report, and exit\n"
	    "  --routes        print the route table (METHOD PATTERN a line), exit\n"
	    "  --sender        run the outbox's sender (no workers), until SIGTERM\n"
	    "  --help, --version\n"
	    "\n"
	    "Without --listen/--workers, when standard input is a listening\n"
	    "socket (spawned by lighttpd, mod_fcgid or spawn-fcgi), runs one\n"
	    "worker on it. Otherwise runs the standalone supervisor.\n"
	    "Signals (standalone): SIGHUP reloads config and templates,\n"
	    "SIGTERM drains in-flight requests and stops.\n");
}

/* The web server hands us a listening socket as fd 0 when it spawns us. */
static int
stdin_is_listener(void)
{
	int       v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(FCGI_LISTENSOCK_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &v,
	           &len) == 0 &&
	    v;
}

/*
 * Root's part of start-up is over (socket open, key ring, secrets and
 * templates read): become [server] user for the rest of the process's
 * life, and every worker forked from it. -1 with err: do not serve.
 */
static int
become_user(const char *path, struct app *app, char *err, size_t errlen)
{
	if (priv_drop(path, app->cfg, err, errlen) == -1)
		return -1;
	log_info("serving as user %s (uid %lu, gid %lu)", app->cfg->user,
	    (unsigned long)app->cfg->user_uid,
	    (unsigned long)app->cfg->user_gid);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = { { "config", required_argument,
		                                  NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "check", no_argument, NULL, 'k' },
		{ "routes", no_argument, NULL, 'r' },
		{ "sender", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 } };
	const char                *path = getenv("WABA_CONNECT_CONFIG");
	const char                *listen_addr = NULL;
	struct app                 app;
	char                       err[512], *end, *addr;
	long                       workers = 0;
	int                        ch, check = 0, fd, rc, spawned, sender = 0;
	sigset_t                   early;
	enum priv_plan             plan;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'w':
			errno = 0;
			workers = strtol(optarg, &end, 10);
			if (errno || *end || workers < 1 || workers > 256) {
				fprintf(stderr,
				    "waba-connect: --workers: "
				    "give 1 to 256\n");
				return 2;
			}
			break;
		case 'k':
			check = 1;
			break;
		case 's':
			sender = 1;
			break;
		case 'r':
			/* The table as served, for doc/api/openapi.yaml's
			   test: no config needed. */
			return app_routes_print(stdout) == 0 ? 0 : 1;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("waba-connect %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (path == NULL) {
		fprintf(stderr,
		    "waba-connect: no configuration: give --config "
		    "FILE or set WABA_CONNECT_CONFIG\n");
		return 2;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr,
		    "waba-connect: library initialisation failed\n");
		return 1;
	}
	log_init("waba-connect", LOG_LVL_INFO);
	/*
	 * Spawned: a SIGHUP (or SIGTERM) sent while we still load would
	 * kill us with its default action. Blocked, it stays pending until
	 * pool_worker waits for requests with its handlers in place. (The
	 * supervisor installs its own handlers before it blocks anything.)
	 */
	spawned = listen_addr == NULL && workers == 0 && !check && !sender &&
	    stdin_is_listener();
	if (spawned) {
		sigemptyset(&early);
		sigaddset(&early, SIGHUP);
		sigaddset(&early, SIGTERM);
		sigaddset(&early, SIGINT);
		sigprocmask(SIG_BLOCK, &early, NULL);
	}
	/*
	 * A bad config value, a broken template (dir/file:line: reason) or
	 * a key ring that is missing, malformed or readable by others stops
	 * start-up here with one line.
	 */
	if (app_load(&app, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "waba-connect: %s\n", err);
		return 1;
	}
	log_set_level(app.cfg->log_level);
	log_set_format(app.cfg->log_json);
	if (check) {
		printf("%s: ok\n", path);
		app_free(&app);
		return 0;
	}
	if (priv_plan(app.cfg, &plan, err, sizeof(err)) == -1) {
		fprintf(stderr, "waba-connect: %s\n", err);
		app_free(&app);
		return 1;
	}
	if (sender) {
		/* The sender only: no socket, no workers (issue 13). */
		if (plan == PRIV_DROP &&
		    become_user(path, &app, err, sizeof(err)) == -1) {
			fprintf(stderr, "waba-connect: %s\n", err);
			app_free(&app);
			return 1;
		}
		/*
		 * Its counters in the named segment of this config: workers
		 * the web server spawns on this host show them in /metrics
		 * (a standalone pool's own segment is anonymous: not those).
		 */
		if (metrics_init_spawned(path, err, sizeof(err)) == -1)
			log_warn("%s: the sender's counters stay its own", err);
		/*
		 * And the gate's: a connection it marks (a 190) ends the
		 * spawned workers' reuse of it at once (meta_gate.h).
		 */
		if (gate_init_spawned(path, app.cfg->workers, err,
		        sizeof(err)) == -1)
			log_warn("%s: workers see the sender's changes to a "
			         "connection within [api] gate_lease_ms",
			    err);
		return pool_sender(&app);
	}
	if (app_signin_init(err, sizeof(err)) == -1) {
		fprintf(stderr, "waba-connect: %s\n", err);
		app_free(&app);
		return 1;
	}

	if (spawned) {
		/* The web server opened the socket: nothing else needs root. */
		if (plan == PRIV_DROP &&
		    become_user(path, &app, err, sizeof(err)) == -1) {
			fprintf(stderr, "waba-connect: %s\n", err);
			app_free(&app);
			return 1;
		}
		/* No supervisor: the spawned siblings share a named gate. */
		if (gate_init_spawned(path, app.cfg->workers, err,
		        sizeof(err)) == -1)
			log_warn("%s: Meta calls are not limited across "
			         "processes",
			    err);
		/* And share /metrics' counters the same way. */
		if (metrics_init_spawned(path, err, sizeof(err)) == -1)
			log_warn("%s: /metrics counts this process only", err);
		return pool_worker(path, &app, FCGI_LISTENSOCK_FILENO, 1);
	}

	/* A copy: the supervisor replaces the config on reload. */
	if ((addr = strdup(listen_addr ? listen_addr : app.cfg->listen)) ==
	    NULL) {
		app_free(&app);
		return 1;
	}
	if (workers == 0)
		workers = app.cfg->workers;
	if ((fd = pool_listen(addr, err, sizeof(err))) == -1) {
		fprintf(stderr, "waba-connect: %s\n", err);
		free(addr);
		app_free(&app);
		return 1;
	}
	/* The socket may be in a root-only place, or a port below 1024. */
	if (plan == PRIV_DROP &&
	    (priv_socket(addr, app.cfg, err, sizeof(err)) == -1 ||
	        become_user(path, &app, err, sizeof(err)) == -1)) {
		fprintf(stderr, "waba-connect: %s\n", err);
		/* Not serving: no socket left behind for the web server. */
		if (strncmp(addr, "unix:", 5) == 0)
			unlink(addr + 5);
		close(fd);
		free(addr);
		app_free(&app);
		return 1;
	}
	rc = pool_supervise(path, &app, fd, (int)workers, addr);
	free(addr);
	return rc;
}
