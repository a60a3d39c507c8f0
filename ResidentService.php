<?php
namespace FreePBX\modules\Bitrix;

/**
 * The resident service (`itd_bitrix.js serve`, the call steps over FastAGI on loopback) run by
 * FreePBX's pm2 module as the asterisk user, the way core runs its own FastAGI proxy: started
 * from ASTAGIDIR's copy of itd_bitrix.js under the dot-free name itd-bitrix, polled until pm2
 * reports it online, counters reset. Without the pm2 module, or with the page's setting off, the
 * dialplan runs the per-call AGI scripts alone (Dialplan/AgiStep.php), and they also take over
 * whenever the service does not accept a connection.
 *
 * What pm2 runs is compared with what the settings and the installed files ask for: another port
 * or config file, or another itd_bitrix.js (an upgrade copied by reload), starts it again.
 *
 *   fwconsole pm2 --list          (or `pm2 list` as the asterisk user)
 *   fwconsole pm2 --log itd-bitrix
 */
class ResidentService
{
    /** pm2's name: dot-free, as pm2's name cleaning drops everything after a dot. */
    const NAME = 'itd-bitrix';
    const DEFAULT_PORT = 4574;
    /** FreePBX's own FastAGI proxy (core-fastagi) listens here. */
    const FREEPBX_FASTAGI_PORT = 4573;
    /** The FreePBX notification raised while it cannot be started. */
    const NOTIFICATION = 'SERVICE';
    const MODULE = 'bitrix';
    /** kvstore: md5 of the itd_bitrix.js the running service was started from. */
    const CODE_KEY = 'serviceCode';
    /** pm2 says online within this many polls of 100 ms (core waits as long for its FastAGI proxy). */
    const START_POLLS = 50;
    /** What a path on pm2's command line may hold: pm2 splits the process at spaces and passes the rest to a shell. */
    const SAFE_PATH = '#^/[A-Za-z0-9_./@%+=:,-]+$#';

    /**
     * How the process is started, in the environment pm2 hands to the node it spawns (its start()
     * takes no node arguments): V8's young generation capped at 1 MiB semi-spaces (16 by default,
     * grown under a burst and seldom given back; Node accepts the flag in NODE_OPTIONS since 19.2
     * and its 18.x backport); two malloc arenas instead of eight per core (the SQLite binding's
     * thread pool and V8's workers each keep freed memory in their own); and glibc's mmap threshold
     * held at its initial 128 KiB (glibc raises it each time a mapped block is freed, after which
     * large blocks come from the heap and their memory stays there). bench/service-soak.ts measures
     * it; test/helpers/service.ts starts the service with the same values.
     */
    const PROCESS_ENV = ['NODE_OPTIONS' => '--max-semi-space-size=1', 'MALLOC_ARENA_MAX' => '2', 'MALLOC_MMAP_THRESHOLD_' => '131072'];

    /** @var object|null the FreePBX object */
    private $freepbx;
    /** @var Settings */
    private $settings;
    /** @var AmiCredentials */
    private $ami;
    /** @var object the module's BMO object (kvstore) */
    private $kvstore;
    /** @var string ASTAGIDIR */
    private $agiDir;
    /** @var string */
    private $configPath;
    /** @var callable(int $ms) */
    private $sleep;
    /** @var string[] argv of node, as the page's self-test runs it */
    private $node;

    public function __construct($freepbx, Settings $settings, AmiCredentials $ami, $kvstore, $agiDir, $configPath, ?callable $sleep = null, array $node = ['node'])
    {
        $this->node = $node;
        $this->freepbx = $freepbx;
        $this->settings = $settings;
        $this->ami = $ami;
        $this->kvstore = $kvstore;
        $this->agiDir = rtrim((string)$agiDir, '/');
        $this->configPath = (string)$configPath;
        $this->sleep = $sleep !== null ? $sleep : function ($ms) {
            usleep($ms * 1000);
        };
    }

    /** The pm2 module ("Process Management") is installed and enabled. */
    public function available()
    {
        try {
            return $this->freepbx !== null && (bool)$this->freepbx->Modules->checkStatus('pm2');
        } catch (\Throwable $e) {
            return false;
        }
    }

    /** The settings want it and pm2 can run it: then the dialplan reaches the steps through it. */
    public function wanted(array $s)
    {
        return !empty($s['enabled']) && !empty($s['serviceEnabled']) && $this->available();
    }

    public static function port(array $s)
    {
        return isset($s['servicePort']) ? (int)$s['servicePort'] : self::DEFAULT_PORT;
    }

    public function script()
    {
        return $this->agiDir . '/' . OperatorCli::SCRIPT;
    }

    /** The arguments it runs with (pm2 passes them after `--`). */
    public function arguments(array $s)
    {
        return ['serve', '--port', (string)self::port($s), '--config', $this->configPath];
    }

    /**
     * Brings pm2 in line with the settings: stopped when off, started when it should run and does
     * not, or runs with other arguments or other code. `$onlyIfDown`: leave a running one alone
     * (fwconsole start, the start of a reload: core's health check).
     * @return array ['state' => 'unavailable'|'off'|'online'|'failed', 'message' => string]
     */
    public function ensure($onlyIfDown = false)
    {
        $s = $this->settings->get();
        if (!$this->available()) {
            return ['state' => 'unavailable', 'message' => ''];
        }
        if (!$this->wanted($s)) {
            $this->stop();
            $this->clearNotification();
            return ['state' => 'off', 'message' => ''];
        }
        $status = $this->pm2Status();
        $online = $this->isOnline($status);
        if ($online && ($onlyIfDown || $this->runsAsWanted($status, $s))) {
            return ['state' => 'online', 'message' => ''];
        }
        return $this->start($s);
    }

    /** Starts (or starts again) with the saved settings; raises or clears the notification. */
    public function start(array $s)
    {
        if (!is_file($this->script())) {
            return $this->failed(sprintf(_('%s is not installed yet: run "fwconsole reload"'), $this->script()));
        }
        if (!preg_match(self::SAFE_PATH, $this->script()) || !preg_match(self::SAFE_PATH, $this->configPath)) {
            return $this->failed(_('its path or the settings file\'s path holds characters pm2 cannot pass on (spaces, quotes)'));
        }
        $pm2 = $this->pm2();
        try {
            $process = $this->script() . ' ' . implode(' ', $this->arguments($s));
            if (method_exists($pm2, 'startFromDirectory')) {
                $pm2->startFromDirectory(self::NAME, $process, $this->agiDir, $this->environment($s), true);
            } else {
                // Older pm2 modules take the working folder from the process string: no slash may follow the script.
                $process = $this->script() . ' serve --port ' . self::port($s);
                $pm2->start(self::NAME, $process, $this->environment($s) + ['ITD_BITRIX_CONFIG' => $this->configPath], true);
            }
        } catch (\Throwable $e) {
            // The exception's text holds pm2's whole command line, environment included: never shown.
            return $this->failed(_('pm2 could not start it'));
        }
        for ($i = 0; $i < self::START_POLLS; $i++) {
            if ($this->isOnline($this->pm2Status())) {
                try {
                    $pm2->reset(self::NAME);
                } catch (\Throwable $e) {
                    // Only the restart counter: it starts from where it was.
                }
                $this->kvstore->setConfig(self::CODE_KEY, $this->codeHash());
                $this->clearNotification();
                return ['state' => 'online', 'message' => ''];
            }
            call_user_func($this->sleep, 100);
        }
        return $this->failed(_('pm2 started it, but it did not come online'));
    }

    /** fwconsole stop, the page's setting off: stopped, still listed by pm2. */
    public function stop()
    {
        if (!$this->available()) {
            return;
        }
        $status = $this->pm2Status();
        if ($status === false || (isset($status['pm2_env']['status']) && $status['pm2_env']['status'] === 'stopped')) {
            return;
        }
        try {
            $this->pm2()->stop(self::NAME);
        } catch (\Throwable $e) {
            // Gone meanwhile.
        }
    }

    /** Uninstall: stopped and forgotten by pm2, no notification left behind. */
    public function remove()
    {
        if ($this->available() && $this->pm2Status() !== false) {
            try {
                $this->pm2()->delete(self::NAME);
            } catch (\Throwable $e) {
                // Gone meanwhile.
            }
        }
        $this->kvstore->setConfig(self::CODE_KEY, false);
        $this->clearNotification();
    }

    /** After an install or upgrade: the next check starts it from the files reload copies. */
    public function forgetCode()
    {
        $this->kvstore->setConfig(self::CODE_KEY, false);
    }

    /**
     * FreePBX's manager user for click-to-call, the process's memory knobs, and pm2's kill timeout: a stopping service lets
     * its steps finish within their budgets. pm2 reads an app's `kill_timeout` from its
     * environment (God.executeApp merges the environment into the app's settings; the pm2
     * module's start() has no option for it); the default 1.6 s would cut a hangup step short.
     */
    private function environment(array $s)
    {
        $budget = 0;
        foreach (['incomingTimeoutMs', 'showTimeoutMs', 'outgoingTimeoutMs', 'hangupTimeoutMs'] as $k) {
            $budget = max($budget, isset($s[$k]) ? (int)$s[$k] : 0);
        }
        return $this->ami->environment() + $this->processEnv() + ['kill_timeout' => (string)($budget + 2000)];
    }

    /**
     * PROCESS_ENV without NODE_OPTIONS where this Node refuses the option there: Node accepts
     * --max-semi-space-size in NODE_OPTIONS only since a backport within 18.x, and one that refuses
     * it does not start at all. Asked of node itself, once per start.
     */
    private function processEnv()
    {
        $env = self::PROCESS_ENV;
        $argv = array_merge(['env', 'NODE_OPTIONS=' . $env['NODE_OPTIONS']], $this->node, ['-e', '0']);
        $run = Subprocess::run(implode(' ', array_map('escapeshellarg', $argv)), null, 10);
        if ($run === null || $run['timedOut'] || $run['code'] !== 0) {
            unset($env['NODE_OPTIONS']);
        }
        return $env;
    }

    private function runsAsWanted($status, array $s)
    {
        $env = isset($status['pm2_env']) && is_array($status['pm2_env']) ? $status['pm2_env'] : [];
        $args = isset($env['args']) && is_array($env['args']) ? array_values(array_map('strval', $env['args'])) : null;
        $path = isset($env['pm_exec_path']) ? (string)$env['pm_exec_path'] : '';
        $wantedArgs = method_exists($this->pm2(), 'startFromDirectory') ? $this->arguments($s) : ['serve', '--port', (string)self::port($s)];
        return $path === $this->script() && $args === $wantedArgs && $this->kvstore->getConfig(self::CODE_KEY) === $this->codeHash();
    }

    private function codeHash()
    {
        $hash = is_file($this->script()) ? md5_file($this->script()) : false;
        return is_string($hash) ? $hash : '';
    }

    private function isOnline($status)
    {
        return is_array($status) && isset($status['pm2_env']['status']) && $status['pm2_env']['status'] === 'online';
    }

    /** pm2's entry for the process, or false when pm2 does not know it (or cannot be asked). */
    private function pm2Status()
    {
        try {
            return $this->pm2()->getStatus(self::NAME);
        } catch (\Throwable $e) {
            return false;
        }
    }

    private function pm2()
    {
        return $this->freepbx->Pm2;
    }

    private function failed($why)
    {
        $s = $this->settings->get();
        $text = sprintf(_('The resident service could not be started: %1$s. Calls are handled by the per-call AGI scripts meanwhile; see "fwconsole pm2 --log %2$s" and %3$s.'),
            $why, self::NAME, $s['logPath']);
        try {
            $this->freepbx->Notifications->add_error(self::MODULE, self::NOTIFICATION, _('Bitrix24: the resident service is not running'), $text, '', true, true);
        } catch (\Throwable $e) {
            // No notifications here (a framework without them): the page says it too.
        }
        return ['state' => 'failed', 'message' => $text];
    }

    private function clearNotification()
    {
        try {
            $this->freepbx->Notifications->delete(self::MODULE, self::NOTIFICATION);
        } catch (\Throwable $e) {
            // Nothing to clear.
        }
    }
}
