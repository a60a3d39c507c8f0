<?php

use FreePBX\modules\Bitrix;
use PHPUnit\Framework\TestCase;

/** A fresh FreePBX double, a temp dir for the config file and agi-bin, and the fake operator CLI. */
abstract class BitrixTestCase extends TestCase
{
    /** @var \FreePBX */
    protected $freepbx;
    /** @var TestCore */
    protected $core;
    /** @var string */
    protected $tmp;
    /** @var string */
    protected $cliLog;

    protected function setUp(): void
    {
        \FreePBX\DB_Helper::$store = [];
        $GLOBALS['__needreload'] = 0;
        $GLOBALS['__freepbx_log'] = [];
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
        $this->freepbx->register('Config', $config);
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
        ]);
        $this->freepbx->register('Bitrix', $b);
        return $b;
    }

    /** Store settings as a save through the GUI would. */
    protected function configure(Bitrix $b, array $settings)
    {
        $b->setConfig('settings', array_merge($b->getSettings(), $settings));
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
