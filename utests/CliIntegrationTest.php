<?php

/** The module against the real operator CLI (agi-bin/itd_bitrix.js, built by npm run build). */
class CliIntegrationTest extends BitrixTestCase
{
    protected function setUp(): void
    {
        parent::setUp();
        if (!is_file(__DIR__ . '/../agi-bin/itd_bitrix.js')) {
            $this->markTestSkipped('agi-bin/itd_bitrix.js is not built yet (npm run build builds it before phpunit in CI).');
        }
    }

    private function module()
    {
        $b = $this->bitrix(['cliCommand' => ['node', __DIR__ . '/../agi-bin/itd_bitrix.js']]);
        $this->configure($b, [
            'enabled' => true,
            'webhookUrl' => 'http://127.0.0.1:9/rest/1/S3cretHookCode/',
            'dids' => ['74951234567'],
            'databasePath' => $this->tmp . '/itd_bitrix.sqlite',
            'logPath' => $this->tmp . '/itd_bitrix.log',
        ]);
        $this->assertTrue($b->configFile()->write());
        return $b;
    }

    public function testStatusAndCallsFollowTheContract()
    {
        $b = $this->module();
        $status = $b->cli()->runJson(['status']);
        $this->assertArrayHasKey('lastSuccessAt', $status, json_encode($status));
        $this->assertSame(0, $status['outbox']['pending']);
        $this->assertSame(['calls' => []], $b->cli()->runJson(['calls', '--limit', '5']));
        $none = ['due' => 0, 'waiting' => 0, 'held' => 0, 'givenUp' => 0];
        $outbox = \FreePBX\modules\Bitrix\OutboxStatus::read($status);
        $this->assertSame($none, $outbox['calls'], 'calls counted by state');
        $this->assertSame($none, $outbox['steps']);
        $this->assertSame([], $outbox['waiting']);
        $this->assertStringContainsString('Last successful exchange', $b->showPage());
    }

    public function testUninstallCountsWhatTheRealOutboxHolds()
    {
        $b = $this->module();
        $b->cli()->status(); // creates the database
        $this->assertFileExists($this->tmp . '/itd_bitrix.sqlite');
        $this->assertTrue($b->uninstall());
        $this->assertSame('Nothing was waiting to be sent to Bitrix24.', $GLOBALS['__out'][0]);
        $this->assertFileDoesNotExist($this->tmp . '/itd_bitrix.sqlite');
    }

    public function testAConfigErrorIsOneLineWithExitCodeOne()
    {
        $b = $this->bitrix(['cliCommand' => ['node', __DIR__ . '/../agi-bin/itd_bitrix.js'], 'configPath' => $this->tmp . '/etc/missing.json']);
        $status = $b->cli()->status();
        $this->assertSame(['ok' => false, 'error' => 'config ' . $this->tmp . '/etc/missing.json: cannot read (ENOENT)'], $status);
        $check = $b->cli()->check();
        $this->assertFalse($check['ok']);
        $this->assertSame('config', $check['checks'][0]['id']);
        $this->assertSame([], $check['warnings']);
    }

    public function testCheckReportsAnUnreachablePortalInPlainWords()
    {
        $res = $this->module()->cli()->check();
        $this->assertFalse($res['ok']);
        $this->assertSame([], $res['warnings']);
        $ids = array_column($res['checks'], 'ok', 'id');
        $this->assertTrue($ids['config']);
        $this->assertFalse($ids['reach']);
        $this->assertStringNotContainsString('S3cretHookCode', json_encode($res));
    }
}
