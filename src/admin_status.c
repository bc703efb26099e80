/*
 * waba-connect-admin status: a workspace's WhatsApp connection, catalog
 * and webhook health, as text or (--json) one JSON object.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin.h"
#include "status.h"
#include "store/connection.h"
#include "store/numbers.h"
#include "store/sql.h"
#include "store/webhooks.h"
#include "store/workspaces.h"

static const char *
dash(const char *s)
{
	return *s ? s : "-";
}

static void
status_text(const struct workspace *ws, const struct conn_row *r,
    const struct num_row *nums, size_t n, const char *last, long long day)
{
	size_t i;

	printf("workspace       %s (%s)\n", ws->slug, ws->name);
	printf("status          %s\n", r->status);
	printf("reason          %s\n", dash(r->reason));
	printf("WABA            %s\n", dash(r->waba_id));
	if (r->phone_number_id[0])
		printf("phone number    %s (id %s)\n",
		    dash(r->display_phone_number), r->phone_number_id);
	else
		printf("phone number    -\n");
	for (i = 0; i < n; i++)
		printf("  number        %s (id %s) %s%s\n",
		    dash(nums[i].display_phone_number), nums[i].id,
		    nums[i].state, nums[i].is_default ? ", default" : "");
	if (!r->has_token)
		printf("token           none\n");
	else
		printf("token           key version %" PRIu32 ", expires "
		       "%s%s\n",
		    r->key_version,
		    r->token_expires_at[0] ? r->token_expires_at
		                           : "never (or unknown)",
		    r->token_expires_at[0] ? " UTC" : "");
	if (r->has_catalog)
		printf("catalog         %s (%s)\n", r->catalog_id,
		    r->catalog_status);
	else
		printf("catalog         not connected\n");
	printf("last webhook    %s%s\n", *last ? last : "never",
	    *last ? " UTC" : "");
	printf("webhook events  %lld in the last 24 hours\n", day);
}

int
admin_status(struct ctx *c)
{
	struct workspace ws;
	struct conn_row  r;
	struct num_row  *nums;
	size_t           n;
	char             last[32];
	long             day;
	enum store_rc    rc;
	json_object     *o;
	int              ret;

	if ((ret = admin_find_workspace(c, c->argv[0], &ws)) != 0)
		return ret;
	/* The object GET /connection answers too (status.c). */
	if (c->json) {
		if ((rc = status_object(c->db, &ws, &o)) != STORE_OK)
			return admin_store_fail(rc, "reading the status");
		ret = admin_print_json(o);
		json_object_put(o);
		return ret;
	}
	if ((rc = store_conn_get(c->db, &ws, &r)) != STORE_OK)
		return admin_store_fail(rc, "reading the connection");
	if ((rc = store_wh_health(c->db, &ws, last, &day)) != STORE_OK)
		return admin_store_fail(rc, "reading webhook events");
	if ((rc = store_num_list(c->db, &ws, &nums, &n)) != STORE_OK)
		return admin_store_fail(rc, "reading the phone numbers");
	status_text(&ws, &r, nums, n, last, day);
	free(nums);
	return 0;
}
