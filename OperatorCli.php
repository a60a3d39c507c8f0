<?php
namespace FreePBX\modules\Bitrix;

/**
 * Runs the operator CLI (agi-bin/itd_bitrix.js) for the page: `<command> --config <path> --json`.
 * All Bitrix24 traffic goes through it; no secret goes on its command line, and every saved
 * secret is masked in what it answers before that reaches the browser.
 */
class OperatorCli
{
    const SCRIPT = 'itd_bitrix.js';

    /** @var string[] argv prefix, e.g. ['node', '/var/lib/asterisk/agi-bin/itd_bitrix.js'] */
    private $command;
    /** @var string */
    private $configPath;
    /** @var Settings */
    private $settings;

    public function __construct(array $command, $configPath, Settings $settings)
    {
        $this->command = array_values($command);
        $this->configPath = (string)$configPath;
        $this->settings = $settings;
    }

    public function status()
    {
        return $this->runJson(['status'], null, 10);
    }

    /** The recent calls, at most $limit. */
    public function calls($limit)
    {
        $res = $this->runJson(['calls', '--limit', (string)$limit], null, 10);
        $rows = [];
        foreach (isset($res['calls']) && is_array($res['calls']) ? $res['calls'] : [] as $row) {
            if (is_array($row)) {
                // The page's table shows words, not the tool's 'in' / 'out'.
                $row['directionText'] = isset($row['direction']) && $row['direction'] === 'out' ? _('Outgoing') : _('Incoming');
                $rows[] = $row;
            }
        }
        return $rows;
    }

    /** check --json, with a plain-words summary the page shows as is, and the config file's warnings. */
    public function check()
    {
        $res = $this->runJson(['check'], null, 30);
        $warnings = [];
        foreach (isset($res['warnings']) && is_array($res['warnings']) ? $res['warnings'] : [] as $w) {
            if (is_scalar($w)) {
                $warnings[] = (string)$w;
            }
        }
        if (!isset($res['checks']) || !is_array($res['checks'])) {
            return ['ok' => false, 'checks' => [], 'warnings' => $warnings,
                'message' => isset($res['error']) ? $res['error'] : _('The check could not run.')];
        }
        $checks = [];
        foreach ($res['checks'] as $c) {
            if (!is_array($c)) {
                continue;
            }
            $checks[] = [
                'id' => isset($c['id']) ? (string)$c['id'] : '',
                'ok' => !empty($c['ok']),
                'message' => isset($c['message']) ? (string)$c['message'] : '',
            ];
        }
        return ['ok' => !empty($res['ok']), 'checks' => $checks, 'warnings' => $warnings];
    }

    /** Hands an OAuth authorization code to the CLI on stdin. */
    public function oauthExchange($code)
    {
        return $this->runJson(['oauth-exchange'], $code . "\n", 30);
    }

    /**
     * Run `itd_bitrix.js <args> --config <path> --json`, optional stdin, and decode its JSON.
     * @return array decoded JSON, or ['ok' => false, 'error' => plain words]
     */
    public function runJson(array $args, $stdin = null, $timeout = 20)
    {
        $argv = array_merge($this->command, $args, ['--config', $this->configPath, '--json']);
        $run = Subprocess::run(implode(' ', array_map('escapeshellarg', $argv)), $stdin, $timeout);
        if ($run === null) {
            return ['ok' => false, 'error' => _('The operator tool could not be started.')];
        }
        if ($run['timedOut']) {
            return ['ok' => false, 'error' => sprintf(_('The operator tool did not answer within %d seconds.'), $timeout)];
        }
        $code = $run['code'];
        $data = json_decode(trim($run['out']), true);
        if (!is_array($data)) {
            $why = ($code === 127 || !is_file((string)end($this->command)))
                ? _('The operator tool is not installed yet: run "fwconsole reload" (and check that Node.js is installed).')
                : sprintf(_('The operator tool failed (exit code %d).'), $code);
            if ($code !== 127) {
                $line = trim(strtok($run['err'], "\n") ?: '');
                if ($line !== '') {
                    $why .= ' ' . mb_substr($line, 0, 300);
                }
            }
            return ['ok' => false, 'error' => $this->scrub($why, $this->settings->secrets())];
        }
        return $this->scrub($data, $this->settings->secrets());
    }

    /** Replace any saved secret in CLI output before it reaches the browser. */
    private function scrub($value, array $secrets)
    {
        if (!$secrets) {
            return $value;
        }
        if (is_array($value)) {
            foreach ($value as $k => $v) {
                $value[$k] = $this->scrub($v, $secrets);
            }
            return $value;
        }
        return is_string($value) ? str_replace($secrets, Settings::MASK, $value) : $value;
    }
}
