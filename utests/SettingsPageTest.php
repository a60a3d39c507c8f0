<?php

/** The settings page rendered through the real views. */
class SettingsPageTest extends BitrixTestCase
{
    const HOOK_CODE = 'hookS3CRETc0de';
    const APP_SECRET = 'appS3CRETkey';

    private function savedModule(array $extra = [])
    {
        $b = $this->bitrix();
        $this->core->dids = [
            ['extension' => '74951234567', 'cidnum' => '', 'description' => 'Main line'],
            ['extension' => '74990000000', 'cidnum' => '', 'description' => 'Support'],
        ];
        $this->configure($b, $extra + [
            'enabled' => true,
            'webhookUrl' => 'https://example.bitrix24.ru/rest/7/' . self::HOOK_CODE . '/',
            'appPortalUrl' => 'https://example.bitrix24.ru', 'appClientId' => 'local.abc', 'appClientSecret' => self::APP_SECRET,
            'dids' => ['+74951234567', '88001000000'],
        ]);
        return $b;
    }

    public function testRendersFreePBXFormFromTheFieldTable()
    {
        $b = $this->savedModule();
        $html = $b->showPage();
        $fields = 0;
        foreach ($b->page()->fieldTable() as $section) {
            $fields += count($section['fields']);
            $this->assertStringContainsString(htmlspecialchars($section['title']), $html);
            foreach ($section['fields'] as $f) {
                $this->assertStringContainsString('id="itd_' . $f['key'] . '-help" class="help-block fpbx-help-block"', $html);
                $this->assertStringContainsString('fpbx-help-icon" data-for="itd_' . $f['key'] . '"', $html);
            }
        }
        $this->assertSame($fields + 2, substr_count($html, '<div class="element-container'), 'one row per field + Connect + Test');
        $this->assertStringContainsString('<form class="fpbx-submit" name="itdbitrix"', $html);
        $this->assertStringContainsString('<input type="hidden" name="action" value="save">', $html);
        $this->assertSame(9, substr_count($html, 'class="col-md-9 radioset"'), 'yes/no fields and the connect-with choice');
        $this->assertMatchesRegularExpression('/name="enabled" id="itd_enabled_first" value="yes" checked/', $html);
        // The route DID listed as +7495… is ticked; the free one is in the textarea.
        $this->assertMatchesRegularExpression('/name="dids\[\]" value="74951234567" checked/', $html);
        $this->assertMatchesRegularExpression('/name="dids\[\]" value="74990000000">/', $html);
        $this->assertStringContainsString('>88001000000</textarea>', $html);
        $this->assertSame(1, substr_count($html, '<form'), 'no nested forms');
        // Lost-call age: in the timing group, bounded as the schema says.
        $advanced = array_column($b->page()->fieldTable()['advanced']['fields'], 'key');
        $this->assertContains('staleCallHours', $advanced);
        $this->assertMatchesRegularExpression('/name="staleCallHours" id="itd_staleCallHours"\s+value="4"\s+min="1" max="720" step="1"/', $html);
    }

    public function testSecretsAreNeverRendered()
    {
        $b = $this->savedModule();
        $html = $b->showPage();
        $this->assertStringNotContainsString(self::HOOK_CODE, $html);
        $this->assertStringNotContainsString(self::APP_SECRET, $html);
        $this->assertStringContainsString('https://example.bitrix24.ru/rest/7/••••••••/', $html);
        $this->assertMatchesRegularExpression('/name="webhookUrl" id="itd_webhookUrl"\s+value=""/', $html);
        $this->assertMatchesRegularExpression('/type="password" class="form-control" name="appClientSecret" id="itd_appClientSecret"\s+value=""/', $html);

        // Nor after a failed save that carried a new secret.
        $_POST = ['action' => 'save', 'webhookUrl' => 'https://example.bitrix24.ru/rest/7/NEWs3cret/', 'appClientSecret' => 'NEWappKEY', 'retentionHours' => '0'];
        $b->doConfigPageInit('itdbitrix');
        $html = $b->showPage();
        $this->assertStringContainsString('Enter a whole number from 1 to 8760.', $html);
        foreach ([self::HOOK_CODE, self::APP_SECRET, 'NEWs3cret', 'NEWappKEY'] as $secret) {
            $this->assertStringNotContainsString($secret, $html);
        }
    }

    public function testScriptInAnySettingIsEscaped()
    {
        $xss = '<script>alert(1)</script>';
        $b = $this->savedModule(['appClientId' => $xss, 'authMode' => 'app', 'logLevel' => $xss, 'countryCode' => $xss]);
        $this->core->dids[] = ['extension' => '74950000001', 'cidnum' => '', 'description' => $xss];
        $html = $b->showPage();
        $this->assertStringNotContainsString($xss, $html);
        $this->assertStringContainsString('&lt;script&gt;alert(1)&lt;/script&gt;', $html);

        // Re-displayed input after a failed save, and the error message quoting it.
        $_POST = ['action' => 'save', 'didsExtra' => $xss, 'appClientId' => '"><img src=x onerror=alert(1)>', 'defaultUserId' => $xss];
        $b->doConfigPageInit('itdbitrix');
        $html = $b->showPage();
        $this->assertStringNotContainsString($xss, $html);
        $this->assertStringNotContainsString('"><img', $html);
        $this->assertStringContainsString('&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot; is not a phone number', $html);
    }

    public function testStatusPanelAndCallsTable()
    {
        $html = $this->savedModule()->showPage();
        $this->assertStringContainsString('Last successful exchange', $html);
        $this->assertStringContainsString('QUERY_LIMIT_EXCEEDED &lt;b&gt;retrying&lt;/b&gt;', $html);
        $this->assertMatchesRegularExpression('/<table id="itd-bitrix-calls"[^>]*data-toggle="table"[^>]*data-url="ajax.php\?module=bitrix&amp;command=calls"[^>]*data-escape="true"/s', $html);
        $this->assertStringContainsString('data-field="operatorExtension"', $html);
    }

    public function testStatusPanelCountsCallsAndStepsByStateAndListsWhatWaits()
    {
        $html = $this->savedModule()->showPage();
        $row = function ($label, $calls, $steps, $danger) {
            $badge = '<span class="badge' . ($danger ? ' itd-bitrix-badge-danger' : '') . '">';
            return '#<th>' . preg_quote($label, '#') . '</th>\s*<td>' . preg_quote($badge, '#') . $calls . '</span></td>\s*<td>'
                . preg_quote($badge, '#') . $steps . '</span></td>#';
        };
        $this->assertMatchesRegularExpression($row('Due: sent by the next retry run', 0, 0, false), $html);
        $this->assertMatchesRegularExpression($row('Waiting for their next attempt', 1, 2, false), $html);
        $this->assertMatchesRegularExpression($row('Held until the credentials or the portal address change', 1, 1, true), $html);
        $this->assertStringContainsString('<div class="alert alert-danger">The portal redirects to new-portal.bitrix24.ru&quot;&gt;&lt;b&gt;: put its new address in the settings above.', $html);
        $this->assertMatchesRegularExpression($row('Given up: too old, not sent', 1, 1, true), $html);
        $this->assertMatchesRegularExpression('#<th>Next attempt</th>\s*<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>#', $html);
        // Each waiting step: the call, the step in words, attempts, next attempt, last error (escaped).
        $this->assertSame(2, preg_match_all('#<td>1764150000\.12</td>#', $html));
        $this->assertMatchesRegularExpression('#<td>1764150000\.12</td>\s*<td>finish the call</td>\s*<td>3</td>\s*<td>[0-9: -]{19}</td>\s*<td>QUERY_LIMIT_EXCEEDED &lt;img src=x onerror=alert\(1\)&gt;</td>#', $html);
        $this->assertMatchesRegularExpression('#<td>attach the recording</td>\s*<td>1</td>\s*<td>[0-9: -]{19}</td>\s*<td>—</td>#', $html);
        $this->assertStringNotContainsString('<img src=x', $html);
    }

    public function testRuntimeLineIsAskedForByThePageScript()
    {
        $html = $this->savedModule()->showPage();
        $this->assertMatchesRegularExpression('#<th>Runtime on this PBX</th>\s*<td><span id="itd-bitrix-selftest" class="text-muted" aria-live="polite">Checking Node.js and SQLite…</span></td>#', $html);
        $js = file_get_contents(__DIR__ . '/../assets/js/bitrix.js');
        $this->assertStringContainsString("\$.getJSON(ajaxUrl('selftest'))", $js);
        $this->assertStringContainsString('.text((res && res.message) || i18n.selftestFailed)', $js, 'shown as text, never as HTML');
        $this->assertStringNotContainsString('.html(', $js);

        putenv('ITD_FAKE_CLI_MODE=broken');
        $html = $this->savedModule()->showPage();
        $this->assertStringContainsString('id="itd-bitrix-selftest"', $html, 'also when the operator tool fails: that is when it tells most');
        $this->assertMatchesRegularExpression('#<div class="alert alert-warning">config [^<]*itd_bitrix.json: cannot read \(EACCES\)</div>#', $html);
    }

    public function testStatusWhenTheCliIsMissing()
    {
        $b = $this->bitrix(['cliCommand' => ['/nonexistent/node', $this->tmp . '/agi-bin/itd_bitrix.js']]);
        $html = $b->showPage();
        $this->assertStringContainsString('The operator tool is not installed yet: run &quot;fwconsole reload&quot;', $html);
    }

    public function testActionBarOnlyOnThisPage()
    {
        $b = $this->bitrix();
        $this->assertSame([], $b->getActionBar(['display' => 'extensions']));
        $bar = $b->getActionBar(['display' => 'itdbitrix']);
        $this->assertSame(['submit', 'reset'], array_keys($bar));
        $this->assertSame('submit', $bar['submit']['id']);
    }

    public function testOtherPagesAreIgnored()
    {
        $b = $this->bitrix();
        $_POST = self::VALID_POST;
        $b->doConfigPageInit('extensions');
        $this->assertFalse($b->getConfig('settings'));
        $b->doConfigPageInit('itdbitrix');
        $this->assertIsArray($b->getConfig('settings'));
    }

    public function testPageFileIsTheThinWrapper()
    {
        $page = file_get_contents(__DIR__ . '/../page.itdbitrix.php');
        $this->assertLessThanOrEqual(3, substr_count(trim($page), "\n") + 1);
        $this->savedModule();
        ob_start();
        include __DIR__ . '/../page.itdbitrix.php';
        $this->assertStringContainsString('fpbx-submit', ob_get_clean());
    }
}
