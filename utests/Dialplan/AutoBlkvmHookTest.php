<?php

use FreePBX\modules\Bitrix\Dialplan\AutoBlkvmHook;
use FreePBX\modules\Bitrix\Dialplan\Problem;

/** The answer hook in macro-auto-blkvm / sub-auto-blkvm: ring groups, follow-me, queues without our member gosub. */
class AutoBlkvmHookTest extends BitrixTestCase
{
    const HOOK = 'n,GosubIf($["${BITRIX_UNIQUEID}"!="" & ("${FROMQ}"!="true" | "${BITRIX_QHOOK}"!="${NODEST}" | "${BITRIX_XFER}"="blind")]?itd-bitrix-answered,s,1())';

    /** [framework dialplan before, after, problems] */
    private static function hook($fpbx, $queues)
    {
        $ext = self::frameworkDialplan(self::ROUTES, $fpbx, $queues);
        $before = $ext->generateConf();
        $problems = AutoBlkvmHook::add($ext);
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
        $this->assertSame(self::extenLines($before, 'from-queue', '_X.'), self::extenLines($conf, 'from-queue', '_X.'), 'from-queue untouched');
    }

    public function testFreePBX16()
    {
        list($before, $conf) = self::hook(16, true);
        $old = self::extenLines($before, 'macro-auto-blkvm', 's');
        $lines = self::extenLines($conf, 'macro-auto-blkvm', 's');
        $this->assertStringStartsWith('1,', $lines[0]);
        $this->assertCount(count($old) + 1, $lines);
        $this->assertSame(self::HOOK, end($lines), 'the macro just ends: appended');
    }

    public function testWithoutQueuesModule()
    {
        list(, $conf) = self::hook(17, false);
        $this->assertNull(self::contextBlock($conf, 'from-queue'));
        $lines = self::extenLines($conf, 'macro-auto-blkvm', 's');
        $this->assertStringStartsWith('1,Gosub(deprecated-macro', $lines[0]);
        $this->assertSame('n,Return()', end($lines));
        $this->assertSame(self::HOOK, $lines[count($lines) - 2]);
    }

    public function testSubAutoBlkvmOfACoreBranchGetsTheHookToo()
    {
        $ext = new extensions();
        $ext->add('sub-auto-blkvm', 's', '', new ext_setvar('__GOSUB_RESULT', ''));
        $ext->add('sub-auto-blkvm', 's', '', new ext_return(''));
        $this->assertSame([], AutoBlkvmHook::add($ext));
        $this->assertSame(['1,Set(__GOSUB_RESULT=)', self::HOOK, 'n,Return()'], self::extenLines($ext->generateConf(), 'sub-auto-blkvm', 's'));
        $this->assertNull(self::contextBlock($ext->generateConf(), 'macro-auto-blkvm'), 'the other name is not created');
    }

    public function testWithNeitherTheProblemIsReportedAndNothingIsCreated()
    {
        $ext = new extensions();
        $this->assertEquals([new Problem(Problem::ANSWER_HOOK)], AutoBlkvmHook::add($ext));
        $conf = $ext->generateConf();
        $this->assertNull(self::contextBlock($conf, 'macro-auto-blkvm'));
        $this->assertNull(self::contextBlock($conf, 'sub-auto-blkvm'));
    }
}
