<?php

use FreePBX\modules\Bitrix;

/** /etc/asterisk/itd_bitrix.json: schema keys only, valid per config.schema.json, mode 0640, atomic. */
class ConfigFileTest extends BitrixTestCase
{
    private static function schema()
    {
        return json_decode(file_get_contents(__DIR__ . '/../config.schema.json'), true);
    }

    private function written(Bitrix $b)
    {
        $this->assertFileExists($b->configFile()->path());
        $cfg = json_decode(file_get_contents($b->configFile()->path()), true);
        $this->assertIsArray($cfg);
        return $cfg;
    }

    /** Validates with ajv against the repo's schema (node + node_modules/ajv). */
    private function assertValidPerSchema($file)
    {
        if (!is_dir(__DIR__ . '/../node_modules/ajv')) {
            $this->markTestSkipped('node_modules/ajv is missing: run npm ci first (the lead\'s devDependency).');
        }
        $cmd = 'node ' . escapeshellarg(__DIR__ . '/fixtures/validate-config.cjs') . ' '
            . escapeshellarg(__DIR__ . '/../config.schema.json') . ' ' . escapeshellarg($file) . ' 2>&1';
        exec($cmd, $out, $code);
        $this->assertSame(0, $code, 'schema validation: ' . implode("\n", $out));
    }


    public function testSaveWritesSchemaValidFileWithMode0640()
    {
        $b = $this->bitrix();
        $this->assertTrue($b->page()->save(self::VALID_POST), json_encode($b->page()->errors()));
        $cfg = $this->written($b);
        $this->assertSame(0640, fileperms($b->configFile()->path()) & 0777);
        $this->assertSame([], array_diff(array_keys($cfg), array_keys(self::schema()['properties'])), 'schema keys only');
        $this->assertSame(1, $cfg['version']);
        $this->assertTrue($cfg['enabled']);
        $this->assertSame('https://example.bitrix24.ru/rest/1/abcd1234efgh/', $cfg['webhookUrl']);
        $this->assertNull($cfg['app']);
        $this->assertSame(['74951234567', '+74957654321', '88001000000'], $cfg['dids']);
        $this->assertSame(12, $cfg['defaultUserId']);
        $this->assertSame(2500, $cfg['incomingTimeoutMs']);
        $this->assertSame(5, $cfg['rateLimitPerSecond']);
        $this->assertFalse($cfg['attachRecordings']);
        $this->assertSame('debug', $cfg['logLevel']);
        $this->assertSame('/var/lib/asterisk/itd_bitrix.sqlite', $cfg['databasePath']);
        $this->assertArrayNotHasKey('authMode', $cfg);
        $this->assertArrayNotHasKey('appClientSecret', $cfg);
        $this->assertValidPerSchema($b->configFile()->path());
        $this->assertSame(['itd_bitrix.json'], array_values(array_diff(scandir(dirname($b->configFile()->path())), ['.', '..'])), 'no temp file left behind');
    }

    public function testDefaultConfigIsValidToo()
    {
        $b = $this->bitrix();
        $this->assertTrue($b->configFile()->write());
        $cfg = $this->written($b);
        $this->assertFalse($cfg['enabled']);
        $this->assertSame([], $cfg['dids']);
        $this->assertValidPerSchema($b->configFile()->path());
    }

    public function testLocalApplicationCredentials()
    {
        $b = $this->bitrix();
        $post = ['authMode' => 'app', 'webhookUrl' => '', 'appPortalUrl' => 'https://example.bitrix24.ru/',
            'appClientId' => 'local.65a1b2c3d4e5f6.12345678', 'appClientSecret' => 'Xy7secretKEY'] + self::VALID_POST;
        $this->assertTrue($b->page()->save($post), json_encode($b->page()->errors()));
        $cfg = $this->written($b);
        $this->assertSame('', $cfg['webhookUrl']);
        $this->assertSame(['portalUrl' => 'https://example.bitrix24.ru', 'clientId' => 'local.65a1b2c3d4e5f6.12345678', 'clientSecret' => 'Xy7secretKEY'], $cfg['app']);
        $this->assertValidPerSchema($b->configFile()->path());
    }

    public function testBuildKeepsOnlyTheChosenCredentials()
    {
        $b = $this->bitrix();
        $s = ['authMode' => 'app', 'webhookUrl' => 'https://e.bitrix24.ru/rest/1/old/', 'appPortalUrl' => 'https://e.bitrix24.ru',
            'appClientId' => 'local.1', 'appClientSecret' => 'k'] + $b->settings()->defaults();
        $cfg = $b->configFile()->build($s);
        $this->assertSame('', $cfg['webhookUrl']);
        $this->assertSame(['portalUrl' => 'https://e.bitrix24.ru', 'clientId' => 'local.1', 'clientSecret' => 'k'], $cfg['app']);
        $this->assertSame([], array_diff(array_keys($cfg), array_keys(self::schema()['properties'])), 'schema keys only');
        $this->assertArrayNotHasKey('appClientSecret', $cfg);

        $cfg = $b->configFile()->build(['authMode' => 'webhook'] + $s);
        $this->assertSame('https://e.bitrix24.ru/rest/1/old/', $cfg['webhookUrl']);
        $this->assertNull($cfg['app']);
        $this->assertNull($b->configFile()->build(['appClientSecret' => ''] + $s)['app'], 'an incomplete application is none');
    }

    public function testReloadWritesTheFileAgain()
    {
        $b = $this->bitrix();
        $this->configure($b, ['enabled' => true, 'webhookUrl' => 'https://e.bitrix24.ru/rest/3/zz/', 'dids' => ['74951234567']]);
        $this->assertFileDoesNotExist($b->configFile()->path());
        $b->writeConfig($b->genConfig());
        $cfg = $this->written($b);
        $this->assertSame('https://e.bitrix24.ru/rest/3/zz/', $cfg['webhookUrl']);
        $this->assertSame(0640, fileperms($b->configFile()->path()) & 0777);
        $this->assertValidPerSchema($b->configFile()->path());
    }

    public function testEmptySecretFieldsKeepTheSavedOnes()
    {
        $b = $this->bitrix();
        $this->assertTrue($b->page()->save(self::VALID_POST));
        $again = ['webhookUrl' => '', 'retentionHours' => '10'] + self::VALID_POST;
        $this->assertTrue($b->page()->save($again));
        $cfg = $this->written($b);
        $this->assertSame('https://example.bitrix24.ru/rest/1/abcd1234efgh/', $cfg['webhookUrl']);
        $this->assertSame(10, $cfg['retentionHours']);
    }


    public function testUnwritableLocationIsReportedNotFatal()
    {
        $b = $this->bitrix(['configPath' => $this->tmp . '/missing-dir/itd_bitrix.json']);
        $this->assertTrue($b->page()->save(self::VALID_POST));
        $this->assertSame('warning', $b->page()->messages()[0]['type']);
        $this->assertStringNotContainsString('abcd1234efgh', $b->page()->messages()[0]['text']);
    }

    /** Cross-language: the AGI loader (operator CLI) reads the file PHP wrote. */
    public function testAgiLoaderAcceptsTheWrittenFile()
    {
        $cli = __DIR__ . '/../agi-bin/itd_bitrix.js';
        if (!is_file($cli)) {
            $this->markTestSkipped('agi-bin/itd_bitrix.js is not built yet (npm run build builds it before phpunit in CI).');
        }
        $b = $this->bitrix();
        $this->assertTrue($b->page()->save(self::VALID_POST));
        exec('node ' . escapeshellarg($cli) . ' validate-config --config ' . escapeshellarg($b->configFile()->path()) . ' 2>&1', $out, $code);
        $this->assertSame(0, $code, implode("\n", $out));

        // …and rejects what the schema rejects.
        $bad = json_decode(file_get_contents($b->configFile()->path()), true);
        $bad['incomingTimeoutMs'] = 5;
        file_put_contents($this->tmp . '/bad.json', json_encode($bad));
        exec('node ' . escapeshellarg($cli) . ' validate-config --config ' . escapeshellarg($this->tmp . '/bad.json') . ' 2>&1', $out2, $code2);
        $this->assertSame(1, $code2, implode("\n", $out2));
    }
}
