<?php

/** install(): config, database folder, retry job; uninstall(): AGI files, config, database, job. */
class InstallTest extends BitrixTestCase
{
    private function moduleWithAgiBin()
    {
        $mod = $this->tmp . '/module';
        mkdir($mod . '/agi-bin', 0755, true);
        foreach (['itd_bitrix.js', 'itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js', 'node_sqlite3.node'] as $f) {
            file_put_contents($mod . '/agi-bin/' . $f, 'x');
        }
        return $mod;
    }

    public function testInstallWritesConfigAndPutsTheRetryInTheCrontab()
    {
        $cron = new TestCron();
        $job = new TestJob();
        $this->freepbx->register('Cron', $cron);
        $this->freepbx->register('Job', $job);
        $b = $this->bitrix();
        $this->assertTrue($b->install());
        $this->assertFileExists($b->configFile()->path());
        $this->assertSame(0640, fileperms($b->configFile()->path()) & 0777);
        $this->assertIsArray($b->getConfig('settings'), 'defaults seeded');
        $this->assertSame(["* * * * * node '" . $this->tmp . "/agi-bin/itd_bitrix.js' retry --max-seconds 50 --config '" . $b->configFile()->path() . "' >/dev/null 2>&1"], $cron->lines);
        $this->assertSame([], $job->jobs, 'not a FreePBX job: it would hold up the other modules\' jobs');
        $b->uninstall();
        $this->assertSame([], $cron->lines);
    }

    public function testUpgradeReplacesTheJobOf1701()
    {
        $cron = new TestCron();
        $job = new TestJob();
        $this->freepbx->register('Cron', $cron);
        $this->freepbx->register('Job', $job);
        $b = $this->bitrix();
        $job->addCommand('bitrix', 'retry', "node '" . $this->tmp . "/agi-bin/itd_bitrix.js' retry --config '" . $b->configFile()->path() . "'", '* * * * *', 55, true);
        $this->assertTrue($b->install());
        $this->assertSame([], $job->jobs);
        $this->assertCount(1, $cron->lines);
        $this->assertSame([], $GLOBALS['__out'], 'nothing to say');
    }

    public function testInstallSaysWhenTheCrontabRefusesTheLine()
    {
        $cron = new TestCron();
        $cron->broken = true;
        $this->freepbx->register('Cron', $cron);
        $b = $this->bitrix();
        $this->assertTrue($b->install(), 'the module works; only the retry waits');
        $this->assertCount(1, $GLOBALS['__out']);
        $this->assertStringStartsWith('The retry job could not be added to the crontab of the asterisk user;', $GLOBALS['__out'][0]);
        $this->assertStringEndsWith($b->retryJob()->cronLine(), $GLOBALS['__out'][0]);
    }

    public function testInstallKeepsExistingSettings()
    {
        $b = $this->bitrix();
        $this->configure($b, ['defaultUserId' => 42]);
        $b->install();
        $this->assertSame(42, $b->settings()->get()['defaultUserId']);
    }

    public function testUninstallRemovesOnlyTheModulesFiles()
    {
        $cron = new TestCron();
        $this->freepbx->register('Cron', $cron);
        $agi = $this->tmp . '/agi-bin';
        $b = $this->bitrix(['moduleDir' => $this->moduleWithAgiBin()]);
        $db = $this->tmp . '/itd_bitrix.sqlite';
        $this->configure($b, ['databasePath' => $db]);
        $b->install();
        // What reload copied, plus leftovers of an older version and other modules' files.
        foreach (['itd_bitrix.js', 'itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js', 'node_sqlite3.node', 'itd_bitrix_old.js', 'contactmanager.agi', 'other.node'] as $f) {
            file_put_contents($agi . '/' . $f, 'x');
        }
        mkdir($agi . '/itd_bitrix');
        file_put_contents($agi . '/itd_bitrix/lib.js', 'x');
        file_put_contents($db, 'db');
        file_put_contents($db . '-wal', 'wal');
        file_put_contents($db . '.hangups', '{}');
        file_put_contents($db . '.hangups.000001764150000.42.1', '{}');
        file_put_contents($db . '.corrupt-1764150000', 'x');
        file_put_contents($this->tmp . '/unrelated.sqlite', 'keep');

        $this->assertTrue($b->uninstall());
        $this->assertSame(['contactmanager.agi', 'other.node'], array_values(array_diff(scandir($agi), ['.', '..'])));
        $this->assertFileDoesNotExist($b->configFile()->path());
        $this->assertFileDoesNotExist($db);
        $this->assertFileDoesNotExist($db . '-wal');
        $this->assertSame([], glob($db . '.*'));
        $this->assertFileExists($this->tmp . '/unrelated.sqlite');
        $this->assertSame([], $cron->lines);
    }

    public function testInstallScriptsAreGuarded()
    {
        foreach (['install.php', 'uninstall.php', 'page.itdbitrix.php'] as $f) {
            $this->assertStringContainsString("if (!defined('FREEPBX_IS_AUTH'))", file_get_contents(__DIR__ . '/../' . $f), $f);
        }
    }
}
