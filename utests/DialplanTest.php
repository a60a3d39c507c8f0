<?php

use FreePBX\modules\Bitrix;
use FreePBX\modules\Bitrix\Dialplan\Problem;

/**
 * The dialplan hook as FreePBX runs it (settings → listed routes → every hook), on core's and
 * queues' dialplan built first. Each hook's own lines: utests/Dialplan/.
 */
class DialplanTest extends BitrixTestCase
{
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
        $this->assertSame(InboundSubroutineTest::MAIN_LINES, $lines);
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
        foreach (['itd-bitrix-inbound', 'itd-bitrix-hangup', 'itd-bitrix-operator', 'itd-bitrix-answered', 'itd-bitrix-queue',
            'itd-bitrix-queue-answer'] as $ctx) {
            $this->assertStringStartsWith("[$ctx]\nexten => s,1,", (string)self::contextBlock($conf, $ctx), $ctx);
            $this->assertStringNotContainsString($ctx . '-custom', $conf);
        }
        $this->assertSame(3, substr_count($conf, 'AGI(itd_bitrix_'));
        $this->assertStringNotContainsString('agi://', $conf);
        $this->assertStringContainsString(AutoBlkvmHookTest::HOOK, $conf);
        $this->assertStringContainsString(DirectDialHookTest::HOOK, $conf);
        $this->assertStringContainsString(QueueHookTest::SPLICE, $conf);
        $this->assertSame([], $this->notifications->rows, 'every hook placed: no notification');
    }

    public function testEveryAnswerPathIsHookedAndNoneUsesExttocall()
    {
        list(, $conf) = $this->generate($this->enabled());
        $ours = '';
        foreach (['itd-bitrix-inbound', 'itd-bitrix-hangup', 'itd-bitrix-operator', 'itd-bitrix-answered', 'itd-bitrix-queue', 'itd-bitrix-queue-answer'] as $ctx) {
            $ours .= self::contextBlock($conf, $ctx);
        }
        $this->assertStringNotContainsString('EXTTOCALL', $ours);
        $this->assertStringNotContainsString('MASTER_CHANNEL', $ours, 'the linkedid owner is not always the inbound channel');
    }

    public function testSecretsNeverInDialplan()
    {
        $b = $this->enabled();
        $this->configure($b, ['authMode' => 'app', 'appPortalUrl' => 'https://example.bitrix24.ru', 'appClientId' => 'local.x', 'appClientSecret' => 'AppS3cret']);
        list(, $conf) = $this->generate($b);
        $this->assertStringNotContainsString('s3cr3tc0de', $conf);
        $this->assertStringNotContainsString('AppS3cret', $conf);
    }




    public function testOutgoingCallsWithoutDidsHookTheTrunksOnly()
    {
        require_once __DIR__ . '/fixtures/freepbx17-core.php';
        $b = $this->enabled([]);
        $this->configure($b, ['outgoingEnabled' => true]);
        $ext = FreePBX17CoreFixture::build();
        $b->doDialplanHook($ext, 'asterisk', Bitrix::myDialplanHooks());
        $conf = $ext->generateConf();
        $this->assertContains('n,Gosub(itd-bitrix-outbound,s,1())', self::extenLines($conf, 'macro-dialout-trunk', 's'));
        foreach (['itd-bitrix-outbound', 'itd-bitrix-out-answer', 'itd-bitrix-out-hangup'] as $ctx) {
            $this->assertNotNull(self::contextBlock($conf, $ctx), $ctx);
        }
        foreach (['itd-bitrix-inbound', 'itd-bitrix-hangup', 'itd-bitrix-answer'] as $ctx) {
            $this->assertNull(self::contextBlock($conf, $ctx), $ctx);
        }
        $this->assertSame([], $GLOBALS['__freepbx_log']);
    }

    public function testOutgoingOffAndClickToCallOffLeaveTheTrunksAlone()
    {
        require_once __DIR__ . '/fixtures/freepbx17-core.php';
        $b = $this->enabled();
        $this->configure($b, ['outgoingEnabled' => false, 'clickToCall' => false, 'outgoingRoutes' => ['1']]);
        $ext = FreePBX17CoreFixture::build();
        $before = self::contextBlock($ext->generateConf(), 'macro-dialout-trunk');
        $b->doDialplanHook($ext, 'asterisk', Bitrix::myDialplanHooks());
        $this->assertSame($before, self::contextBlock($ext->generateConf(), 'macro-dialout-trunk'));
        $this->assertStringNotContainsString('itd-bitrix-out', $ext->generateConf());
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
        $this->assertSame([['WARNING', 'bitrix: Inbound route 74951234567 (ext-did-0002) has no did-cid-hook label: its calls are not reported to Bitrix24.']],
            $GLOBALS['__freepbx_log']);
        $this->assertSame(['bitrix/DIALPLAN_ROUTES'], array_keys($this->notifications->rows));
    }

    public function testOldQueueLineOnThisAsteriskIsANotificationAndThePageSaysSo()
    {
        $b = $this->enabled();
        $this->core->dids = self::ROUTES;
        $ext = self::frameworkDialplan(self::ROUTES, 17, true, 20);
        $b->doDialplanHook($ext, 'asterisk', 500);
        $conf = $ext->generateConf();
        $this->assertNull(self::contextBlock($conf, 'itd-bitrix-queue'), 'no gosub Asterisk would not run');
        $this->assertStringContainsString(AutoBlkvmHookTest::HOOK, $conf, 'queue answers keep the macro hook');
        $n = $this->notifications->rows['bitrix/DIALPLAN_QUEUES'];
        $this->assertSame('Bitrix24: queue answers need the Queues module updated', $n['display_text']);
        $this->assertStringContainsString('Queue 400: FreePBX passes the member gosub to Queue() in a place Asterisk 22.10.1 does not read.', $n['extended_text']);
        $this->assertSame('config.php?display=itdbitrix', $n['link']);
        $this->assertStringContainsString('Queue 400: FreePBX passes the member gosub', $b->showPage());

        // The Queues module updated, Apply Config again: the notification and the page line go.
        $ext = self::frameworkDialplan(self::ROUTES, 17, true, 22);
        $b->doDialplanHook($ext, 'asterisk', 500);
        $this->assertSame([], $this->notifications->rows);
        $this->assertStringNotContainsString('itd-bitrix-dialplan-problems', $b->showPage());
    }

    public function testNoAnswerHookAtAllIsANotification()
    {
        $b = $this->enabled(['74951234567']);
        $this->core->dids = [self::ROUTES[0]];
        $ext = new extensions();
        $ext->add('ext-did-0002', '74951234567', 'did-cid-hook', new ext_noop('CallerID Entry Point'));
        $b->doDialplanHook($ext, 'asterisk', 500);
        $this->assertSame(['bitrix/DIALPLAN_ANSWER', 'bitrix/DIALPLAN_DIRECT'], array_keys($this->notifications->rows));
        $this->assertSame('Bitrix24: no answer hook in the dialplan', $this->notifications->rows['bitrix/DIALPLAN_ANSWER']['display_text']);
        $page = $b->showPage();
        $this->assertStringContainsString('Neither macro-auto-blkvm nor sub-auto-blkvm is in the dialplan', $page);
        $this->assertStringContainsString('macro-dial-one has no dialapp label', $page);
    }

    public function testSwitchingTheModuleOffClearsTheProblems()
    {
        $b = $this->enabled(['74951234567']);
        $this->core->dids = [self::ROUTES[0]];
        $ext = new extensions();
        $b->doDialplanHook($ext, 'asterisk', 500);
        $this->configure($b, ['enabled' => false]);
        $b->doDialplanHook($ext, 'asterisk', 500);
        $this->assertSame([], $this->notifications->rows);
        $this->assertSame([], $b->dialplanProblems()->current());
    }

    public function testWithoutTheNotificationsClassTheProblemIsStillLoggedAndShown()
    {
        $freepbx = new \FreePBX();
        $freepbx->register('Core', $this->core);
        $b = new Bitrix($freepbx, ['configPath' => $this->tmp . '/etc/itd_bitrix.json', 'chown' => false]);
        $this->configure($b, ['enabled' => true, 'webhookUrl' => 'https://example.bitrix24.ru/rest/1/s3cr3tc0de/', 'dids' => ['74951234567']]);
        $this->core->dids = [self::ROUTES[0]];
        $ext = new extensions();
        $b->doDialplanHook($ext, 'asterisk', 500);
        $this->assertCount(1, $GLOBALS['__freepbx_log']);
        $this->assertSame(Problem::ROUTE, $b->dialplanProblems()->current()[0]->kind);
    }
}
