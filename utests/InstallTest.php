<?php

/** install(): config, database folder, retry job; uninstall(): AGI files, config, database, job. */
class InstallTest extends BitrixTestCase
{
    private function moduleWithAgiBin()
    {
        $mod = $this->tmp . '/module';
        mkdir($mod . '/agi-bin', 0755, true);
        foreach (['itd_bitrix.js', 'itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js', 'itd_bitrix_outgoing.js', 'node_sqlite3.node'] as $f) {
            file_put_contents($mod . '/agi-bin/' . $f, 'x');
        }
        return $mod;
    }

    public function testInstallWritesConfigAndSchedulesRetryAsAJob()
    {
        $job = new TestJob();
        $this->freepbx->register('Job', $job);
        $b = $this->bitrix();
        $this->assertTrue($b->install());
        $this->assertFileExists($b->configFile()->path());
        $this->assertSame(0640, fileperms($b->configFile()->path()) & 0777);
        $this->assertIsArray($b->getConfig('settings'), 'defaults seeded');
        $this->assertArrayHasKey('bitrix/retry', $job->jobs);
        $this->assertSame('* * * * *', $job->jobs['bitrix/retry']['schedule']);
        $this->assertSame("node '" . $this->tmp . "/agi-bin/itd_bitrix.js' retry --config '" . $b->configFile()->path() . "'", $job->jobs['bitrix/retry']['command']);
    }

    public function testInstallFallsBackToCron()
    {
        $cron = new TestCron();
        $this->freepbx->register('Cron', $cron);
        $b = $this->bitrix();
        $b->install();
        $this->assertSame(["* * * * * node '" . $this->tmp . "/agi-bin/itd_bitrix.js' retry --config '" . $b->configFile()->path() . "' >/dev/null 2>&1"], $cron->lines);
        $b->uninstall();
        $this->assertSame([], $cron->lines);
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
        $job = new TestJob();
        $this->freepbx->register('Job', $job);
        $agi = $this->tmp . '/agi-bin';
        $b = $this->bitrix(['moduleDir' => $this->moduleWithAgiBin()]);
        $db = $this->tmp . '/itd_bitrix.sqlite';
        $this->configure($b, ['databasePath' => $db]);
        $b->install();
        // What reload copied, plus leftovers of an older version and other modules' files.
        foreach (['itd_bitrix.js', 'itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js', 'itd_bitrix_outgoing.js', 'node_sqlite3.node', 'itd_bitrix_old.js', 'contactmanager.agi', 'other.node'] as $f) {
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
        $this->assertSame([], $job->jobs);
    }

    public function testInstallScriptsAreGuarded()
    {
        foreach (['install.php', 'uninstall.php', 'page.itdbitrix.php'] as $f) {
            $this->assertStringContainsString("if (!defined('FREEPBX_IS_AUTH'))", file_get_contents(__DIR__ . '/../' . $f), $f);
        }
    }
}
