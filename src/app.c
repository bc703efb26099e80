#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "handlers/handlers.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "template.h"
#include "view.h"

/* The whole of DESIGN §2 that the app serves, in one table. */
static const struct route routes[] = {
	{ REQ_GET, "/healthz", h_healthz, 0 },
	{ REQ_GET, "/login", h_login_get, 0 },
};

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

int
app_init(struct app *a, struct config *cfg, char *err, size_t errlen)
{
	char	 origin[512];

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	if (app_mount(a, err, errlen) == -1)
		return -1;
	if ((a->tmpl = tmpl_load_dir(cfg->template_dir, err, errlen)) == NULL)
		return -1;
	if (!tmpl_exists(a->tmpl, "error")) {
		snprintf(err, errlen, "%s: error.html is missing",
		    cfg->template_dir);
		goto fail;
	}
	if ((a->db = db_new(cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Connect button → 303 to Meta's dialog: the CSP must allow it. */
	snprintf(origin, sizeof(origin), "%s", cfg->dialog_base_url);
	resp_set_form_origins(origin);
	return 0;
fail:
	app_free(a);
	return -1;
}

void
app_free(struct app *a)
{
	tmpl_free(a->tmpl);
	db_free(a->db);
	a->tmpl = NULL;
	a->db = NULL;
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
	c.app = a;
	c.req = &req;
	c.resp = &resp;

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
	if (rt->fn(&c) == -1) {
		log_err("%s %s: handler failed", req.method_str, req.path);
		view_error(&c, 500, "Please try again in a moment.");
	}
send:
	resp_send(&resp, f->out, req.method == REQ_HEAD);
	log_request(req.method_str, req.path ? req.path : "-", resp.status,
	    req_now_us() - req.start_us);
	resp_free(&resp);
	req_free(&req);
}
