<?php
namespace FreePBX\modules\Bitrix;

/**
 * Can this host run the module? Runs the runtime's own self-test,
 * `node <dir>/itd_bitrix_selftest.js --json`, as the user Asterisk runs the AGIs as (when PHP
 * runs as root: runuser, else su), and answers in one line: the self-test's own, or why it could
 * not run. Install runs the module folder's copy before it changes anything; the settings page
 * runs the copy in ASTAGIDIR, the one the AGIs load.
 */
class HostCheck
{
    const SCRIPT = 'itd_bitrix_selftest.js';
    /** The self-test's exit codes for a missing requirement. */
    const FAILED_BY_EXIT = [3 => 'node', 4 => 'arch', 5 => 'glibc', 6 => 'sqlite'];
    /** Fields of the self-test's JSON passed on (README, "The self-test"). */
    const REPORT_KEYS = ['node', 'platform', 'arch', 'glibc', 'binding', 'sqlite', 'checks'];
    /** Node.js starts, then the self-test opens a SQLite file: seconds, on a busy PBX. */
    const TIMEOUT = 30;

    /** @var string[] argv prefix that runs Node.js, e.g. ['node'] */
    private $node;
    /** @var string|null run as this user when PHP is root; null = as PHP runs */
    private $user;

    public function __construct(array $node, $user)
    {
        $this->node = array_values($node);
        $this->user = $user === null ? null : (string)$user;
    }

    /**
     * @param string $dir the folder holding itd_bitrix_selftest.js and the SQLite bindings
     * @param string $missing the line to answer when the self-test is not there
     * @return array ok (bool), failed (node|arch|glibc|sqlite|null), message (one line), exitCode,
     *               and the self-test's node, platform, arch, glibc, binding, sqlite, checks when it ran
     */
    public function run($dir, $missing)
    {
        $script = rtrim((string)$dir, '/') . '/' . self::SCRIPT;
        if (!is_file($script)) {
            return self::answer(false, null, $missing, null);
        }
        $asRoot = function_exists('posix_geteuid') && posix_geteuid() === 0;
        if ($asRoot && $this->user !== null && !(function_exists('posix_getpwnam') && @posix_getpwnam($this->user))) {
            return self::answer(false, null, sprintf(_('User %s does not exist, so the self-test cannot run as the user Asterisk runs the AGI scripts as.'), $this->user), null);
        }
        $argv = array_merge($this->node, [$script, '--json']);
        $run = Subprocess::run(self::commandLine($argv, $this->user, $asRoot, self::findRunuser()), null, self::TIMEOUT);
        if ($run === null) {
            return self::answer(false, null, _('The self-test could not be started.'), null);
        }
        if ($run['timedOut']) {
            return self::answer(false, null, sprintf(_('The self-test did not answer within %d seconds.'), self::TIMEOUT), null);
        }
        $code = (int)$run['code'];
        $report = json_decode(trim($run['out']), true);
        if ($code === 127) {
            return self::answer(false, 'node', sprintf(_('Node.js is not installed or not on the PATH of user %s: itd-bitrix needs Node.js 18 or newer (Debian: apt-get install nodejs).'),
                $this->runsAs($asRoot)), $code);
        }
        if (is_array($report) && isset($report['message']) && is_string($report['message']) && ($code === 0 || array_key_exists($code, self::FAILED_BY_EXIT))) {
            $failed = $code === 0 ? null : self::FAILED_BY_EXIT[$code];
            $answer = self::answer($code === 0, $failed, self::oneLine($report['message']), $code);
            foreach (self::REPORT_KEYS as $k) {
                $answer[$k] = array_key_exists($k, $report) ? $report[$k] : null;
            }
            return $answer;
        }
        $line = self::oneLine(is_array($report) && isset($report['message']) ? (string)$report['message'] : ($run['err'] !== '' ? $run['err'] : $run['out']));
        return self::answer(false, null, rtrim(sprintf(_('The self-test failed unexpectedly (exit code %d): %s'), $code, $line), ': '), $code);
    }

    /**
     * The shell command: as is, or as $user when running as root (runuser keeps the arguments
     * as they are; su, where there is no runuser, needs them as one shell string).
     */
    public static function commandLine(array $argv, $user, $asRoot, $runuser)
    {
        $cmd = implode(' ', array_map('escapeshellarg', $argv));
        if (!$asRoot || $user === null) {
            return $cmd;
        }
        if ($runuser !== null) {
            return escapeshellarg($runuser) . ' -u ' . escapeshellarg($user) . ' -- ' . $cmd;
        }
        return 'su -s /bin/sh ' . escapeshellarg($user) . ' -c ' . escapeshellarg($cmd);
    }

    /** util-linux runuser (Debian: /usr/sbin; older: /sbin), or null. */
    private static function findRunuser()
    {
        foreach (['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser', '/bin/runuser'] as $path) {
            if (is_executable($path)) {
                return $path;
            }
        }
        return null;
    }

    private function runsAs($asRoot)
    {
        if ($asRoot && $this->user !== null) {
            return $this->user;
        }
        $me = function_exists('posix_getpwuid') && function_exists('posix_geteuid') ? @posix_getpwuid(posix_geteuid()) : false;
        return is_array($me) ? $me['name'] : (string)get_current_user();
    }

    private static function oneLine($text)
    {
        $line = trim((string)strtok(trim((string)$text), "\n"));
        return mb_substr($line, 0, 400);
    }

    private static function answer($ok, $failed, $message, $exitCode)
    {
        return ['ok' => $ok, 'failed' => $failed, 'message' => $message, 'exitCode' => $exitCode];
    }
}
