<?php
namespace FreePBX\modules\Bitrix;

/**
 * The per-minute `itd_bitrix.js retry` that drains the outbox: a crontab line of its own for the
 * asterisk user (FreePBX's Cron), not a FreePBX job. `fwconsole job --run` runs every module's
 * jobs one after another, so a retry of up to a minute there would hold up everyone else's; on
 * its own line it may use most of the minute (--max-seconds 50), and a run that finds the
 * previous one still at work leaves at once (the CLI's lease).
 *
 * Version 17.0.1 registered a FreePBX job instead; schedule() removes that registration.
 */
class RetryJob
{
    const MODULE = 'bitrix';
    const NAME = 'retry';
    const SCHEDULE = '* * * * *';
    /** A run starts no new work after this many seconds, so it ends before the next minute's run. */
    const MAX_SECONDS = 50;
    /** A crontab line that runs this module's retry, whatever its paths and options. */
    const OUR_LINE = "#/itd_bitrix\\.js'? retry( |$)#";

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
        return 'node ' . escapeshellarg($this->agiDir . '/' . OperatorCli::SCRIPT) . ' retry --max-seconds ' . self::MAX_SECONDS
            . ' --config ' . escapeshellarg($this->configPath);
    }

    /** The line in the asterisk user's crontab (the CLI logs to its own log file). */
    public function cronLine()
    {
        return self::SCHEDULE . ' ' . $this->command() . ' >/dev/null 2>&1';
    }

    /**
     * Puts the line in the crontab, replacing any earlier line of ours (other paths or options)
     * and the FreePBX job of version 17.0.1.
     * @return bool false when the crontab could not be written (the caller tells the admin)
     */
    public function schedule()
    {
        $this->removeJob();
        $cron = $this->bmo('Cron');
        if ($cron === null) {
            return false;
        }
        try {
            foreach ($this->ourLines($cron) as $line) {
                if ($line !== $this->cronLine()) {
                    $cron->remove($line);
                }
            }
            return (bool)$cron->addLine($this->cronLine());
        } catch (\Exception $e) {
            return false;
        }
    }

    public function unschedule()
    {
        $this->removeJob();
        $cron = $this->bmo('Cron');
        if ($cron === null) {
            return;
        }
        try {
            foreach ($this->ourLines($cron) as $line) {
                $cron->remove($line);
            }
        } catch (\Exception $e) {
            // Nothing more to do: the line runs a CLI that is gone and fails quietly.
        }
    }

    /** The FreePBX job version 17.0.1 registered (frameworks with Job only). */
    private function removeJob()
    {
        $job = $this->bmo('Job');
        if ($job !== null && method_exists($job, 'remove')) {
            try {
                $job->remove(self::MODULE, self::NAME);
            } catch (\Exception $e) {
                // No job table on this framework: nothing was registered.
            }
        }
    }

    /** @return string[] */
    private function ourLines($cron)
    {
        $ours = [];
        foreach ((array)$cron->getAll() as $line) {
            if (is_string($line) && substr(ltrim($line), 0, 1) !== '#' && preg_match(self::OUR_LINE, $line)) {
                $ours[] = trim($line);
            }
        }
        return $ours;
    }

    /** A framework object by name, or null where this framework has none (or it refuses this user). */
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
