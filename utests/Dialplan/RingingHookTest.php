<?php

use FreePBX\modules\Bitrix\Dialplan\AgiStep;
use FreePBX\modules\Bitrix\Dialplan\Problem;
use FreePBX\modules\Bitrix\Dialplan\RingingHook;

/** Cards while the phones ring: the pre-dial subroutine of every FreePBX Dial tells the resident service. */
class RingingHookTest extends BitrixTestCase
{
    private static function sipheaders()
    {
        $ext = new extensions();
        $ext->add('func-apply-sipheaders', 's', '', new ext_noop('Applying SIP Headers to channel ${CHANNEL}'));
        $ext->add('func-apply-sipheaders', 's', '', new ext_return(''));
        return $ext;
    }

    public function testFirstInThePreDialSubroutineForCallsTheServiceTook()
    {
        $ext = self::sipheaders();
        $this->assertSame([], RingingHook::add($ext, new AgiStep(4574)));
        $conf = $ext->generateConf();
        $this->assertSame([
            '1,GosubIf($["${BITRIX_RINGING}"!=""]?itd-bitrix-ringing,s,1())',
            'n,Noop(Applying SIP Headers to channel ${CHANNEL})',
            'n,Return()',
        ], self::extenLines($conf, 'func-apply-sipheaders', 's'));
        $this->assertSame([
            '1,GotoIf($["${CUT(CHANNEL(name),/,1)}"="Local" | "${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}"!=""]?done)',
            'n,Gosub(itd-bitrix-operator,s,1(${CHANNEL(name)}))',
            'n,GotoIf($["${BITRIX_DEVICE_USER}"="" | "${BITRIX_DEVICE_USER}"="none"]?done)',
            'n,AGI(agi://127.0.0.1:4574/ring,${BITRIX_OPERATOR},${BITRIX_UNIQUEID},${BITRIX_CALL_ID})',
            'n,ExecIf($["${AGISTATUS}"="SUCCESS"]?Set(CHANNEL(hangup_handler_push)=itd-bitrix-ring-end,s,1(${BITRIX_OPERATOR})))',
            'n(done),Return()',
        ], self::extenLines($conf, 'itd-bitrix-ringing', 's'));
        $this->assertSame([
            '1,AGI(agi://127.0.0.1:4574/ringend,${ARG1},${BITRIX_UNIQUEID})',
            'n,Return()',
        ], self::extenLines($conf, 'itd-bitrix-ring-end', 's'));
        $this->assertStringNotContainsString('itd_bitrix_', $conf, 'no executable: without the service the card pops on answer');
    }

    public function testNothingWithoutTheService()
    {
        $ext = self::sipheaders();
        $before = $ext->generateConf();
        $this->assertSame([], RingingHook::add($ext, new AgiStep(null)));
        $this->assertSame($before, $ext->generateConf());
    }

    public function testWithoutThePreDialSubroutineTheProblemIsReported()
    {
        $ext = new extensions();
        $ext->add('macro-dial-one', 's', '', new ext_noop('x'));
        $before = $ext->generateConf();
        $this->assertEquals([new Problem(Problem::RINGING_HOOK)], RingingHook::add($ext, new AgiStep(4574)));
        $this->assertSame($before, $ext->generateConf());
    }
}
