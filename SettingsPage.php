<?php
namespace FreePBX\modules\Bitrix;

/**
 * The settings page: the form drawn from one field table, its save, and what it shows back
 * (messages, the failed save's errors and input, secrets masked), with the status panel.
 */
class SettingsPage
{
    /** The page's display key: config.php?display=itdbitrix (module.xml menu item). */
    const DISPLAY = 'itdbitrix';

    /** @var Settings */
    private $settings;
    /** @var ConfigFile */
    private $configFile;
    /** @var InboundRoutes */
    private $routes;
    /** @var OutboundRoutes */
    private $outRoutes;
    /** @var OperatorCli */
    private $cli;
    /** @var ResidentService */
    private $service;
    /** @var string */
    private $moduleDir;
    /** @var DialplanProblems */
    private $dialplanProblems;

    /** @var array[] messages shown at the top: ['type' => 'success|danger|warning|info', 'text' => …] */
    private $messages = [];
    /** @var array field => message, from a failed save */
    private $errors = [];
    /** @var array|null the failed save's input, shown again */
    private $submitted = null;

    public function __construct(Settings $settings, ConfigFile $configFile, InboundRoutes $routes, OutboundRoutes $outRoutes, OperatorCli $cli,
        ResidentService $service, $moduleDir, DialplanProblems $dialplanProblems)
    {
        $this->dialplanProblems = $dialplanProblems;
        $this->settings = $settings;
        $this->configFile = $configFile;
        $this->routes = $routes;
        $this->outRoutes = $outRoutes;
        $this->cli = $cli;
        $this->service = $service;
        $this->moduleDir = $moduleDir;
    }

    /**
     * Validate a POST, store it, write the config file, ask for a reload when the dialplan changes.
     * The resident service follows at once when it is switched or moved: until Apply Config the
     * dialplan still points at the old port, where nothing answers now, and falls back to the
     * per-call AGI scripts.
     */
    public function save(array $post)
    {
        $old = $this->settings->get();
        $validator = new SettingsValidator($this->settings->schemaProperties());
        list($new, $errors) = $validator->validate($post, $old);
        if ($errors) {
            $this->errors = $errors;
            $this->submitted = $post;
            $this->addMessage('danger', _('The settings were not saved. Correct the fields marked below.'));
            return false;
        }
        $this->settings->store($new);
        if (!$this->configFile->write($new)) {
            $this->addMessage('warning', sprintf(_('The settings were saved, but %s could not be written. It is written again on Apply Config.'), $this->configFile->path()));
        } else {
            $this->addMessage('success', _('Settings saved.'));
        }
        $possible = $this->service->available();
        if (Settings::dialplanSignature($old, $possible) !== Settings::dialplanSignature($new, $possible)) {
            needreload();
        }
        if ($possible && self::serviceChanged($old, $new)) {
            $outcome = $this->service->ensure();
            if ($outcome['state'] === 'failed') {
                $this->addMessage('warning', $outcome['message']);
            }
        }
        return true;
    }

    /** What pm2 starts the service with, or whether it runs at all. */
    private static function serviceChanged(array $old, array $new)
    {
        foreach (['enabled', 'serviceEnabled', 'servicePort'] as $k) {
            if ($old[$k] !== $new[$k]) {
                return true;
            }
        }
        return false;
    }

    public function addMessage($type, $text)
    {
        $this->messages[] = ['type' => $type, 'text' => $text];
    }

    public function messages()
    {
        return $this->messages;
    }

    public function errors()
    {
        return $this->errors;
    }

    /** @param string $more sections drawn after the form (HTML their views escaped) */
    public function render($more = '')
    {
        $values = $this->displayValues($this->settings->get(), $this->submitted);
        $status = $this->cli->status();
        return load_view($this->moduleDir . '/views/main.php', [
            'sections' => $this->fieldTable(),
            'values' => $values,
            'errors' => $this->errors,
            'messages' => $this->messages,
            'routes' => $this->routes->forPicker(),
            'outRoutes' => $this->outRoutes->forPicker(),
            'status' => $status,
            'dialplanProblems' => $this->dialplanProblems->texts(),
            'outbox' => isset($status['error']) ? null : OutboxStatus::read($status),
            'service' => ServiceStatus::read($status, $this->settings->get(), $this->service->available()),
            'oauthReturnUrl' => OauthConnect::returnUrl(),
            'i18n' => $this->jsStrings(),
            'more' => $more,
        ]);
    }

    /**
     * The one field table the form is rendered from: sections of rows.
     * type: radio | text | password | number | select | dids
     */
    public function fieldTable()
    {
        $s = $this->settings->schemaProperties();
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
                    ['key' => 'httpsProxy', 'type' => 'text', 'label' => _('HTTPS proxy'),
                        'placeholder' => 'http://proxy.example.lan:3128',
                        'help' => _('Only if this PBX reaches the internet through a proxy: http://host:port, or http://user:password@host:port. Every request to Bitrix24 then goes through it (a CONNECT tunnel; the connection to Bitrix24 inside it stays encrypted and verified). The saved password is shown masked; leave the mask to keep it. Empty: direct connections.')],
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
            'outgoing' => [
                'title' => _('Outgoing calls'),
                'fields' => [
                    ['key' => 'outgoingEnabled', 'type' => 'radio', 'label' => _('Report outgoing calls'),
                        'help' => _('Calls that leave through a trunk appear in the CRM for the Bitrix24 user whose extension made them, with the result (answered, busy, no answer…), the talk time and the recording. Calls forwarded out from an inbound call stay part of that inbound call. Saving a change asks for Apply Config.')],
                    ['key' => 'outgoingRoutes', 'type' => 'routes', 'label' => _('Outbound routes'),
                        'help' => _('Only calls through the ticked outbound routes are reported. Tick none to report every route.')],
                    ['key' => 'outgoingShowCard', 'type' => 'radio', 'label' => _('Show the call card to the caller'),
                        'help' => _('Pop the call card in Bitrix24 for the user who makes the call, while it rings.')],
                ],
            ],
            'clicktocall' => [
                'title' => _('Click-to-call from Bitrix24'),
                'fields' => [
                    ['key' => 'clickToCall', 'type' => 'radio', 'label' => _('Click-to-call'),
                        'help' => _('A user clicks a phone number in Bitrix24: their own extension rings first, and when they pick up the number is dialled through the outbound routes with their outbound caller ID. No address of the PBX is opened to the internet: the PBX fetches the clicks from Bitrix24. Needs the local application (Connect) and the module\'s resident service. Then in Bitrix24, Telephony → Settings → Default number for outgoing calls: choose this application.')],
                    ['key' => 'clickToCallRewrite', 'type' => 'rewrite', 'label' => _('Number rewrite'),
                        'placeholder' => "+7 => 8\n+ => 810",
                        'help' => _('Bitrix24 sends numbers as +7…; rewrite them into what your outbound routes dial, one rule per line: the prefix, "=>", then what replaces it. The first rule that fits is used.')],
                ],
            ],
            'crm' => [
                'title' => _('CRM'),
                'fields' => [
                    ['key' => 'lookupCallerName', 'type' => 'radio', 'label' => _('Caller name from the CRM'),
                        'help' => _('Set the caller ID name to the contact, company or lead found in Bitrix24 before the call rings.')],
                    ['key' => 'createCrmEntity', 'type' => 'radio', 'label' => _('Create CRM entries for new numbers'),
                        'help' => _('Let Bitrix24 create a lead or contact for a number it does not know.')],
                    ['key' => 'cardMode', 'type' => 'radio', 'label' => _('Show the call card'),
                        'options' => ['ringing' => _('While the phones ring'), 'answer' => _('On answer'), 'off' => _('Never')],
                        'help' => _('While the phones ring: the card pops up in Bitrix24 for everyone whose phone rings (queue members, ring group members, the extension, follow-me) and is hidden for the others as soon as one answers; this needs the resident service, without it the card pops up on answer. On answer: for the operator who answered only. Saving a change asks for Apply Config.')],
                    ['key' => 'attachRecordings', 'type' => 'radio', 'label' => _('Attach recordings'),
                        'help' => _('Upload the call recording to the call in Bitrix24 once the file is complete.')],
                ],
            ],
            'service' => [
                'title' => _('Resident service'),
                'fields' => [
                    ['key' => 'serviceEnabled', 'type' => 'radio', 'label' => _('Run the calls through the resident service'),
                        'help' => _('One long-running process (itd_bitrix.js serve), run by FreePBX\'s Process Management (pm2) module as the asterisk user, answers the call steps over FastAGI on this PBX only: no Node.js start-up per call, one kept connection to Bitrix24, the outbox sent every few seconds, click-to-call. Whenever it does not answer, the same step runs as a per-call AGI script, so no call waits for it. Without the pm2 module, or when off, the per-call AGI scripts handle every call. Saving a change asks for Apply Config.')],
                    ['key' => 'servicePort', 'type' => 'number', 'label' => _('Service port')] + $range('servicePort') + [
                        'help' => _('The loopback port the resident service listens on (127.0.0.1 only). Port 4573 is FreePBX\'s own FastAGI server. Saving a change restarts the service and asks for Apply Config.')],
                ],
            ],
            'advanced' => [
                'title' => _('Timing and storage'),
                'fields' => [
                    ['key' => 'incomingTimeoutMs', 'type' => 'number', 'label' => _('Incoming call time budget (ms)')] + $range('incomingTimeoutMs') + [
                        'help' => _('The longest a new call waits for the CRM lookup before it goes on to its destination.')],
                    ['key' => 'showTimeoutMs', 'type' => 'number', 'label' => _('Answer time budget (ms)')] + $range('showTimeoutMs') + [
                        'help' => _('The longest the answering operator waits for the call card request before the call connects.')],
                    ['key' => 'outgoingTimeoutMs', 'type' => 'number', 'label' => _('Outgoing call time budget (ms)')] + $range('outgoingTimeoutMs') + [
                        'help' => _('The longest an outgoing call waits for its registration in Bitrix24 before the trunk is dialled; the rest is sent later.')],
                    ['key' => 'hangupTimeoutMs', 'type' => 'number', 'label' => _('Hangup time budget (ms)')] + $range('hangupTimeoutMs') + [
                        'help' => _('After this, unfinished work at hangup is left to the retry job.')],
                    ['key' => 'retentionHours', 'type' => 'number', 'label' => _('Keep finished calls (hours)')] + $range('retentionHours') + [
                        'help' => _('Finished calls older than this are removed from the local database.')],
                    ['key' => 'retryGiveUpHours', 'type' => 'number', 'label' => _('Give up retrying after (hours)')] + $range('retryGiveUpHours') + [
                        'help' => _('Requests that could not reach Bitrix24 are retried every minute until this age.')],
                    ['key' => 'staleCallHours', 'type' => 'number', 'label' => _('Finish lost calls after (hours)')] + $range('staleCallHours') + [
                        'help' => _('A call still open after this long is treated as lost: its hangup never reached the module (for example, Asterisk crashed or was restarted). The retry job then finishes it in Bitrix24 with what is known. Set it above your longest calls.')],
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
    private function jsStrings()
    {
        return [
            'checking' => _('Checking the connection…'),
            'checkFailed' => _('The check could not run.'),
            'allGood' => _('Bitrix24 answers and every permission is in place.'),
            'problems' => _('Bitrix24 connection has problems:'),
            'connecting' => _('Opening Bitrix24…'),
            'warnings' => _('Warnings about the settings file:'),
            'selftestFailed' => _('The self-test could not run.'),
            'checks' => [
                // The ids `itd_bitrix.js check` reports (agi-src/flows/check.ts; `run`: it could not start).
                'config' => _('Settings file'),
                'run' => _('Operator tool'),
                'reach' => _('Portal reachable, credentials accepted'),
                'scope_user' => _('Users permission'),
                'scope_telephony' => _('Telephony permission'),
                'scope_crm' => _('CRM permission'),
            ],
        ];
    }

    /** Values for the form: secrets masked, submitted input shown again after a failed save. */
    private function displayValues(array $s, $submitted)
    {
        $v = $s;
        $v['webhookUrl'] = '';
        $v['webhookUrlMasked'] = self::maskWebhook($s['webhookUrl']);
        $v['appClientSecret'] = '';
        $v['appClientSecretSet'] = $s['appClientSecret'] !== '';
        $v['httpsProxy'] = Settings::maskProxy($s['httpsProxy']);
        $routeKeys = [];
        foreach ($this->routes->forPicker() as $r) {
            $routeKeys[Did::key($r['did'], $s['countryCode'])] = $r['did'];
        }
        $picked = [];
        $extra = [];
        foreach ($s['dids'] as $d) {
            $k = Did::key($d, $s['countryCode']);
            if (isset($routeKeys[$k])) {
                $picked[] = $routeKeys[$k];
            } else {
                $extra[] = $d;
            }
        }
        $v['didsPicked'] = $picked;
        $v['didsExtra'] = implode("\n", $extra);
        $v['outgoingRoutes'] = array_values(array_map('strval', $s['outgoingRoutes']));
        $v['clickToCallRewrite'] = SettingsValidator::formatRewrite($s['clickToCallRewrite']);
        if (is_array($submitted)) {
            foreach ($submitted as $k => $val) {
                if (in_array($k, ['webhookUrl', 'appClientSecret', 'httpsProxy', 'action'], true) || !array_key_exists($k, $v)) {
                    continue;
                }
                if ($k === 'dids') {
                    $v['didsPicked'] = is_array($val) ? array_values(array_filter($val, 'is_scalar')) : [];
                    continue;
                }
                if ($k === 'outgoingRoutes') {
                    $v['outgoingRoutes'] = is_array($val) ? array_values(array_map('strval', array_filter($val, 'is_scalar'))) : [];
                    continue;
                }
                if (is_scalar($val)) {
                    $v[$k] = in_array($k, SettingsValidator::FLAGS, true)
                        ? ((string)$val === 'yes') : (string)$val;
                }
            }
            if (isset($submitted['didsExtra']) && is_scalar($submitted['didsExtra'])) {
                $v['didsExtra'] = (string)$submitted['didsExtra'];
            }
            if (isset($submitted['outgoingRoutesShown']) && !isset($submitted['outgoingRoutes'])) {
                $v['outgoingRoutes'] = [];
            }
        }
        return $v;
    }

    /** https://portal/rest/1/<code>/ → https://portal/rest/1/••••••••/ */
    private static function maskWebhook($url)
    {
        if ($url === '' || $url === null) {
            return '';
        }
        return preg_replace('#(/rest/[0-9]+/)[^/\s]+#', '$1' . Settings::MASK, (string)$url);
    }
}
