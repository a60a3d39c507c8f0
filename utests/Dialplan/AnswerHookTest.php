<?php

use FreePBX\modules\Bitrix\Dialplan\AgiStep;
use FreePBX\modules\Bitrix\Dialplan\AnswerHook;

/** The answer hook in macro-auto-blkvm, the agent captured in from-queue, and [itd-bitrix-answer]. */
class AnswerHookTest extends BitrixTestCase
{
    const HOOK = 'n,GosubIf($["${BITRIX_UNIQUEID}"!=""]?itd-bitrix-answer,s,1(${IF($["${BITRIX_AGENT}"!=""]?${BITRIX_AGENT}:${EXTTOCALL})}))';

    /** [framework dialplan before, after, problems] */
    private static function hook($fpbx, $queues)
    {
        $ext = self::frameworkDialplan(self::ROUTES, $fpbx, $queues);
        $before = $ext->generateConf();
        $problems = AnswerHook::add($ext, new AgiStep());
        return [$before, $ext->generateConf(), $problems];
    }

    /** The stand-in reproduces the verified FreePBX 17 + queues pitfall for a naive splice. */
    public function testNaiveSpliceIntoQueuesFirstMacroIsBroken()
    {
        $ext = self::frameworkDialplan(self::ROUTES, 17, true);
        $ext->splice('macro-auto-blkvm', 's', 1, new ext_noop('naive'));
        $lines = self::extenLines($ext->generateConf(), 'macro-auto-blkvm', 's');
        $this->assertSame('n,Noop(naive)', $lines[0]);
        $this->assertStringNotContainsString('Return()', end($lines));
    }

    public function testFreePBX17WithQueuesFirst()
    {
        list($before, $conf, $problems) = self::hook(17, true);
        $this->assertSame([], $problems);
        $old = self::extenLines($before, 'macro-auto-blkvm', 's');
        $lines = self::extenLines($conf, 'macro-auto-blkvm', 's');
        $this->assertStringStartsWith('1,ExecIf($["${FROMQ}"="true"', $lines[0], 'priority 1 comes first');
        $this->assertSame('n,Return()', end($lines), 'Return() is still last');
        $this->assertCount(count($old) + 1, $lines, 'nothing lost');
        $this->assertSame(1, count(preg_grep('/^1,/', $lines)));
        $this->assertSame(self::HOOK, $lines[count($lines) - 2]);
        $this->assertSame(array_slice($old, 0, -1), array_slice($lines, 0, -2), 'the other lines keep their order');

        $fq = self::extenLines($conf, 'from-queue', '_X.');
        $this->assertSame(['1,Set(__BITRIX_AGENT=${EXTEN})', 'n,Set(QAGENT=${EXTEN})', 'n,Set(__FROMQ=true)', 'n,Goto(ext-local,${QAGENT},1)'], $fq);
        $this->assertSame([], self::extenLines($conf, 'from-queue', '_.'));
    }

    public function testFreePBX16()
    {
        list($before, $conf) = self::hook(16, true);
        $old = self::extenLines($before, 'macro-auto-blkvm', 's');
        $lines = self::extenLines($conf, 'macro-auto-blkvm', 's');
        $this->assertStringStartsWith('1,', $lines[0]);
        $this->assertCount(count($old) + 1, $lines);
        $this->assertSame(self::HOOK, end($lines), 'the macro just ends: appended');
        $this->assertSame('1,Set(__BITRIX_AGENT=${EXTEN})', self::extenLines($conf, 'from-queue', '_.')[0]);
    }

    public function testWithoutQueuesModuleNoFromQueueIsCreated()
    {
        list(, $conf) = self::hook(17, false);
        $this->assertNull(self::contextBlock($conf, 'from-queue'));
        $lines = self::extenLines($conf, 'macro-auto-blkvm', 's');
        $this->assertStringStartsWith('1,Gosub(deprecated-macro', $lines[0]);
        $this->assertSame('n,Return()', end($lines));
        $this->assertSame(self::HOOK, $lines[count($lines) - 2]);
    }

    public function testAnswerSubroutineRunsTheShowStep()
    {
        list(, $conf) = self::hook(17, true);
        $this->assertSame("[itd-bitrix-answer]\n"
            . "exten => s,1,AGI(itd_bitrix_show.js,\${ARG1})\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($conf, 'itd-bitrix-answer'));
    }

    public function testWithoutMacroAutoBlkvmTheProblemIsReportedAndNothingIsCreated()
    {
        $ext = new extensions();
        $this->assertSame(['macro-auto-blkvm,s not found; the call card will not be shown on answer'], AnswerHook::add($ext, new AgiStep()));
        $conf = $ext->generateConf();
        $this->assertNull(self::contextBlock($conf, 'macro-auto-blkvm'));
        $this->assertNull(self::contextBlock($conf, 'from-queue'));
        $this->assertNotNull(self::contextBlock($conf, 'itd-bitrix-answer'));
    }
}
