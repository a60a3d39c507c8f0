<?php

/** Server-side validation: one clear message per field, nothing stored on error. */
class SettingsValidatorTest extends BitrixTestCase
{
    private function errorsFor(array $post)
    {
        $b = $this->bitrix();
        $this->assertFalse($b->page()->save($post + self::VALID_POST));
        $this->assertFileDoesNotExist($b->configFile()->path(), 'nothing written on error');
        $this->assertFalse($b->getConfig('settings'), 'nothing stored on error');
        $this->assertSame('danger', $b->page()->messages()[0]['type']);
        return $b->page()->errors();
    }

    public function testWebhookUrlForm()
    {
        $msg = 'The webhook URL must look like https://<portal>/rest/<user id>/<code>/ (copy it from Bitrix24).';
        foreach ([
            'http://example.bitrix24.ru/rest/1/abc/',
            'https://example.bitrix24.ru/rest/1/',
            'https://example.bitrix24.ru/rest/x/abc/',
            'https://example.bitrix24.ru/',
            'javascript:alert(1)',
        ] as $bad) {
            $this->assertSame(['webhookUrl' => $msg], $this->errorsFor(['webhookUrl' => $bad]), $bad);
        }
    }

    public function testPlainHttpAllowedForLocalhostOnly()
    {
        $b = $this->bitrix();
        $this->assertTrue($b->page()->save(['webhookUrl' => 'http://127.0.0.1:8088/rest/1/abc/'] + self::VALID_POST), json_encode($b->page()->errors()));
    }

    public function testHttpsProxy()
    {
        $msg = 'The proxy must look like http://host:port or http://user:password@host:port (percent-encode special characters in the user name and password).';
        foreach (['proxy.lan:3128', 'https://proxy.lan:3128', 'http://proxy.lan', 'http://pbx:a b@proxy.lan:3128', 'http://proxy.lan:3128/path'] as $bad) {
            $this->assertSame(['httpsProxy' => $msg], $this->errorsFor(['httpsProxy' => $bad]), $bad);
        }
        // A mask with no saved password to stand for.
        $this->assertSame(['httpsProxy' => 'Type the proxy password again.'],
            $this->errorsFor(['httpsProxy' => 'http://pbx:' . \FreePBX\modules\Bitrix\Settings::MASK . '@10.0.0.2:3128']));
        $b = $this->bitrix();
        $this->assertTrue($b->page()->save(['httpsProxy' => 'http://pbx:pr0xy%40S3cret@10.0.0.1:3128'] + self::VALID_POST), json_encode($b->page()->errors()));
        $cfg = json_decode(file_get_contents($b->configFile()->path()), true);
        $this->assertSame('http://pbx:pr0xy%40S3cret@10.0.0.1:3128', $cfg['httpsProxy']);
        $this->assertContains('pr0xy%40S3cret', $b->settings()->secrets(), 'masked wherever CLI output reaches the page');
        $html = $b->showPage();
        $this->assertStringNotContainsString('pr0xy', $html, 'the password never reaches the browser');
        $this->assertStringContainsString('http://pbx:' . \FreePBX\modules\Bitrix\Settings::MASK . '@10.0.0.1:3128', $html);

        // Saving the form as shown keeps the password; a new host with the mask keeps it too.
        $this->assertTrue($b->page()->save(['httpsProxy' => 'http://pbx:' . \FreePBX\modules\Bitrix\Settings::MASK . '@10.0.0.2:3128'] + self::VALID_POST));
        $this->assertSame('http://pbx:pr0xy%40S3cret@10.0.0.2:3128', $b->settings()->get()['httpsProxy']);
        // Empty switches the proxy off.
        $this->assertTrue($b->page()->save(['httpsProxy' => ''] + self::VALID_POST));
        $this->assertSame('', $b->settings()->get()['httpsProxy']);
    }

    public function testDids()
    {
        $this->assertSame(['dids' => '"495-abc" is not a phone number: use digits, optionally starting with +.'],
            $this->errorsFor(['didsExtra' => "74951234567\n495-abc"]));
        $many = implode("\n", range(10000, 11000));
        $this->assertSame(['dids' => 'At most 1000 DIDs can be listed.'], $this->errorsFor(['didsExtra' => $many, 'dids' => []]));
    }

    public function testClickToCallRewriteRulesThatAreNotRules()
    {
        $msg = function ($line) {
            return ['clickToCallRewrite' => '"' . $line . '" is not a rule: write the prefix, "=>", then what replaces it, e.g. +7 => 8.'];
        };
        foreach (['+7 -> 8', '=> 8', '7 => +8', '+7 => 8; Hangup', '+7 => 8 => 9', 'abc => 1', '+1234567890123456 => 1'] as $bad) {
            $this->assertSame($msg($bad), $this->errorsFor(['clickToCallRewrite' => "+7 => 8\n" . $bad]), $bad);
        }
        $this->assertSame(['clickToCallRewrite' => 'At most 50 rules.'], $this->errorsFor(['clickToCallRewrite' => str_repeat("+7 => 8\n", 51)]));
    }

    public function testClickToCallRewriteRules()
    {
        $b = $this->bitrix();
        $this->assertTrue($b->page()->save(['clickToCallRewrite' => "+7 => 8\r\n\n  +375=>810375 \n+ =>  "] + self::VALID_POST));
        $this->assertSame([['prefix' => '+7', 'replace' => '8'], ['prefix' => '+375', 'replace' => '810375'], ['prefix' => '+', 'replace' => '']],
            $b->settings()->get()['clickToCallRewrite']);
        $this->assertStringContainsString(">+7 =&gt; 8\n+375 =&gt; 810375\n+ =&gt; </textarea>", $b->showPage(), 'shown back one per line');
    }

    public function testOutgoingRoutes()
    {
        $b = $this->bitrix();
        $this->assertTrue($b->page()->save(['outgoingRoutesShown' => '1', 'outgoingRoutes' => ['2', '2', '7', 'x; Hangup', ['1']]] + self::VALID_POST));
        $this->assertSame(['2', '7'], $b->settings()->get()['outgoingRoutes'], 'route ids only, once each');
        $this->assertTrue($b->page()->save(['outgoingRoutesShown' => '1'] + self::VALID_POST));
        $this->assertSame([], $b->settings()->get()['outgoingRoutes'], 'none ticked: every route');
        $this->assertTrue($b->page()->save(['outgoingRoutes' => ['5']] + self::VALID_POST));
        $this->assertSame([], $b->settings()->get()['outgoingRoutes'], 'a form without the route list leaves them alone');
    }

    public function testNumbersInRange()
    {
        $this->assertSame(['outgoingTimeoutMs' => 'Enter a whole number from 300 to 10000.'], $this->errorsFor(['outgoingTimeoutMs' => '100']));
        $this->assertSame(['defaultUserId' => 'Enter a whole number from 1 to 2147483647.'], $this->errorsFor(['defaultUserId' => '0']));
        $this->assertSame(['incomingTimeoutMs' => 'Enter a whole number from 300 to 10000.'], $this->errorsFor(['incomingTimeoutMs' => '20000']));
        $this->assertSame(['showTimeoutMs' => 'Enter a whole number from 300 to 10000.'], $this->errorsFor(['showTimeoutMs' => '1.5']));
        $this->assertSame(['retentionHours' => 'Enter a whole number from 1 to 8760.'], $this->errorsFor(['retentionHours' => '-1']));
        $this->assertSame(['staleCallHours' => 'Enter a whole number from 1 to 720.'], $this->errorsFor(['staleCallHours' => '0']));
        $this->assertSame(['staleCallHours' => 'Enter a whole number from 1 to 720.'], $this->errorsFor(['staleCallHours' => '721']));
        $this->assertSame(['staleCallHours' => 'Enter a whole number from 1 to 720.'], $this->errorsFor(['staleCallHours' => '4h']));
        $this->assertSame(['rateLimitPerSecond' => 'Enter a number above 0 and up to 100.'], $this->errorsFor(['rateLimitPerSecond' => '0']));
    }

    public function testStaleCallHoursIsSavedAndWrittenToTheConfigFile()
    {
        $b = $this->bitrix();
        $this->assertSame(4, $b->settings()->get()['staleCallHours'], 'default from the schema');
        $this->assertTrue($b->page()->save(['staleCallHours' => ' 12 '] + self::VALID_POST));
        $this->assertSame(12, $b->settings()->get()['staleCallHours']);
        $this->assertSame(12, json_decode(file_get_contents($b->configFile()->path()), true)['staleCallHours']);
        $this->assertTrue($b->page()->save(['staleCallHours' => '720'] + self::VALID_POST));
        $this->assertSame(720, $b->settings()->get()['staleCallHours']);
    }

    public function testOtherFields()
    {
        $this->assertSame(['countryCode' => 'The country code is up to 3 digits, e.g. 7.'], $this->errorsFor(['countryCode' => '7a']));
        $this->assertSame(['logLevel' => 'Choose a log level from the list.'], $this->errorsFor(['logLevel' => 'trace']));
        $this->assertSame(['authMode' => 'Choose a webhook or a local application.'], $this->errorsFor(['authMode' => 'token']));
        $this->assertSame(['appPortalUrl' => 'The portal address must look like https://example.bitrix24.ru (https, no path).'],
            $this->errorsFor(['appPortalUrl' => 'https://example.bitrix24.ru/crm/']));
        $this->assertSame(['appClientId' => 'The application ID is 1 to 200 characters without spaces.'],
            $this->errorsFor(['appClientId' => 'local 123']));
    }

    public function testSwitchingOnNeedsCredentials()
    {
        $this->assertSame(['webhookUrl' => 'Enter the webhook URL to switch reporting on.'], $this->errorsFor(['webhookUrl' => '']));
        $this->assertSame([
            'appPortalUrl' => 'Needed for the local application.',
            'appClientId' => 'Needed for the local application.',
            'appClientSecret' => 'Needed for the local application.',
        ], $this->errorsFor(['authMode' => 'app']));
    }

    public function testDisabledModuleNeedsNoCredentials()
    {
        $b = $this->bitrix();
        $this->assertTrue($b->page()->save(['enabled' => 'no', 'webhookUrl' => ''] + self::VALID_POST));
    }

    public function testValidatorAloneKeepsSecretsLeftEmptyOrMasked()
    {
        $settings = $this->bitrix()->settings();
        $validator = new \FreePBX\modules\Bitrix\SettingsValidator($settings->schemaProperties());
        $old = ['webhookUrl' => 'https://e.bitrix24.ru/rest/1/old/', 'appClientSecret' => 'oldKey'] + $settings->defaults();
        foreach (['', \FreePBX\modules\Bitrix\Settings::MASK] as $kept) {
            list($s, $e) = $validator->validate(['webhookUrl' => '', 'appClientSecret' => $kept], $old);
            $this->assertSame([], $e);
            $this->assertSame($old, $s, 'nothing changes');
        }
        list($s, $e) = $validator->validate(['webhookUrl' => 'https://e.bitrix24.ru/rest/1/new', 'enabled' => 'yes'], $old);
        $this->assertSame([], $e);
        $this->assertSame('https://e.bitrix24.ru/rest/1/new/', $s['webhookUrl']);
        $this->assertTrue($s['enabled']);
    }

    public function testCardModeKeepsShowCardInStepAndRefusesUnknownModes()
    {
        $this->assertSame(['cardMode' => 'Choose when the call card pops up.'], $this->errorsFor(['cardMode' => 'always']));
        foreach (['ringing' => true, 'answer' => true, 'off' => false] as $mode => $show) {
            $b = $this->bitrix();
            $this->assertTrue($b->page()->save(['cardMode' => $mode] + self::VALID_POST));
            $s = $b->settings()->get();
            $this->assertSame($mode, $s['cardMode']);
            $this->assertSame($show, $s['showCard'], $mode);
            $cfg = json_decode((string)file_get_contents($b->configFile()->path()), true);
            $this->assertSame($mode, $cfg['cardMode']);
            $this->assertSame($show, $cfg['showCard'], 'older AGIs read showCard');
        }
    }

    public function testSettingsSavedBeforeCardModeKeepTheirNoCard()
    {
        $b = $this->bitrix();
        $b->setConfig('settings', ['enabled' => true, 'showCard' => false]);
        $this->assertSame('off', $b->settings()->get()['cardMode']);
        $b->setConfig('settings', ['enabled' => true, 'showCard' => true]);
        $this->assertSame('ringing', $b->settings()->get()['cardMode'], 'the default');
    }

    public function testCardModeChangesTheDialplanOnlyWhereTheServiceRuns()
    {
        $on = ['enabled' => true, 'dids' => ['74951234567'], 'serviceEnabled' => true, 'servicePort' => 4574, 'countryCode' => '7',
            'outgoingEnabled' => false, 'outgoingRoutes' => [], 'clickToCall' => false];
        $sig = function (array $s, $pm2) {
            return \FreePBX\modules\Bitrix\Settings::dialplanSignature($s, $pm2);
        };
        $this->assertNotSame($sig($on + ['cardMode' => 'ringing'], true), $sig($on + ['cardMode' => 'answer'], true));
        $this->assertSame($sig($on + ['cardMode' => 'answer'], true), $sig($on + ['cardMode' => 'off'], true));
        $this->assertSame($sig($on + ['cardMode' => 'ringing'], false), $sig($on + ['cardMode' => 'answer'], false), 'no pm2: no ringing hook either way');
    }
}
