<?php

use FreePBX\modules\Bitrix;

/**
 * The "Bitrix24: responsible manager" destinations as FreePBX sees them (functions.inc.php),
 * their form, and their dialplan in the hook.
 */
class ResponsibleDestinationsTest extends BitrixTestCase
{
    /** A complete, valid save of the destination form (fallback picked in FreePBX's picker). */
    const POST = ['action' => 'saveResponsible', 'id' => '0', 'description' => 'Продажи: менеджер, потом очередь', 'ringTime' => '25',
        'honourDnd' => 'yes', 'skipBusy' => 'no', 'workdayOnly' => 'yes', 'goto0' => 'Queues', 'Queues0' => 'ext-queues,400,1',
        'Ring_Groups0' => 'ext-group,600,1'];

    /** @var TestDestinations */
    private $destinations;

    protected function setUp(): void
    {
        parent::setUp();
        $this->destinations = new TestDestinations();
        $this->freepbx->register('Destinations', $this->destinations);
    }

    private function withTwo()
    {
        $b = $this->bitrix();
        $r = $b->responsibleDestinations();
        $r->save(['description' => 'Sales', 'fallback' => 'ext-queues,400,1']);
        $r->save(['description' => 'Support', 'ringTime' => 40, 'skipBusy' => false, 'fallback' => 'ext-group,600,1']);
        return $b;
    }

    // ------------------------------------------------------------------
    // What FreePBX calls
    // ------------------------------------------------------------------

    public function testDestinationPickersListEachDestinationUnderItsCategory()
    {
        $this->bitrix();
        $this->assertSame([], bitrix_destinations());
        $this->withTwo();
        $this->assertSame([
            ['destination' => 'itd-bitrix-responsible,1,1', 'description' => 'Sales', 'category' => 'Bitrix24: responsible manager'],
            ['destination' => 'itd-bitrix-responsible,2,1', 'description' => 'Support', 'category' => 'Bitrix24: responsible manager'],
        ], bitrix_destinations());
        $this->assertSame(['itd-bitrix-responsible,7,1'], bitrix_getdest(7));
    }

    public function testDestinationInfoNamesOursFlagsDeletedOnesAndLeavesOthersAlone()
    {
        $this->withTwo();
        $this->assertSame(['description' => 'Bitrix24 responsible manager: Support',
            'edit_url' => 'config.php?display=itdbitrix&view=responsible&id=2'], bitrix_getdestinfo('itd-bitrix-responsible,2,1'));
        $this->assertSame([], bitrix_getdestinfo('itd-bitrix-responsible,9,1'), 'ours but gone: FreePBX lists it as orphaned');
        foreach (['ext-queues,400,1', 'itd-bitrix-responsible,2,2', 'itd-bitrix-responsible-answered,s,1', '', 'from-did-direct,101,1'] as $other) {
            $this->assertFalse(bitrix_getdestinfo($other), $other);
        }
    }

    public function testUsageChecksReportTheFallbacksOursSendCallsTo()
    {
        $this->withTwo();
        $sales = ['dest' => 'ext-queues,400,1', 'description' => 'Bitrix24 responsible manager: Sales', 'edit_url' => 'config.php?display=itdbitrix&view=responsible&id=1'];
        $support = ['dest' => 'ext-group,600,1', 'description' => 'Bitrix24 responsible manager: Support', 'edit_url' => 'config.php?display=itdbitrix&view=responsible&id=2'];
        $this->assertSame([$sales, $support], bitrix_check_destinations());
        $this->assertSame([$support], bitrix_check_destinations(['ext-group,600,1', 'app-blackhole,hangup,1']));
        $this->assertSame([], bitrix_check_destinations([]));
        $this->assertSame([], bitrix_check_destinations(['ext-local,101,1']));
    }

    public function testAnotherModuleRenumberingAFallbackMovesOursAlong()
    {
        $b = $this->withTwo();
        $this->assertSame(0, bitrix_change_destination('ext-queues,401,1', 'ext-queues,402,1'));
        $this->assertSame(0, $GLOBALS['__needreload']);
        $this->assertSame(1, bitrix_change_destination('ext-queues,400,1', 'ext-queues,410,1'));
        $this->assertSame('ext-queues,410,1', $b->responsibleDestinations()->get(1)['fallback']);
        $this->assertSame('ext-group,600,1', $b->responsibleDestinations()->get(2)['fallback']);
        $this->assertSame(1, $GLOBALS['__needreload']);
    }

    public function testStoredInTheKvstoreWithNewIdsAfterTheHighest()
    {
        $b = $this->withTwo();
        $r = $b->responsibleDestinations();
        $this->assertTrue($r->delete(1));
        $this->assertFalse($r->delete(1));
        $this->assertSame(3, $r->save(['description' => 'New', 'fallback' => 'ext-local,101,1']));
        $this->assertSame([2, 3], array_keys($r->all()));
        $this->assertSame(['id' => 2, 'description' => 'Support', 'ringTime' => 40, 'honourDnd' => true, 'skipBusy' => false,
            'workdayOnly' => false, 'fallback' => 'ext-group,600,1'], $r->get(2));
        $this->assertSame([2, 3], array_keys($b->getConfig('responsibleDestinations')));
        $r->delete(2);
        $r->delete(3);
        $this->assertFalse($r->any());
        $this->assertFalse($b->getConfig('responsibleDestinations'));
    }

    // ------------------------------------------------------------------
    // The form
    // ------------------------------------------------------------------

    public function testValidFormSavesAsksForApplyConfigAndSwitchesTheLookupOn()
    {
        $b = $this->bitrix();
        $b->configFile()->write();
        $this->assertFalse(json_decode(file_get_contents($b->configFile()->path()), true)['responsibleRouting']);
        $_POST = $_REQUEST = self::POST;
        $b->doConfigPageInit('itdbitrix');
        $this->assertSame(['id' => 1, 'description' => 'Продажи: менеджер, потом очередь', 'ringTime' => 25, 'honourDnd' => true,
            'skipBusy' => false, 'workdayOnly' => true, 'fallback' => 'ext-queues,400,1'], $b->responsibleDestinations()->get(1));
        $this->assertSame(1, $GLOBALS['__needreload']);
        $this->assertTrue(json_decode(file_get_contents($b->configFile()->path()), true)['responsibleRouting']);
        $this->assertSame([['type' => 'success', 'text' => 'Destination saved.']], $b->page()->messages());
        $html = $b->showPage();
        $this->assertStringContainsString('<td>Продажи: менеджер, потом очередь</td>', $html, 'back on the settings page, in the list');
        $this->assertStringContainsString('config.php?display=itdbitrix&amp;view=responsible&amp;id=1', $html);

        // Edit: the same id, the new fallback from another category of the picker.
        $_POST = $_REQUEST = ['id' => '1', 'goto0' => 'Ring_Groups', 'ringTime' => '300'] + self::POST;
        $b->doConfigPageInit('itdbitrix');
        $this->assertSame('ext-group,600,1', $b->responsibleDestinations()->get(1)['fallback']);
        $this->assertSame(300, $b->responsibleDestinations()->get(1)['ringTime']);
        $this->assertCount(1, $b->responsibleDestinations()->all());
    }

    public function testInvalidFormIsShownAgainWithOneMessagePerField()
    {
        $b = $this->bitrix();
        $_POST = $_REQUEST = ['action' => 'saveResponsible', 'id' => '0', 'description' => "two\nlines", 'ringTime' => '4',
            'goto0' => 'Bitrix24_responsible_manager', 'Bitrix24_responsible_manager0' => 'itd-bitrix-responsible,1,1'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertFalse($b->responsibleDestinations()->any());
        $this->assertSame(0, $GLOBALS['__needreload']);
        $html = $b->showPage();
        $this->assertStringContainsString('name="itdbitrixresp"', $html, 'the form again');
        $this->assertStringContainsString('Enter a name of 1 to 50 characters.', $html);
        $this->assertStringContainsString('Enter a whole number from 5 to 300.', $html);
        $this->assertStringContainsString('The fallback cannot be a responsible-manager destination.', $html);

        list(, $e) = $b->responsibleDestinations()->validate(['description' => str_repeat('я', 50), 'ringTime' => '5'], Bitrix\ResponsibleDestinations::DEFAULTS);
        $this->assertSame(['fallback' => 'Choose where the call goes when the manager does not take it.'], $e);
        list(, $e) = $b->responsibleDestinations()->validate(['description' => str_repeat('я', 51), 'ringTime' => '301',
            'goto0' => 'X', 'X0' => 'Goto(evil)'], Bitrix\ResponsibleDestinations::DEFAULTS);
        $this->assertSame(['description', 'ringTime', 'fallback'], array_keys($e));
    }

    public function testFormOfAnExistingDestinationHasItsValuesThePickerAndDelete()
    {
        $b = $this->withTwo();
        $this->destinations->inUse['core'] = [['dest' => 'itd-bitrix-responsible,2,1', 'description' => 'Inbound Route: <Support line>', 'edit_url' => 'x']];
        $_GET = $_REQUEST = ['display' => 'itdbitrix', 'view' => 'responsible', 'id' => '2'];
        $html = $b->showPage();
        $this->assertStringContainsString('value="Support"', $html);
        $this->assertStringContainsString('value="40"', $html);
        $this->assertStringContainsString('<select name="goto0" id="goto0" data-current="ext-group,600,1"></select>', $html);
        $this->assertStringContainsString('data-fpbx-delete="config.php?display=itdbitrix&amp;action=deleteResponsible&amp;id=2"', $html);
        $this->assertStringContainsString('Used by: Inbound Route: &lt;Support line&gt;', $html);
        $this->assertStringContainsString('id="itd_skipBusy_no" value="no" checked', $html);
        $this->assertArrayHasKey('delete', $b->getActionBar($_REQUEST));
        $this->assertArrayNotHasKey('delete', $b->getActionBar(['display' => 'itdbitrix', 'view' => 'responsible']));
        $this->assertArrayNotHasKey('delete', $b->getActionBar(['display' => 'itdbitrix']));

        $_GET = $_REQUEST = ['display' => 'itdbitrix', 'view' => 'responsible'];
        $html = $b->showPage();
        $this->assertStringContainsString('New responsible-manager destination', $html);
        $this->assertStringContainsString('value="20"', $html);
        $this->assertStringNotContainsString('data-fpbx-delete', $html);
    }

    public function testDeleteIsRefusedWhileSomethingSendsCallsToIt()
    {
        $b = $this->withTwo();
        $this->destinations->inUse['core'] = [['dest' => 'itd-bitrix-responsible,1,1', 'description' => 'Inbound Route: 74951234567', 'edit_url' => 'x']];
        $_POST = [];
        $_GET = $_REQUEST = ['display' => 'itdbitrix', 'action' => 'deleteResponsible', 'id' => '1'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertNotNull($b->responsibleDestinations()->get(1));
        $this->assertSame('"Sales" is still used by: Inbound Route: 74951234567. Point those elsewhere first.', $b->page()->messages()[0]['text']);
        $this->assertSame(0, $GLOBALS['__needreload']);

        $_GET = $_REQUEST = ['display' => 'itdbitrix', 'action' => 'deleteResponsible', 'id' => '2'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertNull($b->responsibleDestinations()->get(2));
        $this->assertSame(1, $GLOBALS['__needreload']);
    }

    public function testListShowsTheFallbackAsFreepbxNamesIt()
    {
        $b = $this->withTwo();
        $this->destinations->known['ext-queues,400,1'] = ['description' => 'Queue 400: Sales <Moscow>'];
        $html = $b->showPage();
        $this->assertStringContainsString('<td>Queue 400: Sales &lt;Moscow&gt;</td>', $html);
        $this->assertStringContainsString('<td>ext-group,600,1</td>', $html, 'unknown to FreePBX: the raw destination');
        $this->assertStringContainsString('<td>40 s</td>', $html);
    }

    // ------------------------------------------------------------------
    // The hook
    // ------------------------------------------------------------------

    public function testDestinationsExistWhateverTheReportingState()
    {
        $b = $this->withTwo();
        $this->core->dids = self::ROUTES;
        // Reporting off: the destinations still exist (routes point at them) and answer without the card.
        $ext = self::frameworkDialplan(self::ROUTES);
        $b->doDialplanHook($ext, 'asterisk', Bitrix::myDialplanHooks());
        $conf = $ext->generateConf();
        $this->assertCount(11, self::extenLines($conf, 'itd-bitrix-responsible', '1'));
        $this->assertSame(['1,Gosub(macro-blkvm-clr,s,1())', 'n,Return()'], self::extenLines($conf, 'itd-bitrix-responsible-answered', 's'));
        $this->assertStringNotContainsString('itd-bitrix-inbound', $conf);

        // Reporting on: the answer goes through the module's answer subroutine.
        $this->configure($b, ['enabled' => true, 'webhookUrl' => 'https://example.bitrix24.ru/rest/1/s3cr3tc0de/', 'dids' => ['74951234567']]);
        $ext = self::frameworkDialplan(self::ROUTES);
        $b->doDialplanHook($ext, 'asterisk', Bitrix::myDialplanHooks());
        $conf = $ext->generateConf();
        $this->assertSame('n,GosubIf($["${BITRIX_UNIQUEID}"!="" & "${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}"=""]?itd-bitrix-answered,s,1(${ARG1}))',
            self::extenLines($conf, 'itd-bitrix-responsible-answered', 's')[1]);
        $this->assertNotNull(self::contextBlock($conf, 'itd-bitrix-answered'));
        $this->assertSame('n(fallback),Goto(ext-group,600,1)', self::extenLines($conf, 'itd-bitrix-responsible', '2')[8]);
    }
}
