<?php
/*
 * The peer of the settings page (issue 14): the same page as plain,
 * idiomatic PHP on PHP-FPM, the way a Laravel controller would read it
 * minus the framework (an upper bound for one). PDO with real prepared
 * statements (ATTR_EMULATE_PREPARES off), a persistent connection per
 * FPM child, OPcache on (bench/suite.py's php-fpm.conf).
 *
 * Its queries are the page's before tuning (the 13-round-trip version,
 * before commits 81201dc, a34c8e7 and d1f775b): the session with its
 * user, the workspace by slug, the membership, the connection with its
 * catalog, the newest test message, the webhook counters; plus the two
 * reads the page has gained since (its numbers and the health row), so
 * that it shows the same things.
 */
$db = new PDO('mysql:unix_socket=' . getenv('WABA_DB_SOCKET') .
    ';dbname=waba_control;charset=utf8mb4', 'waba',
    trim(file_get_contents(getenv('WABA_DB_PASSWORD_FILE'))), [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_EMULATE_PREPARES => false,
        PDO::ATTR_PERSISTENT => true,
    ]);

function h($s) { return htmlspecialchars((string)$s, ENT_QUOTES, 'UTF-8'); }

function fail($code, $msg)
{
    http_response_code($code);
    echo h($msg);
    exit;
}

if (!preg_match('#^/w/([a-z0-9-]{1,63})/settings/whatsapp$#',
    $_SERVER['PATH_INFO'] ?? '', $m))
    fail(404, 'Not found');
$slug = $m[1];
$cookie = $_COOKIE['waba_session'] ?? '';
if (!preg_match('/^[0-9a-f]{64}$/', $cookie))
    fail(303, 'Sign in');

/* 1: the session and its user. */
$q = $db->prepare('SELECT s.user_id, u.email, s.csrf_token FROM sessions s ' .
    'JOIN users u ON u.id = s.user_id WHERE s.id_hash = ? AND ' .
    's.expires_at > UTC_TIMESTAMP() AND s.last_seen_at > UTC_TIMESTAMP() - ' .
    'INTERVAL 60 MINUTE');
$q->execute([hash('sha256', hex2bin($cookie), true)]);
$sess = $q->fetch(PDO::FETCH_ASSOC);
if (!$sess)
    fail(303, 'Sign in');
/* 2: the workspace by slug. */
$q = $db->prepare('SELECT id, slug, name, db_name FROM workspaces ' .
    'WHERE slug = ?');
$q->execute([$slug]);
$ws = $q->fetch(PDO::FETCH_ASSOC);
if (!$ws)
    fail(404, 'Not found');
/* 3: the membership. */
$q = $db->prepare('SELECT 1 FROM memberships WHERE user_id = ? AND ' .
    'workspace_id = ?');
$q->execute([$sess['user_id'], $ws['id']]);
if (!$q->fetch())
    fail(404, 'Not found');
$w = '`' . $ws['db_name'] . '`';
/* 4: the connection with its catalog. */
$q = $db->prepare("SELECT c.status, c.reason, c.waba_id, c.waba_ids, " .
    "c.scopes, c.token_ct IS NOT NULL AS has_token, c.token_key_version, " .
    "c.token_expires_at, c.phone_number_id, c.display_phone_number, " .
    "c.verified_name, c.quality_rating, c.connected_at, " .
    "c.last_verified_at, k.catalog_id, k.catalog_name, k.status AS kst, " .
    "k.reason AS kreason FROM $w.connection c LEFT JOIN $w.catalog k " .
    "ON k.id = 1 WHERE c.id = 1");
$q->execute();
$c = $q->fetch(PDO::FETCH_ASSOC);
if (!$c)
    fail(500, 'This workspace\'s data could not be read.');
/* 5: the newest test message. */
$q = $db->prepare("SELECT detail, at FROM $w.audit_log WHERE action = ? " .
    "ORDER BY id DESC LIMIT 1");
$q->execute(['test_message']);
$test = $q->fetch(PDO::FETCH_ASSOC);
/* 6: the webhook counters. */
$q = $db->prepare("SELECT (SELECT last_at FROM $w.webhook_hourly ORDER BY " .
    "hour DESC LIMIT 1) AS last_at, (SELECT COALESCE(SUM(events), 0) FROM " .
    "$w.webhook_hourly WHERE hour >= DATE_FORMAT(UTC_TIMESTAMP(), " .
    "'%Y-%m-%d %H:00:00') - INTERVAL 23 HOUR) AS n");
$q->execute();
$hooks = $q->fetch(PDO::FETCH_ASSOC);
/* 7: the numbers. */
$q = $db->prepare("SELECT id, display_phone_number, verified_name, " .
    "quality_rating, state, is_default FROM $w.phone_numbers " .
    "ORDER BY is_default DESC, added_at, id");
$q->execute();
$nums = $q->fetchAll(PDO::FETCH_ASSOC);
/* 8: the health monitor's row. */
$q = $db->prepare("SELECT checked_at FROM $w.health WHERE id = 1");
$q->execute();
$health = $q->fetch(PDO::FETCH_ASSOC);

header('Content-Type: text/html; charset=utf-8');
header('Cache-Control: no-store');
?><!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>WhatsApp Connection · <?= h($ws['name']) ?></title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><header><a href="/">waba-connect</a> <span><?= h($sess['email']) ?></span>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="<?= h($sess['csrf_token']) ?>"><button>Sign out</button></form></header>
<main><h1>WhatsApp Connection</h1><p class="ws"><?= h($ws['name']) ?> (<?= h($ws['slug']) ?>)</p>
<section class="card"><h2>Status</h2><p class="status <?= h($c['status']) ?>"><?= h(ucfirst(str_replace('_', ' ', $c['status']))) ?></p>
<?php if ($c['reason']): ?><p><?= h($c['reason']) ?></p><?php endif ?>
<dl><dt>WhatsApp Business Account</dt><dd><?= h($c['waba_id']) ?></dd>
<dt>Phone number</dt><dd><?= h($c['display_phone_number']) ?> (<?= h($c['verified_name']) ?>)</dd>
<dt>Quality</dt><dd><?= h($c['quality_rating']) ?></dd>
<dt>Connected</dt><dd><?= h($c['connected_at']) ?> UTC</dd>
<dt>Last verified</dt><dd><?= h($c['last_verified_at']) ?> UTC</dd>
<dt>Token expires</dt><dd><?= $c['token_expires_at'] ? h($c['token_expires_at']) . ' UTC' : 'never' ?></dd></dl></section>
<section class="card"><h2>Numbers</h2><table><tr><th>Number</th><th>Name</th><th>Quality</th><th>State</th><th></th></tr>
<?php foreach ($nums as $n): ?><tr><td><?= h($n['display_phone_number']) ?></td><td><?= h($n['verified_name']) ?></td><td><?= h($n['quality_rating']) ?></td><td><?= h($n['state']) ?></td><td><?= $n['is_default'] ? 'default' : '' ?></td></tr>
<?php endforeach ?></table></section>
<section class="card"><h2>Catalog</h2><p><?= $c['catalog_id'] ? h($c['catalog_name']) . ' (' . h($c['catalog_id']) . ')' : 'No catalog connected' ?></p></section>
<section class="card"><h2>Webhooks</h2><p>Last delivery: <?= $hooks['last_at'] ? h($hooks['last_at']) . ' UTC' : 'none yet' ?>; <?= (int)$hooks['n'] ?> in the last 24 hours.</p>
<?php if ($test): ?><p>Last test message: <?= h($test['detail']) ?> at <?= h($test['at']) ?> UTC</p><?php endif ?></section>
<section class="card"><h2>Health</h2><p><?= $health ? 'Checked ' . h($health['checked_at']) . ' UTC' : 'Not checked yet' ?></p>
<form method="post" action="/w/<?= h($ws['slug']) ?>/settings/whatsapp/check"><input type="hidden" name="csrf_token" value="<?= h($sess['csrf_token']) ?>"><button>Check now</button></form></section>
<form method="post" action="/w/<?= h($ws['slug']) ?>/settings/whatsapp/connect"><input type="hidden" name="csrf_token" value="<?= h($sess['csrf_token']) ?>"><button>Reconnect</button></form>
</main></body></html>
