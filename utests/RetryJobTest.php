<?php

use FreePBX\modules\Bitrix\RetryJob;

/**
 * The per-minute retry: a crontab line of its own for the asterisk user, never a FreePBX job
 * (fwconsole job runs every module's jobs in turn; ours would hold them up).
 */
class RetryJobTest extends BitrixTestCase
{
    const LINE = "* * * * * node '/var/lib/asterisk/agi-bin/itd_bitrix.js' retry --max-seconds 50 --config '/etc/asterisk/itd_bitrix.json' >/dev/null 2>&1";
    /** What version 17.0.1 wrote where the framework had no Job. */
    const LINE_17_0_1 = "* * * * * node '/var/lib/asterisk/agi-bin/itd_bitrix.js' retry --config '/etc/asterisk/itd_bitrix.json' >/dev/null 2>&1";
    const OTHERS = ['0 3 * * * /usr/sbin/fwconsole ma refreshsignatures', '# itd_bitrix.js retry by hand, kept', '*/5 * * * * /usr/local/bin/my_retry'];

    private function job()
    {
        return new RetryJob($this->freepbx, '/var/lib/asterisk/agi-bin', '/etc/asterisk/itd_bitrix.json');
    }

    public function testCommandUsesMostOfTheMinute()
    {
        $this->assertSame("node '/var/lib/asterisk/agi-bin/itd_bitrix.js' retry --max-seconds 50 --config '/etc/asterisk/itd_bitrix.json'", $this->job()->command());
        $this->assertSame(self::LINE, $this->job()->cronLine());
    }

    public function testACrontabLineOfItsOwnEvenWhereTheFrameworkHasJob()
    {
        $cron = new TestCron();
        $cron->lines = self::OTHERS;
        $job = new TestJob();
        $this->freepbx->register('Cron', $cron);
        $this->freepbx->register('Job', $job);
        $this->assertTrue($this->job()->schedule());
        $this->assertTrue($this->job()->schedule(), 'again (every install and upgrade)');
        $this->assertSame(array_merge(self::OTHERS, [self::LINE]), $cron->lines);
        $this->assertSame([], $job->jobs, 'nothing for fwconsole job');
    }

    public function testUpgradeFrom1701RemovesItsJobAndItsLine()
    {
        $cron = new TestCron();
        $cron->lines = array_merge([self::LINE_17_0_1], self::OTHERS,
            ["* * * * * node '/opt/agi-bin/itd_bitrix.js' retry --config '/etc/asterisk/itd_bitrix.json' >/dev/null 2>&1"]);
        $job = new TestJob();
        $job->addCommand('bitrix', 'retry', "node '/var/lib/asterisk/agi-bin/itd_bitrix.js' retry --config '/etc/asterisk/itd_bitrix.json'", '* * * * *', 55, true);
        $job->addCommand('othermodule', 'retry', '/usr/bin/true', '* * * * *');
        $this->freepbx->register('Cron', $cron);
        $this->freepbx->register('Job', $job);

        $this->assertTrue($this->job()->schedule());
        $this->assertSame(array_merge(self::OTHERS, [self::LINE]), $cron->lines);
        $this->assertSame(['othermodule/retry'], array_keys($job->jobs));
    }

    public function testUnscheduleRemovesEveryLineOfOursAndTheOldJob()
    {
        $cron = new TestCron();
        $cron->lines = array_merge([self::LINE_17_0_1, self::LINE], self::OTHERS);
        $job = new TestJob();
        $job->addCommand('bitrix', 'retry', 'node x retry', '* * * * *', 55, true);
        $this->freepbx->register('Cron', $cron);
        $this->freepbx->register('Job', $job);
        $this->job()->unschedule();
        $this->assertSame(self::OTHERS, $cron->lines);
        $this->assertSame([], $job->jobs);
    }

    public function testNoCrontabIsReportedNotHidden()
    {
        $this->assertFalse($this->job()->schedule(), 'the framework gives no Cron (it refuses a user other than asterisk)');
        $this->job()->unschedule(); // and removing is quiet
        $cron = new TestCron();
        $cron->broken = true;
        $this->freepbx->register('Cron', $cron);
        $this->assertFalse($this->job()->schedule(), 'crontab refused the line');
    }
}
