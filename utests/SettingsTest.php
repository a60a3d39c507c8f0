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
}
