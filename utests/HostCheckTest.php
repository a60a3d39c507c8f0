<?php

use FreePBX\modules\Bitrix\HostCheck;
use FreePBX\modules\Bitrix\Subprocess;

/**
 * The runtime's self-test as install and the settings page run it: the real
 * agi-bin/itd_bitrix_selftest.js (npm run build) on a fake host (test/fixtures/fake-host/node)
 * that lacks one requirement at a time.
 */
class HostCheckTest extends BitrixTestCase
{
    const BUILT = __DIR__ . '/../agi-bin';
    const FAKE_NODE = __DIR__ . '/../test/fixtures/fake-host/node';
    const FAKE_ENV = ['FAKE_HOST_NODE', 'FAKE_HOST_ARCH', 'FAKE_HOST_GLIBC'];
    const REFUSED = 'Bitrix24 Integration cannot run on this host, so nothing was installed or changed: ';

    protected function setUp(): void
    {
        parent::setUp();
        if (!is_file(self::BUILT . '/' . HostCheck::SCRIPT)) {
            $this->markTestSkipped('agi-bin/itd_bitrix_selftest.js is not built yet (npm run build builds it before phpunit in CI).');
        }
    }

    protected function tearDown(): void
    {
        foreach (self::FAKE_ENV as $k) {
            putenv($k);
        }
        parent::tearDown();
    }

    /** The module folder as unpacked, with the real self-test and bindings in agi-bin/. */
    private function realModule()
    {
        $mod = $this->moduleWithAgiBin(['itd_bitrix.js']);
        copy(self::BUILT . '/' . HostCheck::SCRIPT, $mod . '/agi-bin/' . HostCheck::SCRIPT);
        foreach (glob(self::BUILT . '/itd_bitrix_sqlite3-*.node') as $binding) {
            copy($binding, $mod . '/agi-bin/' . basename($binding));
        }
        return $mod;
    }

    /** requirement => [fake host environment, how the module is spoiled, what the line says] */
    public function hosts()
    {
        return [
            'Node.js 16' => [['FAKE_HOST_NODE' => 'v16.20.2'], null, 'node', 'Node.js v16.20.2 is too old: itd-bitrix needs Node.js 18 or newer'],
            'armhf' => [['FAKE_HOST_ARCH' => 'arm'], null, 'arch', 'architecture linux arm (armhf) is not supported'],
            'glibc 2.17' => [['FAKE_HOST_GLIBC' => '2.17'], null, 'glibc', 'glibc 2.17 is too old: itd-bitrix needs glibc 2.28 or newer'],
            'musl' => [['FAKE_HOST_GLIBC' => ''], null, 'glibc', 'no glibc found (musl or another C library?)'],
            'broken binding' => [[], 'binding', 'sqlite', 'the SQLite binding itd_bitrix_sqlite3-linux-'],
            'no Node.js' => [[], 'no-node', 'node', 'Node.js is not installed or not on the PATH of user '],
        ];
    }

    /** @dataProvider hosts */
    public function testAHostLackingARequirementIsRefusedBeforeAnythingChanges(array $env, $spoil, $failed, $says)
    {
        foreach ($env as $k => $v) {
            putenv($k . '=' . $v);
        }
        $mod = $this->realModule();
        if ($spoil === 'binding') {
            foreach (glob($mod . '/agi-bin/itd_bitrix_sqlite3-*.node') as $binding) {
                file_put_contents($binding, 'not an ELF file');
            }
        }
        $cron = new TestCron();
        $job = new TestJob();
        $job->addCommand('bitrix', 'retry', 'node x retry', '* * * * *', 55, true);
        $this->freepbx->register('Cron', $cron);
        $this->freepbx->register('Job', $job);
        $agi = $this->tmp . '/agi-bin';
        file_put_contents($agi . '/node_sqlite3.node', 'left by 17.0.1');
        $db = $this->tmp . '/data/itd_bitrix.sqlite';
        $b = $this->bitrix(['moduleDir' => $mod, 'nodeCommand' => [$spoil === 'no-node' ? $this->tmp . '/no/node' : self::FAKE_NODE]]);
        $this->configure($b, ['databasePath' => $db]);
        $before = \FreePBX\DB_Helper::$store;

        $this->assertFalse($b->install(), 'FreePBX stops the install when install() returns false');

        $this->assertCount(1, $GLOBALS['__out'], json_encode($GLOBALS['__out']));
        $this->assertStringStartsWith(self::REFUSED, $GLOBALS['__out'][0]);
        $this->assertStringContainsString($says, $GLOBALS['__out'][0]);
        $this->assertSame($before, \FreePBX\DB_Helper::$store, 'settings untouched');
        $this->assertFileDoesNotExist($b->configFile()->path());
        $this->assertDirectoryDoesNotExist(dirname($db));
        $this->assertSame([], $cron->lines);
        $this->assertSame(['bitrix/retry'], array_keys($job->jobs), 'not even the old job removed');
        $this->assertSame(['node_sqlite3.node'], array_values(array_diff(scandir($agi), ['.', '..'])));

        $answer = $b->hostCheck()->run($mod . '/agi-bin', 'missing');
        $this->assertFalse($answer['ok']);
        $this->assertSame($failed, $answer['failed']);
    }

    public function testAHostThatCanRunIsInstalledAndTheLineSaysWhatWasFound()
    {
        $cron = new TestCron();
        $this->freepbx->register('Cron', $cron);
        $b = $this->bitrix(['moduleDir' => $this->realModule(), 'nodeCommand' => [self::FAKE_NODE]]);
        $this->assertTrue($b->install());
        $this->assertStringStartsWith('Self-test: itd-bitrix can run here: Node.js v', $GLOBALS['__out'][0]);
        $this->assertFileExists($b->configFile()->path());
        $this->assertCount(1, $cron->lines);

        $answer = $b->hostCheck()->run($this->tmp . '/modules/bitrix/agi-bin', 'missing');
        $this->assertSame(['ok', 'failed', 'message', 'exitCode', 'node', 'platform', 'arch', 'glibc', 'binding', 'sqlite', 'checks'], array_keys($answer));
        $this->assertTrue($answer['ok']);
        $this->assertNull($answer['failed']);
        $this->assertSame(0, $answer['exitCode']);
        $this->assertSame(PHP_OS_FAMILY === 'Linux' ? 'linux' : $answer['platform'], $answer['platform']);
        $this->assertSame(['node', 'arch', 'glibc', 'sqlite'], array_column($answer['checks'], 'id'));
    }

    public function testMissingSelfTestAndUnexpectedFailures()
    {
        $check = new HostCheck(['node'], null);
        $this->assertSame(['ok' => false, 'failed' => null, 'message' => 'not here', 'exitCode' => null], $check->run($this->tmp . '/nowhere', 'not here'));

        $dir = $this->tmp . '/broken';
        mkdir($dir);
        file_put_contents($dir . '/' . HostCheck::SCRIPT, "throw new Error('boom from the bundle');\n");
        $answer = $check->run($dir, 'not here');
        $this->assertFalse($answer['ok']);
        $this->assertNull($answer['failed']);
        $this->assertSame(1, $answer['exitCode']);
        $this->assertStringStartsWith('The self-test failed unexpectedly (exit code 1): ', $answer['message']);
        $this->assertStringNotContainsString("\n", $answer['message']);

        file_put_contents($dir . '/' . HostCheck::SCRIPT, "process.stdout.write('{\"ok\":false,\"failed\":null,\"message\":\"self-test failed unexpectedly: x\"}\\n'); process.exitCode = 1;\n");
        $this->assertSame('The self-test failed unexpectedly (exit code 1): self-test failed unexpectedly: x', $check->run($dir, 'not here')['message']);
    }

    public function testCommandLineAsTheAsteriskUser()
    {
        $argv = ['node', '/var/www/html/admin/modules/bitrix/agi-bin/itd_bitrix_selftest.js', '--json'];
        $plain = "'node' '/var/www/html/admin/modules/bitrix/agi-bin/itd_bitrix_selftest.js' '--json'";
        $this->assertSame($plain, HostCheck::commandLine($argv, 'asterisk', false, '/usr/sbin/runuser'), 'not root: as PHP runs (the web user is asterisk)');
        $this->assertSame($plain, HostCheck::commandLine($argv, null, true, '/usr/sbin/runuser'));
        $this->assertSame("'/usr/sbin/runuser' -u 'asterisk' -- " . $plain, HostCheck::commandLine($argv, 'asterisk', true, '/usr/sbin/runuser'));
        $this->assertSame("su -s /bin/sh 'asterisk' -c '" . str_replace("'", "'\\''", $plain) . "'", HostCheck::commandLine($argv, 'asterisk', true, null));
    }

    public function testAsRootItRunsAsTheGivenUserThroughRunuserOrSu()
    {
        if (!function_exists('posix_geteuid') || posix_geteuid() !== 0 || !@posix_getpwnam('nobody')) {
            $this->markTestSkipped('needs root and user nobody');
        }
        $dir = $this->tmp . '/whoami';
        mkdir($dir, 0755);
        chmod($this->tmp, 0755);
        file_put_contents($dir . '/' . HostCheck::SCRIPT, "process.stdout.write(JSON.stringify({ ok: true, failed: null, message: 'uid ' + process.getuid() }) + '\\n');\n");
        $this->assertSame('uid ' . posix_getpwnam('nobody')['uid'], (new HostCheck(['node'], 'nobody'))->run($dir, 'missing')['message']);
        $this->assertSame('uid 0', (new HostCheck(['node'], null))->run($dir, 'missing')['message']);
        $su = Subprocess::run(HostCheck::commandLine(['node', $dir . '/' . HostCheck::SCRIPT, '--json'], 'nobody', true, null), null, 30);
        $this->assertSame(0, $su['code'], $su['err']);
        $this->assertStringContainsString('"uid ' . posix_getpwnam('nobody')['uid'] . '"', $su['out']);

        $answer = (new HostCheck(['node'], 'no-such-user-itd'))->run($dir, 'missing');
        $this->assertSame('User no-such-user-itd does not exist, so the self-test cannot run as the user Asterisk runs the AGI scripts as.', $answer['message']);
    }

    public function testSettingsPageAsksTheCopyTheAgisLoad()
    {
        $b = $this->bitrix(['nodeCommand' => [self::FAKE_NODE]]);
        $setting = [];
        $this->assertTrue($b->ajaxRequest('selftest', $setting));
        $this->assertSame([], $setting, 'authentication stays on');
        $_REQUEST = ['command' => 'selftest'];
        $this->assertSame(['ok' => false, 'failed' => null, 'message' => 'The self-test is not installed yet: run "fwconsole reload".', 'exitCode' => null],
            $b->ajaxHandler(), 'before the first reload');

        foreach (glob($this->realModule() . '/agi-bin/itd_bitrix_*') as $f) {
            copy($f, $this->tmp . '/agi-bin/' . basename($f));
        }
        putenv('FAKE_HOST_GLIBC=2.17');
        $answer = $b->ajaxHandler();
        $this->assertSame('glibc', $answer['failed']);
        $this->assertSame('glibc 2.17 is too old: itd-bitrix needs glibc 2.28 or newer (Debian 10 or later)', $answer['message']);
    }
}
