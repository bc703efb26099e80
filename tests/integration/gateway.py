"""Connected workspaces for the gateway's tests, made quickly: the sandbox
mints a WABA with a registered number and a token for it
(/_sandbox/senders), the token is stored by `token set` (encrypted by the
vault, as always), and the connection row and the number are written as a
finished number selection leaves them (test_numbers.py covers that flow)."""
import json
import threading
import time

from client import request


# A worker reuses the API gate's read of a key, workspace and connection
# for [api] gate_lease_ms (250 ms; src/app.h): a change made by the pool is
# seen at once, one made by hand (st.sql) once that has passed.
GATE_LEASE = 0.25


def hand_edit_seen():
    """Waits until every worker has let go of what it read before."""
    time.sleep(GATE_LEASE * 1.2)


def ws_db(st, slug):
    return st.sql("SELECT db_name FROM workspaces WHERE slug = '%s'" % slug,
                  db="waba_control").strip()


def add_sender(st, sb, slug, waba, phone, default=True):
    """Connects slug to phone of waba (default: its default sender), or adds
    phone as one more of its active numbers. Returns the sandbox's token."""
    out = sb.call("POST", "/_sandbox/senders",
                  {"waba_id": waba, "phone_number_id": phone})
    db = ws_db(st, slug)
    display = "+1 555 " + phone[-4:]
    if default:
        st.admin("token", "set", slug, "waba", input=out["token"] + "\n")
        st.sql("UPDATE connection SET status = 'connected', reason = NULL, "
               "waba_id = '%s', waba_ids = '%s', phone_number_id = '%s', "
               "display_phone_number = '%s', connected_at = UTC_TIMESTAMP()"
               % (waba, waba, phone, display), db=db)
    st.sql("INSERT INTO phone_numbers (id, waba_id, display_phone_number, "
           "fetched_at, state, is_default, added_at) VALUES ('%s', '%s', '%s', "
           "UTC_TIMESTAMP(), 'active', %d, UTC_TIMESTAMP())"
           % (phone, waba, display, 1 if default else 0), db=db)
    return out["token"]


def send(port, slug, key, body, idem=None, raw=None, timeout=15, headers=None):
    """POST /api/v1/w/{slug}/messages; body a dict (or raw bytes)."""
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["Authorization"] = "Bearer " + key
    if idem is not None:
        h["Idempotency-Key"] = idem
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body).encode()
    return request(port, "POST", "/api/v1/w/%s/messages" % slug, body=data,
                   headers=h, timeout=timeout)


def add_key(st, name, scopes, workspaces=()):
    args = ["api-key", "add", name, "--scopes", scopes]
    for w in workspaces:
        args += ["--workspace", w]
    return st.admin(*args).stdout.strip()


def side_by_side(one, n, ways):
    """n calls of one() from `ways` threads at once (n // ways each):
    requests that must reach several workers, since a connection wakes
    one idle worker (EPOLLEXCLUSIVE) and calls one after the other may
    all find the same one. Returns the answers, in no order."""
    out, lock = [], threading.Lock()

    def run(k):
        for _ in range(k):
            r = one()
            with lock:
                out.append(r)
    ts = [threading.Thread(target=run, args=(n // ways,))
          for _ in range(ways)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out
