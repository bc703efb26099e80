/*
 * config: the INI file of doc/contract.md, Configuration keys, parsed once
 * into a typed struct. Every value is validated here (numbers in range,
 * URLs absolute, http:// only for loopback, identifier-safe database
 * names), so the rest of the program reads fields without re-checking
 * them. Secrets (database password, app secret, verify token) are wiped
 * when the struct is freed.
 */
#ifndef WABA_CONFIG_H
#define WABA_CONFIG_H

#include <sys/types.h>

#include <stddef.h>

/* More than the `*_file` secret keys there are (config.c). */
#define CONFIG_SECRET_FILES 8

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

struct config {
	/* [server] */
	char          *base_url;   /* no trailing slash */
	int            base_https; /* base_url is https: __Host- cookies */
	int            workers;
	long           max_requests; /* 0: never recycle */
	char          *listen;       /* HOST:PORT or unix:PATH */
	char          *template_dir;
	enum log_level log_level;
	size_t         max_body;      /* form bodies; larger is 413 */
	int            drain_seconds; /* SIGTERM grace for in-flight work */
	int            session_idle_minutes;
	int            session_max_hours;
	/*
	 * Who the pool serves as when started as root (priv.h); NULL: not
	 * given. The ids are looked up when the file is parsed.
	 */
	char *user;
	uid_t user_uid;
	gid_t user_gid;

	/* [database] */
	char *db_host; /* exactly one of host and socket */
	int   db_port;
	char *db_socket;
	char *db_user;
	char *db_password; /* secret; may be NULL */
	char *control_db;
	char *workspace_db_prefix;

	/* [crypto] */
	char *key_ring_file;

	/* [meta] */
	char  *app_id;        /* digits only */
	char  *app_secret;    /* secret */
	char  *config_id;     /* may be NULL: scope= is sent instead */
	char  *graph_version; /* like v25.0 */
	char  *graph_base_url;
	char  *dialog_base_url;
	char  *sdk_url;              /* the JS SDK the popup loads */
	char  *webhook_verify_token; /* secret */
	char  *ca_file;              /* may be NULL: the system's CAs */
	long   connect_timeout_ms;
	long   timeout_ms;
	int    max_retries;
	long   request_budget_ms;    /* all Graph calls of one request */
	int    max_concurrent_calls; /* 0: half the workers, >= 1 */
	int    breaker_failures;
	int    breaker_seconds;
	size_t webhook_max_body;
	int    webhook_silence_minutes;
	/* [webhooks]: stored events and hourly counters older are pruned. */
	int webhook_retention_days;
	/* [api]: long-polls of GET /events at once, across the pool;
	   config_parse resolves 0 (unset) to a quarter of the workers. */
	int api_max_waiting;
	/* [api]: how long a worker reuses the key gate's read; 0: never. */
	int api_gate_lease_ms;
	/* [api]: the largest body POST /media and /uploads take. */
	size_t api_max_upload_bytes;
	/* [events]: every event POSTed to push_url (NULL: no push), signed
	   with push_secret; the supervisor then runs a pusher child. */
	char *push_url;
	char *push_secret;
	/* [monitor]: the standalone supervisor runs the health monitor as
	   a child (enabled, default true); each workspace is checked once
	   per interval; a token expiring within expiry_warning_days is a
	   warning. */
	int monitor_enabled;
	int monitor_interval_minutes;
	int monitor_expiry_warning_days;
	/* Operations (issue 15). [metrics] allow: who GET /metrics answers
	   (metrics_allowed), checked here. [server] log_format: text (the
	   default) or json, one object a line (log.c). */
	char *metrics_allow;
	char *log_format;
	int   log_json;
	/* [sender] (issue 13): the outbox's sender, a supervisor child
	   when enabled (default false); requests in flight; Meta's
	   limits per number and per number and recipient; attempts of a
	   send Meta proved it did not act on; how old a 'sending' row
	   must be to be declared unknown after a crash. */
	int sender_enabled;
	int sender_max_in_flight;
	int sender_per_number_mps;
	int sender_pair_interval_ms;
	int sender_max_attempts;
	int sender_claim_timeout_s;
	/* Where each secret given by a `*_file` key came from ([database]
	   password_file, [meta] app_secret_file and
	   webhook_verify_token_file, [events] push_secret_file), in the
	   file's order: doctor checks who else may read or replace them.
	   section and key are static; path is owned. */
	struct config_secret_file {
		const char *section, *key;
		char       *path;
	} secret_files[CONFIG_SECRET_FILES];
	int nsecret_files;
};

/*
 * Parse `text` (named `name` in messages). On error returns NULL and
 * leaves one line in err naming the file, line and key; the line never
 * contains a secret's value. The caller owns the result: config_free().
 */
struct config *config_parse(const char *name, const char *text, char *err,
    size_t errlen);
/* Read and parse the file at path; as config_parse otherwise. */
struct config *config_load(const char *path, char *err, size_t errlen);
/* Frees c and wipes its secrets; NULL is fine. */
void config_free(struct config *c);
/* 1 when url's host is a loopback literal (127/8, [::1]) or localhost. */
int config_url_is_loopback(const char *url);
/*
 * scheme://host[:port] of an absolute URL, as a CSP source and a
 * message event's origin spell it (RFC 6454: no path, no default
 * port). 0, or -1 when it does not parse or out is too small.
 */
int config_url_origin(const char *url, char *out, size_t outlen);

#endif
