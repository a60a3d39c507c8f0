<?php
// A minimal PHP AGI doing what itd_bitrix_incoming.js does on the caller's time, for the
// benchmark's honesty line (issue 6): read the AGI environment, read the config, check the DID,
// then ONE Bitrix24 round trip (searchCrmEntities + register in one `batch`), SET VARIABLE, exit.
// No database, no outbox, no rate limiter, no log file: it is a floor for "PHP doing the two
// requests", not a replacement. HTTP with stream_context_create + file_get_contents (php-curl is
// not needed). Run by bench/bench.ts with Debian's php-cli under the same fake Asterisk harness:
//   php bench/php-agi-baseline.php <DID> [--config <path>]   (else $ITD_BITRIX_CONFIG)

$env = [];
while (($line = fgets(STDIN)) !== false) {
    $line = rtrim($line, "\r\n");
    if ($line === '') break;
    $p = strpos($line, ':');
    if ($p !== false) $env[substr($line, 0, $p)] = ltrim(substr($line, $p + 1));
}

function agi($cmd) {
    fwrite(STDOUT, $cmd . "\n");
    fflush(STDOUT);
    $reply = fgets(STDIN);
    if ($reply === false) exit(0);
    if (preg_match('/^200 result=-?\d+(?: \((.*)\))?/', rtrim($reply), $m)) return isset($m[1]) ? $m[1] : '';
    return null;
}

function agi_quote($s) {
    return '"' . str_replace(['\\', '"', "\n", "\r"], ['\\\\', '\\"', ' ', ' '], $s) . '"';
}

function normalise($number, $cc) {
    $d = preg_replace('/\D+/', '', (string)$number);
    if ($d === '') return '';
    if (substr($d, 0, 2) === '00') $d = substr($d, 2);
    if ($cc === '7') {
        if (strlen($d) === 11 && $d[0] === '8') $d = '7' . substr($d, 1);
        elseif (strlen($d) === 10) $d = '7' . $d;
    }
    return $d;
}

$args = array_slice($argv, 1);
$did = null;
$configPath = getenv('ITD_BITRIX_CONFIG') ?: '/etc/asterisk/itd_bitrix.json';
for ($i = 0; $i < count($args); $i++) {
    if ($args[$i] === '--config' && isset($args[$i + 1])) $configPath = $args[++$i];
    elseif (strncmp($args[$i], '--config=', 9) === 0) $configPath = substr($args[$i], 9);
    elseif ($did === null) $did = $args[$i];
}

$config = json_decode((string)@file_get_contents($configPath), true);
if (!is_array($config) || empty($config['enabled'])) exit(0);
$cc = isset($config['countryCode']) ? $config['countryCode'] : '7';
$listed = false;
foreach ((array)$config['dids'] as $d) if (normalise($d, $cc) === normalise($did, $cc) && $did !== null) $listed = true;
if (!$listed) exit(0);

$uniqueid = isset($env['agi_uniqueid']) ? $env['agi_uniqueid'] : '';
$caller = normalise(isset($env['agi_callerid']) ? $env['agi_callerid'] : '', $cc);
if ($uniqueid === '' || $caller === '') exit(0);
$phone = (strlen($caller) > 10 ? '+' : '') . $caller;

agi('SET VARIABLE __BITRIX_UNIQUEID ' . agi_quote($uniqueid));
$linkedid = agi('GET FULL VARIABLE ${CHANNEL(linkedid)}');
if (!$linkedid) $linkedid = $uniqueid;

$reg = [
    'USER_ID' => isset($config['defaultUserId']) ? $config['defaultUserId'] : 1,
    'PHONE_NUMBER' => $phone,
    'TYPE' => 2,
    'CALL_START_DATE' => date('c'),
    'CRM_CREATE' => !empty($config['createCrmEntity']) ? 1 : 0,
    'SHOW' => 0,
    'LINE_NUMBER' => $did,
    'EXTERNAL_CALL_ID' => $linkedid,
];
$body = json_encode([
    'halt' => 0,
    'cmd' => [
        'find' => 'telephony.externalCall.searchCrmEntities?' . http_build_query(['PHONE_NUMBER' => $phone]),
        'reg' => 'telephony.externalcall.register?' . http_build_query($reg),
    ],
]);
$budget = (isset($config['incomingTimeoutMs']) ? $config['incomingTimeoutMs'] : 2000) / 1000;
$ctx = stream_context_create(['http' => [
    'method' => 'POST',
    'header' => "Content-Type: application/json; charset=utf-8\r\nAccept: application/json\r\nConnection: close\r\n",
    'content' => $body,
    'timeout' => max(0.1, $budget - 0.2),
    'ignore_errors' => true,
]]);
$url = rtrim($config['webhookUrl'], '/') . '/batch.json';
$raw = @file_get_contents($url, false, $ctx);
$res = is_string($raw) ? json_decode($raw, true) : null;
$result = isset($res['result']['result']) && is_array($res['result']['result']) ? $res['result']['result'] : [];

$name = '';
if (!empty($result['find']) && is_array($result['find'])) {
    foreach ($result['find'] as $e) {
        if (!empty($e['CRM_ENTITY_ID']) && isset($e['NAME']) && $e['NAME'] !== '') { $name = $e['NAME']; break; }
    }
}
if ($name !== '') {
    $name = mb_substr(trim(preg_replace('/\s+/u', ' ', preg_replace('/[\x00-\x1f\x7f]/u', '', $name))), 0, 40);
    agi('SET VARIABLE CALLERID(name) ' . agi_quote($name));
}
if (!empty($result['reg']['CALL_ID'])) agi('SET VARIABLE __BITRIX_CALL_ID ' . agi_quote($result['reg']['CALL_ID']));
exit(0);
