<?php
namespace FreePBX\modules\Bitrix;

/**
 * Connect with a local application: the authorization-code flow in the admin's browser. The
 * page asks for the authorize URL, Bitrix24 sends the browser back to the page with a code,
 * and the operator CLI exchanges it (the code goes on its stdin, the tokens into its database).
 */
class OauthConnect
{
    /** Session key of the one-time state. */
    const SESSION_KEY = 'itd_bitrix_oauth';
    /** A state older than this is refused. */
    const STATE_TTL = 900;

    /** @var Settings */
    private $settings;
    /** @var OperatorCli */
    private $cli;

    public function __construct(Settings $settings, OperatorCli $cli)
    {
        $this->settings = $settings;
        $this->cli = $cli;
    }

    /** Whether a request is Bitrix24 sending the browser back. */
    public static function isReturn(array $query)
    {
        return isset($query['state']) && (isset($query['code']) || isset($query['error']));
    }

    /** The Bitrix24 authorize URL for the browser, remembering a one-time state. */
    public function start()
    {
        $s = $this->settings->get();
        if ($s['appPortalUrl'] === '' || $s['appClientId'] === '' || $s['appClientSecret'] === '') {
            return ['ok' => false, 'message' => _('Save the portal address, application ID and key first, then press Connect.')];
        }
        $state = bin2hex(random_bytes(16));
        $_SESSION[self::SESSION_KEY] = ['state' => $state, 'at' => time()];
        $url = rtrim($s['appPortalUrl'], '/') . '/oauth/authorize/?client_id=' . rawurlencode($s['appClientId'])
            . '&state=' . $state;
        return ['ok' => true, 'url' => $url];
    }

    /**
     * The browser came back from Bitrix24: check the state, hand the code to the CLI.
     * @return array the message for the page: ['type' => 'success|danger', 'text' => …]
     */
    public function finish(array $query)
    {
        $expected = isset($_SESSION[self::SESSION_KEY]) ? $_SESSION[self::SESSION_KEY] : null;
        unset($_SESSION[self::SESSION_KEY]);
        $state = isset($query['state']) ? (string)$query['state'] : '';
        if (!is_array($expected) || !isset($expected['state']) || !hash_equals((string)$expected['state'], $state)
            || time() - (int)$expected['at'] > self::STATE_TTL) {
            return self::message('danger', _('The answer from Bitrix24 does not belong to a Connect request from this page (or it is older than 15 minutes). Press Connect again.'));
        }
        if (isset($query['error']) || !isset($query['code']) || !preg_match('/^[A-Za-z0-9._~-]{1,512}$/', (string)$query['code'])) {
            return self::message('danger', _('Bitrix24 did not grant access. Check the application and press Connect again.'));
        }
        $res = $this->cli->oauthExchange((string)$query['code']);
        if (!empty($res['ok'])) {
            return self::message('success', _('Connected to Bitrix24. The access tokens are stored for the AGI scripts.'));
        }
        // The CLI answers {ok: false, error} (and `message`, the same text, for older pages).
        $why = isset($res['error']) ? $res['error'] : (isset($res['message']) ? $res['message'] : '');
        return self::message('danger', sprintf(_('Connecting to Bitrix24 failed: %s'), $why));
    }

    /** Where Bitrix24 must send the admin back (the local application's handler URL). */
    public static function returnUrl()
    {
        $host = isset($_SERVER['HTTP_HOST']) ? (string)$_SERVER['HTTP_HOST'] : 'pbx.example.com';
        $https = !empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off';
        return ($https ? 'https' : 'http') . '://' . $host . '/admin/config.php?display=' . SettingsPage::DISPLAY;
    }

    private static function message($type, $text)
    {
        return ['type' => $type, 'text' => $text];
    }
}
