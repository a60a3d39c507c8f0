<?php
// Stand-in for agi-bin/itd_bitrix.js while rendering the screenshot: sample status and calls.
$cmd = isset($argv[1]) ? $argv[1] : '';
if ($cmd === 'status') {
    echo json_encode([
        'lastSuccessAt' => '2026-11-26T10:42:17Z',
        'lastErrorAt' => '2026-11-26T08:03:55Z',
        'lastError' => 'QUERY_LIMIT_EXCEEDED: Too many requests (retried)',
        'outbox' => ['pending' => 0, 'blocked' => 0, 'failed' => 0, 'oldestAt' => null,
            'steps' => ['due' => 0, 'waiting' => 0, 'held' => 0, 'givenUp' => 0], 'calls' => ['due' => 0, 'waiting' => 0, 'held' => 0, 'givenUp' => 0],
            'nextAttemptAt' => null, 'waiting' => []],
    ]);
} elseif ($cmd === 'calls') {
    echo json_encode(['calls' => []]);
} else {
    echo json_encode(['ok' => false, 'error' => 'not available in the screenshot']);
}
