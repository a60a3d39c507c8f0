<?php

use FreePBX\modules\Bitrix\OutboxStatus;

/** The outbox of `status --json` as the page and uninstall read it. */
class OutboxStatusTest extends BitrixTestCase
{
    public function testTheShapeOfTheCurrentCli()
    {
        $o = OutboxStatus::read(['outbox' => [
            'pending' => 4, 'blocked' => 1, 'failed' => 2, 'oldestAt' => '2026-11-26T09:02:11.000Z',
            'steps' => ['due' => 1, 'waiting' => 2, 'held' => 1, 'givenUp' => 2],
            'calls' => ['due' => 1, 'waiting' => 1, 'held' => 1, 'givenUp' => 2],
            'nextAttemptAt' => '2026-11-26T10:16:30.000Z',
            'waiting' => [['uniqueid' => '1.2', 'step' => 'finish', 'attempts' => 3, 'nextAttemptAt' => '2026-11-26T10:16:30.000Z', 'lastError' => null],
                'not a step'],
        ]]);
        $this->assertSame(['due' => 1, 'waiting' => 2, 'held' => 1, 'givenUp' => 2], $o['steps']);
        $this->assertSame(['due' => 1, 'waiting' => 1, 'held' => 1, 'givenUp' => 2], $o['calls']);
        $this->assertSame('2026-11-26T10:16:30.000Z', $o['nextAttemptAt']);
        $this->assertSame([['uniqueid' => '1.2', 'step' => 'finish', 'attempts' => 3, 'nextAttemptAt' => '2026-11-26T10:16:30.000Z', 'lastError' => '']], $o['waiting']);
        $this->assertSame(['calls' => 3, 'steps' => 4], OutboxStatus::unsent($o), 'given up is not counted: it was lost before');
    }

    public function testAnOlderCliCountsStepsOnly()
    {
        $o = OutboxStatus::read(['outbox' => ['pending' => 3, 'blocked' => 1, 'failed' => 1, 'oldestAt' => null]]);
        $this->assertSame(['due' => 2, 'waiting' => 0, 'held' => 1, 'givenUp' => 1], $o['steps']);
        $this->assertNull($o['calls']);
        $this->assertSame(['calls' => null, 'steps' => 3], OutboxStatus::unsent($o));
        $this->assertSame([], $o['waiting']);
    }

    public function testNoOutboxAndHostileValues()
    {
        $this->assertNull(OutboxStatus::read(['ok' => false, 'error' => 'x']));
        $o = OutboxStatus::read(['outbox' => ['steps' => ['due' => '<b>', 'waiting' => -5, 'held' => [], 'givenUp' => 1.9],
            'waiting' => array_fill(0, 50, ['uniqueid' => ['x'], 'step' => '<script>', 'attempts' => 'many'])]]);
        $this->assertSame(['due' => 0, 'waiting' => 0, 'held' => 0, 'givenUp' => 1], $o['steps']);
        $this->assertCount(OutboxStatus::WAITING_LIMIT, $o['waiting']);
        $this->assertSame(['uniqueid' => '', 'step' => '<script>', 'attempts' => 0, 'nextAttemptAt' => '', 'lastError' => ''], $o['waiting'][0],
            'text is escaped where it is shown');
    }
}
