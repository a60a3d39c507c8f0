<?php

use FreePBX\modules\Bitrix\Dialplan\Problem;
use FreePBX\modules\Bitrix\Dialplan\QueueHook;

/** The queue's member gosub: ours, chained before the one the queue had, only where Asterisk reads it. */
class QueueHookTest extends BitrixTestCase
{
    const SPLICE = 'n,GosubIf($["${BITRIX_UNIQUEID}"!=""]?itd-bitrix-queue,s,1(400))';

    public function testSplicedRightAfterTheQgosubLineWithBothContexts()
    {
        $ext = self::frameworkDialplan(self::ROUTES, 17, true, 22);
        $this->assertSame([], QueueHook::add($ext, '22.10.1'));
        $conf = $ext->generateConf();
        $lines = self::extenLines($conf, 'ext-queues', '400');
        $at = array_search('n(qgosub),Set(QGOSUB=${IF($[${LEN(${VQ_GOSUB})}>0]?${VQ_GOSUB}:${QGOSUB})})', $lines, true);
        $this->assertSame(self::SPLICE, $lines[$at + 1]);
        $this->assertSame('n,Set(VQ_GOSUB=)', $lines[$at + 2]);
        $this->assertSame("[itd-bitrix-queue]\n"
            . "exten => s,1,ExecIf(\$[\"\${QGOSUB}\"!=\"itd-bitrix-queue-answer\"]?Set(__BITRIX_QGOSUB=\${QGOSUB}))\n"
            . "exten => s,n,Set(__BITRIX_QHOOK=\${ARG1})\n"
            . "exten => s,n,Set(QGOSUB=itd-bitrix-queue-answer)\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($conf, 'itd-bitrix-queue'));
        $this->assertSame("[itd-bitrix-queue-answer]\n"
            . "exten => s,1,Gosub(itd-bitrix-answered,s,1())\n"
            . "exten => s,n,GosubIf(\$[\"\${BITRIX_QGOSUB}\"!=\"\"]?\${BITRIX_QGOSUB},s,1())\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($conf, 'itd-bitrix-queue-answer'));
    }

    public function testOldTenArgumentQueueLineOnAsterisk21OrLaterIsReportedAndLeftAlone()
    {
        $ext = self::frameworkDialplan(self::ROUTES, 17, true, 20);
        $before = $ext->generateConf();
        $problems = QueueHook::add($ext, '22.10.1');
        $this->assertEquals([new Problem(Problem::QUEUE_GOSUB, ['400', '22.10.1'])], $problems);
        $this->assertSame($before, $ext->generateConf());
        $this->assertStringContainsString('Update the Queues module', $problems[0]->text());
    }

    public function testTheQueueLineFormFollowsTheAsteriskVersion()
    {
        $new = 'Queue(400,${QOPTIONS},,${QAANNOUNCE},${QMAXWAIT},${QAGI},${QGOSUB},${QRULE},${QPOSITION})';
        $old = 'Queue(400,${QOPTIONS},,${QAANNOUNCE},${QMAXWAIT},${QAGI},,${QGOSUB},${QRULE},${QPOSITION})';
        $this->assertTrue(QueueHook::gosubIsRead($new, '21.0.0'));
        $this->assertFalse(QueueHook::gosubIsRead($new, '20.18.1'));
        $this->assertTrue(QueueHook::gosubIsRead($old, '18.20.0'));
        $this->assertFalse(QueueHook::gosubIsRead($old, '22.10.1'));
        $this->assertTrue(QueueHook::gosubIsRead($old, null), 'unknown version: FreePBX knew best');
        $this->assertTrue(QueueHook::gosubIsRead('Queue(400,${IF($[1]?t:r)},,,,,${QGOSUB})', '22'), 'commas inside ${…} do not count');
        $this->assertFalse(QueueHook::gosubIsRead('Queue(400,t)', '22'));
    }

    public function testAQueueWithoutTheQgosubLabelIsReported()
    {
        $ext = new extensions();
        $ext->add('ext-queues', '401', '', new extension('Queue(401,t,,,,,${QGOSUB})'));
        $ext->add('ext-queues', 'h', '', new extension('Hangup()'));
        $this->assertEquals([new Problem(Problem::QUEUE_LABEL, ['401'])], QueueHook::add($ext, '22.10.1'));
        $this->assertNull(self::contextBlock($ext->generateConf(), 'itd-bitrix-queue'));
    }

    public function testNoQueuesNoContexts()
    {
        $ext = self::frameworkDialplan(self::ROUTES, 17, false);
        $this->assertSame([], QueueHook::add($ext, '22.10.1'));
        $this->assertNull(self::contextBlock($ext->generateConf(), 'itd-bitrix-queue-answer'));
    }
}
