<?php

/** The operator CLI as the page runs it: JSON in plain words, secrets masked, cut off when slow. */
class OperatorCliTest extends BitrixTestCase
{
    public function testFailedCheckIsReportedInPlainWords()
    {
        $b = $this->connectedModule();
        putenv('ITD_FAKE_CLI_MODE=badauth');
        $res = $b->cli()->check();
        $this->assertFalse($res['ok']);
        $this->assertSame(['config' => true, 'reach' => false], array_column($res['checks'], 'ok', 'id'));
        $this->assertSame('the portal refused the webhook: check the URL and that the webhook still exists', $res['checks'][1]['message']);
    }

    public function testSecretsInCliOutputAreMasked()
    {
        $b = $this->connectedModule();
        $this->configure($b, ['authMode' => 'app']);
        $b->configFile()->write();
        putenv('ITD_FAKE_CLI_MODE=leak');
        $json = json_encode($b->cli()->check(), JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
        $this->assertStringNotContainsString('cl1entS3cret', $json);
        $this->assertStringContainsString('secret ••••••••', $json);

        $this->configure($b, ['authMode' => 'webhook']);
        $b->configFile()->write();
        $json = json_encode($b->cli()->check(), JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
        $this->assertStringNotContainsString('w3bh00kC0DE', $json);
        $this->assertStringContainsString('request to https://example.bitrix24.ru/rest/1/••••••••/ failed', $json);
    }

    public function testCheckPassesOnTheConfigFilesWarnings()
    {
        $b = $this->connectedModule();
        putenv('ITD_FAKE_CLI_MODE=warn');
        $res = $b->cli()->check();
        $this->assertTrue($res['ok']);
        $this->assertSame(['key "queueHook" is not known to this version; ignored'], $res['warnings']);
    }

    public function testAConfigTheCliCannotReadIsOneErrorLine()
    {
        $b = $this->connectedModule();
        putenv('ITD_FAKE_CLI_MODE=broken');
        $line = 'config ' . $b->configFile()->path() . ': cannot read (EACCES)';
        $this->assertSame(['ok' => false, 'error' => $line], $b->cli()->status());
        $res = $b->cli()->check();
        $this->assertFalse($res['ok']);
        $this->assertSame([['id' => 'config', 'ok' => false, 'message' => $line]], $res['checks']);
        $this->assertSame([], $b->cli()->calls(10), 'the calls table stays empty');
    }

    public function testBrokenCliGivesAMessageNotATrace()
    {
        $b = $this->connectedModule();
        putenv('ITD_FAKE_CLI_MODE=garbage');
        $res = $b->cli()->check();
        $this->assertFalse($res['ok']);
        $this->assertSame('The operator tool failed (exit code 1). TypeError: cannot read properties of undefined', $res['message']);
    }

    public function testSlowCliIsCutOff()
    {
        $b = $this->connectedModule();
        putenv('ITD_FAKE_CLI_MODE=slow');
        $t = microtime(true);
        $res = $b->cli()->runJson(['status'], null, 1);
        $this->assertLessThan(3, microtime(true) - $t);
        $this->assertSame('The operator tool did not answer within 1 seconds.', $res['error']);
    }

    public function testMissingCliSaysHowToInstallIt()
    {
        $b = $this->bitrix(['cliCommand' => ['/nonexistent/node', $this->tmp . '/agi-bin/itd_bitrix.js']]);
        $this->assertSame('The operator tool is not installed yet: run "fwconsole reload" (and check that Node.js is installed).',
            $b->cli()->status()['error']);
    }
}
