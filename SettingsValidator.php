<?php
namespace FreePBX\modules\Bitrix;

/** Checks a settings POST: one clear message per field; the schema gives the ranges. */
class SettingsValidator
{
    /** Yes/no fields of the form. */
    const FLAGS = ['enabled', 'lookupCallerName', 'createCrmEntity', 'showCard', 'attachRecordings', 'outgoingEnabled', 'outgoingShowCard',
        'clickToCall', 'serviceEnabled'];

    /** @var array config.schema.json properties */
    private $props;

    public function __construct(array $schemaProperties)
    {
        $this->props = $schemaProperties;
    }

    /**
     * @return array [settings, errors(field => message)]
     */
    public function validate(array $post, array $old)
    {
        $s = $old;
        $e = [];
        $props = $this->props;
        $str = function ($k) use ($post) {
            return isset($post[$k]) && is_scalar($post[$k]) ? trim((string)$post[$k]) : '';
        };

        foreach (self::FLAGS as $k) {
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
        if ($secret !== '' && $secret !== Settings::MASK) {
            if (!preg_match('/^[^\s\x00-\x1f]{1,200}$/u', $secret)) {
                $e['appClientSecret'] = _('The application key is 1 to 200 characters without spaces.');
            } else {
                $s['appClientSecret'] = $secret;
            }
        }

        if (isset($post['httpsProxy'])) {
            list($proxy, $proxyError) = self::parseProxy($str('httpsProxy'), (string)$old['httpsProxy'], $props['httpsProxy']['pattern']);
            if ($proxyError !== null) {
                $e['httpsProxy'] = $proxyError;
            } else {
                $s['httpsProxy'] = $proxy;
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

        if (isset($post['outgoingRoutesShown'])) {
            // The route list was on the form: no box ticked means every route.
            $routes = [];
            foreach (isset($post['outgoingRoutes']) && is_array($post['outgoingRoutes']) ? $post['outgoingRoutes'] : [] as $r) {
                if (is_scalar($r) && preg_match('/^[0-9]{1,10}$/', (string)$r)) {
                    $routes[] = (string)$r;
                }
            }
            $s['outgoingRoutes'] = array_values(array_unique($routes));
        }
        if (isset($post['clickToCallRewrite'])) {
            list($rules, $ruleError) = self::parseRewrite(is_scalar($post['clickToCallRewrite']) ? (string)$post['clickToCallRewrite'] : '');
            if ($ruleError !== null) {
                $e['clickToCallRewrite'] = $ruleError;
            } else {
                $s['clickToCallRewrite'] = $rules;
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

        $ints = ['defaultUserId', 'incomingTimeoutMs', 'showTimeoutMs', 'hangupTimeoutMs', 'outgoingTimeoutMs', 'retentionHours',
            'retryGiveUpHours', 'staleCallHours', 'servicePort'];
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
        if (!isset($e['servicePort']) && isset($post['servicePort']) && $s['servicePort'] === ResidentService::FREEPBX_FASTAGI_PORT) {
            $e['servicePort'] = sprintf(_('Port %d is FreePBX\'s own FastAGI server: choose another one, e.g. 4574.'), ResidentService::FREEPBX_FASTAGI_PORT);
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
        if (isset($post['cardMode'])) {
            $v = $str('cardMode');
            if (!in_array($v, $props['cardMode']['enum'], true)) {
                $e['cardMode'] = _('Choose when the call card pops up.');
            } else {
                $s['cardMode'] = $v;
                $s['showCard'] = $v !== 'off';
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

    /**
     * Click-to-call rewrite rules, one per line: "+7 => 8" (the prefix, then what replaces it; an
     * empty replacement drops the prefix). Returns [rules, error|null].
     */
    public static function parseRewrite($text)
    {
        $rules = [];
        foreach (preg_split('/\r\n|\r|\n/', $text) as $line) {
            $line = trim($line);
            if ($line === '') {
                continue;
            }
            if (!preg_match('/^(\+?[0-9*#]{0,15})\s*=>\s*([0-9*#]{0,15})$/', $line, $m) || $m[1] === '') {
                return [null, sprintf(_('"%s" is not a rule: write the prefix, "=>", then what replaces it, e.g. +7 => 8.'), $line)];
            }
            $rules[] = ['prefix' => $m[1], 'replace' => $m[2]];
        }
        if (count($rules) > 50) {
            return [null, _('At most 50 rules.')];
        }
        return [$rules, null];
    }

    /** The rules as the page shows them, one per line. */
    public static function formatRewrite(array $rules)
    {
        $lines = [];
        foreach ($rules as $r) {
            $lines[] = $r['prefix'] . ' => ' . $r['replace'];
        }
        return implode("\n", $lines);
    }

    /** Route DIDs ticked in the list plus free lines; returns [dids, error|null]. */
    private function parseDids(array $post, $cc)
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
            $k = Did::key($clean, $cc);
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

    /**
     * The proxy field: empty switches the proxy off; a password shown masked keeps the saved one.
     * @return array [proxy URL, error|null]
     */
    public static function parseProxy($value, $saved, $pattern)
    {
        if ($value === '') {
            return ['', null];
        }
        $maskedAt = ':' . Settings::MASK . '@';
        if (strpos($value, $maskedAt) !== false) {
            $password = Settings::proxyPassword($saved);
            if ($password === null) {
                return [null, _('Type the proxy password again.')];
            }
            $value = str_replace($maskedAt, ':' . $password . '@', $value);
        }
        if (!preg_match('#' . str_replace('#', '\\#', $pattern) . '#', $value) || strlen($value) > 500) {
            return [null, _('The proxy must look like http://host:port or http://user:password@host:port (percent-encode special characters in the user name and password).')];
        }
        return [$value, null];
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

    private static function isLocalHost($host)
    {
        return in_array(strtolower($host), ['localhost', '127.0.0.1', '[::1]'], true);
    }
}
