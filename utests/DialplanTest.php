<?php

use FreePBX\modules\Bitrix;

/** Generated dialplan for sample inbound routes, with core's and queues' dialplan built first. */
class DialplanTest extends BitrixTestCase
{
    const ROUTES = [
        ['extension' => '74951234567', 'cidnum' => '', 'pricid' => '', 'description' => 'Main line', 'destination' => 'ext-queues,400,1'],
        ['extension' => '84957654321', 'cidnum' => '79161112233', 'pricid' => '', 'description' => 'VIP caller', 'destination' => 'from-did-direct,201,1'],
        ['extension' => '74990000000', 'cidnum' => '', 'pricid' => '', 'description' => 'Not listed', 'destination' => 'app-blackhole,hangup,1'],
        ['extension' => '', 'cidnum' => '', 'pricid' => '', 'description' => 'Any DID', 'destination' => 'ext-local,201,1'],
    ];

    private function generate(Bitrix $b, $fpbx = 17, $queues = true, array $routes = self::ROUTES)
    {
        $this->core->dids = $routes;
        $ext = self::frameworkDialplan($routes, $fpbx, $queues);
        $before = $ext->generateConf();
        $b->doDialplanHook($ext, 'asterisk', Bitrix::myDialplanHooks());
        return [$before, $ext->generateConf()];
    }

    private function enabled(array $dids = ['+7 (495) 123-45-67', '84957654321'])
    {
        $b = $this->bitrix();
        $this->configure($b, ['enabled' => true, 'webhookUrl' => 'https://example.bitrix24.ru/rest/1/s3cr3tc0de/', 'dids' => $dids]);
        return $b;
    }

    public function testHookRunsAfterCore()
    {
        $this->assertGreaterThan(480, Bitrix::myDialplanHooks());
    }

    public function testListedDidGetsGosubRightBeforeDidCidHook()
    {
        list(, $conf) = $this->generate($this->enabled(['+74951234567']));
        $lines = self::extenLines($conf, 'ext-did-0002', '74951234567');
        $this->assertSame([
            '1,Set(__DIRECTION=INBOUND)',
            'n,Set(__FROM_DID=${EXTEN})',
            'n(did),Set(CDR(did)=${FROM_DID})',
            'n(callerid),ExecIf($[ "${CALLERID(name)}" = "" ] ?Set(CALLERID(name)=${CALLERID(num)}))',
            'n,Set(__MOHCLASS=)',
            'n,Gosub(itd-bitrix-inbound,s,1(${FROM_DID}))',
            'n(did-cid-hook),Noop(CallerID Entry Point)',
            'n,Gosub(macro-prepend-cid,s,1())',
            'n(dest-ext),Goto(ext-queues,400,1)',
        ], $lines);
    }

    public function testDidAndCidRouteIsSplicedInExtDid0001()
    {
        // Listed as 8495…, the route is 8495…/CID; +7495… / 7495… would match as well.
        list(, $conf) = $this->generate($this->enabled(['74957654321']));
        $lines = self::extenLines($conf, 'ext-did-0001', '84957654321/79161112233');
        $this->assertContains('n,Gosub(itd-bitrix-inbound,s,1(${FROM_DID}))', $lines);
        $at = array_search('n,Gosub(itd-bitrix-inbound,s,1(${FROM_DID}))', $lines, true);
        $this->assertSame('n(did-cid-hook),Noop(CallerID Entry Point)', $lines[$at + 1]);
        $this->assertSame(9, count($lines));
    }

    public function testUnlistedAndAnyDidRoutesAreUntouched()
    {
        list($before, $conf) = $this->generate($this->enabled());
        $this->assertSame(self::extenLines($before, 'ext-did-0002', '74990000000'), self::extenLines($conf, 'ext-did-0002', '74990000000'));
        $this->assertSame(self::extenLines($before, 'ext-did-0001', 's'), self::extenLines($conf, 'ext-did-0001', 's'));
        $this->assertSame(2, substr_count($conf, 'Gosub(itd-bitrix-inbound,s,1(${FROM_DID}))'));
    }

    public function testDisabledModuleEmitsNothing()
    {
        $b = $this->enabled();
        $this->configure($b, ['enabled' => false]);
        list($before, $conf) = $this->generate($b);
        $this->assertSame($before, $conf);
    }

    public function testEmptyDidListEmitsNothing()
    {
        list($before, $conf) = $this->generate($this->enabled([]));
        $this->assertSame($before, $conf);
    }

    public function testNoRouteMatchesEmitsNothing()
    {
        list($before, $conf) = $this->generate($this->enabled(['+15550001111']));
        $this->assertSame($before, $conf);
    }

    public function testModuleContextsWithoutCustomIncludesAndClassicAgi()
    {
        list(, $conf) = $this->generate($this->enabled());
        $this->assertSame("[itd-bitrix-inbound]\n"
            . "exten => s,1,Set(AGISIGHUP=no)\n"
            . "exten => s,n,Set(CHANNEL(hangup_handler_push)=itd-bitrix-hangup,s,1)\n"
            . "exten => s,n,AGI(itd_bitrix_incoming.js,\${ARG1})\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($conf, 'itd-bitrix-inbound'));
        $this->assertSame("[itd-bitrix-hangup]\n"
            . "exten => s,1,AGI(itd_bitrix_hangup.js)\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($conf, 'itd-bitrix-hangup'));
        $this->assertSame("[itd-bitrix-answer]\n"
            . "exten => s,1,AGI(itd_bitrix_show.js,\${ARG1})\n"
            . "exten => s,n,Return()\n\n", self::contextBlock($conf, 'itd-bitrix-answer'));
        $this->assertStringNotContainsString('itd-bitrix-inbound-custom', $conf);
        $this->assertStringNotContainsString('agi://', $conf);
    }

    public function testSecretsNeverInDialplan()
    {
        $b = $this->enabled();
        $this->configure($b, ['authMode' => 'app', 'appPortalUrl' => 'https://example.bitrix24.ru', 'appClientId' => 'local.x', 'appClientSecret' => 'AppS3cret']);
        list(, $conf) = $this->generate($b);
        $this->assertStringNotContainsString('s3cr3tc0de', $conf);
        $this->assertStringNotContainsString('AppS3cret', $conf);
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

    public function testAnswerHookOnFreePBX17WithQueuesFirst()
    {
        list($before, $conf) = $this->generate($this->enabled(), 17, true);
        $old = self::extenLines($before, 'macro-auto-blkvm', 's');
        $lines = self::extenLines($conf, 'macro-auto-blkvm', 's');
        $this->assertStringStartsWith('1,ExecIf($["${FROMQ}"="true"', $lines[0], 'priority 1 comes first');
        $this->assertSame('n,Return()', end($lines), 'Return() is still last');
        $this->assertCount(count($old) + 1, $lines, 'nothing lost');
        $this->assertSame(1, count(preg_grep('/^1,/', $lines)));
        $this->assertSame('n,GosubIf($["${BITRIX_UNIQUEID}"!=""]?itd-bitrix-answer,s,1(${IF($["${BITRIX_AGENT}"!=""]?${BITRIX_AGENT}:${EXTTOCALL})}))', $lines[count($lines) - 2]);
        $this->assertSame(array_slice($old, 0, -1), array_slice($lines, 0, -2), 'the other lines keep their order');

        $fq = self::extenLines($conf, 'from-queue', '_X.');
        $this->assertSame(['1,Set(__BITRIX_AGENT=${EXTEN})', 'n,Set(QAGENT=${EXTEN})', 'n,Set(__FROMQ=true)', 'n,Goto(ext-local,${QAGENT},1)'], $fq);
        $this->assertSame([], self::extenLines($conf, 'from-queue', '_.'));
    }

    public function testAnswerHookOnFreePBX16()
    {
        list($before, $conf) = $this->generate($this->enabled(), 16, true);
        $old = self::extenLines($before, 'macro-auto-blkvm', 's');
        $lines = self::extenLines($conf, 'macro-auto-blkvm', 's');
        $this->assertStringStartsWith('1,', $lines[0]);
        $this->assertCount(count($old) + 1, $lines);
        $this->assertStringStartsWith('n,GosubIf($["${BITRIX_UNIQUEID}"!=""]?itd-bitrix-answer,s,1(', end($lines));
        $this->assertSame('1,Set(__BITRIX_AGENT=${EXTEN})', self::extenLines($conf, 'from-queue', '_.')[0]);
    }

    public function testWithoutQueuesModuleNoFromQueueIsCreated()
    {
        list($before, $conf) = $this->generate($this->enabled(), 17, false);
        $this->assertNull(self::contextBlock($conf, 'from-queue'));
        $lines = self::extenLines($conf, 'macro-auto-blkvm', 's');
        $this->assertStringStartsWith('1,Gosub(deprecated-macro', $lines[0]);
        $this->assertSame('n,Return()', end($lines));
        $this->assertStringContainsString('itd-bitrix-answer,s,1', $lines[count($lines) - 2]);
    }

    public function testPatternRouteMatchingAListedDid()
    {
        $routes = [['extension' => '_7495XXXXXXX', 'cidnum' => '', 'pricid' => '', 'description' => 'Moscow', 'destination' => '']];
        list(, $conf) = $this->generate($this->enabled(['84951234567']), 17, true, $routes);
        $this->assertContains('n,Gosub(itd-bitrix-inbound,s,1(${FROM_DID}))', self::extenLines($conf, 'ext-did-0002', '_7495XXXXXXX'));
    }

    public function testRouteWithoutHookLabelIsSkipped()
    {
        $b = $this->enabled(['74951234567']);
        $this->core->dids = [self::ROUTES[0]];
        $ext = new extensions();
        $ext->add('ext-did-0002', '74951234567', '', new ext_goto('1', '400', 'ext-queues'));
        $b->doDialplanHook($ext, 'asterisk', 500);
        $this->assertStringNotContainsString('itd-bitrix', $ext->generateConf());
    }

    /** Same vectors as agi-src/logic/phone.ts didKey(). */
    public function testDidKeyMatchesTheAgiNormalisation()
    {
        $cases = [
            ['+74951234567', '7', '74951234567'],
            ['84951234567', '7', '74951234567'],
            ['74951234567', '7', '74951234567'],
            ['4951234567', '7', '74951234567'],
            ['0074951234567', '7', '74951234567'],
            ['+8 495 123-45-67', '7', '84951234567'],
            ['84951234567', '', '84951234567'],
            ['unknown', '7', ''],
            ['0012', '7', '0012'],
        ];
        foreach ($cases as $c) {
            $this->assertSame($c[2], Bitrix::didKey($c[0], $c[1]), $c[0]);
        }
    }
}
