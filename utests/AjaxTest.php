<?php

/** AJAX whitelist, the connection check through the operator CLI, and the OAuth flow. */
class AjaxTest extends BitrixTestCase
{
    const HOOK = 'https://example.bitrix24.ru/rest/1/w3bh00kC0DE/';

    private function module()
    {
        $b = $this->bitrix();
        $this->configure($b, ['enabled' => true, 'webhookUrl' => self::HOOK, 'appPortalUrl' => 'https://example.bitrix24.ru',
            'appClientId' => 'local.5f1', 'appClientSecret' => 'cl1entS3cret']);
        $b->writeConfigFile();
        return $b;
    }

    public function testOnlyKnownCommandsAndAuthenticationStaysOn()
    {
        $b = $this->bitrix();
        foreach (['check', 'status', 'calls', 'oauthstart'] as $cmd) {
            $setting = ['authenticate' => true, 'allowremote' => false];
            $this->assertTrue($b->ajaxRequest($cmd, $setting), $cmd);
            $this->assertSame(['authenticate' => true, 'allowremote' => false], $setting, $cmd);
        }
        foreach (['', 'delete', 'getJSON', 'CHECK', 'check ', 'save', '../check'] as $cmd) {
            $setting = [];
            $this->assertFalse($b->ajaxRequest($cmd, $setting), $cmd);
            $this->assertSame([], $setting);
        }
        $_REQUEST = ['command' => 'drop'];
        $this->assertSame(['ok' => false, 'message' => 'Unknown command.'], $b->ajaxHandler());
    }

    public function testCheckRunsTheCliWithoutSecretsOnItsCommandLine()
    {
        $b = $this->module();
        $_REQUEST = ['command' => 'check'];
        $res = $b->ajaxHandler();
        $this->assertTrue($res['ok']);
        $this->assertSame(['config', 'reach', 'auth'], array_column($res['checks'], 'id'));
        $calls = $this->cliCalls();
        $this->assertCount(1, $calls);
        $this->assertSame(['check', '--config', $b->getConfigPath(), '--json'], $calls[0]['argv']);
        $this->assertStringNotContainsString('w3bh00kC0DE', json_encode($calls));
        $this->assertStringNotContainsString('cl1entS3cret', json_encode($calls));
    }

    public function testFailedCheckIsReportedInPlainWords()
    {
        $b = $this->module();
        putenv('ITD_FAKE_CLI_MODE=badauth');
        $res = $b->connectionCheck();
        $this->assertFalse($res['ok']);
        $this->assertSame('Bitrix24 refused the webhook (INVALID_CREDENTIALS).', $res['checks'][2]['message']);
    }

    public function testSecretsInCliOutputAreMasked()
    {
        $b = $this->module();
        $this->configure($b, ['authMode' => 'app']);
        $b->writeConfigFile();
        putenv('ITD_FAKE_CLI_MODE=leak');
        $json = json_encode($b->connectionCheck(), JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
        $this->assertStringNotContainsString('cl1entS3cret', $json);
        $this->assertStringContainsString('secret ••••••••', $json);

        $this->configure($b, ['authMode' => 'webhook']);
        $b->writeConfigFile();
        $json = json_encode($b->connectionCheck(), JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
        $this->assertStringNotContainsString('w3bh00kC0DE', $json);
        $this->assertStringContainsString('Request to https://example.bitrix24.ru/rest/1/••••••••/ failed', $json);
    }

    public function testBrokenCliGivesAMessageNotATrace()
    {
        $b = $this->module();
        putenv('ITD_FAKE_CLI_MODE=garbage');
        $res = $b->connectionCheck();
        $this->assertFalse($res['ok']);
        $this->assertSame('The operator tool failed (exit code 1). TypeError: cannot read properties of undefined', $res['message']);
    }

    public function testSlowCliIsCutOff()
    {
        $b = $this->module();
        putenv('ITD_FAKE_CLI_MODE=slow');
        $t = microtime(true);
        $res = $b->runCliJson(['status'], null, 1);
        $this->assertLessThan(3, microtime(true) - $t);
        $this->assertSame('The operator tool did not answer within 1 seconds.', $res['error']);
    }

    public function testStatusAndCalls()
    {
        $b = $this->module();
        $_REQUEST = ['command' => 'calls', 'limit' => '9999'];
        $rows = $b->ajaxHandler();
        $this->assertSame('201', $rows[0]['operatorExtension']);
        $this->assertSame(['calls', '--limit', '500', '--config', $b->getConfigPath(), '--json'], $this->cliCalls()[0]['argv']);
        $_REQUEST = ['command' => 'status'];
        $this->assertSame(2, $b->ajaxHandler()['outbox']['pending']);
    }

    public function testOauthStartNeedsSavedApplication()
    {
        $b = $this->bitrix();
        $_REQUEST = ['command' => 'oauthstart'];
        $res = $b->ajaxHandler();
        $this->assertFalse($res['ok']);
        $this->assertSame('Save the portal address, application ID and key first, then press Connect.', $res['message']);
    }

    public function testOauthRoundTrip()
    {
        $b = $this->module();
        $_REQUEST = ['command' => 'oauthstart'];
        $res = $b->ajaxHandler();
        $this->assertTrue($res['ok']);
        $state = $_SESSION['itd_bitrix_oauth']['state'];
        $this->assertMatchesRegularExpression('/^[0-9a-f]{32}$/', $state);
        $this->assertSame('https://example.bitrix24.ru/oauth/authorize/?client_id=local.5f1&state=' . $state, $res['url']);
        $this->assertStringNotContainsString('cl1entS3cret', $res['url']);

        // Bitrix24 sends the browser back with the code and the state.
        $_GET = ['display' => 'itdbitrix', 'code' => 'good-code', 'state' => $state, 'domain' => 'example.bitrix24.ru'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertSame('success', $b->getMessages()[0]['type'], json_encode($b->getMessages()));
        $call = $this->cliCalls()[0];
        $this->assertSame(['oauth-exchange', '--config', $b->getConfigPath(), '--json'], $call['argv']);
        $this->assertSame("good-code\n", $call['stdin'], 'the code goes on stdin');
        $this->assertArrayNotHasKey('itd_bitrix_oauth', $_SESSION, 'state is one-time');
    }

    public function testOauthWithWrongStateIsRefusedWithoutRunningTheCli()
    {
        $b = $this->module();
        $b->startOauth();
        $_GET = ['code' => 'good-code', 'state' => 'forged'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertSame('danger', $b->getMessages()[0]['type']);
        $this->assertSame([], $this->cliCalls());
        // The state is gone: a replay with the right one fails too.
        $_GET = ['code' => 'good-code', 'state' => 'x'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertSame([], $this->cliCalls());
    }

    public function testOauthRefusedCode()
    {
        $b = $this->module();
        $res = $b->startOauth();
        parse_str(parse_url($res['url'], PHP_URL_QUERY), $q);
        $b->finishOauth(['code' => 'expired-code', 'state' => $q['state']]);
        $this->assertSame('Bitrix24 refused the authorization code: invalid_grant: the code has expired', $b->getMessages()[0]['text']);
    }
}
