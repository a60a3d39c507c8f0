<?php

/** The kvstore, defaults from config.schema.json, and what of the settings reaches the dialplan. */
class SettingsTest extends BitrixTestCase
{
    public function testDefaultsComeFromTheSchema()
    {
        $d = $this->bitrix()->settings()->defaults();
        foreach (json_decode(file_get_contents(__DIR__ . '/../config.schema.json'), true)['properties'] as $k => $p) {
            if (array_key_exists('default', $p)) {
                $this->assertSame($p['default'], $d[$k], $k);
            }
        }
        $this->assertSame(1, $d['version']);
        $this->assertSame([], $d['dids']);
        $this->assertSame('webhook', $d['authMode']);
    }

    public function testStoredSettingsOverDefaultsUnknownKeysDropped()
    {
        $b = $this->bitrix();
        $settings = $b->settings();
        $this->assertSame($settings->defaults(), $settings->get(), 'nothing stored yet');
        $settings->store(['defaultUserId' => 42, 'bogus' => 1] + $settings->get());
        $this->assertSame(42, $settings->get()['defaultUserId']);
        $this->assertArrayNotHasKey('bogus', $b->getConfig('settings'));
        $b->setConfig('settings', ['retentionHours' => 5, 'bogus' => 1]);
        $this->assertSame(array_merge($settings->defaults(), ['retentionHours' => 5]), $settings->get());
    }

    public function testSecrets()
    {
        $b = $this->bitrix();
        $this->assertSame([], $b->settings()->secrets());
        $this->configure($b, ['webhookUrl' => 'https://e.bitrix24.ru/rest/1/c0de/', 'appClientSecret' => 'k3y']);
        $this->assertSame(['c0de', 'k3y'], $b->settings()->secrets());
    }

    public function testNeedReloadOnlyWhenDialplanChanges()
    {
        $b = $this->bitrix();
        $b->page()->save(self::VALID_POST);
        $this->assertSame(1, $GLOBALS['__needreload'], 'switching on');
        $b->page()->save(['incomingTimeoutMs' => '3000', 'logLevel' => 'info'] + self::VALID_POST);
        $this->assertSame(1, $GLOBALS['__needreload'], 'runtime-only settings');
        $b->page()->save(['dids' => ['84951234567']] + self::VALID_POST);
        $this->assertSame(1, $GLOBALS['__needreload'], 'same DID written differently');
        $b->page()->save(['didsExtra' => ''] + self::VALID_POST);
        $this->assertSame(2, $GLOBALS['__needreload'], 'DID list changed');
        $b->page()->save(['enabled' => 'no'] + self::VALID_POST);
        $this->assertSame(3, $GLOBALS['__needreload'], 'switching off');
        $b->page()->save(['enabled' => 'no', 'didsExtra' => '111'] + self::VALID_POST);
        $this->assertSame(3, $GLOBALS['__needreload'], 'DIDs of a disabled module do not reach the dialplan');
    }

    public function testNeedReloadForOutgoingCallsAndClickToCall()
    {
        $b = $this->bitrix();
        $b->page()->save(self::VALID_POST);
        $this->assertSame(1, $GLOBALS['__needreload']);
        $b->page()->save(['outgoingEnabled' => 'yes'] + self::VALID_POST);
        $this->assertSame(2, $GLOBALS['__needreload'], 'outgoing switched on');
        $b->page()->save(['outgoingEnabled' => 'yes', 'outgoingShowCard' => 'no', 'outgoingTimeoutMs' => '700',
            'clickToCallRewrite' => '+7 => 8'] + self::VALID_POST);
        $this->assertSame(2, $GLOBALS['__needreload'], 'runtime-only outgoing settings');
        $b->page()->save(['outgoingEnabled' => 'yes', 'outgoingRoutesShown' => '1', 'outgoingRoutes' => ['3', '1']] + self::VALID_POST);
        $this->assertSame(3, $GLOBALS['__needreload'], 'routes chosen');
        $b->page()->save(['outgoingEnabled' => 'yes', 'outgoingRoutesShown' => '1', 'outgoingRoutes' => ['1', '3']] + self::VALID_POST);
        $this->assertSame(3, $GLOBALS['__needreload'], 'same routes');
        $b->page()->save(['outgoingEnabled' => 'no', 'clickToCall' => 'yes'] + self::VALID_POST);
        $this->assertSame(4, $GLOBALS['__needreload'], 'click-to-call alone keeps the trunk hook, for clicks only');
        $cfg = json_decode(file_get_contents($b->configFile()->path()), true);
        $this->assertSame(['1', '3'], $cfg['outgoingRoutes']);
        $this->assertSame([['prefix' => '+7', 'replace' => '8']], $cfg['clickToCallRewrite']);
        $this->assertSame(700, $cfg['outgoingTimeoutMs']);
        $this->assertFalse($cfg['outgoingShowCard']);
        $this->assertTrue($cfg['clickToCall']);
    }
}
