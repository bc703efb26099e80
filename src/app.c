#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "graph.h"
#include "handlers/handlers.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "session.h"
#include "store/tenants.h"
#include "vault.h"
#include "template.h"
#include "view.h"

/* The whole of DESIGN §2 that the app serves, in one table. */
static const struct route routes[] = {
	{ REQ_GET, "/healthz", h_healthz, 0 },
	{ REQ_GET, "/login", h_login_get, 0 },
	{ REQ_POST, "/login", h_login_post, 0 },
	{ REQ_POST, "/logout", h_logout, ROUTE_SESSION },
	{ REQ_GET, "/w/{slug}/settings/whatsapp", h_settings, ROUTE_SESSION },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/connect", h_connect,
	    ROUTE_SESSION },
	{ REQ_GET, "/oauth/meta/callback", h_oauth_callback, ROUTE_SESSION },
	{ REQ_GET, "/w/{slug}/settings/whatsapp/phone-numbers", h_phones_get,
	    ROUTE_SESSION },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/phone-numbers", h_phones_post,
	    ROUTE_SESSION },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/catalog", h_catalog,
	    ROUTE_SESSION },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/catalog/disconnect",
	    h_catalog_disconnect, ROUTE_SESSION },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/verify", h_verify,
	    ROUTE_SESSION },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/test-message", h_test_message,
	    ROUTE_SESSION },
	{ REQ_POST, "/w/{slug}/settings/whatsapp/disconnect", h_disconnect,
	    ROUTE_SESSION },
	{ REQ_GET, "/webhooks/meta", h_webhook_verify, 0 },
	{ REQ_POST, "/webhooks/meta", h_webhook_event, ROUTE_RAW_BODY },
};

/*
 * The gate in front of every signed-in route, in this order: a session
 * (else 303 to sign-in), membership of the {slug} workspace (else 404,
 * which does not confirm the workspace exists), and for POST the
 * session's CSRF token (else 403, before the handler changes anything).
 * Returns 0 to go on to the handler, 1 when resp already holds the answer.
 */
static int
app_gate(struct ctx *c, const struct route *rt)
{
	char		 loc[300];
	enum store_rc	 rc;

	rc = session_load(c);
	if (rc == STORE_NOTFOUND) {
		snprintf(loc, sizeof(loc), "%s/login", c->app->mount);
		resp_redirect(c->resp, 303, loc);
		return 1;
	}
	if (rc != STORE_OK)
		goto unavailable;
	if (strstr(rt->pattern, "{slug}") != NULL) {
		rc = store_ws_by_slug(c->app->db, c->req->slug, &c->ws);
		if (rc == STORE_OK)
			rc = store_user_is_member(c->app->db, c->sess.user_id,
			    c->ws.id);
		if (rc == STORE_NOTFOUND) {
			view_error(c, 404, "There is nothing at this address. "
			    "Check the link, or go back to your workspace "
			    "settings.");
			return 1;
		}
		if (rc != STORE_OK)
			goto unavailable;
		c->has_ws = 1;
	}
	if (c->req->method == REQ_POST && !session_csrf_ok(c,
	    kv_get(&c->req->form, "csrf_token"))) {
		view_error(c, 403, "This form has expired or did not come from "
		    "this site, so nothing was changed. Reload the page and "
		    "try again.");
		return 1;
	}
	return 0;
unavailable:
	view_error(c, 503, "The database is not answering. Please try again "
	    "in a moment.");
	return 1;
}

/* The path part of base_url is where the web server mounts us. */
static int
app_mount(struct app *a, char *err, size_t errlen)
{
	CURLU	*u;
	char	*path = NULL;
	size_t	 len;

	a->mount[0] = '\0';
	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, a->cfg->base_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		snprintf(err, errlen, "[server] base_url: cannot parse");
		curl_url_cleanup(u);
		return -1;
	}
	snprintf(a->mount, sizeof(a->mount), "%s", path);
	len = strlen(a->mount);
	while (len > 0 && a->mount[len - 1] == '/')
		a->mount[--len] = '\0';
	curl_free(path);
	curl_url_cleanup(u);
	return 0;
}

/*
 * Everything here is read from disk and can be wrong there, so it is
 * what a reload validates. The supervisor calls app_load at start-up and
 * on SIGHUP and keeps the result; a forked worker inherits that memory
 * and never reads these files again, so a worker started after a refused
 * reload runs the last good state, not the broken files.
 */
int
app_load(struct app *a, const char *config_path, char *err, size_t errlen)
{
	char	 why[512];

	memset(a, 0, sizeof(*a));
	if ((a->cfg = config_load(config_path, err, errlen)) == NULL)
		return -1;
	if (app_mount(a, err, errlen) == -1)
		goto fail;
	/* template.c names file:line; the operator also needs the directory. */
	if ((a->tmpl = tmpl_load_dir(a->cfg->template_dir, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s/%s", a->cfg->template_dir, why);
		goto fail;
	}
	if (!tmpl_exists(a->tmpl, "error")) {
		snprintf(err, errlen, "%s/error.html: missing",
		    a->cfg->template_dir);
		goto fail;
	}
	if (auth_init() == -1) {
		snprintf(err, errlen, "out of memory (sign-in set-up)");
		goto fail;
	}
	/*
	 * The key ring is checked (mode 0600, well-formed) here too. Workers
	 * share the supervisor's opened ring: its pages are locked in the
	 * supervisor and read-only, so they stay shared and resident in
	 * every child. A worker re-opens the ring by itself when it changed
	 * on disk (app_vault) or when it meets a newer key version.
	 */
	if ((a->vault = vault_open(a->cfg->key_ring_file, err, errlen)) ==
	    NULL)
		goto fail;
	return 0;
fail:
	app_free(a);
	return -1;
}

/*
 * What must not be shared across fork: the curl handle (its connections
 * and TLS sessions) and the MySQL connections are opened per process.
 */
int
app_start(struct app *a, char *err, size_t errlen)
{
	if ((a->graph = graph_new(a->cfg)) == NULL) {
		snprintf(err, errlen, "cannot set up the Meta Graph client");
		return -1;
	}
	if ((a->db = db_new(a->cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		graph_free(a->graph);
		a->graph = NULL;
		return -1;
	}
	/* Connect button → 303 to Meta's dialog: the CSP must allow it. */
	resp_set_form_origins(a->cfg->dialog_base_url);
	return 0;
}

struct vault *
app_vault(struct app *a)
{
	char	 err[512];

	switch (vault_refresh(&a->vault, a->cfg->key_ring_file, err,
	    sizeof(err))) {
	case 1:
		log_info("key ring reloaded: now at version %u",
		    (unsigned)vault_current_version(a->vault));
		break;
	case -1:
		log_err("key ring not reloaded, still at version %u: %s",
		    (unsigned)vault_current_version(a->vault), err);
		break;
	}
	return a->vault;
}

void
app_free(struct app *a)
{
	tmpl_free(a->tmpl);
	db_free(a->db);
	vault_close(a->vault);
	graph_free(a->graph);
	config_free(a->cfg);
	a->vault = NULL;
	a->graph = NULL;
	a->tmpl = NULL;
	a->db = NULL;
	a->cfg = NULL;
}

void
app_handle(struct app *a, FCGX_Request *f)
{
	struct req	 req;
	struct resp	 resp;
	struct ctx	 c;
	const struct route *rt;
	char		 why[256] = "", allow[32];
	int		 status, allowed;

	resp_init(&resp);
	memset(&c, 0, sizeof(c));
	c.app = a;
	c.req = &req;
	c.resp = &resp;

	db_request_begin(a->db);
	graph_budget_start(a->graph);
	if ((status = req_init(&req, f, a->mount, why, sizeof(why))) != 0) {
		view_error(&c, status, why);
		goto send;
	}
	/* No route takes more than the larger limit: refuse before routing. */
	if (req.content_length > (a->cfg->max_body > a->cfg->webhook_max_body ?
	    a->cfg->max_body : a->cfg->webhook_max_body)) {
		view_error(&c, 413, "What you sent is larger than this server "
		    "accepts.");
		goto send;
	}
	rt = router_match(routes, sizeof(routes) / sizeof(routes[0]),
	    req.method, req.path, req.slug, &status, &allowed);
	if (rt == NULL) {
		if (status == 405) {
			snprintf(allow, sizeof(allow), "%s%s%s",
			    allowed & REQ_GET ? "GET, HEAD" : "",
			    (allowed & REQ_GET) && (allowed & REQ_POST) ?
			    ", " : "", allowed & REQ_POST ? "POST" : "");
			view_error(&c, 405, "This address does not accept "
			    "that kind of request.");
			resp_header(&resp, "Allow", allow);
		} else
			view_error(&c, 404, "There is nothing at this "
			    "address. Check the link, or go back to your "
			    "workspace settings.");
		goto send;
	}
	status = req_read_body(&req, rt->flags & ROUTE_RAW_BODY ?
	    a->cfg->webhook_max_body : a->cfg->max_body,
	    !(rt->flags & ROUTE_RAW_BODY), why, sizeof(why));
	if (status != 0) {
		view_error(&c, status, why);
		goto send;
	}
	if ((rt->flags & ROUTE_SESSION) && app_gate(&c, rt) != 0)
		goto send;
	if (rt->fn(&c) == -1) {
		log_err("%s %s: handler failed", req.method_str, req.path);
		view_error(&c, 500, "Please try again in a moment.");
	}
send:
	/* Its slot in the Meta bulkhead is free before a slow client
	   reads the answer. */
	graph_budget_end(a->graph);
	resp_send(&resp, f->out, req.method == REQ_HEAD);
	log_request(req.method_str, req.path ? req.path : "-", resp.status,
	    req_now_us() - req.start_us);
	resp_free(&resp);
	req_free(&req);
}
