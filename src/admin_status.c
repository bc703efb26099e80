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
#include "store/connection.h"
#include "store/numbers.h"
#include "store/sql.h"
#include "store/webhooks.h"
#include "store/workspaces.h"

/* "YYYY-MM-DD HH:MM:SS" (UTC, as the store gives it) to ISO 8601. */
static const char *
iso_utc(const char *sql, char out[24])
{
	if (strlen(sql) < 19 || sql[10] != ' ')
		return NULL;
	snprintf(out, 24, "%.10sT%.8sZ", sql, sql + 11);
	return out;
}

static int
status_json(const struct workspace *ws, const struct conn_row *r,
    const struct num_row *nums, size_t n, const char *last, long long day)
{
	json_object *o, *k, *arr, *p;
	char         t1[24], t2[24];
	size_t       i;
	int          ret;

	o = json_object_new_object();
	k = json_object_new_object();
	if (o == NULL || k == NULL) {
		json_object_put(o);
		json_object_put(k);
		return admin_fail("out of memory");
	}
	json_object_object_add(o, "workspace", admin_jstr(ws->slug));
	json_object_object_add(o, "status", admin_jstr(r->status));
	json_object_object_add(o, "reason", admin_jstr(r->reason));
	json_object_object_add(o, "waba_id", admin_jstr(r->waba_id));
	json_object_object_add(o, "phone_number_id",
	    admin_jstr(r->phone_number_id));
	json_object_object_add(o, "display_phone_number",
	    admin_jstr(r->display_phone_number));
	/* doc/contract.md, JSON shapes: the default first. */
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		p = json_object_new_object();
		json_object_object_add(p, "phone_number_id",
		    admin_jstr(nums[i].id));
		json_object_object_add(p, "display_phone_number",
		    admin_jstr(nums[i].display_phone_number));
		json_object_object_add(p, "verified_name",
		    admin_jstr(nums[i].verified_name));
		json_object_object_add(p, "quality_rating",
		    admin_jstr(nums[i].quality_rating));
		json_object_object_add(p, "status", admin_jstr(nums[i].state));
		json_object_object_add(p, "is_default",
		    json_object_new_boolean(nums[i].is_default));
		json_object_object_add(p, "coexistence",
		    json_object_new_boolean(nums[i].coexistence));
		json_object_object_add(p, "max_mps",
		    nums[i].max_mps > 0 ? json_object_new_int(nums[i].max_mps)
		                        : NULL);
		json_object_array_add(arr, p);
	}
	json_object_object_add(o, "phone_numbers", arr);
	json_object_object_add(o, "token_expires_at",
	    admin_jstr(iso_utc(r->token_expires_at, t1)));
	json_object_object_add(k, "catalog_id",
	    admin_jstr(r->has_catalog ? r->catalog_id : NULL));
	json_object_object_add(k, "status",
	    admin_jstr(r->has_catalog ? r->catalog_status : "not_connected"));
	json_object_object_add(o, "catalog", k);
	json_object_object_add(o, "last_webhook_at",
	    admin_jstr(iso_utc(last, t2)));
	json_object_object_add(o, "webhook_events", json_object_new_int64(day));
	ret = admin_print_json(o);
	json_object_put(o);
	return ret;
}

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
	int              ret;

	if ((ret = admin_find_workspace(c, c->argv[0], &ws)) != 0)
		return ret;
	if ((rc = store_conn_get(c->db, &ws, &r)) != STORE_OK)
		return admin_store_fail(rc, "reading the connection");
	if ((rc = store_wh_health(c->db, &ws, last, &day)) != STORE_OK)
		return admin_store_fail(rc, "reading webhook events");
	if ((rc = store_num_list(c->db, &ws, &nums, &n)) != STORE_OK)
		return admin_store_fail(rc, "reading the phone numbers");
	if (c->json)
		ret = status_json(&ws, &r, nums, n, last, day);
	else {
		status_text(&ws, &r, nums, n, last, day);
		ret = 0;
	}
	free(nums);
	return ret;
}
