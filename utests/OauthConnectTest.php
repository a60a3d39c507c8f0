<?php

/** Connect with a local application: state, code on the CLI's stdin, plain-words outcome. */
class OauthConnectTest extends BitrixTestCase
{
    public function testStartNeedsSavedApplication()
    {
        $res = $this->bitrix()->oauth()->start();
        $this->assertFalse($res['ok']);
        $this->assertSame('Save the portal address, application ID and key first, then press Connect.', $res['message']);
        $this->assertArrayNotHasKey('itd_bitrix_oauth', $_SESSION);
    }

    public function testRoundTrip()
    {
        $b = $this->connectedModule();
        $res = $b->oauth()->start();
        $this->assertTrue($res['ok']);
        $state = $_SESSION['itd_bitrix_oauth']['state'];
        $this->assertMatchesRegularExpression('/^[0-9a-f]{32}$/', $state);
        $this->assertSame('https://example.bitrix24.ru/oauth/authorize/?client_id=local.5f1&state=' . $state, $res['url']);
        $this->assertStringNotContainsString('cl1entS3cret', $res['url']);

        // Bitrix24 sends the browser back to the page with the code and the state.
        $_GET = ['display' => 'itdbitrix', 'code' => 'good-code', 'state' => $state, 'domain' => 'example.bitrix24.ru'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertSame('success', $b->page()->messages()[0]['type'], json_encode($b->page()->messages()));
        $call = $this->cliCalls()[0];
        $this->assertSame(['oauth-exchange', '--config', $b->configFile()->path(), '--json'], $call['argv']);
        $this->assertSame("good-code\n", $call['stdin'], 'the code goes on stdin');
        $this->assertArrayNotHasKey('itd_bitrix_oauth', $_SESSION, 'state is one-time');
    }

    public function testWrongStateIsRefusedWithoutRunningTheCli()
    {
        $b = $this->connectedModule();
        $b->oauth()->start();
        $_GET = ['code' => 'good-code', 'state' => 'forged'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertSame('danger', $b->page()->messages()[0]['type']);
        $this->assertSame([], $this->cliCalls());
        // The state is gone: a replay with the right one fails too.
        $_GET = ['code' => 'good-code', 'state' => 'x'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertSame([], $this->cliCalls());
    }

    public function testExpiredStateAndDeniedAccess()
    {
        $oauth = $this->connectedModule()->oauth();
        $oauth->start();
        $_SESSION['itd_bitrix_oauth']['at'] -= 901;
        $this->assertSame('danger', $oauth->finish(['code' => 'good-code', 'state' => $_SESSION['itd_bitrix_oauth']['state']])['type']);
        $oauth->start();
        $this->assertSame(['type' => 'danger', 'text' => 'Bitrix24 did not grant access. Check the application and press Connect again.'],
            $oauth->finish(['error' => 'access_denied', 'state' => $_SESSION['itd_bitrix_oauth']['state']]));
        $this->assertSame([], $this->cliCalls());
    }

    public function testRefusedCode()
    {
        $oauth = $this->connectedModule()->oauth();
        $res = $oauth->start();
        parse_str(parse_url($res['url'], PHP_URL_QUERY), $q);
        $this->assertSame(['type' => 'danger', 'text' => 'Connecting to Bitrix24 failed: the portal refused the code: the code has expired'],
            $oauth->finish(['code' => 'expired-code', 'state' => $q['state']]));
    }

    public function testReturnUrlIsThisPage()
    {
        $_SERVER['HTTP_HOST'] = 'pbx.example.org';
        $_SERVER['HTTPS'] = 'on';
        try {
            $this->assertSame('https://pbx.example.org/admin/config.php?display=itdbitrix', \FreePBX\modules\Bitrix\OauthConnect::returnUrl());
        } finally {
            unset($_SERVER['HTTP_HOST'], $_SERVER['HTTPS']);
        }
    }
}
