<?php
namespace FreePBX\modules\Bitrix;

/**
 * The module's settings: the kvstore is the source of truth, defaults come from
 * config.schema.json (shipped in the module) plus the page's connection-form keys.
 */
class Settings
{
    /** What the page and the operator tool's answers show in place of a secret. */
    const MASK = '••••••••';

    /** Keys kept besides the schema keys (the page's connection form), with their defaults. */
    const FORM_DEFAULTS = ['authMode' => 'webhook', 'appPortalUrl' => '', 'appClientId' => '', 'appClientSecret' => ''];

    /** @var object the BMO object: its getConfig()/setConfig() reach the module's kvstore */
    private $kvstore;

    /** @var array|null */
    private static $schemaCache = null;

    public function __construct($kvstore)
    {
        $this->kvstore = $kvstore;
    }

    /** config.schema.json properties. */
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

    /** Defaults of every schema key plus the form's keys. */
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
        return $d + self::FORM_DEFAULTS;
    }

    public function get()
    {
        $stored = $this->kvstore->getConfig('settings');
        $stored = is_array($stored) ? array_intersect_key($stored, $this->defaults()) : [];
        // Saved before cardMode existed: "Show the call card" No is cardMode off.
        if (!isset($stored['cardMode']) && isset($stored['showCard']) && $stored['showCard'] === false) {
            $stored['cardMode'] = 'off';
        }
        return array_merge($this->defaults(), $stored);
    }

    /** ringing, answer or off; an unknown value is the default. */
    public static function cardMode(array $s)
    {
        $mode = isset($s['cardMode']) ? (string)$s['cardMode'] : 'ringing';
        if (isset($s['showCard']) && $s['showCard'] === false) {
            return 'off';
        }
        return in_array($mode, ['ringing', 'answer', 'off'], true) ? $mode : 'ringing';
    }

    public function store(array $s)
    {
        $this->kvstore->setConfig('settings', array_intersect_key($s, $this->defaults()));
    }

    /** The saved secrets (webhook code, application key, proxy password), to be masked wherever text leaves the PBX. */
    public function secrets()
    {
        $s = $this->get();
        $secrets = [];
        if (preg_match('#/rest/[0-9]+/([^/\s]+)#', (string)$s['webhookUrl'], $m)) {
            $secrets[] = $m[1];
        }
        if ($s['appClientSecret'] !== '') {
            $secrets[] = $s['appClientSecret'];
        }
        $proxyPassword = self::proxyPassword((string)$s['httpsProxy']);
        if ($proxyPassword !== null) {
            $secrets[] = $proxyPassword;
        }
        return $secrets;
    }

    /** The password of http://user:password@host:port, or null. */
    public static function proxyPassword($proxy)
    {
        return preg_match('#^http://[^/\s:@]*:([^/\s@]+)@#', (string)$proxy, $m) ? $m[1] : null;
    }

    /** The proxy as the page shows it: the password masked. */
    public static function maskProxy($proxy)
    {
        $password = self::proxyPassword($proxy);
        return $password === null ? (string)$proxy : str_replace(':' . $password . '@', ':' . self::MASK . '@', (string)$proxy);
    }

    /**
     * What of the settings changes the generated dialplan: while enabled, the DID keys, whether
     * outgoing calls are reported and on which routes, click-to-call, and — where pm2 can run the
     * resident service (`$servicePossible`) — whether the steps go through it and on which port.
     */
    public static function dialplanSignature(array $s, $servicePossible = false)
    {
        if (empty($s['enabled'])) {
            return 'off';
        }
        $keys = [];
        foreach ($s['dids'] as $d) {
            $keys[] = Did::key($d, $s['countryCode']);
        }
        $keys = array_values(array_unique(array_filter($keys, 'strlen')));
        sort($keys);
        $out = null;
        if (!empty($s['outgoingEnabled'])) {
            $out = array_values(array_map('strval', $s['outgoingRoutes']));
            sort($out);
        }
        $click = !empty($s['clickToCall']);
        if (!$keys && $out === null && !$click) {
            return 'off';
        }
        $sig = ['dids' => $keys, 'out' => $out, 'click' => $click];
        if ($servicePossible && !empty($s['serviceEnabled'])) {
            $sig['service'] = ResidentService::port($s);
            if (self::cardMode($s) === 'ringing') {
                $sig['cards'] = 'ringing';
            }
        }
        return json_encode($sig);
    }
}
