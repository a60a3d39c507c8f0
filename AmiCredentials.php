<?php
namespace FreePBX\modules\Bitrix;

/**
 * FreePBX's own manager (AMI) user, handed to the resident service in its environment when it is
 * started (pm2), for click-to-call and attended transfers: never written to the config file, the
 * dialplan or a log.
 * Loopback only: a manager on another host is not used.
 */
class AmiCredentials
{
    /** @var object|null the FreePBX object */
    private $freepbx;

    public function __construct($freepbx)
    {
        $this->freepbx = $freepbx;
    }

    /** ITD_BITRIX_AMI_USER / _SECRET / _PORT (agi-src/ami/client.ts amiOptionsFromEnv), or [] when unusable. */
    public function environment()
    {
        $user = $this->setting('AMPMGRUSER');
        $secret = $this->setting('AMPMGRPASS');
        $port = $this->setting('ASTMANAGERPORT');
        $host = $this->setting('ASTMANAGERHOST');
        $port = $port === '' ? '5038' : $port;
        if ($user === '' || $secret === '' || !ctype_digit($port) || (int)$port < 1 || (int)$port > 65535) {
            return [];
        }
        if (!in_array(strtolower($host), ['', 'localhost', '127.0.0.1', '::1'], true)) {
            return [];
        }
        return ['ITD_BITRIX_AMI_USER' => $user, 'ITD_BITRIX_AMI_SECRET' => $secret, 'ITD_BITRIX_AMI_PORT' => $port];
    }

    private function setting($key)
    {
        try {
            $v = $this->freepbx->Config->get($key);
        } catch (\Exception $e) {
            return '';
        }
        return is_scalar($v) ? trim((string)$v) : '';
    }
}
