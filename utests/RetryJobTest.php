<?php

use FreePBX\modules\Bitrix\RetryJob;

/** The per-minute retry: a FreePBX job where the framework has Job, else a crontab line. */
class RetryJobTest extends BitrixTestCase
{
    private function job()
    {
        return new RetryJob($this->freepbx, '/var/lib/asterisk/agi-bin', '/etc/asterisk/itd_bitrix.json');
    }

    public function testCommandRunsTheCopyInAstagidirWithTheConfigFile()
    {
        $this->assertSame("node '/var/lib/asterisk/agi-bin/itd_bitrix.js' retry --config '/etc/asterisk/itd_bitrix.json'", $this->job()->command());
    }

    public function testJobFirstThenCronThenNothing()
    {
        $this->assertNull($this->job()->schedule(), 'neither Job nor Cron');
        $cron = new TestCron();
        $this->freepbx->register('Cron', $cron);
        $this->assertSame('cron', $this->job()->schedule());
        $this->assertSame(['* * * * * ' . $this->job()->command() . ' >/dev/null 2>&1'], $cron->lines);
        $job = new TestJob();
        $this->freepbx->register('Job', $job);
        $this->assertSame('job', $this->job()->schedule());
        $this->assertSame(['bitrix/retry' => ['command' => $this->job()->command(), 'schedule' => '* * * * *', 'max_runtime' => 55,
            'enabled' => true]], $job->jobs);

        $this->job()->unschedule();
        $this->assertSame([], $job->jobs);
        $this->assertSame([], $cron->lines, 'a crontab line of an older install goes too');
    }
}
