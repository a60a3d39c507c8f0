<?php

use FreePBX\modules\Bitrix\Dialplan\AgiStep;
use FreePBX\modules\Bitrix\Dialplan\InboundSubroutine;
use FreePBX\modules\Bitrix\Dialplan\Problem;

/** The Gosub into listed inbound routes and the [itd-bitrix-inbound] subroutine. */
class InboundSubroutineTest extends BitrixTestCase
{
    const MAIN = ['context' => 'ext-did-0002', 'exten' => '74951234567'];
    /** That route afterwards, as core generates it plus our line. */
    const MAIN_LINES = [
        '1,Set(__DIRECTION=INBOUND)',
        'n,Set(__FROM_DID=${EXTEN})',
        'n(did),Set(CDR(did)=${FROM_DID})',
        'n(callerid),ExecIf($[ "${CALLERID(name)}" = "" ] ?Set(CALLERID(name)=${CALLERID(num)}))',
        'n,Set(__MOHCLASS=)',
        'n,Gosub(itd-bitrix-inbound,s,1(${FROM_DID}))',
        'n(did-cid-hook),Noop(CallerID Entry Point)',
        'n,Gosub(macro-prepend-cid,s,1())',
        'n(dest-ext),Goto(ext-queues,400,1)',
    ];

    public function testGosubRightBeforeDidCidHook()
    {
        $ext = self::frameworkDialplan(self::ROUTES);
        $this->assertEquals([1, []], InboundSubroutine::spliceRoutes($ext, [self::MAIN]));
        $this->assertSame(self::MAIN_LINES, self::extenLines($ext->generateConf(), 'ext-did-0002', '74951234567'));
    }

    public function testWithoutDidCidHookTheGosubGoesBeforeDestExt()
    {
        $ext = new extensions();
        $ext->add('ext-did-0002', '74951234567', '', new ext_setvar('__FROM_DID', '${EXTEN}'));
        $ext->add('ext-did-0002', '74951234567', 'dest-ext', new ext_goto('1', '400', 'ext-queues'));
        $this->assertEquals([1, []], InboundSubroutine::spliceRoutes($ext, [self::MAIN]));
        $this->assertSame(['1,Set(__FROM_DID=${EXTEN})', 'n,Gosub(itd-bitrix-inbound,s,1(${FROM_DID}))', 'n(dest-ext),Goto(ext-queues,400,1)'],
            self::extenLines($ext->generateConf(), 'ext-did-0002', '74951234567'));
    }

    public function testRouteWithoutHookLabelIsLeftAloneAndReported()
    {
        $ext = new extensions();
        $ext->add('ext-did-0002', '74951234567', '', new ext_goto('1', '400', 'ext-queues'));
        $before = $ext->generateConf();
        $missing = ['context' => 'ext-did-0001', 'exten' => '74957654321/79161112233'];
        list($spliced, $problems) = InboundSubroutine::spliceRoutes($ext, [self::MAIN, $missing]);
        $this->assertSame(0, $spliced);
        $this->assertEquals([new Problem(Problem::ROUTE, ['74951234567', 'ext-did-0002']), new Problem(Problem::ROUTE, ['74957654321/79161112233', 'ext-did-0001'])],
            $problems);
        $this->assertSame('Inbound route 74951234567 (ext-did-0002) has no did-cid-hook label: its calls are not reported to Bitrix24.', $problems[0]->text());
        $this->assertSame($before, $ext->generateConf(), 'no exten created either');
    }

    public function testSubroutineRecordsTheFactsBeforeTheAgiAndLeavesAMarkedCallAlone()
    {
        $ext = new extensions();
        InboundSubroutine::add($ext, new AgiStep());
        $this->assertSame("[itd-bitrix-inbound]\n"
            . "exten => s,1,ExecIf(\$[\"\${BITRIX_UNIQUEID}\"!=\"\"]?Return())\n"
            . "exten => s,n,Set(AGISIGHUP=no)\n"
            . "exten => s,n,Set(__BITRIX_UNIQUEID=\${UNIQUEID})\n"
            . "exten => s,n,Set(__BITRIX_CHANNEL=\${CHANNEL(name)})\n"
            . "exten => s,n,Set(BITRIX_STARTED=\${STRFTIME(,,%s.%3q)})\n"
            . "exten => s,n,Set(CHANNEL(hangup_handler_push)=itd-bitrix-hangup,s,1)\n"
            . "exten => s,n,AGI(itd_bitrix_incoming.js,\${ARG1})\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($ext->generateConf(), 'itd-bitrix-inbound'));
    }
}
