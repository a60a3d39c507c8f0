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

    /** The one field table the form is rendered from (SettingsFields). */
    public function fieldTable()
    {
        return SettingsFields::table($this->settings->schemaProperties());
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
