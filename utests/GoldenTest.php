<?php

use FreePBX\modules\Bitrix;

require_once __DIR__ . '/fixtures/freepbx17-core.php';

/**
 * Byte-for-byte outputs of the module for fixed fixtures, kept in utests/golden/: the whole
 * generated dialplan (with core's and queues' part), the settings page, the config file and the
 * AJAX answers. A change of any of them is a change of behaviour: look at the diff, and only
 * when it is meant run `ITD_UPDATE_GOLDEN=1 bash scripts/test-php.sh --filter GoldenTest`.
 */
class GoldenTest extends BitrixTestCase
{
    const DIR = __DIR__ . '/golden';
    const HOOK = 'https://example.bitrix24.ru/rest/1/s3cr3tc0de/';

    /** @var string|null */
    private $tz;

    protected function setUp(): void
    {
        parent::setUp();
        $this->tz = date_default_timezone_get();
        date_default_timezone_set('UTC');
    }

    protected function tearDown(): void
    {
        date_default_timezone_set($this->tz);
        parent::tearDown();
    }

    private function assertGolden($name, $actual)
    {
        $file = self::DIR . '/' . $name;
        if (getenv('ITD_UPDATE_GOLDEN') === '1') {
            @mkdir(dirname($file), 0755, true);
            file_put_contents($file, $actual);
        }
        $this->assertFileExists($file, 'golden file missing: run with ITD_UPDATE_GOLDEN=1 once');
        $this->assertSame(file_get_contents($file), $actual, $name);
    }

    /** The temp dir differs on every run; golden files name it <tmp>. */
    private function untmp($text)
    {
        return str_replace($this->tmp, '<tmp>', $text);
    }

    // ------------------------------------------------------------------
    // Dialplan
    // ------------------------------------------------------------------

    /** name => [settings, FreePBX major, queues module, routes; optional framework dialplan builder] */
    private static function dialplanFixtures()
    {
        $on = ['enabled' => true, 'webhookUrl' => self::HOOK, 'dids' => ['+7 (495) 123-45-67', '84957654321']];
        $pattern = [['extension' => '_7495XXXXXXX', 'cidnum' => '', 'pricid' => '', 'description' => 'Moscow', 'destination' => '']];
        $withCid = [['extension' => '74951234567', 'cidnum' => '79161112233', 'pricid' => '', 'description' => 'VIP', 'destination' => '']];
        return [
            'fpbx17-queues' => [$on, 17, true, self::ROUTES],
            'fpbx16-queues' => [$on, 16, true, self::ROUTES],
            'fpbx17-no-queues' => [$on, 17, false, self::ROUTES],
            'fpbx16-no-queues' => [$on, 16, false, self::ROUTES],
            'app-credentials' => [['authMode' => 'app', 'appPortalUrl' => 'https://example.bitrix24.ru', 'appClientId' => 'local.x',
                'appClientSecret' => 'AppS3cret'] + $on, 17, true, self::ROUTES],
            'pattern-route' => [['dids' => ['84951234567']] + $on, 17, true, $pattern],
            'did-and-cid-route' => [['dids' => ['74951234567'], 'countryCode' => ''] + $on, 17, true, $withCid],
            'country-code-empty' => [['countryCode' => ''] + $on, 17, true, self::ROUTES],
            'disabled' => [['enabled' => false] + $on, 17, true, self::ROUTES],
            'no-dids' => [['dids' => []] + $on, 17, true, self::ROUTES],
            'no-route-matches' => [['dids' => ['+15550001111']] + $on, 17, true, self::ROUTES],
            'route-without-label' => [['dids' => ['74951234567']] + $on, 17, true, [self::ROUTES[0]], 'noLabel'],
            'no-macro-auto-blkvm' => [['dids' => ['74951234567']] + $on, 17, true, [self::ROUTES[0]], 'noMacro'],
            'queues-old-queue-line' => [$on, 17, true, self::ROUTES, 'oldQueueLine'],
            'sub-auto-blkvm' => [['dids' => ['74951234567']] + $on, 17, true, [self::ROUTES[0]], 'subAutoBlkvm'],
            'fpbx17-core-outgoing' => [['dids' => ['74951234567'], 'outgoingEnabled' => true, 'outgoingRoutes' => ['1']] + $on, 17, true,
                FreePBX17CoreFixture::routes(), 'core17'],
            'fpbx17-core-click-only' => [['dids' => [], 'clickToCall' => true] + $on, 17, true, FreePBX17CoreFixture::routes(), 'core17'],
            'outgoing-no-trunks' => [['dids' => [], 'outgoingEnabled' => true] + $on, 17, true, FreePBX17CoreFixture::routes(), 'core17NoTrunks'],
        ];
    }

    /** The FreePBX 17 fixture PBX (utests/fixtures/freepbx17-core.php): inbound and outbound routes, trunks. */
    private static function core17(array $routes)
    {
        return FreePBX17CoreFixture::build();
    }

    /** The same PBX without outbound routes: core writes no macro-dialout-trunk. */
    private static function core17NoTrunks(array $routes)
    {
        return FreePBX17CoreFixture::build(['outbound' => false]);
    }

    /** Core's route without its labels, as an old or customised core might leave it. */
    private static function noLabel(array $routes)
    {
        $ext = new extensions();
        $ext->add('ext-did-0002', '74951234567', '', new ext_goto('1', '400', 'ext-queues'));
        return $ext;
    }

    /** A route with its labels but no macro-auto-blkvm (and no from-queue). */
    private static function noMacro(array $routes)
    {
        $ext = new extensions();
        $ext->add('ext-did-0002', '74951234567', 'did', new ext_setvar('CDR(did)', '${FROM_DID}'));
        $ext->add('ext-did-0002', '74951234567', 'did-cid-hook', new ext_noop('CallerID Entry Point'));
        $ext->add('ext-did-0002', '74951234567', 'dest-ext', new ext_goto('1', '400', 'ext-queues'));
        return $ext;
    }

    /** The Queues module before 17.0.1.11 on Asterisk 22: Queue() still has the macro argument. */
    private static function oldQueueLine(array $routes)
    {
        return self::frameworkDialplan($routes, 17, true, 20);
    }

    /** A core branch that names the answer macro sub-auto-blkvm. */
    private static function subAutoBlkvm(array $routes)
    {
        $ext = self::noMacro($routes);
        $ext->add('sub-auto-blkvm', 's', '', new ext_setvar('__GOSUB_RESULT', ''));
        $ext->add('sub-auto-blkvm', 's', '', new ext_gosub('1', 's', 'blkvm-clr'));
        $ext->add('sub-auto-blkvm', 's', '', new ext_return(''));
        return $ext;
    }

    /** The FreePBX 17 fixture PBX with the module (utests/fixtures/dump-dialplan.php), as on a PBX and as the lab runs it. */
    public function testDialplanOfTheFreePBX17Fixture()
    {
        $runs = [
            'fixture-pjsip-ast22.conf' => [],
            'fixture-lab-ast22.conf' => ['--phones', 'local', '--fastagi', '0'],
            'fixture-old-queues-ast22.conf' => ['--asterisk', '20', '--astversion', '22.10.1'],
        ];
        foreach ($runs as $name => $args) {
            $p = proc_open(array_merge([PHP_BINARY, __DIR__ . '/fixtures/dump-dialplan.php'], $args), [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
            $out = stream_get_contents($pipes[1]);
            $err = stream_get_contents($pipes[2]);
            fclose($pipes[1]);
            fclose($pipes[2]);
            $this->assertSame(0, proc_close($p), $err);
            $this->assertGolden('dialplan/' . $name, $out);
        }
    }

    public function testGeneratedDialplanOfEveryFixture()
    {
        $logs = [];
        foreach (self::dialplanFixtures() as $name => $f) {
            \FreePBX\DB_Helper::$store = [];
            $GLOBALS['__freepbx_log'] = [];
            $b = $this->bitrix();
            $this->configure($b, $f[0]);
            $this->core->dids = $f[3];
            $this->freepbx->Config->values['ASTVERSION'] = $f[1] >= 17 ? '22.10.1' : '18.20.0';
            $ext = isset($f[4]) ? call_user_func([self::class, $f[4]], $f[3]) : self::frameworkDialplan($f[3], $f[1], $f[2]);
            $b->doDialplanHook($ext, 'asterisk', Bitrix::myDialplanHooks());
            $this->assertGolden('dialplan/' . $name . '.conf', $ext->generateConf());
            $logs[$name] = array_column($GLOBALS['__freepbx_log'], 1);
        }
        $this->assertGolden('dialplan/freepbx_log.json', json_encode($logs, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n");
    }

    // ------------------------------------------------------------------
    // Page
    // ------------------------------------------------------------------

    private function pageModule(array $extra = [], array $options = [])
    {
        $b = $this->bitrix($options);
        $this->core->dids = [
            ['extension' => '74951234567', 'cidnum' => '', 'description' => 'Main line'],
            ['extension' => '74990000000', 'cidnum' => '', 'description' => 'Support <b>'],
            ['extension' => '_7495XXXXXXX', 'cidnum' => '', 'description' => 'Pattern'],
        ];
        $this->core->routes = [['route_id' => '1', 'name' => 'Main'], ['route_id' => '4', 'name' => 'Mobile <b>']];
        $this->configure($b, $extra + [
            'enabled' => true,
            'webhookUrl' => self::HOOK,
            'appPortalUrl' => 'https://example.bitrix24.ru', 'appClientId' => 'local.abc', 'appClientSecret' => 'AppS3cret',
            'dids' => ['+74951234567', '88001000000'],
        ]);
        return $b;
    }

    public function testSettingsPage()
    {
        $this->assertGolden('page/saved.html', $this->untmp($this->pageModule()->showPage()));
        $this->assertGolden('page/app-mode.html', $this->untmp($this->pageModule(['authMode' => 'app', 'logLevel' => 'debug'])->showPage()));

        $b = $this->pageModule();
        $_POST = ['action' => 'save', 'webhookUrl' => 'https://example.bitrix24.ru/rest/7/NEWs3cret/', 'appClientSecret' => 'NEWappKEY',
            'retentionHours' => '0', 'didsExtra' => "<script>x</script>\n123", 'dids' => ['74990000000'], 'showCard' => 'no',
            'appClientId' => '"><img src=x>', 'rateLimitPerSecond' => '0'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertGolden('page/failed-save.html', $this->untmp($b->showPage()));

        $b = $this->pageModule();
        $_POST = self::VALID_POST;
        $b->doConfigPageInit('itdbitrix');
        $this->assertGolden('page/saved-now.html', $this->untmp($b->showPage()));

        $b = $this->pageModule([], ['configPath' => $this->tmp . '/missing-dir/itd_bitrix.json']);
        $_POST = self::VALID_POST;
        $b->doConfigPageInit('itdbitrix');
        $this->assertGolden('page/config-not-written.html', $this->untmp($b->showPage()));

        $b = $this->pageModule();
        $_POST = [];
        $_GET = ['code' => 'good-code', 'state' => 'forged'];
        $b->doConfigPageInit('itdbitrix');
        $this->assertGolden('page/oauth-forged.html', $this->untmp($b->showPage()));

        $b = $this->pageModule([], ['cliCommand' => ['/nonexistent/node', $this->tmp . '/agi-bin/itd_bitrix.js']]);
        $_GET = [];
        $this->assertGolden('page/cli-missing.html', $this->untmp($b->showPage()));

        \FreePBX\DB_Helper::$store = [];
        $this->core->dids = [];
        $this->assertGolden('page/fresh-install.html', $this->untmp($this->bitrix()->showPage()));
    }

    // ------------------------------------------------------------------
    // Config file, AJAX
    // ------------------------------------------------------------------

    public function testConfigFile()
    {
        $b = $this->bitrix();
        $this->assertTrue($b->configFile()->write());
        $this->assertGolden('config/defaults.json', file_get_contents($b->configFile()->path()));
        $this->assertTrue($b->page()->save(self::VALID_POST));
        $this->assertGolden('config/webhook.json', file_get_contents($b->configFile()->path()));
        $this->assertTrue($b->page()->save(['authMode' => 'app', 'appPortalUrl' => 'https://example.bitrix24.ru/',
            'appClientId' => 'local.65a1b2c3d4e5f6.12345678', 'appClientSecret' => 'Xy7secretKEY', 'rateLimitPerSecond' => '2.5'] + self::VALID_POST));
        $this->assertGolden('config/app.json', file_get_contents($b->configFile()->path()));
        $this->assertSame($b->genConfig(), ['itd_bitrix.json' => json_decode(file_get_contents($b->configFile()->path()), true)]);
    }

    public function testAjaxAnswers()
    {
        $b = $this->bitrix();
        $answers = [];
        $_REQUEST = ['command' => 'oauthstart'];
        $answers['oauthstart-unsaved'] = $b->ajaxHandler();
        $this->configure($b, ['enabled' => true, 'webhookUrl' => self::HOOK, 'appPortalUrl' => 'https://example.bitrix24.ru',
            'appClientId' => 'local.5f1', 'appClientSecret' => 'AppS3cret']);
        $b->configFile()->write();
        foreach (['ok', 'badauth', 'warn', 'leak', 'broken', 'garbage'] as $mode) {
            putenv('ITD_FAKE_CLI_MODE=' . $mode);
            $_REQUEST = ['command' => 'check'];
            $answers['check-' . $mode] = $b->ajaxHandler();
        }
        putenv('ITD_FAKE_CLI_MODE=broken');
        $_REQUEST = ['command' => 'status'];
        $answers['status-broken'] = $b->ajaxHandler();
        putenv('ITD_FAKE_CLI_MODE=ok');
        foreach ([['command' => 'status'], ['command' => 'calls'], ['command' => 'calls', 'limit' => '0'], ['command' => 'selftest'],
            ['command' => 'nope']] as $req) {
            $_REQUEST = $req;
            $answers[http_build_query($req)] = $b->ajaxHandler();
        }
        $_REQUEST = ['command' => 'oauthstart'];
        $start = $b->ajaxHandler();
        $answers['oauthstart'] = ['ok' => $start['ok'], 'url' => str_replace($_SESSION['itd_bitrix_oauth']['state'], '<state>', $start['url'])];
        $answers['cli-calls'] = $this->cliCalls();
        $json = json_encode($answers, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n";
        $this->assertGolden('ajax.json', $this->untmp($json));
    }
}
