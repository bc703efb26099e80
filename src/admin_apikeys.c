/*
 * waba-connect-admin api-key add|list|revoke: the keys other services
 * of the SaaS use for the internal API (doc/contract.md, Internal API).
 * A key is printed once, by add, on stdout and alone on its line, so a
 * script can capture it; it is never stored (only its hash, apikey.h)
 * and never printed again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "admin.h"
#include "apikey.h"
#include "config.h"
#include "meta_gate.h"
#include "store/apikeys.h"
#include "store/sql.h"
#include "store/workspaces.h"

/* "YYYY-MM-DD HH:MM:SS" to ISO 8601 UTC; NULL (JSON null) for "". */
static json_object *
jtime(const char *sql)
{
	char iso[24];

	if (strlen(sql) < 19 || sql[10] != ' ')
		return NULL;
	snprintf(iso, sizeof(iso), "%.10sT%.8sZ", sql, sql + 11);
	return json_object_new_string(iso);
}

int
admin_apikey_add(struct ctx *c)
{
	struct workspace ws;
	uint64_t         ids[ADMIN_MAX_WORKSPACES];
	unsigned char    hash[APIKEY_HASH_BYTES];
	char             key[APIKEY_LEN + 1], shown[APIKEY_SHOWN_LEN + 1];
	char             bad[80], why[300];
	const char      *name = c->argv[0];
	unsigned         scopes;
	enum store_rc    rc;
	int              i, ret;

	if (!apikey_name_valid(name))
		return admin_misuse("api-key",
		    "bad key name: use 1 to 64 of "
		    "A-Z, a-z, 0-9, '.', '_' and '-'");
	if (c->scopes == NULL)
		return admin_misuse("api-key",
		    "give the key's scopes with "
		    "--scopes S[,S...]");
	if (apikey_scopes_parse(c->scopes, &scopes, bad, sizeof(bad)) == -1) {
		snprintf(why, sizeof(why),
		    "--scopes: \"%s\" is not a scope; "
		    "use connection:read, messages:send, templates:read, "
		    "templates:write, media:write, catalog:write, events:read",
		    bad);
		return admin_misuse("api-key", why);
	}
	if (c->nworkspaces == 0 && admin_need_db(c, 1) == -1)
		return EX_FAIL;
	/* Every workspace named must exist before anything is written. */
	for (i = 0; i < c->nworkspaces; i++) {
		if ((ret = admin_find_workspace(c, c->workspaces[i], &ws)) != 0)
			return ret;
		ids[i] = ws.id;
	}
	apikey_new(key);
	apikey_hash(key, hash);
	apikey_shown(key, shown);
	rc = store_apikey_add(c->db, name, hash, shown, scopes,
	    c->nworkspaces == 0, ids, (size_t)c->nworkspaces);
	if (rc == STORE_OK) {
		printf("%s\n", key);
		fprintf(stderr,
		    PROG ": api key %s made (%s..., %s); it is shown "
		         "only this once\n",
		    name, shown,
		    c->nworkspaces == 0 ? "every workspace"
		                        : "its workspaces only");
	}
	sodium_memzero(key, sizeof(key));
	if (rc == STORE_DUP)
		return admin_fail("there is already an api key named %s (a "
		                  "revoked key keeps its name)",
		    name);
	if (rc != STORE_OK)
		return admin_store_fail(rc, "storing the api key");
	return 0;
}

static int
list_json(const struct apikey_row *rows, size_t n)
{
	json_object *arr, *o, *sc, *ws;
	const char  *name;
	char        *list, *tok, *save;
	size_t       i;
	unsigned     b;
	int          ret;

	if ((arr = json_object_new_array()) == NULL)
		return admin_fail("out of memory");
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		sc = json_object_new_array();
		ws = json_object_new_array();
		list = strdup(rows[i].workspaces);
		if (o == NULL || sc == NULL || ws == NULL || list == NULL) {
			json_object_put(o);
			json_object_put(sc);
			json_object_put(ws);
			free(list);
			json_object_put(arr);
			return admin_fail("out of memory");
		}
		for (b = 1; b < 1u << APIKEY_NSCOPES; b <<= 1)
			if ((rows[i].scopes & b) &&
			    (name = apikey_scope_name(b)) != NULL)
				json_object_array_add(sc,
				    json_object_new_string(name));
		for (tok = strtok_r(list, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save))
			json_object_array_add(ws, json_object_new_string(tok));
		free(list);
		json_object_object_add(o, "name",
		    json_object_new_string(rows[i].name));
		json_object_object_add(o, "prefix",
		    json_object_new_string(rows[i].shown));
		json_object_object_add(o, "scopes", sc);
		json_object_object_add(o, "all_workspaces",
		    json_object_new_boolean(rows[i].all_ws));
		json_object_object_add(o, "workspaces", ws);
		json_object_object_add(o, "created_at",
		    jtime(rows[i].created_at));
		json_object_object_add(o, "last_used_at",
		    jtime(rows[i].last_used_at));
		json_object_object_add(o, "revoked_at",
		    jtime(rows[i].revoked_at));
		json_object_array_add(arr, o);
	}
	ret = admin_print_json(arr);
	json_object_put(arr);
	return ret;
}

static void
list_text(const struct apikey_row *rows, size_t n)
{
	char   sc[256];
	size_t i;

	printf("%-20s %-15s %-8s %-19s %-19s %s\n", "NAME", "PREFIX", "STATE",
	    "CREATED (UTC)", "LAST USED (UTC)", "SCOPES / WORKSPACES");
	for (i = 0; i < n; i++) {
		if (apikey_scopes_format(rows[i].scopes, sc, sizeof(sc)) == -1)
			sc[0] = '\0';
		printf("%-20s %s... %-8s %-19s %-19s %s / %s\n", rows[i].name,
		    rows[i].shown, rows[i].revoked_at[0] ? "revoked" : "active",
		    rows[i].created_at,
		    rows[i].last_used_at[0] ? rows[i].last_used_at : "never",
		    sc,
		    rows[i].all_ws            ? "every workspace"
		        : *rows[i].workspaces ? rows[i].workspaces
		                              : "none left");
	}
}

int
admin_apikey_list(struct ctx *c)
{
	struct apikey_row *rows;
	size_t             n;
	enum store_rc      rc;
	int                ret = 0;

	if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	if ((rc = store_apikey_list(c->db, &rows, &n)) != STORE_OK)
		return admin_store_fail(rc, "listing the api keys");
	if (c->json)
		ret = list_json(rows, n);
	else
		list_text(rows, n);
	store_apikey_list_free(rows, n);
	return ret;
}

int
admin_apikey_revoke(struct ctx *c)
{
	const char   *name = c->argv[0];
	enum store_rc rc;
	int           already;

	if (!apikey_name_valid(name))
		return admin_misuse("api-key",
		    "bad key name: use 1 to 64 of "
		    "A-Z, a-z, 0-9, '.', '_' and '-'");
	if (admin_need_db(c, 1) == -1)
		return EX_FAIL;
	rc = store_apikey_revoke(c->db, name, &already);
	if (rc == STORE_NOTFOUND)
		return admin_fail("no api key named %s", name);
	if (rc != STORE_OK)
		return admin_store_fail(rc, "revoking the api key");
	/*
	 * A worker may reuse what it read of the key for a moment ([api]
	 * gate_lease_ms): once that has passed, every worker of every host
	 * refuses the key on its next request. Already revoked too: by a
	 * run whose wait was cut short, or whose answer was lost.
	 */
	gate_conn_settle(c->cfg->api_gate_lease_ms);
	printf("api key %s %s\n", name,
	    already ? "was already revoked" : "revoked");
	return 0;
}
