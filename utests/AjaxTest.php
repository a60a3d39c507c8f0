<?php

/** ajax.php?module=bitrix: the whitelist, and each command answered by its room. */
class AjaxTest extends BitrixTestCase
{
    public function testOnlyKnownCommandsAndAuthenticationStaysOn()
    {
        $b = $this->bitrix();
        foreach (['check', 'status', 'calls', 'selftest', 'oauthstart'] as $cmd) {
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
        $b = $this->connectedModule();
        $_REQUEST = ['command' => 'check'];
        $res = $b->ajaxHandler();
        $this->assertTrue($res['ok']);
        $this->assertSame(['config', 'reach', 'scope_user', 'scope_telephony', 'scope_crm'], array_column($res['checks'], 'id'));
        $this->assertSame([], $res['warnings']);
        $calls = $this->cliCalls();
        $this->assertCount(1, $calls);
        $this->assertSame(['check', '--config', $b->configFile()->path(), '--json'], $calls[0]['argv']);
        $this->assertStringNotContainsString('w3bh00kC0DE', json_encode($calls));
        $this->assertStringNotContainsString('cl1entS3cret', json_encode($calls));
    }

    public function testStatusAndCalls()
    {
        $b = $this->connectedModule();
        $_REQUEST = ['command' => 'calls', 'limit' => '9999'];
        $rows = $b->ajaxHandler();
        $this->assertSame('201', $rows[0]['operatorExtension']);
        $this->assertSame(['in', 'Incoming'], [$rows[0]['direction'], $rows[0]['directionText']]);
        $this->assertSame(['calls', '--limit', '500', '--config', $b->configFile()->path(), '--json'], $this->cliCalls()[0]['argv']);
        $_REQUEST = ['command' => 'status'];
        $status = $b->ajaxHandler();
        $this->assertSame(3, $status['outbox']['pending']);
        $this->assertSame(['due' => 0, 'waiting' => 1, 'held' => 1, 'givenUp' => 1], $status['outbox']['calls']);
    }

    public function testOauthStart()
    {
        $_REQUEST = ['command' => 'oauthstart'];
        $this->assertFalse($this->bitrix()->ajaxHandler()['ok'], 'nothing saved yet');
        $res = $this->connectedModule()->ajaxHandler();
        $this->assertTrue($res['ok']);
        $this->assertStringStartsWith('https://example.bitrix24.ru/oauth/authorize/?client_id=local.5f1&state=', $res['url']);
    }
}
