<?php

use FreePBX\modules\Bitrix\Dialplan\AgiStep;
use FreePBX\modules\Bitrix\Dialplan\OutboundSubroutine;

require_once __DIR__ . '/../fixtures/freepbx17-core.php';

/**
 * The outgoing hook: our Gosub before core's predial hook in macro-dialout-trunk, the trunk's
 * cause kept after each trunk Dial, [itd-bitrix-outbound], the answer stamp and the hangup handler.
 * On the FreePBX 17 fixture (macros as Gosubs, Dial in trunk-dial-with-exten) and on FreePBX 16's
 * shape (Macro(), Dial inline).
 */
class OutboundSubroutineTest extends BitrixTestCase
{
    /** [before, after, problems] for the fixture PBX built as FreePBX 17 would. */
    private static function hook(array $opt, array $fixture = [])
    {
        $ext = FreePBX17CoreFixture::build($fixture);
        $before = $ext->generateConf();
        $problems = OutboundSubroutine::add($ext, new AgiStep(), $opt + ['report' => true, 'routes' => []]);
        return [$before, $ext->generateConf(), $problems];
    }

    const SUBROUTINE_ALL_ROUTES = [
        '1,GotoIf($["${BITRIX_OUT_UNIQUEID}"="${UNIQUEID}"]?answer)',
        'n,GotoIf($["${BITRIX_UNIQUEID}${BITRIX_OUT_UNIQUEID}${FROM_DID}"!=""]?done)',
        'n,GotoIf($["${BITRIX_CLICK_CALL_ID}"!=""]?ours)',
        'n(ours),Set(AGISIGHUP=no)',
        'n,Set(__BITRIX_OUT_UNIQUEID=${UNIQUEID})',
        'n,Set(__BITRIX_OUT_CHANNEL=${CHANNEL(name)})',
        'n,Set(BITRIX_OUT_STARTED=${STRFTIME(,,%s.%3q)})',
        'n,Set(BITRIX_OUT_EXTEN=${AMPUSER})',
        'n,ExecIf($["${BITRIX_OUT_EXTEN}"=""]?Set(BITRIX_OUT_EXTEN=${CALLERIDNUMINTERNAL}))',
        'n,Set(BITRIX_OUT_NUMBER=${DIAL_NUMBER})',
        'n,Set(BITRIX_OUT_LINE=${ROUTENAME})',
        'n,Set(CHANNEL(hangup_handler_push)=itd-bitrix-out-hangup,s,1)',
        'n,AGI(itd_bitrix_outgoing.js)',
        'n(answer),GotoIf($["${FORCE_CONFIRM}"!="" | "${DIAL_TRUNK_OPTIONS}" =~ "U[(]"]?done)',
        'n,Set(DIAL_TRUNK_OPTIONS=${DIAL_TRUNK_OPTIONS}U(itd-bitrix-out-answer))',
        'n(done),Return()',
    ];

    public function testGosubRightBeforeThePredialHookAndTheCauseAfterEachTrunkDial()
    {
        list($before, $conf, $problems) = self::hook([]);
        $this->assertSame([], $problems);
        $old = self::extenLines($before, 'macro-dialout-trunk', 's');
        $lines = self::extenLines($conf, 'macro-dialout-trunk', 's');
        $this->assertCount(count($old) + 3, $lines, 'one Gosub, two cause lines, nothing lost');
        $at = array_search('n(gocall),Gosub(macro-dialout-trunk-predial-hook,s,1())', $lines, true);
        $this->assertSame('n,Gosub(itd-bitrix-outbound,s,1())', $lines[$at - 1]);
        $this->assertSame('n,ExecIf($["${FORCE_CONFIRM}"!="" ]?Set(DIAL_TRUNK_OPTIONS=${DIAL_TRUNK_OPTIONS}U(macro-confirm)))', $lines[$at - 2],
            'after core has settled the trunk options');
        foreach (array_keys(preg_grep('/^n,Noop\(Dial failed for some reason/', $lines)) as $i) {
            $this->assertSame('n,Set(BITRIX_OUT_CAUSE=${HANGUPCAUSE})', $lines[$i - 1]);
            $this->assertMatchesRegularExpression('/(Gosub\(trunk-dial-with-exten|Dial\()/', $lines[$i - 2]);
        }
        $this->assertStringStartsWith('1,', $lines[0]);
        $this->assertSame(array_values(array_filter($lines, function ($l) {
            return strpos($l, 'itd-bitrix') === false && strpos($l, 'BITRIX_OUT_CAUSE') === false;
        })), array_map(function ($l) {
            return $l;
        }, $old), 'core\'s lines keep their order');
    }

    public function testTheSubroutineReportingEveryRoute()
    {
        list(, $conf) = self::hook([]);
        $this->assertSame(self::SUBROUTINE_ALL_ROUTES, self::extenLines($conf, 'itd-bitrix-outbound', 's'));
        $this->assertStringStartsWith("[itd-bitrix-outbound]\nexten => s,1,", self::contextBlock($conf, 'itd-bitrix-outbound'));
    }

    public function testChosenRoutesOnly()
    {
        list(, $conf) = self::hook(['routes' => ['1', '3', 'x; Hangup']]);
        $lines = self::extenLines($conf, 'itd-bitrix-outbound', 's');
        $this->assertSame('n,GotoIf($["${ROUTEID}"="1" | "${ROUTEID}"="3"]?ours:done)', $lines[3]);
        $this->assertSame('n(ours),Set(AGISIGHUP=no)', $lines[4]);
    }

    public function testClickToCallWithoutReportingOutgoingCalls()
    {
        list(, $conf) = self::hook(['report' => false, 'routes' => ['1']]);
        $lines = self::extenLines($conf, 'itd-bitrix-outbound', 's');
        $this->assertSame('n,GotoIf($["${BITRIX_CLICK_CALL_ID}"!=""]?ours)', $lines[2]);
        $this->assertSame('n,Goto(done)', $lines[3], 'only clicked calls are ours');
    }

    public function testTheAnswerStampAndTheHangupHandler()
    {
        list(, $conf) = self::hook([]);
        $this->assertSame("[itd-bitrix-out-answer]\n"
            . "exten => s,1,Set(SHARED(BITRIX_OUT_ANSWER,\${BITRIX_OUT_CHANNEL})=\${STRFTIME(,,%s.%3q)})\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($conf, 'itd-bitrix-out-answer'));
        $this->assertSame("[itd-bitrix-out-hangup]\n"
            . "exten => s,1,Set(BITRIX_OUT_ENDED=\${STRFTIME(,,%s.%3q)})\n"
            . "exten => s,n,AGI(itd_bitrix_hangup.js,out)\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($conf, 'itd-bitrix-out-hangup'));
    }

    public function testNoArgumentsAreRead()
    {
        // FreePBX 17 runs macro-dialout-trunk as a Gosub: ARGn are its caller's, empty in our subroutine.
        list(, $conf) = self::hook([]);
        foreach (['itd-bitrix-outbound', 'itd-bitrix-out-answer', 'itd-bitrix-out-hangup'] as $ctx) {
            $this->assertStringNotContainsString('${ARG', self::contextBlock($conf, $ctx), $ctx);
            $this->assertStringNotContainsString('CALLERID(num', self::contextBlock($conf, $ctx), $ctx);
        }
    }

    public function testWithoutTrunkRoutesNothingIsWrittenAndTheProblemIsSaid()
    {
        list($before, $conf, $problems) = self::hook([], ['outbound' => false]);
        $this->assertSame($before, $conf);
        $this->assertSame(['macro-dialout-trunk,s (label gocall) not found: no outbound route uses a trunk; outgoing calls are not reported'], $problems);
    }

    public function testARouteThatEmailsOnEveryCallKeepsItsUAndTheProblemIsSaid()
    {
        list(, $conf, $problems) = self::hook([], ['routeEmail' => true]);
        $this->assertCount(1, $problems);
        $this->assertStringContainsString('ANSWEREDTIME', $problems[0]);
        $this->assertStringNotContainsString('U(itd-bitrix-out-answer)', $conf);
        $lines = self::extenLines($conf, 'itd-bitrix-outbound', 's');
        $this->assertSame(['n(answer),Noop(answer time from ANSWEREDTIME)', 'n(done),Return()'], array_slice($lines, -2));
    }

    /** FreePBX 16: macro-dialout-trunk is a Macro, the predial hook a Macro() call, the trunk Dial inline. */
    public function testFreePBX16Shape()
    {
        $ext = new extensions();
        $m = 'macro-dialout-trunk';
        $ext->add($m, 's', '', new ext_set('DIAL_TRUNK', '${ARG1}'));
        $ext->add($m, 's', '', new ext_execif('$["${FORCE_CONFIRM}"!="" ]', 'Set', 'DIAL_TRUNK_OPTIONS=${DIAL_TRUNK_OPTIONS}M(confirm)'));
        $ext->add($m, 's', 'gocall', new extension('Macro(dialout-trunk-predial-hook,)'));
        $ext->add($m, 's', '', new extension('Dial(${OUT_${DIAL_TRUNK}}/${OUTNUM}${OUT_${DIAL_TRUNK}_SUFFIX},${TRUNK_RING_TIMER},${DIAL_TRUNK_OPTIONS}b(func-apply-sipheaders^s^1,(${DIAL_TRUNK})))'));
        $ext->add($m, 's', '', new ext_noop('Dial failed for some reason with DIALSTATUS = ${DIALSTATUS} and HANGUPCAUSE = ${HANGUPCAUSE}'));
        $ext->add($m, 's', '', new extension('GotoIf($["${ARG4}" = "on"]?continue,1:s-${DIALSTATUS},1)'));
        $this->assertSame([], OutboundSubroutine::add($ext, new AgiStep(), ['report' => true, 'routes' => []]));
        $this->assertSame([
            '1,Set(DIAL_TRUNK=${ARG1})',
            'n,ExecIf($["${FORCE_CONFIRM}"!="" ]?Set(DIAL_TRUNK_OPTIONS=${DIAL_TRUNK_OPTIONS}M(confirm)))',
            'n,Gosub(itd-bitrix-outbound,s,1())',
            'n(gocall),Macro(dialout-trunk-predial-hook,)',
            'n,Dial(${OUT_${DIAL_TRUNK}}/${OUTNUM}${OUT_${DIAL_TRUNK}_SUFFIX},${TRUNK_RING_TIMER},${DIAL_TRUNK_OPTIONS}b(func-apply-sipheaders^s^1,(${DIAL_TRUNK})))',
            'n,Set(BITRIX_OUT_CAUSE=${HANGUPCAUSE})',
            'n,Noop(Dial failed for some reason with DIALSTATUS = ${DIALSTATUS} and HANGUPCAUSE = ${HANGUPCAUSE})',
            'n,GotoIf($["${ARG4}" = "on"]?continue,1:s-${DIALSTATUS},1)',
        ], self::extenLines($ext->generateConf(), $m, 's'));
        $this->assertContains('n,Set(DIAL_TRUNK_OPTIONS=${DIAL_TRUNK_OPTIONS}U(itd-bitrix-out-answer))',
            self::extenLines($ext->generateConf(), 'itd-bitrix-outbound', 's'), 'FreePBX 16 confirms with M(), which leaves U() free');
    }
}
