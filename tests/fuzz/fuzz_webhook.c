/*
 * Meta's webhook deliveries (src/webhook.h): the body is the input as
 * Meta's POST would bring it, signature and all. webhook_parse must
 * accept or refuse it without a crash, leak or unterminated field, and
 * webhook_signature_ok must agree with an HMAC computed here.
 */
#include <ctype.h>

#include <sodium.h>

#include "fuzz.h"
#include "webhook.h"

#define SECRET "fuzz-app-secret"

/* "sha256=" + lowercase hex of HMAC-SHA256(SECRET, body). */
static void
sign(const void *body, size_t len, char out[72])
{
	crypto_auth_hmacsha256_state st;
	unsigned char                mac[32];

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET,
	    strlen(SECRET));
	crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "sha256=", 7);
	sodium_bin2hex(out + 7, 65, mac, sizeof(mac));
}

static void
check_signature(const uint8_t *data, size_t size)
{
	char           good[72], bad[80];
	const uint8_t *nl;
	size_t         i, hlen;

	sign(data, size, good);
	FUZZ_CHECK(webhook_signature_ok(SECRET, good, data, size) == 1);
	for (i = 7; good[i]; i++)
		bad[i] = (char)toupper((unsigned char)good[i]);
	memcpy(bad, good, 7);
	bad[i] = '\0';
	FUZZ_CHECK(webhook_signature_ok(SECRET, bad, data, size) == 1);
	memcpy(bad, good, sizeof(good));
	bad[70] = bad[70] == '0' ? '1' : '0';
	FUZZ_CHECK(webhook_signature_ok(SECRET, bad, data, size) == 0);
	bad[70] = good[70];
	bad[71] = '0';
	bad[72] = '\0';
	FUZZ_CHECK(webhook_signature_ok(SECRET, bad, data, size) == 0);
	bad[70] = '\0';
	FUZZ_CHECK(webhook_signature_ok(SECRET, bad, data, size) == 0);
	FUZZ_CHECK(webhook_signature_ok("", good, data, size) == 0);
	FUZZ_CHECK(webhook_signature_ok(SECRET, NULL, data, size) == 0);

	/*
	 * Input as "header\nbody": a header the fuzzer writes is refused
	 * unless it is the body's true signature (any case).
	 */
	if ((nl = memchr(data, '\n', size)) != NULL && nl - data < 80) {
		hlen = (size_t)(nl - data);
		memcpy(bad, data, hlen);
		bad[hlen] = '\0';
		sign(nl + 1, size - hlen - 1, good);
		FUZZ_CHECK(webhook_signature_ok(SECRET, bad, nl + 1,
		               size - hlen - 1) ==
		    (strlen(bad) == 71 && strncmp(bad, good, 7) == 0 &&
		        strcasecmp(bad + 7, good + 7) == 0));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webhook_batch b;
	char                 err[256], reason[256];
	size_t               i;
	enum webhook_err     rc;

	check_signature(data, size);

	rc = webhook_parse((const char *)data, size, &b, err, sizeof(err));
	FUZZ_CHECK(
	    rc == WEBHOOK_OK || rc == WEBHOOK_MALFORMED || rc == WEBHOOK_NOMEM);
	FUZZ_CHECK(FUZZ_TERMINATED(err));
	/* A refusal says why; an empty reason would log nothing useful. */
	if (rc != WEBHOOK_OK)
		FUZZ_CHECK(err[0] != '\0');
	if (rc != WEBHOOK_OK)
		FUZZ_CHECK(b.n == 0 && b.ev == NULL);
	FUZZ_CHECK(b.n <= WEBHOOK_MAX_EVENTS);
	for (i = 0; i < b.n; i++) {
		const struct webhook_event *ev = &b.ev[i];

		FUZZ_CHECK(FUZZ_TERMINATED(ev->waba_id));
		FUZZ_CHECK(FUZZ_TERMINATED(ev->phone_number_id));
		FUZZ_CHECK(FUZZ_TERMINATED(ev->id));
		FUZZ_CHECK(FUZZ_TERMINATED(ev->status));
		FUZZ_CHECK(FUZZ_TERMINATED(ev->from));
		FUZZ_CHECK(FUZZ_TERMINATED(ev->to));
		FUZZ_CHECK(FUZZ_TERMINATED(ev->type));
		FUZZ_CHECK(FUZZ_TERMINATED(ev->text));
		FUZZ_CHECK(FUZZ_TERMINATED(ev->event));
		/* Ids are digits only (webhook.h). */
		FUZZ_CHECK(
		    strspn(ev->waba_id, "0123456789") == strlen(ev->waba_id));
		FUZZ_CHECK(strspn(ev->phone_number_id, "0123456789") ==
		    strlen(ev->phone_number_id));
		/* Coexistence events are routed by their number: never none. */
		if (ev->kind == WEBHOOK_ECHO ||
		    ev->kind == WEBHOOK_STATE_SYNC ||
		    ev->kind == WEBHOOK_HISTORY)
			FUZZ_CHECK(ev->phone_number_id[0] != '\0');
		/* Only an echo names who it went to, and always does. */
		FUZZ_CHECK((ev->kind == WEBHOOK_ECHO) == (ev->to[0] != '\0'));
		reason[0] = 'x';
		if (webhook_event_is_loss(ev, reason, sizeof(reason)))
			FUZZ_CHECK(ev->kind == WEBHOOK_ACCOUNT_UPDATE);
		FUZZ_CHECK(FUZZ_TERMINATED(reason));
		/* A reason with no room is never written. */
		(void)webhook_event_is_loss(ev, NULL, 0);
		/* A restriction or ban is a loss; only account_update has one. */
		if (webhook_event_standing(ev) == WEBHOOK_RESTRICTED)
			FUZZ_CHECK(webhook_event_is_loss(ev, NULL, 0));
		if (webhook_event_standing(ev) != WEBHOOK_NEUTRAL)
			FUZZ_CHECK(ev->kind == WEBHOOK_ACCOUNT_UPDATE);
		FUZZ_CHECK(ev->until >= 0);
	}
	webhook_batch_free(&b);
	return 0;
}
