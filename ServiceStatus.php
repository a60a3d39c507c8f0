<?php
namespace FreePBX\modules\Bitrix;

/**
 * The resident service as the status panel shows it: whether it is meant to run here (the pm2
 * module, the page's setting), and from `itd_bitrix.js status --json`'s `service` object (the
 * service's own heartbeat file) whether it runs, since when, how many steps it served, its memory
 * and how the one before it stopped.
 */
class ServiceStatus
{
    /**
     * @return array mode: 'unavailable' (no pm2 module) | 'off' (the settings) | 'on';
     *               online, state ('unknown' when the operator tool gave no answer), port, startedAt,
     *               uptimeSec, served (steps, int|null), rssMB,
     *               starts, previousStop (['at' => string, 'clean' => bool] or null),
     *               clickToCall (null unless the settings have it on: ['state' => the poller's
     *               state or why it does not run, 'amiConnected' => bool])
     */
    public static function read(array $status, array $settings, $pm2Available)
    {
        $mode = !$pm2Available ? 'unavailable' : (!empty($settings['enabled']) && !empty($settings['serviceEnabled']) ? 'on' : 'off');
        $v = isset($status['service']) && is_array($status['service']) ? $status['service'] : [];
        $served = isset($v['served']) && is_array($v['served']) && isset($v['served']['total']) && is_numeric($v['served']['total'])
            ? (int)$v['served']['total'] : null;
        $prev = isset($v['previousStop']) && is_array($v['previousStop']) ? $v['previousStop'] : null;
        return [
            'mode' => $mode,
            'online' => !empty($v['online']),
            // Without an answer from the operator tool nothing is known of it.
            'state' => isset($status['error']) ? 'unknown' : (self::str($v, 'state') !== '' ? self::str($v, 'state') : 'absent'),
            'port' => isset($v['port']) && is_numeric($v['port']) ? (int)$v['port'] : ResidentService::port($settings),
            'startedAt' => self::str($v, 'startedAt'),
            'uptimeSec' => isset($v['uptimeSec']) && is_numeric($v['uptimeSec']) ? (int)$v['uptimeSec'] : null,
            'served' => $served,
            'rssMB' => isset($v['memory']['rssMB']) && is_numeric($v['memory']['rssMB']) ? (float)$v['memory']['rssMB'] : null,
            'starts' => isset($v['starts']) && is_numeric($v['starts']) ? (int)$v['starts'] : null,
            'previousStop' => $prev === null ? null : ['at' => self::str($prev, 'at'), 'clean' => !empty($prev['clean'])],
            'clickToCall' => self::clickToCall($v, $settings),
        ];
    }

    /** Click-to-call lives in the service: whether it takes clicks and can ring phones. */
    private static function clickToCall(array $service, array $settings)
    {
        if (empty($settings['clickToCall'])) {
            return null;
        }
        $c = isset($service['clickToCall']) && is_array($service['clickToCall']) ? $service['clickToCall'] : [];
        return ['state' => self::str($c, 'state') !== '' ? self::str($c, 'state') : 'off', 'amiConnected' => !empty($c['amiConnected'])];
    }

    /** [css class, sentence] for the click-to-call row. */
    public static function clickToCallLine(array $c)
    {
        switch ($c['state']) {
            case 'polling':
                return $c['amiConnected']
                    ? ['text-success', _('Taking clicks from Bitrix24; the manager (AMI) connection is up.')]
                    : ['text-danger', _('Taking clicks from Bitrix24, but the manager (AMI) connection is down: a click cannot ring a phone until it is back.')];
            case 'starting':
                return ['text-muted', _('Starting.')];
            case 'backing-off':
                return ['text-warning', _('Bitrix24 did not answer the last poll for clicks; trying again.')];
            case 'refused':
                return ['text-danger', _('Bitrix24 refused the poll for clicks (the local application\'s rights): no clicks are taken.')];
            case 'needs-application':
                return ['text-danger', _('Bitrix24 hands clicks only to the local application: connect it above.')];
            case 'no-manager-credentials':
                return ['text-danger', _('The service has no manager (AMI) credentials: Apply Config restarts it with them.')];
            default:
                return ['text-muted', _('Not running: the resident service takes the clicks.')];
        }
    }

    /** "3 d 4 h", "5 h 12 min", "42 s": how long it has been up. */
    public static function duration($seconds)
    {
        $s = max(0, (int)$seconds);
        if ($s >= 86400) {
            return sprintf(_('%1$d d %2$d h'), intdiv($s, 86400), intdiv($s % 86400, 3600));
        }
        if ($s >= 3600) {
            return sprintf(_('%1$d h %2$d min'), intdiv($s, 3600), intdiv($s % 3600, 60));
        }
        if ($s >= 60) {
            return sprintf(_('%d min'), intdiv($s, 60));
        }
        return sprintf(_('%d s'), $s);
    }

    private static function str(array $a, $k)
    {
        return isset($a[$k]) && is_scalar($a[$k]) ? (string)$a[$k] : '';
    }
}
