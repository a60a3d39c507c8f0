<?php
namespace FreePBX\modules\Bitrix;

/**
 * The outbox part of `itd_bitrix.js status --json`, read the same way by the status panel and by
 * uninstall: steps and calls counted by state (due, waiting, held, given up), the next attempt,
 * and the waiting steps. An older CLI (only pending/blocked/failed, counting steps) still reads.
 */
class OutboxStatus
{
    const STATES = ['due', 'waiting', 'held', 'givenUp'];
    /** The waiting steps shown at most. */
    const WAITING_LIMIT = 20;

    /**
     * @return array|null steps (state => int), calls (state => int, or null when the CLI does not
     *                    count calls), oldestAt, nextAttemptAt, waiting (uniqueid, step, attempts,
     *                    nextAttemptAt, lastError); null when the answer has no outbox
     */
    public static function read(array $status)
    {
        $o = isset($status['outbox']) && is_array($status['outbox']) ? $status['outbox'] : null;
        if ($o === null) {
            return null;
        }
        if (isset($o['steps']) && is_array($o['steps'])) {
            $steps = self::counts($o['steps']);
        } else {
            $held = self::int($o, 'blocked');
            $steps = ['due' => max(0, self::int($o, 'pending') - $held), 'waiting' => 0, 'held' => $held, 'givenUp' => self::int($o, 'failed')];
        }
        $waiting = [];
        foreach (isset($o['waiting']) && is_array($o['waiting']) ? array_slice($o['waiting'], 0, self::WAITING_LIMIT) : [] as $w) {
            if (!is_array($w)) {
                continue;
            }
            $waiting[] = [
                'uniqueid' => self::str($w, 'uniqueid'),
                'step' => self::str($w, 'step'),
                'attempts' => self::int($w, 'attempts'),
                'nextAttemptAt' => self::str($w, 'nextAttemptAt'),
                'lastError' => self::str($w, 'lastError'),
            ];
        }
        return [
            'steps' => $steps,
            'calls' => isset($o['calls']) && is_array($o['calls']) ? self::counts($o['calls']) : null,
            'oldestAt' => self::str($o, 'oldestAt'),
            'nextAttemptAt' => self::str($o, 'nextAttemptAt'),
            'waiting' => $waiting,
        ];
    }

    /**
     * What has not reached Bitrix24 yet and still could (due, waiting, held; given up is gone already).
     * @return array calls (int, or null when not counted), steps (int)
     */
    public static function unsent(array $outbox)
    {
        $sum = function ($counts) {
            return $counts === null ? null : $counts['due'] + $counts['waiting'] + $counts['held'];
        };
        return ['calls' => $sum($outbox['calls']), 'steps' => $sum($outbox['steps'])];
    }

    private static function counts(array $c)
    {
        $out = [];
        foreach (self::STATES as $k) {
            $out[$k] = self::int($c, $k);
        }
        return $out;
    }

    private static function int(array $a, $k)
    {
        return isset($a[$k]) && is_numeric($a[$k]) ? max(0, (int)$a[$k]) : 0;
    }

    private static function str(array $a, $k)
    {
        return isset($a[$k]) && is_scalar($a[$k]) ? (string)$a[$k] : '';
    }

    /** One line for uninstall: how many calls waiting in the outbox (`status --json`) will not reach Bitrix24 once the database is deleted. */
    public static function unsentLine(array $status)
    {
        $outbox = isset($status['error']) ? null : self::read($status);
        if ($outbox === null) {
            return sprintf(_('Could not count the calls still waiting to be sent to Bitrix24 before deleting the call database: %s'),
                isset($status['error']) ? $status['error'] : _('the operator tool gave no outbox.'));
        }
        $unsent = self::unsent($outbox);
        if ($unsent['steps'] === 0) {
            return _('Nothing was waiting to be sent to Bitrix24.');
        }
        if ($unsent['calls'] === null) {
            return sprintf(_('Requests that will not reach Bitrix24 (deleted with the call database): %d.'), $unsent['steps']);
        }
        return sprintf(_('Calls that will not reach Bitrix24 (deleted with the call database): %1$d (steps: %2$d).'), $unsent['calls'], $unsent['steps']);
    }
}
