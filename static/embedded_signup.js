/*
 * Embedded Signup v4 in Meta's popup, as a progressive enhancement of the
 * Connect form (doc/architecture.md, The Embedded Signup popup).
 *
 * Without this script, or until Meta's JS SDK has loaded, the form posts
 * to /connect and the full-page redirect flow runs unchanged. Once the SDK
 * is ready, Connect opens the popup instead (FB.login, called in the
 * click itself so no popup blocker stops it) and, meanwhile, asks our
 * server for a single-use state (the same POST to /connect, with
 * popup=1 and the page's CSRF token). When Meta has answered with both
 * the code (FB.login's callback) and the session info (the
 * WA_EMBEDDED_SIGNUP message), a plain form POST carries code, state,
 * session info and CSRF token to /embedded-signup, and the browser
 * follows its 303 like the callback's. Cancel and error only write a
 * message on this page (textContent: Meta's words are never HTML);
 * nothing changes on the server.
 *
 * Reference: Meta, Embedded Signup "Implementation" (v4): FB.init,
 * FB.login with config_id, response_type 'code',
 * override_default_response_type, extras; the message event.
 */
(function () {
	'use strict';

	var form = document.getElementById('connect-form');
	var note = document.getElementById('signup-note');
	var d, csrf, trustedOrigins, ready = false, attempt = null;

	if (!form || !note || !form.dataset.signupAction || !window.fetch ||
	    !window.URLSearchParams)
		return;
	d = form.dataset;
	csrf = form.querySelector('input[name="csrf_token"]');
	if (!csrf)
		return;

	function originOf(url) {
		try {
			return new URL(url, window.location.href).origin;
		} catch (e) {
			return null;
		}
	}

	/*
	 * Meta's messages come from its own pages (the dialog's origin,
	 * www.facebook.com by default, or another facebook.com host); a
	 * stand-in SDK (the sandbox's, [meta] sdk_url) posts from its own
	 * origin. Anything else on the page's message bus is not Meta.
	 */
	trustedOrigins = [originOf(d.sdkUrl), d.sdkOrigin,
	    originOf(d.dialogOrigin)];
	function trusted(origin) {
		var u;

		if (trustedOrigins.indexOf(origin) !== -1)
			return true;
		try {
			u = new URL(origin);
		} catch (e) {
			return false;
		}
		return u.protocol === 'https:' && (u.hostname === 'facebook.com' ||
		    u.hostname.slice(-'.facebook.com'.length) === '.facebook.com');
	}

	function say(kind, text) {
		note.textContent = text;
		note.className = 'banner ' + kind;
		note.hidden = false;
	}

	function digits(v) {
		return typeof v === 'string' && /^[0-9]{1,32}$/.test(v) ? v :
		    typeof v === 'number' && v >= 0 && isFinite(v) ? String(v) :
		    null;
	}

	function finish(text) {
		if (attempt && attempt.timer)
			window.clearTimeout(attempt.timer);
		attempt = null;
		if (text)
			say('warn', text);
	}

	/* A form POST, so the server's 303 is followed like the callback's. */
	function post(a) {
		var f = document.createElement('form');
		var fields = { csrf_token: csrf.value, code: a.code,
		    state: a.state };
		var k, i, input;

		if (a.info) {
			fields.waba_id = digits(a.info.waba_id);
			fields.phone_number_id = digits(a.info.phone_number_id);
			fields.business_id = digits(a.info.business_id);
		}
		f.method = 'post';
		f.action = d.signupAction;
		f.hidden = true;
		k = Object.keys(fields);
		for (i = 0; i < k.length; i++) {
			if (fields[k[i]] === null || fields[k[i]] === undefined)
				continue;
			input = document.createElement('input');
			input.type = 'hidden';
			input.name = k[i];
			input.value = fields[k[i]];
			f.appendChild(input);
		}
		document.body.appendChild(f);
		say('ok', 'Connected on Meta\'s side. Finishing here...');
		attempt = null;
		f.submit();
	}

	/*
	 * Called whenever one of the three answers arrives (state, code,
	 * message), in whatever order Meta sends them.
	 */
	function settle() {
		var a = attempt;

		if (!a)
			return;
		if (a.error) {
			finish('Meta could not complete the connection and said: "' +
			    a.error + '" Nothing was changed. Try connecting ' +
			    'again.' + (a.ref ? ' Reference for Meta support: ' +
			    a.ref : ''));
			return;
		}
		if (a.cancelStep !== undefined) {
			finish('You closed Meta\'s window before finishing' +
			    (a.cancelStep ? ' (at the step "' + a.cancelStep +
			    '")' : '') + ', so nothing was changed. You can ' +
			    'connect whenever you are ready.');
			return;
		}
		if (a.stateFailed) {
			finish('This page could not start the connection. ' +
			    'Reload it and try again.');
			return;
		}
		if (a.closed && !a.code) {
			/* Meta's CANCEL message may follow the callback. */
			if (!a.timer)
				a.timer = window.setTimeout(function () {
					if (attempt === a)
						finish('You closed Meta\'s ' +
						    'window before finishing, ' +
						    'so nothing was changed.');
				}, 1000);
			return;
		}
		if (!a.code || !a.state)
			return;
		if (a.info || a.waited) {
			post(a);
			return;
		}
		/* The code came first: give the session info a moment. */
		if (!a.timer)
			a.timer = window.setTimeout(function () {
				if (attempt === a) {
					a.waited = true;
					settle();
				}
			}, 1500);
	}

	window.addEventListener('message', function (ev) {
		var m = ev.data, data;

		if (!attempt || !trusted(ev.origin))
			return;
		if (typeof m === 'string') {
			try {
				m = JSON.parse(m);
			} catch (e) {
				return;	/* the SDK's other traffic */
			}
		}
		if (!m || m.type !== 'WA_EMBEDDED_SIGNUP')
			return;
		data = m.data || {};
		switch (m.event) {
		case 'FINISH':
		case 'FINISH_ONLY_WABA':
		case 'FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING':
			attempt.info = data;
			break;
		case 'CANCEL':
		case 'ERROR':
			/* A reported error comes as CANCEL or ERROR with
			   error_message; an abandoned flow with current_step. */
			if (data.error_message) {
				attempt.error = String(data.error_message);
				attempt.ref = [data.error_id || data.error_code,
				    data.session_id].
				    filter(function (x) { return x; }).join(' / ');
			} else if (m.event === 'ERROR')
				attempt.error = 'an unknown error';
			else
				attempt.cancelStep = data.current_step ?
				    String(data.current_step) : '';
			break;
		default:
			return;
		}
		settle();
	});

	/*
	 * feature: '' (the default Cloud API flow) or
	 * 'whatsapp_business_app_onboarding' (coexistence: a number that
	 * stays on the WhatsApp Business app, which only the popup offers).
	 */
	function start(feature) {
		var a = { };

		attempt = a;
		note.hidden = true;
		window.FB.login(function (response) {
			if (attempt !== a)
				return;
			if (response && response.authResponse &&
			    response.authResponse.code)
				a.code = String(response.authResponse.code);
			else
				a.closed = true;
			settle();
		}, {
			config_id: d.configId,
			response_type: 'code',
			override_default_response_type: true,
			/* v4 is the configuration's; setup, featureType and
			   sessionInfoVersion as the implementation reference
			   passes them. */
			extras: { setup: {}, featureType: feature,
			    sessionInfoVersion: '3' }
		});
		window.fetch(form.action, {
			method: 'POST',
			credentials: 'same-origin',
			headers: { 'Accept': 'application/json' },
			body: new URLSearchParams({ csrf_token: csrf.value,
			    popup: '1' })
		}).then(function (r) {
			if (!r.ok)
				throw new Error('state: ' + r.status);
			return r.json();
		}).then(function (j) {
			if (typeof j.state !== 'string' ||
			    !/^[0-9a-f]{64}$/.test(j.state))
				throw new Error('state: malformed');
			a.state = j.state;
			settle();
		}).catch(function () {
			a.stateFailed = true;
			if (attempt === a)
				settle();
		});
	}

	form.addEventListener('submit', function (ev) {
		var b = ev.submitter;

		if (!ready)
			return;		/* no SDK (yet): the redirect flow */
		ev.preventDefault();
		if (!attempt)
			start(b && b.value === 'whatsapp_business_app_onboarding' ?
			    'whatsapp_business_app_onboarding' : '');
	});

	window.fbAsyncInit = function () {
		/* No app events: the page's CSP lets the SDK reach its own
		   origin only, and nothing about the merchant goes to Meta
		   from here but the login itself. */
		window.FB.init({
			appId: d.appId,
			autoLogAppEvents: false,
			xfbml: false,
			version: d.graphVersion
		});
		ready = true;
		form.setAttribute('data-popup-ready', '1');
		/* Coexistence exists only in the popup: shown once it can open. */
		if (document.getElementById('connect-app'))
			document.getElementById('connect-app').hidden = false;
	};
	(function () {
		var s = document.createElement('script');

		s.src = d.sdkUrl;
		s.async = true;
		s.defer = true;
		document.head.appendChild(s);
	})();
})();
