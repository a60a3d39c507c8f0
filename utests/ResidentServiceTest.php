<?php

use FreePBX\modules\Bitrix;
use FreePBX\modules\Bitrix\ResidentService;

require_once __DIR__ . '/fixtures/freepbx17-core.php';

/**
 * The resident service under FreePBX's pm2 module, through a stand-in for the pm2 API (every
 * call recorded): started, checked, restarted and stopped by the module's hooks and the page;
 * the dialplan through it with the per-call AGI as the fallback; nothing of it without pm2.
 */
class ResidentServiceTest extends BitrixTestCase
{
    const AMI_SECRET = 'Mgr-s3cret-42';

    /** @var TestPm2Old */
    private $pm2;
    /** @var int */
    private $sleeps = 0;

    /** pm2 installed (unless $withPm2 is false), the manager user set, agi-bin copied by a reload. */
    private function module($withPm2 = true, $pm2 = null, array $options = [])
    {
        $modules = new TestModules();
        $modules->enabled = $withPm2 ? ['core', 'pm2'] : ['core'];
        $this->freepbx->register('Modules', $modules);
        $this->pm2 = $pm2 ?: new TestPm2();
        if ($withPm2) {
            $this->freepbx->register('Pm2', $this->pm2);
        }
        $this->freepbx->Config->values += ['AMPMGRUSER' => 'admin', 'AMPMGRPASS' => self::AMI_SECRET, 'ASTMANAGERPORT' => '5038'];
        file_put_contents($this->tmp . '/agi-bin/itd_bitrix.js', "#!/usr/bin/env node\n// v1\n");
        $b = $this->bitrix($options + ['sleep' => function () {
            $this->sleeps++;
        }]);
        $this->configure($b, ['enabled' => true, 'webhookUrl' => 'https://example.bitrix24.ru/rest/1/s3cr3tc0de/', 'dids' => ['74951234567']]);
        return $b;
    }

    private function script()
    {
        return $this->tmp . '/agi-bin/itd_bitrix.js';
    }

    private function config()
    {
        return $this->tmp . '/etc/itd_bitrix.json';
    }

    private function starts()
    {
        return array_values(array_filter($this->pm2->calls, function ($c) {
            return in_array($c[0], ['start', 'startFromDirectory'], true);
        }));
    }

    public function testStartsAsCoreStartsItsFastAgiProxyWithTheManagerUserInTheEnvironmentOnly()
    {
        $b = $this->module();
        $this->assertSame(['state' => 'online', 'message' => ''], $b->service()->ensure());
        $starts = $this->starts();
        $this->assertCount(1, $starts);
        list($method, $name, $process, $dir, $env, $force) = $starts[0];
        $this->assertSame('startFromDirectory', $method);
        $this->assertSame('itd-bitrix', $name, 'dot-free: pm2 drops everything after a dot');
        $this->assertSame($this->script() . ' serve --port 4574 --config ' . $this->config(), $process);
        $this->assertSame($this->tmp . '/agi-bin', $dir);
        $this->assertTrue($force);
        $this->assertSame(['ITD_BITRIX_AMI_USER' => 'admin', 'ITD_BITRIX_AMI_SECRET' => self::AMI_SECRET, 'ITD_BITRIX_AMI_PORT' => '5038',
            'NODE_OPTIONS' => '--max-semi-space-size=1', 'MALLOC_ARENA_MAX' => '2', 'MALLOC_MMAP_THRESHOLD_' => '131072',
            'kill_timeout' => '6000'], $env, 'the memory knobs; the longest budget (hangup 4 s) and 2 s to stop');
        $this->assertStringNotContainsString(self::AMI_SECRET, $process);
        // Polled until pm2 says online, then its counters reset.
        $this->assertSame(['startFromDirectory', 'getStatus', 'reset'], array_slice($this->pm2->methods(), -3));
        $this->assertSame('online', $this->pm2->processes['itd-bitrix']['pm2_env']['status']);
        $this->assertSame([], $this->notifications->rows);
    }

    public function testANodeThatRefusesTheOptionInNodeOptionsStartsItWithoutIt()
    {
        // Node refuses a V8 option it does not allow in NODE_OPTIONS (exit 9) and then runs nothing.
        $node = $this->tmp . '/old-node';
        file_put_contents($node, "#!/bin/sh\n[ -n \"\$NODE_OPTIONS\" ] && { echo \"node: --max-semi-space-size= is not allowed in NODE_OPTIONS\" >&2; exit 9; }\nexit 0\n");
        chmod($node, 0755);
        $b = $this->module(true, null, ['nodeCommand' => [$node]]);
        $this->assertSame(['state' => 'online', 'message' => ''], $b->service()->ensure());
        $env = $this->starts()[0][4];
        $this->assertArrayNotHasKey('NODE_OPTIONS', $env);
        $this->assertSame(['2', '131072'], [$env['MALLOC_ARENA_MAX'], $env['MALLOC_MMAP_THRESHOLD_']]);
    }

    public function testLeftAloneWhileItRunsAsWanted()
    {
        $b = $this->module();
        $b->service()->ensure();
        $before = count($this->starts());
        $b->postReloadFreepbx();
        $b->preReloadFreepbx();
        $b->startFreepbx();
        $this->assertCount($before, $this->starts(), 'no restart: same port, same settings file, same code');
    }

    public function testAReloadStartsItWhenDownAndRestartsItForNewCodeOnlyAfterTheCopy()
    {
        $b = $this->module();
        $b->service()->ensure();
        $this->pm2->stop('itd-bitrix');
        $b->preReloadFreepbx();
        $this->assertCount(2, $this->starts(), 'not online at the start of a reload: started again');

        // An upgrade: install() forgets the code, reload copies the new itd_bitrix.js.
        $b->install();
        $b->preReloadFreepbx();
        $this->assertCount(2, $this->starts(), 'still the old files at the start of the reload: a running service stays');
        file_put_contents($this->script(), "#!/usr/bin/env node\n// v2\n");
        $b->postReloadFreepbx();
        $this->assertCount(3, $this->starts(), 'the new code runs after the reload');
        $b->postReloadFreepbx();
        $this->assertCount(3, $this->starts());
    }

    public function testAnotherPortOnThePageRestartsItAndAsksForApplyConfig()
    {
        $b = $this->module();
        $b->service()->ensure();
        $GLOBALS['__needreload'] = 0;
        $this->assertTrue($b->page()->save(['action' => 'save', 'servicePort' => '4580']));
        $this->assertSame(1, $GLOBALS['__needreload'], 'the dialplan names the port');
        $starts = $this->starts();
        $this->assertCount(2, $starts);
        $this->assertStringContainsString(' serve --port 4580 --config ', $starts[1][2]);

        $this->assertFalse($b->page()->save(['action' => 'save', 'servicePort' => '4573']));
        $this->assertStringContainsString('FreePBX', $b->page()->errors()['servicePort']);
        $this->assertFalse($b->page()->save(['action' => 'save', 'servicePort' => '80']));
        $this->assertCount(2, $this->starts());
    }

    public function testOffOnThePageStopsItAndTheDialplanGoesBackToTheAgiScripts()
    {
        $b = $this->module();
        $b->service()->ensure();
        $GLOBALS['__needreload'] = 0;
        $this->assertTrue($b->page()->save(['action' => 'save', 'serviceEnabled' => 'no']));
        $this->assertSame(1, $GLOBALS['__needreload']);
        $this->assertSame('stop', $this->pm2->methods()[count($this->pm2->methods()) - 1]);
        $this->assertSame('stopped', $this->pm2->processes['itd-bitrix']['pm2_env']['status']);
        $conf = $this->dialplan($b);
        $this->assertStringNotContainsString('AGI(agi://127.0.0.1:4574/', $conf);
        $this->assertStringContainsString('AGI(itd_bitrix_incoming.js,${ARG1})', $conf);
        $b->preReloadFreepbx();
        $b->postReloadFreepbx();
        $this->assertCount(1, $this->starts(), 'off stays off across reloads');
    }

    public function testWithoutThePm2ModuleNothingIsStartedAndTheDialplanIsTheAgiScriptsAlone()
    {
        $b = $this->module(false);
        $this->assertSame('unavailable', $b->service()->ensure()['state']);
        $b->preReloadFreepbx();
        $b->postReloadFreepbx();
        $b->startFreepbx();
        $b->stopFreepbx();
        $this->assertSame([], $this->pm2->calls);
        $conf = $this->dialplan($b);
        $this->assertStringNotContainsString('AGI(agi://127.0.0.1:4574/', $conf);
        // Switching the unused service off changes no dialplan: no Apply Config.
        $GLOBALS['__needreload'] = 0;
        $this->assertTrue($b->page()->save(['action' => 'save', 'serviceEnabled' => 'no']));
        $this->assertSame(0, $GLOBALS['__needreload']);
        $this->assertStringContainsString('Process Management (pm2) module is not installed', $b->showPage());
    }

    public function testEveryStepOfTheDialplanGoesThroughTheServiceWithTheFallback()
    {
        $b = $this->module();
        $this->configure($b, ['outgoingEnabled' => true, 'servicePort' => 4581]);
        $conf = $this->dialplan($b);
        foreach (['incoming,${ARG1}', 'show,${BITRIX_OPERATOR}', 'hangup', 'outgoing', 'hangup,out'] as $step) {
            list($name) = explode(',', $step);
            $args = substr($step, strlen($name));
            $this->assertStringContainsString("AGI(agi://127.0.0.1:4581/$step)\n", $conf, $step);
            $this->assertStringContainsString('ExecIf($["${AGISTATUS}"="FAILURE"]?AGI(itd_bitrix_' . $name . '.js' . $args . "))\n", $conf, $step);
        }
        // Cards while the phones ring (the default cardMode): the service alone, no executable after it.
        $this->assertStringContainsString("AGI(agi://127.0.0.1:4581/ring,\${BITRIX_OPERATOR},\${BITRIX_UNIQUEID},\${BITRIX_CALL_ID})\n", $conf);
        $this->assertStringContainsString("AGI(agi://127.0.0.1:4581/ringend,\${ARG1},\${BITRIX_UNIQUEID})\n", $conf);
        $this->assertSame(7, substr_count($conf, 'AGI(agi://127.0.0.1:4581/'));
        $this->assertSame(5, substr_count($conf, '"FAILURE"]?AGI(itd_bitrix_'));
    }

    public function testCardsOnRingingOnlyThroughTheService()
    {
        $b = $this->module();
        $this->configure($b, ['servicePort' => 4581, 'cardMode' => 'answer']);
        $conf = $this->dialplan($b);
        $this->assertStringNotContainsString('itd-bitrix-ringing', $conf, 'on answer: no ringing hook');
        $this->assertStringNotContainsString('BITRIX_RINGING', $conf);
        $this->configure($b, ['servicePort' => 4581, 'cardMode' => 'ringing', 'serviceEnabled' => false]);
        $conf = $this->dialplan($b);
        $this->assertStringNotContainsString('itd-bitrix-ringing', $conf, 'without the service: the card on answer');
        $this->assertStringNotContainsString('agi://127.0.0.1:4581/ring', $conf);
    }

    public function testANotificationWhileItCannotStartWithoutPm2sCommandLine()
    {
        $pm2 = new TestPm2();
        $pm2->startsAs = 'errored';
        $b = $this->module(true, $pm2);
        $out = $b->service()->ensure();
        $this->assertSame('failed', $out['state']);
        $this->assertSame(ResidentService::START_POLLS, $this->sleeps, 'polled, as core polls for its FastAGI proxy');
        $this->assertArrayHasKey('bitrix/SERVICE', $this->notifications->rows);
        $row = $this->notifications->rows['bitrix/SERVICE'];
        $this->assertSame('error', $row['level']);
        $this->assertTrue($row['candelete']);
        $this->assertStringContainsString('per-call AGI scripts', $row['extended_text']);

        $pm2->broken = true;
        $out = $b->service()->ensure();
        $this->assertSame('failed', $out['state']);
        $this->assertStringNotContainsString(self::AMI_SECRET, $out['message'] . json_encode($this->notifications->rows));

        $pm2->broken = false;
        $pm2->startsAs = 'online';
        $b->preReloadFreepbx();
        $this->assertSame([], $this->notifications->rows, 'cleared once it runs');
    }

    public function testNotInstalledYetSaysToReload()
    {
        $b = $this->module();
        unlink($this->script());
        $out = $b->service()->ensure();
        $this->assertSame('failed', $out['state']);
        $this->assertStringContainsString('fwconsole reload', $out['message']);
        $this->assertSame([], $this->starts());
    }

    public function testFwconsoleStartAndStop()
    {
        $b = $this->module();
        $output = new class {
            public $lines = [];

            public function writeln($line)
            {
                $this->lines[] = $line;
            }
        };
        $b->startFreepbx($output);
        $this->assertSame(['Bitrix24 resident service: online'], $output->lines);
        $this->assertCount(1, $this->starts());
        $b->stopFreepbx($output);
        $this->assertSame('stopped', $this->pm2->processes['itd-bitrix']['pm2_env']['status']);
        $b->startFreepbx($output);
        $this->assertCount(2, $this->starts());
    }

    public function testAnOlderPm2ModuleGetsTheSettingsFileInTheEnvironment()
    {
        $b = $this->module(true, new TestPm2Old());
        $this->assertSame('online', $b->service()->ensure()['state']);
        list($method, $name, $process, $env) = $this->starts()[0];
        $this->assertSame('start', $method);
        // Its start() takes the working folder from the process string: no slash after the script.
        $this->assertSame($this->script() . ' serve --port 4574', $process);
        $this->assertSame($this->config(), $env['ITD_BITRIX_CONFIG']);
        $b->postReloadFreepbx();
        $this->assertCount(1, $this->starts(), 'recognised as running as wanted');
    }

    public function testUninstallForgetsItAndItsStatusFiles()
    {
        $b = $this->module();
        $b->service()->ensure();
        $db = $this->tmp . '/itd_bitrix.sqlite';
        $this->configure($b, ['databasePath' => $db]);
        foreach (['', '.service.json', '.service.json.4242.tmp'] as $suffix) {
            file_put_contents($db . $suffix, 'x');
        }
        $this->assertTrue($b->uninstall());
        $this->assertSame('delete', $this->pm2->methods()[array_search('delete', $this->pm2->methods(), true)]);
        $this->assertSame([], $this->pm2->processes);
        foreach (['', '.service.json', '.service.json.4242.tmp'] as $suffix) {
            $this->assertFileDoesNotExist($db . $suffix);
        }
    }

    public function testModuleXmlHooksReachTheseMethods()
    {
        // As the framework's Hooks::updateBMOHooks reads them: namespace\class of the caller, its method.
        $xml = simplexml_load_file(__DIR__ . '/../module.xml');
        $found = [];
        foreach ($xml->hooks as $modules) {
            foreach ($modules as $methods) {
                $class = (string)$methods->attributes()->namespace . '\\' . (string)$methods->attributes()->class;
                foreach ($methods->method as $method) {
                    $found[$class . '::' . (string)$method->attributes()->callingMethod] = (string)$method->attributes()->namespace . '\\'
                        . (string)$method->attributes()->class . '::' . (string)$method;
                }
            }
        }
        $this->assertSame([
            'FreePBX\Console\Command\Start::postAsteriskHooks' => 'FreePBX\modules\Bitrix::startFreepbx',
            'FreePBX\Console\Command\Stop::preAsteriskHooks' => 'FreePBX\modules\Bitrix::stopFreepbx',
            'FreePBX\Reload::preReload' => 'FreePBX\modules\Bitrix::preReloadFreepbx',
            'FreePBX\Reload::postReload' => 'FreePBX\modules\Bitrix::postReloadFreepbx',
        ], $found);
        foreach ($found as $target) {
            $this->assertTrue(method_exists(Bitrix::class, explode('::', $target)[1]), $target);
        }
    }

    public function testStatusPanelShowsTheServiceFromTheOperatorTool()
    {
        $b = $this->module();
        $html = $b->showPage();
        $this->assertStringContainsString('Online on port 4574, up 3 d 4 h', $html);
        $this->assertMatchesRegularExpression('#<th>Call steps served</th>\s*<td>1234</td>#', $html);
        $this->assertMatchesRegularExpression('#<th>Memory</th>\s*<td>61.5 MB</td>#', $html);
        $this->assertStringContainsString('the one before ended without stopping (killed or crashed)', $html);
        putenv('ITD_FAKE_CLI_MODE=empty');
        $this->assertStringContainsString('Not running (absent): calls run through the per-call AGI scripts until it is back.', $this->bitrix()->showPage());
        putenv('ITD_FAKE_CLI_MODE=broken');
        $this->assertStringContainsString('Unknown: the operator tool did not answer.', $this->bitrix()->showPage());
    }

    public function testStatusPanelSaysWhetherClickToCallTakesClicksAndCanRingPhones()
    {
        $b = $this->module();
        $this->assertStringNotContainsString('<th>Click-to-call</th>', $b->showPage(), 'off in the settings: no row');
        $this->configure($b, ['clickToCall' => true]);
        $row = function () use ($b) {
            preg_match('#<th>Click-to-call</th>\s*<td class="([^"]*)">([^<]*)</td>#', $b->showPage(), $m);
            return array_slice($m, 1);
        };
        try {
            putenv('ITD_FAKE_CLICK_STATE=polling');
            putenv('ITD_FAKE_CLICK_AMI=1');
            $this->assertSame(['text-success', 'Taking clicks from Bitrix24; the manager (AMI) connection is up.'], $row());
            putenv('ITD_FAKE_CLICK_AMI=0');
            $this->assertSame('text-danger', $row()[0]);
            $this->assertStringContainsString('a click cannot ring a phone until it is back', $row()[1]);
            putenv('ITD_FAKE_CLICK_STATE=needs-application');
            $this->assertSame(['text-danger', 'Bitrix24 hands clicks only to the local application: connect it above.'], $row());
        } finally {
            putenv('ITD_FAKE_CLICK_STATE');
            putenv('ITD_FAKE_CLICK_AMI');
        }
    }

    /** The FreePBX 17 fixture PBX (inbound and outbound routes, trunks) with the module's hook. */
    private function dialplan(Bitrix $b)
    {
        $this->core->dids = FreePBX17CoreFixture::routes();
        $ext = FreePBX17CoreFixture::build();
        $b->doDialplanHook($ext, 'asterisk', Bitrix::myDialplanHooks());
        return $ext->generateConf();
    }
}
