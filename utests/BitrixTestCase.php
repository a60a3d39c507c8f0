<?php

use FreePBX\modules\Bitrix;
use PHPUnit\Framework\TestCase;

/** A fresh FreePBX double, a temp dir for the config file and agi-bin, and the fake operator CLI. */
abstract class BitrixTestCase extends TestCase
{
    /** Inbound routes as core's getAllDIDs() returns them. */
    const ROUTES = [
        ['extension' => '74951234567', 'cidnum' => '', 'pricid' => '', 'description' => 'Main line', 'destination' => 'ext-queues,400,1'],
        ['extension' => '84957654321', 'cidnum' => '79161112233', 'pricid' => '', 'description' => 'VIP caller', 'destination' => 'from-did-direct,201,1'],
        ['extension' => '74990000000', 'cidnum' => '', 'pricid' => '', 'description' => 'Not listed', 'destination' => 'app-blackhole,hangup,1'],
        ['extension' => '', 'cidnum' => '', 'pricid' => '', 'description' => 'Any DID', 'destination' => 'ext-local,201,1'],
    ];

    /** A complete, valid save of the settings form. */
    const VALID_POST = [
        'action' => 'save',
        'enabled' => 'yes',
        'authMode' => 'webhook',
        'webhookUrl' => 'https://example.bitrix24.ru/rest/1/abcd1234efgh/',
        'appPortalUrl' => '',
        'appClientId' => '',
        'appClientSecret' => '',
        'dids' => ['74951234567'],
        'didsExtra' => "+7 (495) 765-43-21\n8 800 100 00 00",
        'defaultUserId' => '12',
        'countryCode' => '7',
        'lookupCallerName' => 'yes',
        'createCrmEntity' => 'no',
        'showCard' => 'yes',
        'attachRecordings' => 'no',
        'incomingTimeoutMs' => '2500',
        'showTimeoutMs' => '1500',
        'hangupTimeoutMs' => '4000',
        'retentionHours' => '72',
        'retryGiveUpHours' => '24',
        'staleCallHours' => '6',
        'rateLimitPerSecond' => '5',
        'logLevel' => 'debug',
    ];

    /** @var \FreePBX */
    protected $freepbx;
    /** @var TestCore */
    protected $core;
    /** @var TestNotifications */
    protected $notifications;
    /** @var string */
    protected $tmp;
    /** @var string */
    protected $cliLog;

    protected function setUp(): void
    {
        \FreePBX\DB_Helper::$store = [];
        $GLOBALS['__needreload'] = 0;
        $GLOBALS['__freepbx_log'] = [];
        $GLOBALS['__out'] = [];
        $_POST = $_GET = $_REQUEST = $_SESSION = [];
        $this->tmp = sys_get_temp_dir() . '/itd-bitrix-test-' . bin2hex(random_bytes(6));
        mkdir($this->tmp . '/etc', 0755, true);
        mkdir($this->tmp . '/agi-bin', 0755, true);
        $this->cliLog = $this->tmp . '/cli.log';
        putenv('ITD_FAKE_CLI_LOG=' . $this->cliLog);
        putenv('ITD_FAKE_CLI_MODE=ok');

        $this->freepbx = new \FreePBX();
        $this->core = new TestCore();
        $this->freepbx->register('Core', $this->core);
        $config = new TestConfig();
        $config->values['ASTAGIDIR'] = $this->tmp . '/agi-bin';
        $config->values['ASTVERSION'] = '22.10.1';
        $this->freepbx->register('Config', $config);
        $this->notifications = new TestNotifications();
        $this->freepbx->register('Notifications', $this->notifications);
    }

    protected function tearDown(): void
    {
        $this->rmTree($this->tmp);
        putenv('ITD_FAKE_CLI_LOG');
        putenv('ITD_FAKE_CLI_MODE');
    }

    protected function bitrix(array $options = [])
    {
        $b = new Bitrix($this->freepbx, $options + [
            'configPath' => $this->tmp . '/etc/itd_bitrix.json',
            'cliCommand' => [PHP_BINARY, __DIR__ . '/fixtures/fake-cli.php'],
            'chown' => false,
            'asteriskUser' => null, // the self-test runs as the test runs (no asterisk user here)
        ]);
        $this->freepbx->register('Bitrix', $b);
        return $b;
    }

    /** Enabled, a webhook and a local application saved (secrets w3bh00kC0DE, cl1entS3cret), the config file written. */
    protected function connectedModule()
    {
        $b = $this->bitrix();
        $this->configure($b, ['enabled' => true, 'webhookUrl' => 'https://example.bitrix24.ru/rest/1/w3bh00kC0DE/',
            'appPortalUrl' => 'https://example.bitrix24.ru', 'appClientId' => 'local.5f1', 'appClientSecret' => 'cl1entS3cret']);
        $b->configFile()->write();
        return $b;
    }

    /**
     * A module folder as FreePBX unpacks it: agi-bin/ with the files the module ships (content 'x')
     * and a stand-in self-test that answers "can run".
     */
    protected function moduleWithAgiBin(array $files = ['itd_bitrix.js', 'itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js',
        'itd_bitrix_outgoing.js', 'itd_bitrix_sqlite3-linux-x64-glibc2.28.node', 'itd_bitrix_sqlite3-linux-arm64-glibc2.28.node'])
    {
        $mod = $this->tmp . '/modules/bitrix';
        @mkdir($mod . '/agi-bin', 0755, true);
        foreach ($files as $f) {
            file_put_contents($mod . '/agi-bin/' . $f, 'x');
        }
        copy(__DIR__ . '/fixtures/fake-selftest.js', $mod . '/agi-bin/itd_bitrix_selftest.js');
        return $mod;
    }

    /** Store settings as a save through the GUI would. */
    protected function configure(Bitrix $b, array $settings)
    {
        $b->setConfig('settings', array_merge($b->settings()->get(), $settings));
    }

    protected function cliCalls()
    {
        if (!is_file($this->cliLog)) {
            return [];
        }
        return array_map(function ($l) {
            return json_decode($l, true);
        }, array_filter(explode("\n", file_get_contents($this->cliLog))));
    }

    protected function rmTree($path)
    {
        if (is_dir($path) && !is_link($path)) {
            foreach (scandir($path) as $f) {
                if ($f !== '.' && $f !== '..') {
                    $this->rmTree($path . '/' . $f);
                }
            }
            rmdir($path);
        } elseif (file_exists($path) || is_link($path)) {
            unlink($path);
        }
    }

    /**
     * What core (pri 480) and queues (pri 100) generate for these routes, in their order: the
     * lines of the contexts the module hooks into, in FreePBX's shape.
     * @param int|null $asterisk major version the Queues module wrote Queue() for (default: 22
     *                           with FreePBX 17, 18 with FreePBX 16)
     */
    protected static function frameworkDialplan(array $routes, $fpbx = 17, $queues = true, $asterisk = null)
    {
        $asterisk = $asterisk !== null ? $asterisk : ($fpbx >= 17 ? 22 : 18);
        $ext = new extensions();
        if ($queues) {
            $fq = $fpbx >= 17 ? '_X.' : '_.';
            $ext->add('from-queue', $fq, '', new ext_setvar('QAGENT', '${EXTEN}'));
            $ext->add('from-queue', $fq, '', new ext_setvar('__FROMQ', 'true'));
            $ext->add('from-queue', $fq, '', new ext_goto('1', '${QAGENT}', 'ext-local'));
            $ext->splice('macro-auto-blkvm', 's', 1, new ext_execif('$["${FROMQ}"="true" & "${CALLFILENAME}"!=""]', 'Set', 'CDR(recordingfile)=${CALLFILENAME}.${MON_FMT}'));
            $q = 'ext-queues';
            $ext->add($q, '400', '', new ext_answer(''));
            $ext->add($q, '400', '', new ext_setvar('__NODEST', '${EXTEN}'));
            $ext->add($q, '400', 'qgosub', new ext_set('QGOSUB', '${IF($[${LEN(${VQ_GOSUB})}>0]?${VQ_GOSUB}:${QGOSUB})}'));
            $ext->add($q, '400', '', new ext_set('VQ_GOSUB', ''));
            // Asterisk 21 dropped Queue()'s macro argument: the gosub moved from the 8th to the 7th place.
            $ext->add($q, '400', 'qcall', new extension($asterisk >= 21
                ? 'Queue(400,${QOPTIONS},,${QAANNOUNCE},${QMAXWAIT},${QAGI},${QGOSUB},${QRULE},${QPOSITION})'
                : 'Queue(400,${QOPTIONS},,${QAANNOUNCE},${QMAXWAIT},${QAGI},,${QGOSUB},${QRULE},${QPOSITION})'));
            $ext->add($q, '400', '', new ext_setvar('__NODEST', ''));
        }
        foreach ($routes as $r) {
            $did = $r['extension'];
            $cid = $r['cidnum'];
            $ctx = (($cid !== '' && $did !== '') || ($cid === '' && $did === '')) ? 'ext-did-0001' : 'ext-did-0002';
            $exten = ($did === '' ? 's' : $did) . ($cid === '' ? '' : '/' . $cid);
            $ext->add($ctx, $exten, '', new ext_setvar('__DIRECTION', 'INBOUND'));
            $ext->add($ctx, $exten, '', new ext_setvar('__FROM_DID', '${EXTEN}'));
            $ext->add($ctx, $exten, 'did', new ext_setvar('CDR(did)', '${FROM_DID}'));
            $ext->add($ctx, $exten, 'callerid', new ext_execif('$[ "${CALLERID(name)}" = "" ] ', 'Set', 'CALLERID(name)=${CALLERID(num)}'));
            $ext->add($ctx, $exten, '', new ext_setvar('__MOHCLASS', ''));
            $ext->add($ctx, $exten, 'did-cid-hook', new ext_noop('CallerID Entry Point'));
            $ext->add($ctx, $exten, '', new ext_macro('prepend-cid', ''));
            $ext->add($ctx, $exten, 'dest-ext', new ext_goto('1', '400', 'ext-queues'));
        }
        $c = 'macro-auto-blkvm';
        if ($fpbx >= 17) {
            $ext->add($c, 's', '', new ext_gosub('1', 's', 'deprecated-macro', $c));
        }
        $ext->add($c, 's', '', new ext_setvar('__MACRO_RESULT', ''));
        $ext->add($c, 's', '', new ext_set('CFIGNORE', ''));
        $ext->add($c, 's', '', new ext_set('MASTER_CHANNEL(CFIGNORE)', ''));
        $ext->add($c, 's', '', new ext_macro('blkvm-clr'));
        $ext->add($c, 's', '', new ext_execif('$[!${REGEX("[^0-9]" ${DIALEDPEERNUMBER})}]', 'Set', 'MASTER_CHANNEL(CONNECTEDLINE(num))=${DIALEDPEERNUMBER}'));
        if ($fpbx >= 17) {
            $ext->add($c, 's', '', new ext_macroexit());
        }
        $c = 'macro-dial-one';
        $ext->add($c, 's', '', new ext_set('DEXTEN', '${ARG3}'));
        $ext->add($c, 's', 'skiptrace', new ext_set('D_OPTIONS', '${IF($["${NODEST}"!="" & ${REGEX("(U[(]macro-auto-blkvm[)])" ${ARG2})} != 1]?${ARG2}U(macro-auto-blkvm):${ARG2})}'));
        $ext->add($c, 's', '', new ext_execif('$["${DIRECTION}" = "INBOUND"]', 'Set', 'D_OPTIONS=${STRREPLACE(D_OPTIONS,T)}I'));
        $ext->add($c, 's', 'dialapp', new ext_noop(''));
        $ext->add($c, 's', 'dial', new ext_gosub('1', '${DEXTEN}', 'dialOne-with-exten', '${ARG1}'));
        if ($fpbx >= 17) {
            $ext->add($c, 's', '', new ext_return(''));
        }
        return $ext;
    }

    /** The exten's lines from generated dialplan text. */
    protected static function extenLines($conf, $context, $exten)
    {
        $out = [];
        $in = false;
        foreach (explode("\n", $conf) as $line) {
            if (preg_match('/^\[(.+)\]$/', $line, $m)) {
                $in = $m[1] === $context;
                continue;
            }
            if ($in && strpos($line, 'exten => ' . $exten . ',') === 0) {
                $out[] = substr($line, strlen('exten => ' . $exten . ','));
            }
        }
        return $out;
    }

    /** The context's block (from [ctx] to its end marker). */
    protected static function contextBlock($conf, $context)
    {
        $start = strpos($conf, "[$context]\n");
        if ($start === false) {
            return null;
        }
        $end = strpos($conf, ";--== end of [$context] ==--;", $start);
        return substr($conf, $start, $end - $start);
    }
}
