<?php
namespace FreePBX\modules\Bitrix;

/**
 * /etc/asterisk/itd_bitrix.json, the file the AGIs read: the schema's keys only, pure JSON,
 * written atomically (temporary file + rename), mode 0640, owner asterisk. Written by us,
 * not through FreePBX's WriteConfig, which would add its comment header.
 */
class ConfigFile
{
    const DEFAULT_PATH = '/etc/asterisk/itd_bitrix.json';
    /** Its name for FreePBX's genConfig()/writeConfig(). */
    const NAME = 'itd_bitrix.json';

    /** @var string */
    private $path;
    /** @var Settings */
    private $settings;
    /** @var FileOwner */
    private $owner;

    /** @var ResponsibleDestinations|null */
    private $responsible;

    public function __construct($path, Settings $settings, FileOwner $owner, ?ResponsibleDestinations $responsible = null)
    {
        $this->path = (string)$path;
        $this->settings = $settings;
        $this->owner = $owner;
        $this->responsible = $responsible;
    }

    public function path()
    {
        return $this->path;
    }

    /** The object written to the file: schema keys only, credentials of the chosen mode only. */
    public function build(array $s)
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
        $cfg['cardMode'] = Settings::cardMode($s);
        $cfg['showCard'] = $cfg['cardMode'] !== 'off';
        // The incoming step looks the responsible manager up only while a destination can use it.
        $cfg['responsibleRouting'] = $this->responsible !== null && $this->responsible->any();
        return array_intersect_key($cfg, $this->settings->schemaProperties());
    }

    /** Writes the file for these settings (the saved ones when null); false when it could not. */
    public function write($settings = null)
    {
        return $this->writeJson($this->build($settings === null ? $this->settings->get() : $settings));
    }

    /** Writes an object build() made. */
    public function writeJson(array $cfg)
    {
        $json = json_encode($cfg, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        if ($json === false) {
            return false;
        }
        $dir = dirname($this->path);
        $tmp = @tempnam($dir, '.itd_bitrix.');
        if ($tmp === false || dirname($tmp) !== $dir) {
            if ($tmp !== false) {
                @unlink($tmp);
            }
            return false;
        }
        $ok = @chmod($tmp, 0640) && @file_put_contents($tmp, $json . "\n") !== false;
        if ($ok) {
            $this->owner->giveToAsterisk($tmp);
            $ok = @rename($tmp, $this->path);
        }
        if (!$ok) {
            @unlink($tmp);
        }
        return $ok;
    }

    public function remove()
    {
        @unlink($this->path);
    }
}
