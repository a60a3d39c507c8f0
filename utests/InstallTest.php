<?php

/** install(): config, database folder, retry job; uninstall(): AGI files, config, database, job. */
class InstallTest extends BitrixTestCase
{
    /** The module as FreePBX unpacked it (with a self-test that answers "can run"). */
    protected function bitrix(array $options = [])
    {
        return parent::bitrix($options + ['moduleDir' => $this->moduleWithAgiBin()]);
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
        $this->assertSame(['Self-test: itd-bitrix can run here: Node.js v18.19.0, linux x64 (amd64), glibc 2.36, SQLite 3.44.2 (itd_bitrix_sqlite3-linux-x64-glibc2.28.node)'],
            $GLOBALS['__out'], 'the self-test line, nothing else to say');
    }

    public function testInstallSaysWhenTheCrontabRefusesTheLine()
    {
        $cron = new TestCron();
        $cron->broken = true;
        $this->freepbx->register('Cron', $cron);
        $b = $this->bitrix();
        $this->assertTrue($b->install(), 'the module works; only the retry waits');
        $this->assertCount(2, $GLOBALS['__out']);
        $this->assertStringStartsWith('The retry job could not be added to the crontab of the asterisk user;', $GLOBALS['__out'][1]);
        $this->assertStringEndsWith($b->retryJob()->cronLine(), $GLOBALS['__out'][1]);
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
        $b = $this->bitrix();
        $db = $this->tmp . '/itd_bitrix.sqlite';
        $this->configure($b, ['databasePath' => $db]);
        $b->install();
        // What reload copied, plus leftovers of an older version (17.0.1's binding under sqlite3's
        // generic name, which no other module ships) and other modules' files.
        $this->reload();
        $this->assertCount(8, array_diff(scandir($agi), ['.', '..']), 'five bundles, the self-test, both bindings');
        foreach (['node_sqlite3.node', 'itd_bitrix_old.js', 'contactmanager.agi', 'other.node'] as $f) {
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

    public function testAForeignNodeSqlite3SurvivesUninstall()
    {
        $agi = $this->tmp . '/agi-bin';
        $b = $this->bitrix();
        mkdir($this->tmp . '/modules/othermodule/agi-bin', 0755, true);
        file_put_contents($this->tmp . '/modules/othermodule/agi-bin/node_sqlite3.node', 'theirs');
        $this->assertTrue($b->install());
        $this->reload();
        file_put_contents($agi . '/node_sqlite3.node', 'theirs');
        $b->writeConfig($b->genConfig());
        $this->assertFileExists($agi . '/node_sqlite3.node', 'another module ships it: kept on reload');
        $this->assertTrue($b->uninstall());
        $this->assertSame(['node_sqlite3.node'], array_values(array_diff(scandir($agi), ['.', '..'])), 'and on uninstall');
        $this->assertSame('theirs', file_get_contents($agi . '/node_sqlite3.node'));
    }

    public function testTheBindingOf1701GoesOnceTheNewBundlesAreInPlace()
    {
        $agi = $this->tmp . '/agi-bin';
        $b = $this->bitrix();
        // 17.0.1 as reload left it: its bundles load node_sqlite3.node.
        foreach (['itd_bitrix.js', 'itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js', 'node_sqlite3.node'] as $f) {
            file_put_contents($agi . '/' . $f, '17.0.1');
        }
        $this->assertTrue($b->install());
        $this->assertFileExists($agi . '/node_sqlite3.node', 'until reload, the 17.0.1 bundles still run the calls and need it');
        $this->reload();
        $b->writeConfig($b->genConfig());
        $this->assertFileDoesNotExist($agi . '/node_sqlite3.node', 'reload copied the new bundles: nothing loads it any more');
        file_put_contents($agi . '/node_sqlite3.node', 'x');
        $this->assertTrue($b->install(), 'an upgrade after reload');
        $this->assertFileDoesNotExist($agi . '/node_sqlite3.node');
    }

    /** mode of the fake CLI's status => the line uninstall says before the database goes */
    public function outboxes()
    {
        return [
            'calls waiting' => ['ok', 'Calls that will not reach Bitrix24 (deleted with the call database): 2 (steps: 3).'],
            'nothing waiting' => ['empty', 'Nothing was waiting to be sent to Bitrix24.'],
            'config unreadable' => ['broken', 'Could not count the calls still waiting to be sent to Bitrix24 before deleting the call database: config <config>: cannot read (EACCES)'],
            'no JSON' => ['garbage', 'Could not count the calls still waiting to be sent to Bitrix24 before deleting the call database: The operator tool failed (exit code 1). TypeError: cannot read properties of undefined'],
        ];
    }

    /** @dataProvider outboxes */
    public function testUninstallSaysWhatWillNotReachBitrix24BeforeDeletingTheDatabase($mode, $line)
    {
        $b = $this->bitrix();
        $db = $this->tmp . '/itd_bitrix.sqlite';
        $this->configure($b, ['databasePath' => $db]);
        $this->assertTrue($b->install());
        file_put_contents($db, 'db');
        putenv('ITD_FAKE_CLI_MODE=' . $mode);
        $GLOBALS['__out'] = [];
        $this->assertTrue($b->uninstall(), 'informs, never refuses');
        $this->assertSame([str_replace('<config>', $b->configFile()->path(), $line),
            'Bitrix24 Integration removed: AGI scripts, settings file and call database deleted.'], $GLOBALS['__out']);
        $this->assertSame([['status', '--config', $b->configFile()->path(), '--json']], array_column($this->cliCalls(), 'argv'));
        $this->assertFileDoesNotExist($db);
    }

    public function testUninstallWithoutADatabaseHasNothingToCount()
    {
        $b = $this->bitrix();
        $this->configure($b, ['databasePath' => $this->tmp . '/never-created.sqlite']);
        $this->assertTrue($b->uninstall());
        $this->assertSame([], $this->cliCalls());
        $this->assertSame(['Bitrix24 Integration removed: AGI scripts, settings file and call database deleted.'], $GLOBALS['__out']);
    }

    /** What fwconsole reload does with the module's agi-bin/ before the dialplan and file hooks. */
    private function reload()
    {
        foreach (glob($this->tmp . '/modules/bitrix/agi-bin/*') as $f) {
            copy($f, $this->tmp . '/agi-bin/' . basename($f));
        }
    }

    public function testInstallScriptsAreGuarded()
    {
        foreach (['install.php', 'uninstall.php', 'page.itdbitrix.php'] as $f) {
            $this->assertStringContainsString("if (!defined('FREEPBX_IS_AUTH'))", file_get_contents(__DIR__ . '/../' . $f), $f);
        }
    }
}
