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
        $this->assertStringContainsString('Last successful exchange', $b->showPage());
    }

    public function testCheckReportsAnUnreachablePortalInPlainWords()
    {
        $res = $this->module()->cli()->check();
        $this->assertFalse($res['ok']);
        $ids = array_column($res['checks'], 'ok', 'id');
        $this->assertTrue($ids['config']);
        $this->assertFalse($ids['reach']);
        $this->assertStringNotContainsString('S3cretHookCode', json_encode($res));
    }
}
