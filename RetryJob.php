<?php
namespace FreePBX\modules\Bitrix;

/**
 * The per-minute `itd_bitrix.js retry` that drains the outbox: a FreePBX job where the
 * framework has Job, else a crontab line of the asterisk user (Cron).
 */
class RetryJob
{
    const MODULE = 'bitrix';
    const NAME = 'retry';
    const SCHEDULE = '* * * * *';
    /** Seconds a run may take (Job's max_runtime). */
    const MAX_RUNTIME = 55;

    /** @var object|null the FreePBX object */
    private $freepbx;
    /** @var string */
    private $agiDir;
    /** @var string */
    private $configPath;

    public function __construct($freepbx, $agiDir, $configPath)
    {
        $this->freepbx = $freepbx;
        $this->agiDir = (string)$agiDir;
        $this->configPath = (string)$configPath;
    }

    public function command()
    {
        return 'node ' . escapeshellarg($this->agiDir . '/' . OperatorCli::SCRIPT) . ' retry --config '
            . escapeshellarg($this->configPath);
    }

    /** @return string|null 'job', 'cron', or null when the framework offers neither */
    public function schedule()
    {
        $job = $this->bmo('Job');
        if ($job !== null && method_exists($job, 'addCommand')) {
            $job->addCommand(self::MODULE, self::NAME, $this->command(), self::SCHEDULE, self::MAX_RUNTIME, true);
            return 'job';
        }
        $cron = $this->bmo('Cron');
        if ($cron !== null) {
            $cron->addLine($this->cronLine());
            return 'cron';
        }
        return null;
    }

    public function unschedule()
    {
        $job = $this->bmo('Job');
        if ($job !== null && method_exists($job, 'remove')) {
            $job->remove(self::MODULE, self::NAME);
        }
        $cron = $this->bmo('Cron');
        if ($cron !== null) {
            $cron->remove($this->cronLine());
        }
    }

    private function cronLine()
    {
        return self::SCHEDULE . ' ' . $this->command() . ' >/dev/null 2>&1';
    }

    /** A framework object by name, or null where this framework has none. */
    private function bmo($name)
    {
        try {
            $obj = $this->freepbx !== null ? $this->freepbx->$name : null;
        } catch (\Throwable $e) {
            $obj = null;
        }
        return is_object($obj) ? $obj : null;
    }
}
