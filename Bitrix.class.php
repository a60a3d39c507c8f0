<?php
// vim: set ai ts=4 sw=4 ft=php:
/**
 * Bitrix24 telephony integration: settings page, config file for the AGI
 * executables, dialplan hooks, install and uninstall.
 *
 * The PHP side never talks to Bitrix24: it writes /etc/asterisk/itd_bitrix.json,
 * generates dialplan, and runs the operator CLI (agi-bin/itd_bitrix.js) for checks
 * and status. Contracts: ARCHITECTURE.md and config.schema.json.
 *
 * License: GPL-3.0-or-later
 */
namespace FreePBX\modules;

#[\AllowDynamicProperties]
class Bitrix extends \FreePBX_Helpers implements \BMO
{
    const RAWNAME = 'bitrix';
    const DISPLAY = 'itdbitrix';
    const DEFAULT_CONFIG_PATH = '/etc/asterisk/itd_bitrix.json';
    const DEFAULT_AGI_DIR = '/var/lib/asterisk/agi-bin';
    const CLI_NAME = 'itd_bitrix.js';
    const JOB_NAME = 'retry';
    const MASK = '••••••••';

    /** Dialplan names (ARCHITECTURE.md §5). */
    const CTX_INBOUND = 'itd-bitrix-inbound';
    const CTX_HANGUP = 'itd-bitrix-hangup';
    const CTX_ANSWER = 'itd-bitrix-answer';

    /** Keys kept in the kvstore besides the schema keys (the GUI's connection form). */
    const EXTRA_KEYS = ['authMode', 'appPortalUrl', 'appClientId', 'appClientSecret'];

    /** Schema keys the GUI does not edit; they keep their stored or default value. */
    const FIXED_KEYS = ['version', 'app', 'oauthUrl', 'databasePath', 'logPath'];

    /** AJAX commands this module answers; everything else is refused. */
    const AJAX_COMMANDS = ['check', 'status', 'calls', 'oauthstart'];

    /** @var object|null */
    public $FreePBX;

    /** @var string */
    protected $configPath;
    /** @var array|null command prefix used to run the operator CLI (argv, escaped when run) */
    protected $cliCommand;
    /** @var string|null */
    protected $agiDir;
    /** @var string */
    protected $moduleDir;
    /** @var bool */
    protected $chownFiles;

    /** @var array[] messages shown at the top of the page: ['type' => 'success|danger|warning|info', 'text' => ...] */
    protected $messages = [];
    /** @var array field => message, from the last failed save */
    protected $errors = [];
    /** @var array|null submitted values to show again after a failed save */
    protected $submitted = null;

    /** @var array|null */
    private static $schemaCache = null;

    /**
     * @param object|null $freepbx the FreePBX object (the framework passes it)
     * @param array $options configPath, cliCommand (argv array), agiDir, moduleDir, chown (bool) — for tests and admins
     */
    public function __construct($freepbx = null, array $options = [])
    {
        $this->FreePBX = $freepbx;
        $this->configPath = isset($options['configPath']) ? (string)$options['configPath'] : self::DEFAULT_CONFIG_PATH;
        $this->cliCommand = isset($options['cliCommand']) ? array_values((array)$options['cliCommand']) : null;
        $this->agiDir = isset($options['agiDir']) ? (string)$options['agiDir'] : null;
        $this->moduleDir = isset($options['moduleDir']) ? (string)$options['moduleDir'] : __DIR__;
        $this->chownFiles = isset($options['chown']) ? (bool)$options['chown'] : true;
        if (false) {
            // Strings only module.xml carries, listed here so gettext extraction sees them.
            _('Bitrix24 Integration');
            _('Reports inbound calls on chosen DIDs to the Bitrix24 CRM: caller name lookup, call card for the operator who answers, call history with recordings.');
        }
    }

    // ------------------------------------------------------------------
    // BMO lifecycle
    // ------------------------------------------------------------------

    public function install()
    {
        $settings = $this->getSettings();
        $this->storeSettings($settings);
        $dir = dirname($settings['databasePath']);
        if (!is_dir($dir)) {
            @mkdir($dir, 0750, true);
            $this->chownToAsterisk($dir);
        }
        $this->writeConfigFile($settings);
        $this->scheduleRetry();
        return true;
    }

    public function uninstall()
    {
        $settings = $this->getSettings();
        $this->unscheduleRetry();
        $this->removeAgiFiles();
        @unlink($this->configPath);
        $db = $settings['databasePath'];
        if (is_string($db) && substr($db, -7) === '.sqlite') {
            foreach (['', '-wal', '-shm', '-journal'] as $suffix) {
                if (is_file($db . $suffix)) {
                    @unlink($db . $suffix);
                }
            }
            // The hangup journal (and files a retry had taken) and databases moved aside as corrupt.
            foreach (array_merge(glob($db . '.hangups*') ?: [], glob($db . '.corrupt-*') ?: []) as $extra) {
                if (is_file($extra)) {
                    @unlink($extra);
                }
            }
        }
        return true;
    }

    /** Old frameworks declared these in the BMO interface. */
    public function backup()
    {
    }

    public function restore($backup)
    {
    }

    // ------------------------------------------------------------------
    // GUI
    // ------------------------------------------------------------------

    public function doConfigPageInit($page)
    {
        if ($page !== self::DISPLAY) {
            return;
        }
        if (isset($_GET['state']) && (isset($_GET['code']) || isset($_GET['error']))) {
            $this->finishOauth($_GET);
            return;
        }
        $action = isset($_POST['action']) ? (string)$_POST['action'] : '';
        if ($action === 'save') {
            $this->saveFromPost($_POST);
        }
    }

    public function getActionBar($request)
    {
        if (!isset($request['display']) || $request['display'] !== self::DISPLAY) {
            return [];
        }
        return [
            'submit' => ['name' => 'submit', 'id' => 'submit', 'value' => _('Submit')],
            'reset' => ['name' => 'reset', 'id' => 'reset', 'value' => _('Reset')],
        ];
    }

    public function showPage()
    {
        $settings = $this->getSettings();
        $values = $this->displayValues($settings);
        $status = $this->runCliJson(['status'], null, 10);
        return load_view($this->moduleDir . '/views/main.php', [
            'sections' => $this->fieldTable(),
            'values' => $values,
            'errors' => $this->errors,
            'messages' => $this->messages,
            'routes' => $this->routeDids(),
            'status' => $status,
            'oauthReturnUrl' => $this->oauthReturnUrl(),
            'i18n' => $this->jsStrings(),
        ]);
    }

    /**
     * The one field table the form is rendered from: sections of rows.
     * type: radio | text | password | number | select | dids
     */
    public function fieldTable()
    {
        $s = $this->schemaProperties();
        $range = function ($key) use ($s) {
            return [
                'min' => isset($s[$key]['minimum']) ? $s[$key]['minimum'] : null,
                'max' => isset($s[$key]['maximum']) ? $s[$key]['maximum'] : null,
            ];
        };
        return [
            'connection' => [
                'title' => _('Connection to Bitrix24'),
                'fields' => [
                    ['key' => 'enabled', 'type' => 'radio', 'label' => _('Report calls to Bitrix24'),
                        'help' => _('Master switch. When off, no dialplan is generated and calls are not touched.')],
                    ['key' => 'authMode', 'type' => 'radio', 'label' => _('Connect with'),
                        'options' => ['webhook' => _('Incoming webhook'), 'app' => _('Local application')],
                        'help' => _('An incoming webhook is the simplest. Bitrix24 may refuse telephony calls made with a webhook (WRONG_AUTH_TYPE); then use a local application.')],
                    ['key' => 'webhookUrl', 'type' => 'text', 'label' => _('Webhook URL'), 'group' => 'webhook',
                        'placeholder' => 'https://example.bitrix24.ru/rest/1/abcdef1234567890/',
                        'help' => _('Bitrix24 → Developer resources → Other → Incoming webhook, with the telephony, user and crm permissions. The secret part of a saved URL is not shown again; leave the field empty to keep it.')],
                    ['key' => 'appPortalUrl', 'type' => 'text', 'label' => _('Portal address'), 'group' => 'app',
                        'placeholder' => 'https://example.bitrix24.ru',
                        'help' => _('The address of your Bitrix24, e.g. https://example.bitrix24.ru.')],
                    ['key' => 'appClientId', 'type' => 'text', 'label' => _('Application ID (client_id)'), 'group' => 'app',
                        'placeholder' => 'local.0123456789abcd.12345678',
                        'help' => _('From the local application card in Bitrix24 (server application with the telephony, user and crm permissions).')],
                    ['key' => 'appClientSecret', 'type' => 'password', 'label' => _('Application key (client_secret)'), 'group' => 'app',
                        'help' => _('Not shown again once saved; leave the field empty to keep it.')],
                ],
            ],
            'calls' => [
                'title' => _('Calls to report'),
                'fields' => [
                    ['key' => 'dids', 'type' => 'dids', 'label' => _('DIDs'),
                        'help' => _('Inbound calls to these numbers are reported. Pick inbound routes or type numbers, one per line; +7495…, 8495… and 7495… are the same number.')],
                    ['key' => 'defaultUserId', 'type' => 'number', 'label' => _('Default Bitrix24 user ID'), 'min' => 1, 'max' => null,
                        'help' => _('The user who owns a call before anyone answers and every missed call.')],
                    ['key' => 'countryCode', 'type' => 'text', 'label' => _('Country code'), 'placeholder' => '7',
                        'help' => _('Used to read national numbers: with 7, 8495… and 495… become +7495…. Leave empty to send numbers as they come.')],
                ],
            ],
            'crm' => [
                'title' => _('CRM'),
                'fields' => [
                    ['key' => 'lookupCallerName', 'type' => 'radio', 'label' => _('Caller name from the CRM'),
                        'help' => _('Set the caller ID name to the contact, company or lead found in Bitrix24 before the call rings.')],
                    ['key' => 'createCrmEntity', 'type' => 'radio', 'label' => _('Create CRM entries for new numbers'),
                        'help' => _('Let Bitrix24 create a lead or contact for a number it does not know.')],
                    ['key' => 'showCard', 'type' => 'radio', 'label' => _('Show the call card'),
                        'help' => _('Pop the call card in Bitrix24 for the operator who answered.')],
                    ['key' => 'attachRecordings', 'type' => 'radio', 'label' => _('Attach recordings'),
                        'help' => _('Upload the call recording to the call in Bitrix24 once the file is complete.')],
                ],
            ],
            'advanced' => [
                'title' => _('Timing and storage'),
                'fields' => [
                    ['key' => 'incomingTimeoutMs', 'type' => 'number', 'label' => _('Incoming call time budget (ms)')] + $range('incomingTimeoutMs') + [
                        'help' => _('The longest a new call waits for the CRM lookup before it goes on to its destination.')],
                    ['key' => 'showTimeoutMs', 'type' => 'number', 'label' => _('Answer time budget (ms)')] + $range('showTimeoutMs') + [
                        'help' => _('The longest the answering operator waits for the call card request before the call connects.')],
                    ['key' => 'hangupTimeoutMs', 'type' => 'number', 'label' => _('Hangup time budget (ms)')] + $range('hangupTimeoutMs') + [
                        'help' => _('After this, unfinished work at hangup is left to the retry job.')],
                    ['key' => 'retentionHours', 'type' => 'number', 'label' => _('Keep finished calls (hours)')] + $range('retentionHours') + [
                        'help' => _('Finished calls older than this are removed from the local database.')],
                    ['key' => 'retryGiveUpHours', 'type' => 'number', 'label' => _('Give up retrying after (hours)')] + $range('retryGiveUpHours') + [
                        'help' => _('Requests that could not reach Bitrix24 are retried every minute until this age.')],
                    ['key' => 'rateLimitPerSecond', 'type' => 'number', 'label' => _('Requests per second'), 'step' => 'any'] + $range('rateLimitPerSecond') + [
                        'help' => _('Bitrix24 allows 2 requests per second on most plans and 5 on Enterprise.')],
                    ['key' => 'logLevel', 'type' => 'select', 'label' => _('Log level'),
                        'options' => ['error' => _('Errors'), 'warn' => _('Warnings'), 'info' => _('Information'), 'debug' => _('Debug')],
                        'help' => _('How much the AGI scripts write to /var/log/asterisk/itd_bitrix.log.')],
                ],
            ],
        ];
    }

    /** Strings the page script needs, translated here. */
    protected function jsStrings()
    {
        return [
            'checking' => _('Checking the connection…'),
            'checkFailed' => _('The check could not run.'),
            'allGood' => _('Bitrix24 answers and every permission is in place.'),
            'problems' => _('Bitrix24 connection has problems:'),
            'connecting' => _('Opening Bitrix24…'),
            'checks' => [
                'config' => _('Settings file'),
                'reach' => _('Portal reachable'),
                'auth' => _('Credentials accepted'),
                'scope_telephony' => _('Telephony permission'),
                'scope_user' => _('Users permission'),
                'scope_crm' => _('CRM permission'),
                'register' => _('Call registration allowed'),
            ],
        ];
    }

    // ------------------------------------------------------------------
    // AJAX
    // ------------------------------------------------------------------

    public function ajaxRequest($command, &$setting)
    {
        // Authentication stays on (framework default); only known commands are allowed.
        return in_array($command, self::AJAX_COMMANDS, true);
    }

    public function ajaxHandler()
    {
        $command = isset($_REQUEST['command']) ? (string)$_REQUEST['command'] : '';
        switch ($command) {
            case 'check':
                return $this->connectionCheck();
            case 'status':
                return $this->runCliJson(['status'], null, 10);
            case 'calls':
                $limit = isset($_REQUEST['limit']) ? max(1, min(500, (int)$_REQUEST['limit'])) : 50;
                $res = $this->runCliJson(['calls', '--limit', (string)$limit], null, 10);
                return isset($res['calls']) && is_array($res['calls']) ? $res['calls'] : [];
            case 'oauthstart':
                return $this->startOauth();
            default:
                return ['ok' => false, 'message' => _('Unknown command.')];
        }
    }

    /** check --json, with a plain-words summary the page shows as is. */
    public function connectionCheck()
    {
        $res = $this->runCliJson(['check'], null, 30);
        if (!isset($res['checks']) || !is_array($res['checks'])) {
            return ['ok' => false, 'checks' => [], 'message' => isset($res['error']) ? $res['error'] : _('The check could not run.')];
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
        return ['ok' => !empty($res['ok']), 'checks' => $checks];
    }

    // ------------------------------------------------------------------
    // OAuth (local application, authorization-code flow in the admin's browser)
    // ------------------------------------------------------------------

    /** Returns the Bitrix24 authorize URL for the browser, remembering a one-time state. */
    public function startOauth()
    {
        $s = $this->getSettings();
        if ($s['appPortalUrl'] === '' || $s['appClientId'] === '' || $s['appClientSecret'] === '') {
            return ['ok' => false, 'message' => _('Save the portal address, application ID and key first, then press Connect.')];
        }
        $state = bin2hex(random_bytes(16));
        $_SESSION['itd_bitrix_oauth'] = ['state' => $state, 'at' => time()];
        $url = rtrim($s['appPortalUrl'], '/') . '/oauth/authorize/?client_id=' . rawurlencode($s['appClientId'])
            . '&state=' . $state;
        return ['ok' => true, 'url' => $url];
    }

    /** The browser came back from Bitrix24: check state, hand the code to the CLI on stdin. */
    public function finishOauth(array $query)
    {
        $expected = isset($_SESSION['itd_bitrix_oauth']) ? $_SESSION['itd_bitrix_oauth'] : null;
        unset($_SESSION['itd_bitrix_oauth']);
        $state = isset($query['state']) ? (string)$query['state'] : '';
        if (!is_array($expected) || !isset($expected['state']) || !hash_equals((string)$expected['state'], $state)
            || time() - (int)$expected['at'] > 900) {
            $this->addMessage('danger', _('The answer from Bitrix24 does not belong to a Connect request from this page (or it is older than 15 minutes). Press Connect again.'));
            return false;
        }
        if (isset($query['error']) || !isset($query['code']) || !preg_match('/^[A-Za-z0-9._~-]{1,512}$/', (string)$query['code'])) {
            $this->addMessage('danger', _('Bitrix24 did not grant access. Check the application and press Connect again.'));
            return false;
        }
        $res = $this->runCliJson(['oauth-exchange'], (string)$query['code'] . "\n", 30);
        if (!empty($res['ok'])) {
            $this->addMessage('success', _('Connected to Bitrix24. The access tokens are stored for the AGI scripts.'));
            return true;
        }
        $why = isset($res['message']) ? $res['message'] : (isset($res['error']) ? $res['error'] : '');
        $this->addMessage('danger', sprintf(_('Bitrix24 refused the authorization code: %s'), $why));
        return false;
    }

    /** Where Bitrix24 must send the admin back (the local application's handler URL). */
    public function oauthReturnUrl()
    {
        $host = isset($_SERVER['HTTP_HOST']) ? (string)$_SERVER['HTTP_HOST'] : 'pbx.example.com';
        $https = !empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off';
        return ($https ? 'https' : 'http') . '://' . $host . '/admin/config.php?display=' . self::DISPLAY;
    }

    // ------------------------------------------------------------------
    // Dialplan
    // ------------------------------------------------------------------

    public static function myDialplanHooks()
    {
        return 500; // after core (480), which builds ext-did-* and macro-auto-blkvm
    }

    public function doDialplanHook(&$ext, $engine, $priority)
    {
        $s = $this->getSettings();
        if (empty($s['enabled']) || empty($s['dids'])) {
            return;
        }
        $spliced = 0;
        foreach ($this->routeTargets($s) as $t) {
            $label = $this->findLabel($ext, $t['context'], $t['exten'], ['did-cid-hook', 'dest-ext']);
            if ($label === null) {
                $this->log(sprintf('inbound route %s in %s has no did-cid-hook label; not reported', $t['exten'], $t['context']));
                continue;
            }
            $this->normaliseExten($ext, $t['context'], $t['exten']);
            $ext->splice($t['context'], $t['exten'], $label, new \ext_gosub('1', 's', self::CTX_INBOUND, '${FROM_DID}'));
            $spliced++;
        }
        if ($spliced === 0) {
            return;
        }
        $this->addModuleContexts($ext);
        $this->addAnswerHook($ext);
    }

    /** Inbound routes ([context, exten]) whose DID is listed, computed the way core names them. */
    public function routeTargets(array $s)
    {
        $wanted = [];
        foreach ($s['dids'] as $d) {
            $k = self::didKey($d, $s['countryCode']);
            if ($k !== '') {
                $wanted[$k] = $d;
            }
        }
        $out = [];
        foreach ($this->allDids() as $r) {
            $did = isset($r['extension']) ? trim((string)$r['extension']) : '';
            $cid = isset($r['cidnum']) ? trim((string)$r['cidnum']) : '';
            if ($did === '' || !$this->didMatches($did, $wanted, $s['dids'], $s['countryCode'])) {
                continue;
            }
            $out[] = [
                'context' => $cid !== '' ? 'ext-did-0001' : 'ext-did-0002',
                'exten' => $did . ($cid !== '' ? '/' . $cid : ''),
            ];
        }
        return $out;
    }

    protected function didMatches($did, array $wanted, array $listed, $cc)
    {
        if ($did[0] !== '_') {
            return isset($wanted[self::didKey($did, $cc)]);
        }
        // A pattern route: report it when a listed DID, as a trunk may deliver it, fits the pattern.
        $re = self::patternRegex($did);
        foreach ($listed as $d) {
            $k = self::didKey($d, $cc);
            foreach (array_unique([$d, $k, '+' . $k]) as $candidate) {
                if ($candidate !== '' && preg_match($re, $candidate)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Asterisk extension pattern (_NXX.) → PCRE. */
    public static function patternRegex($pattern)
    {
        $p = substr($pattern, 1);
        $re = '';
        $len = strlen($p);
        for ($i = 0; $i < $len; $i++) {
            $c = $p[$i];
            if ($c === '[') {
                $end = strpos($p, ']', $i);
                if ($end === false) {
                    $re .= '\\[';
                    continue;
                }
                $re .= '[' . str_replace(['\\', '/'], ['\\\\', '\\/'], substr($p, $i + 1, $end - $i - 1)) . ']';
                $i = $end;
                continue;
            }
            $map = ['X' => '[0-9]', 'x' => '[0-9]', 'Z' => '[1-9]', 'z' => '[1-9]', 'N' => '[2-9]', 'n' => '[2-9]', '.' => '.+', '!' => '.*'];
            $re .= isset($map[$c]) ? $map[$c] : preg_quote($c, '/');
        }
        return '/^' . $re . '$/';
    }

    /** The module's own contexts (no -custom includes). AGI() is written raw: classic AGI, not FastAGI. */
    protected function addModuleContexts($ext)
    {
        $in = self::CTX_INBOUND;
        $ext->addSectionNoCustom($in, true);
        $ext->add($in, 's', '', new \ext_set('AGISIGHUP', 'no'));
        // Pushed before the lookup, so a caller who hangs up during it still gets the call finished.
        $ext->add($in, 's', '', new \ext_set('CHANNEL(hangup_handler_push)', self::CTX_HANGUP . ',s,1'));
        $ext->add($in, 's', '', new \extension('AGI(itd_bitrix_incoming.js,${ARG1})'));
        $ext->add($in, 's', '', new \ext_return(''));

        $ext->addSectionNoCustom(self::CTX_HANGUP, true);
        $ext->add(self::CTX_HANGUP, 's', '', new \extension('AGI(itd_bitrix_hangup.js)'));
        $ext->add(self::CTX_HANGUP, 's', '', new \ext_return(''));

        $ext->addSectionNoCustom(self::CTX_ANSWER, true);
        $ext->add(self::CTX_ANSWER, 's', '', new \extension('AGI(itd_bitrix_show.js,${ARG1})'));
        $ext->add(self::CTX_ANSWER, 's', '', new \ext_return(''));
    }

    /**
     * Queue member answered (and ring-group answers): macro-auto-blkvm runs on the answering
     * device channel. The operator is captured in from-queue on the member's Local channel.
     */
    protected function addAnswerHook($ext)
    {
        foreach (['_.', '_X.'] as $fq) {
            if ($this->extenExists($ext, 'from-queue', $fq)) {
                $this->normaliseExten($ext, 'from-queue', $fq);
                $ext->splice('from-queue', $fq, 0, new \ext_set('__BITRIX_AGENT', '${EXTEN}'));
            }
        }
        if (!$this->extenExists($ext, 'macro-auto-blkvm', 's')) {
            $this->log('macro-auto-blkvm,s not found; the call card will not be shown on answer');
            return;
        }
        // Queues adds its own line to this exten before core creates it, which leaves the
        // internal list keyed from 1 (§5.5): re-key it, then insert before the last line
        // (Return() on FreePBX 17) or append when the macro just ends (FreePBX 16).
        $list = $this->normaliseExten($ext, 'macro-auto-blkvm', 's');
        $hook = new \ext_gosubif('$["${BITRIX_UNIQUEID}"!=""]', self::CTX_ANSWER . ',s,1', false,
            '${IF($["${BITRIX_AGENT}"!=""]?${BITRIX_AGENT}:${EXTTOCALL})}');
        $last = end($list);
        $lastCmd = is_array($last) && isset($last['cmd']) && is_object($last['cmd']) ? $last['cmd']->output() : '';
        if (count($list) > 1 && preg_match('/^(Return|MacroExit)\(/', (string)$lastCmd)) {
            $ext->splice('macro-auto-blkvm', 's', count($list) - 1, $hook);
        } else {
            $ext->add('macro-auto-blkvm', 's', '', $hook);
        }
    }

    protected function extenExists($ext, $context, $exten)
    {
        return isset($ext->_exts[$context][' ' . $exten . ' ']) && count($ext->_exts[$context][' ' . $exten . ' ']) > 0;
    }

    /** First of $labels present in the exten, or null. */
    protected function findLabel($ext, $context, $exten, array $labels)
    {
        if (!$this->extenExists($ext, $context, $exten)) {
            return null;
        }
        $tags = [];
        foreach ($ext->_exts[$context][' ' . $exten . ' '] as $e) {
            $tags[] = isset($e['tag']) ? (string)$e['tag'] : '';
        }
        foreach ($labels as $l) {
            if (in_array($l, $tags, true)) {
                return $l;
            }
        }
        return null;
    }

    /**
     * Re-key an exten's instruction list from 0 with "1" on the first and "n" after it, so
     * extensions::splice() (which counts positions from 0) inserts where asked and loses nothing.
     */
    protected function normaliseExten($ext, $context, $exten)
    {
        $key = ' ' . $exten . ' ';
        $list = array_values($ext->_exts[$context][$key]);
        foreach ($list as $i => $e) {
            if ($i === 0) {
                $list[$i]['basetag'] = '1';
            } elseif ((string)$e['basetag'] === '1') {
                $list[$i]['basetag'] = 'n';
            }
        }
        $ext->_exts[$context][$key] = $list;
        return $list;
    }

    /** Same key as the AGIs' didKey(): +7495…, 8495… and 7495… compare equal (agi-src/logic/phone.ts). */
    public static function didKey($raw, $countryCode)
    {
        $trimmed = trim((string)$raw);
        $digits = preg_replace('/\D+/', '', $trimmed);
        if ($digits === '') {
            return '';
        }
        $international = substr($trimmed, 0, 1) === '+';
        if (!$international && strncmp($digits, '00', 2) === 0 && strlen($digits) > 4) {
            $digits = substr($digits, 2);
            $international = true;
        }
        if (!$international && (string)$countryCode === '7') {
            if (strlen($digits) === 11 && $digits[0] === '8') {
                $digits = '7' . substr($digits, 1);
            } elseif (strlen($digits) === 10) {
                $digits = '7' . $digits;
            }
        }
        return substr($digits, 0, 32);
    }

    // ------------------------------------------------------------------
    // Config file (read by the AGIs); also written on every reload
    // ------------------------------------------------------------------

    public function genConfig()
    {
        return ['itd_bitrix.json' => $this->buildConfig($this->getSettings())];
    }

    public function writeConfig($conf)
    {
        // Written by us, not through WriteConfig: the file must be pure JSON, mode 0640.
        $cfg = is_array($conf) && isset($conf['itd_bitrix.json']) ? $conf['itd_bitrix.json'] : $this->buildConfig($this->getSettings());
        $this->writeJsonAtomically($cfg);
    }

    public function getConfigPath()
    {
        return $this->configPath;
    }

    public function setConfigPath($path)
    {
        $this->configPath = (string)$path;
    }

    /** The object written to itd_bitrix.json: schema keys only. */
    public function buildConfig(array $s)
    {
        $cfg = $s;
        $cfg['version'] = 1;
        $app = null;
        if ($s['authMode'] === 'app' && $s['appPortalUrl'] !== '' && $s['appClientId'] !== '' && $s['appClientSecret'] !== '') {
            $app = [
                'portalUrl' => $s['appPortalUrl'],
                'clientId' => $s['appClientId'],
                'clientSecret' => $s['appClientSecret'],
            ];
        }
        $cfg['app'] = $app;
        $cfg['webhookUrl'] = $s['authMode'] === 'webhook' ? (string)$s['webhookUrl'] : '';
        $cfg['dids'] = array_values($s['dids']);
        return array_intersect_key($cfg, $this->schemaProperties());
    }

    public function writeConfigFile($settings = null)
    {
        return $this->writeJsonAtomically($this->buildConfig($settings === null ? $this->getSettings() : $settings));
    }

    protected function writeJsonAtomically(array $cfg)
    {
        $json = json_encode($cfg, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        if ($json === false) {
            return false;
        }
        $dir = dirname($this->configPath);
        $tmp = @tempnam($dir, '.itd_bitrix.');
        if ($tmp === false || dirname($tmp) !== $dir) {
            if ($tmp !== false) {
                @unlink($tmp);
            }
            return false;
        }
        $ok = @chmod($tmp, 0640) && @file_put_contents($tmp, $json . "\n") !== false;
        if ($ok) {
            $this->chownToAsterisk($tmp);
            $ok = @rename($tmp, $this->configPath);
        }
        if (!$ok) {
            @unlink($tmp);
        }
        return $ok;
    }

    protected function chownToAsterisk($path)
    {
        if (!$this->chownFiles || !function_exists('posix_geteuid') || posix_geteuid() !== 0) {
            return;
        }
        $user = function_exists('posix_getpwnam') ? @posix_getpwnam('asterisk') : false;
        if (is_array($user)) {
            @chown($path, 'asterisk');
            @chgrp($path, (int)$user['gid']);
        }
    }

    // ------------------------------------------------------------------
    // Settings (kvstore is the source of truth; defaults from config.schema.json)
    // ------------------------------------------------------------------

    /** config.schema.json properties (shipped in the module). */
    public function schemaProperties()
    {
        if (self::$schemaCache === null) {
            $file = __DIR__ . '/config.schema.json';
            $schema = is_readable($file) ? json_decode((string)file_get_contents($file), true) : null;
            if (!is_array($schema) || !isset($schema['properties'])) {
                throw new \RuntimeException('config.schema.json is missing or unreadable in ' . __DIR__);
            }
            self::$schemaCache = $schema['properties'];
        }
        return self::$schemaCache;
    }

    /** Defaults of every schema key plus the GUI-only keys. */
    public function defaults()
    {
        $d = [];
        foreach ($this->schemaProperties() as $k => $p) {
            if (array_key_exists('default', $p)) {
                $d[$k] = $p['default'];
            } elseif (isset($p['const'])) {
                $d[$k] = $p['const'];
            } elseif (isset($p['type']) && $p['type'] === 'array') {
                $d[$k] = [];
            }
        }
        return $d + ['authMode' => 'webhook', 'appPortalUrl' => '', 'appClientId' => '', 'appClientSecret' => ''];
    }

    public function getSettings()
    {
        $stored = $this->getConfig('settings');
        $stored = is_array($stored) ? array_intersect_key($stored, $this->defaults()) : [];
        return array_merge($this->defaults(), $stored);
    }

    protected function storeSettings(array $s)
    {
        $this->setConfig('settings', array_intersect_key($s, $this->defaults()));
    }

    /** What changes the generated dialplan. */
    protected function dialplanSignature(array $s)
    {
        $keys = [];
        foreach ($s['dids'] as $d) {
            $keys[] = self::didKey($d, $s['countryCode']);
        }
        $keys = array_values(array_unique(array_filter($keys, 'strlen')));
        sort($keys);
        return (!empty($s['enabled']) && $keys) ? json_encode($keys) : 'off';
    }

    /** Validate a POST, store it, write the config file, ask for a reload when the dialplan changes. */
    public function saveFromPost(array $post)
    {
        $old = $this->getSettings();
        list($new, $errors) = $this->validate($post, $old);
        if ($errors) {
            $this->errors = $errors;
            $this->submitted = $post;
            $this->addMessage('danger', _('The settings were not saved. Correct the fields marked below.'));
            return false;
        }
        $this->storeSettings($new);
        if (!$this->writeConfigFile($new)) {
            $this->addMessage('warning', sprintf(_('The settings were saved, but %s could not be written. It is written again on Apply Config.'), $this->configPath));
        } else {
            $this->addMessage('success', _('Settings saved.'));
        }
        if ($this->dialplanSignature($old) !== $this->dialplanSignature($new)) {
            needreload();
        }
        return true;
    }

    /**
     * @return array [settings, errors(field => message)]
     */
    public function validate(array $post, array $old)
    {
        $s = $old;
        $e = [];
        $props = $this->schemaProperties();
        $str = function ($k) use ($post) {
            return isset($post[$k]) && is_scalar($post[$k]) ? trim((string)$post[$k]) : '';
        };

        foreach (['enabled', 'lookupCallerName', 'createCrmEntity', 'showCard', 'attachRecordings'] as $k) {
            if (isset($post[$k])) {
                $s[$k] = $str($k) === 'yes';
            }
        }
        $mode = $str('authMode');
        if ($mode !== '') {
            if (!in_array($mode, ['webhook', 'app'], true)) {
                $e['authMode'] = _('Choose a webhook or a local application.');
            } else {
                $s['authMode'] = $mode;
            }
        }

        $hook = $str('webhookUrl');
        if ($hook !== '') {
            if (!self::validWebhook($hook)) {
                $e['webhookUrl'] = _('The webhook URL must look like https://<portal>/rest/<user id>/<code>/ (copy it from Bitrix24).');
            } else {
                $s['webhookUrl'] = rtrim($hook, '/') . '/';
            }
        }
        $portal = $str('appPortalUrl');
        if (isset($post['appPortalUrl'])) {
            if ($portal !== '' && !self::validPortal($portal)) {
                $e['appPortalUrl'] = _('The portal address must look like https://example.bitrix24.ru (https, no path).');
            } else {
                $s['appPortalUrl'] = rtrim($portal, '/');
            }
        }
        $clientId = $str('appClientId');
        if (isset($post['appClientId'])) {
            if ($clientId !== '' && !preg_match('/^[^\s\x00-\x1f]{1,200}$/u', $clientId)) {
                $e['appClientId'] = _('The application ID is 1 to 200 characters without spaces.');
            } else {
                $s['appClientId'] = $clientId;
            }
        }
        $secret = isset($post['appClientSecret']) && is_scalar($post['appClientSecret']) ? (string)$post['appClientSecret'] : '';
        if ($secret !== '' && $secret !== self::MASK) {
            if (!preg_match('/^[^\s\x00-\x1f]{1,200}$/u', $secret)) {
                $e['appClientSecret'] = _('The application key is 1 to 200 characters without spaces.');
            } else {
                $s['appClientSecret'] = $secret;
            }
        }

        if (isset($post['dids']) || isset($post['didsExtra'])) {
            list($dids, $didError) = $this->parseDids($post, $s['countryCode']);
            if ($didError !== null) {
                $e['dids'] = $didError;
            } else {
                $s['dids'] = $dids;
            }
        }

        if (isset($post['countryCode'])) {
            $cc = $str('countryCode');
            $cc = ltrim($cc, '+');
            if (!preg_match('/^[0-9]{0,3}$/', $cc)) {
                $e['countryCode'] = _('The country code is up to 3 digits, e.g. 7.');
            } else {
                $s['countryCode'] = $cc;
            }
        }

        $ints = ['defaultUserId', 'incomingTimeoutMs', 'showTimeoutMs', 'hangupTimeoutMs', 'retentionHours', 'retryGiveUpHours'];
        foreach ($ints as $k) {
            if (!isset($post[$k])) {
                continue;
            }
            $min = isset($props[$k]['minimum']) ? (int)$props[$k]['minimum'] : 1;
            $max = isset($props[$k]['maximum']) ? (int)$props[$k]['maximum'] : 2147483647;
            $v = $str($k);
            if (!preg_match('/^[0-9]{1,10}$/', $v) || (int)$v < $min || (int)$v > $max) {
                $e[$k] = sprintf(_('Enter a whole number from %1$d to %2$d.'), $min, $max);
            } else {
                $s[$k] = (int)$v;
            }
        }
        if (isset($post['rateLimitPerSecond'])) {
            $v = str_replace(',', '.', $str('rateLimitPerSecond'));
            $max = isset($props['rateLimitPerSecond']['maximum']) ? $props['rateLimitPerSecond']['maximum'] : 100;
            if (!is_numeric($v) || (float)$v <= 0 || (float)$v > $max) {
                $e['rateLimitPerSecond'] = sprintf(_('Enter a number above 0 and up to %s.'), $max);
            } else {
                $s['rateLimitPerSecond'] = ((float)$v == (int)$v) ? (int)$v : (float)$v;
            }
        }
        if (isset($post['logLevel'])) {
            $v = $str('logLevel');
            if (!in_array($v, $props['logLevel']['enum'], true)) {
                $e['logLevel'] = _('Choose a log level from the list.');
            } else {
                $s['logLevel'] = $v;
            }
        }

        if (!$e && $s['enabled']) {
            if ($s['authMode'] === 'webhook' && $s['webhookUrl'] === '') {
                $e['webhookUrl'] = _('Enter the webhook URL to switch reporting on.');
            }
            if ($s['authMode'] === 'app') {
                foreach (['appPortalUrl', 'appClientId', 'appClientSecret'] as $k) {
                    if ($s[$k] === '') {
                        $e[$k] = _('Needed for the local application.');
                    }
                }
            }
        }
        return [$s, $e];
    }

    /** Route DIDs ticked in the list plus free lines; returns [dids, error|null]. */
    protected function parseDids(array $post, $cc)
    {
        $raw = [];
        if (isset($post['dids']) && is_array($post['dids'])) {
            foreach ($post['dids'] as $d) {
                if (is_scalar($d)) {
                    $raw[] = (string)$d;
                }
            }
        }
        if (isset($post['didsExtra']) && is_scalar($post['didsExtra'])) {
            foreach (preg_split('/[\r\n,;]+/', (string)$post['didsExtra']) as $line) {
                $raw[] = $line;
            }
        }
        $out = [];
        $seen = [];
        foreach ($raw as $d) {
            $clean = preg_replace('/[\s().\-]+/u', '', trim($d));
            if ($clean === '') {
                continue;
            }
            if (!preg_match('/^\+?[0-9]{1,32}$/', $clean)) {
                return [null, sprintf(_('"%s" is not a phone number: use digits, optionally starting with +.'), $d)];
            }
            $k = self::didKey($clean, $cc);
            if (isset($seen[$k])) {
                continue;
            }
            $seen[$k] = true;
            $out[] = $clean;
        }
        if (count($out) > 1000) {
            return [null, _('At most 1000 DIDs can be listed.')];
        }
        return [$out, null];
    }

    public static function validWebhook($url)
    {
        if (!preg_match('#^(https?)://([^/\s:]+)(:[0-9]{1,5})?(/[^\s]*)?/rest/[0-9]+/[^/\s]+/?$#', $url, $m)) {
            return false;
        }
        return $m[1] === 'https' || self::isLocalHost($m[2]);
    }

    public static function validPortal($url)
    {
        if (!preg_match('#^(https?)://([^/\s:]+)(:[0-9]{1,5})?/?$#', $url, $m)) {
            return false;
        }
        return $m[1] === 'https' || self::isLocalHost($m[2]);
    }

    protected static function isLocalHost($host)
    {
        return in_array(strtolower($host), ['localhost', '127.0.0.1', '[::1]'], true);
    }

    /** Values for the form: secrets masked, submitted input shown again after a failed save. */
    public function displayValues(array $s)
    {
        $v = $s;
        $v['webhookUrl'] = '';
        $v['webhookUrlMasked'] = self::maskWebhook($s['webhookUrl']);
        $v['appClientSecret'] = '';
        $v['appClientSecretSet'] = $s['appClientSecret'] !== '';
        $routeKeys = [];
        foreach ($this->routeDids() as $r) {
            $routeKeys[self::didKey($r['did'], $s['countryCode'])] = $r['did'];
        }
        $picked = [];
        $extra = [];
        foreach ($s['dids'] as $d) {
            $k = self::didKey($d, $s['countryCode']);
            if (isset($routeKeys[$k])) {
                $picked[] = $routeKeys[$k];
            } else {
                $extra[] = $d;
            }
        }
        $v['didsPicked'] = $picked;
        $v['didsExtra'] = implode("\n", $extra);
        if (is_array($this->submitted)) {
            foreach ($this->submitted as $k => $val) {
                if (in_array($k, ['webhookUrl', 'appClientSecret', 'action'], true) || !array_key_exists($k, $v)) {
                    continue;
                }
                if ($k === 'dids') {
                    $v['didsPicked'] = is_array($val) ? array_values(array_filter($val, 'is_scalar')) : [];
                    continue;
                }
                if (is_scalar($val)) {
                    $v[$k] = in_array($k, ['enabled', 'lookupCallerName', 'createCrmEntity', 'showCard', 'attachRecordings'], true)
                        ? ((string)$val === 'yes') : (string)$val;
                }
            }
            if (isset($this->submitted['didsExtra']) && is_scalar($this->submitted['didsExtra'])) {
                $v['didsExtra'] = (string)$this->submitted['didsExtra'];
            }
        }
        return $v;
    }

    /** https://portal/rest/1/<code>/ → https://portal/rest/1/••••••••/ */
    public static function maskWebhook($url)
    {
        if ($url === '' || $url === null) {
            return '';
        }
        return preg_replace('#(/rest/[0-9]+/)[^/\s]+#', '$1' . self::MASK, (string)$url);
    }

    /** DIDs of the existing inbound routes, for the picker. */
    public function routeDids()
    {
        $out = [];
        foreach ($this->allDids() as $r) {
            $did = isset($r['extension']) ? trim((string)$r['extension']) : '';
            if ($did === '' || $did[0] === '_' || isset($out[$did])) {
                continue;
            }
            $desc = isset($r['description']) ? trim((string)$r['description']) : '';
            $out[$did] = ['did' => $did, 'description' => $desc];
        }
        return array_values($out);
    }

    protected function allDids()
    {
        try {
            $rows = $this->FreePBX->Core->getAllDIDs();
        } catch (\Exception $e) {
            return [];
        }
        return is_array($rows) ? $rows : [];
    }

    // ------------------------------------------------------------------
    // Operator CLI
    // ------------------------------------------------------------------

    protected function agiDir()
    {
        if ($this->agiDir !== null) {
            return $this->agiDir;
        }
        try {
            $dir = $this->FreePBX->Config->get('ASTAGIDIR');
        } catch (\Exception $e) {
            $dir = null;
        }
        return is_string($dir) && $dir !== '' ? rtrim($dir, '/') : self::DEFAULT_AGI_DIR;
    }

    protected function cliCommand()
    {
        return $this->cliCommand !== null ? $this->cliCommand : ['node', $this->agiDir() . '/' . self::CLI_NAME];
    }

    /**
     * Run `itd_bitrix.js <args> --config <path> --json`, optional stdin, and decode its JSON.
     * Never puts a secret on the command line; strips secrets from anything returned.
     * @return array decoded JSON, or ['ok' => false, 'error' => plain words]
     */
    public function runCliJson(array $args, $stdin = null, $timeout = 20)
    {
        $argv = array_merge($this->cliCommand(), $args, ['--config', $this->configPath, '--json']);
        $cmd = implode(' ', array_map('escapeshellarg', $argv));
        $spec = [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']];
        $proc = @proc_open($cmd, $spec, $pipes);
        if (!is_resource($proc)) {
            return ['ok' => false, 'error' => _('The operator tool could not be started.')];
        }
        if ($stdin !== null) {
            @fwrite($pipes[0], $stdin);
        }
        fclose($pipes[0]);
        stream_set_blocking($pipes[1], false);
        stream_set_blocking($pipes[2], false);
        $out = '';
        $err = '';
        $deadline = microtime(true) + $timeout;
        $timedOut = false;
        while (!feof($pipes[1]) || !feof($pipes[2])) {
            $left = $deadline - microtime(true);
            if ($left <= 0) {
                $timedOut = true;
                break;
            }
            $r = [];
            foreach ([1, 2] as $i) {
                if (!feof($pipes[$i])) {
                    $r[] = $pipes[$i];
                }
            }
            $w = null;
            $x = null;
            if (@stream_select($r, $w, $x, 0, (int)min(200000, $left * 1e6)) === false) {
                break;
            }
            foreach ($r as $p) {
                $chunk = fread($p, 65536);
                if ($p === $pipes[1]) {
                    $out .= (string)$chunk;
                } else {
                    $err .= (string)$chunk;
                }
            }
        }
        fclose($pipes[1]);
        fclose($pipes[2]);
        if ($timedOut) {
            proc_terminate($proc, 9);
            proc_close($proc);
            return ['ok' => false, 'error' => sprintf(_('The operator tool did not answer within %d seconds.'), $timeout)];
        }
        $code = proc_close($proc);
        $data = json_decode(trim($out), true);
        if (!is_array($data)) {
            $why = ($code === 127 || !is_file($this->cliScriptPath()))
                ? _('The operator tool is not installed yet: run "fwconsole reload" (and check that Node.js is installed).')
                : sprintf(_('The operator tool failed (exit code %d).'), $code);
            if ($code !== 127) {
                $line = trim(strtok($err, "\n") ?: '');
                if ($line !== '') {
                    $why .= ' ' . mb_substr($line, 0, 300);
                }
            }
            return ['ok' => false, 'error' => $this->scrub($why)];
        }
        return $this->scrub($data);
    }

    protected function cliScriptPath()
    {
        $cmd = $this->cliCommand();
        return (string)end($cmd);
    }

    /** Replace any saved secret in CLI output before it reaches the browser. */
    public function scrub($value)
    {
        $s = $this->getSettings();
        $secrets = [];
        if (preg_match('#/rest/[0-9]+/([^/\s]+)#', (string)$s['webhookUrl'], $m)) {
            $secrets[] = $m[1];
        }
        if ($s['appClientSecret'] !== '') {
            $secrets[] = $s['appClientSecret'];
        }
        if (!$secrets) {
            return $value;
        }
        if (is_array($value)) {
            foreach ($value as $k => $v) {
                $value[$k] = $this->scrub($v);
            }
            return $value;
        }
        return is_string($value) ? str_replace($secrets, self::MASK, $value) : $value;
    }

    // ------------------------------------------------------------------
    // Install helpers: scheduled retry, AGI files
    // ------------------------------------------------------------------

    public function retryCommand()
    {
        return 'node ' . escapeshellarg($this->agiDir() . '/' . self::CLI_NAME) . ' retry --config '
            . escapeshellarg($this->configPath);
    }

    protected function cronLine()
    {
        return '* * * * * ' . $this->retryCommand() . ' >/dev/null 2>&1';
    }

    protected function scheduleRetry()
    {
        $job = $this->bmo('Job');
        if ($job !== null && method_exists($job, 'addCommand')) {
            $job->addCommand(self::RAWNAME, self::JOB_NAME, $this->retryCommand(), '* * * * *', 55, true);
            return 'job';
        }
        $cron = $this->bmo('Cron');
        if ($cron !== null) {
            $cron->addLine($this->cronLine());
            return 'cron';
        }
        return null;
    }

    protected function unscheduleRetry()
    {
        $job = $this->bmo('Job');
        if ($job !== null && method_exists($job, 'remove')) {
            $job->remove(self::RAWNAME, self::JOB_NAME);
        }
        $cron = $this->bmo('Cron');
        if ($cron !== null) {
            $cron->remove($this->cronLine());
        }
    }

    protected function bmo($name)
    {
        try {
            $obj = $this->FreePBX !== null ? $this->FreePBX->$name : null;
        } catch (\Throwable $e) {
            $obj = null;
        }
        return is_object($obj) ? $obj : null;
    }

    /**
     * FreePBX copies agi-bin/ into ASTAGIDIR on reload and never removes it: remove exactly the
     * files this module ships (as listed in its own agi-bin/ now) and anything named itd_bitrix*.
     */
    public function removeAgiFiles()
    {
        $dest = $this->agiDir();
        $removed = [];
        $src = $this->moduleDir . '/agi-bin';
        $dirs = [];
        if (is_dir($src)) {
            $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($src, \FilesystemIterator::SKIP_DOTS), \RecursiveIteratorIterator::SELF_FIRST);
            foreach ($it as $f) {
                $rel = substr($f->getPathname(), strlen($src) + 1);
                if ($f->isDir()) {
                    $dirs[] = $rel;
                } elseif (is_file($dest . '/' . $rel) || is_link($dest . '/' . $rel)) {
                    @unlink($dest . '/' . $rel);
                    $removed[] = $rel;
                }
            }
        }
        rsort($dirs);
        foreach ($dirs as $rel) {
            @rmdir($dest . '/' . $rel); // only succeeds when empty
        }
        foreach ((array)glob($dest . '/itd_bitrix*') as $path) {
            if (!is_string($path)) {
                continue;
            }
            $this->removeTree($path);
            $removed[] = basename($path);
        }
        return array_values(array_unique($removed));
    }

    protected function removeTree($path)
    {
        if (is_dir($path) && !is_link($path)) {
            foreach ((array)scandir($path) as $f) {
                if ($f !== '.' && $f !== '..' && is_string($f)) {
                    $this->removeTree($path . '/' . $f);
                }
            }
            @rmdir($path);
        } else {
            @unlink($path);
        }
    }

    // ------------------------------------------------------------------
    // Small helpers
    // ------------------------------------------------------------------

    protected function addMessage($type, $text)
    {
        $this->messages[] = ['type' => $type, 'text' => $text];
    }

    public function getMessages()
    {
        return $this->messages;
    }

    public function getErrors()
    {
        return $this->errors;
    }

    protected function log($text)
    {
        if (function_exists('freepbx_log') && defined('FPBX_LOG_WARNING')) {
            freepbx_log(FPBX_LOG_WARNING, 'bitrix: ' . $text);
        }
    }
}
