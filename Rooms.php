<?php
namespace FreePBX\modules\Bitrix;

/**
 * The classes doing the module's work, wired from the BMO class's constructor options and built
 * on first use; the BMO class (Bitrix.class.php) uses this and keeps only what FreePBX calls.
 * Expects the using class's $FreePBX, $options and $rooms.
 */
trait Rooms
{

    public function settings()
    {
        return $this->room('settings', fn () => new Settings($this));
    }

    public function configFile()
    {
        return $this->room('configFile', fn () => new ConfigFile($this->options['configPath'], $this->settings(), $this->owner(),
            $this->responsibleDestinations()));
    }

    public function responsibleDestinations()
    {
        return $this->room('responsibleDestinations', fn () => new ResponsibleDestinations($this));
    }

    public function responsiblePage()
    {
        return $this->room('responsiblePage', fn () => new ResponsiblePage($this->responsibleDestinations(), $this->page(),
            $this->configFile(), $this->FreePBX, $this->options['moduleDir']));
    }

    public function cli()
    {
        return $this->room('cli', function () {
            $command = $this->options['cliCommand'] !== null ? (array)$this->options['cliCommand']
                : ['node', $this->agiDir() . '/' . OperatorCli::SCRIPT];
            return new OperatorCli($command, $this->configFile()->path(), $this->settings());
        });
    }

    public function oauth()
    {
        return $this->room('oauth', fn () => new OauthConnect($this->settings(), $this->cli()));
    }

    public function page()
    {
        return $this->room('page', fn () => new SettingsPage($this->settings(), $this->configFile(), $this->inboundRoutes(),
            $this->outboundRoutes(), $this->cli(), $this->service(), $this->options['moduleDir'], $this->dialplanProblems()));
    }

    public function inboundRoutes()
    {
        return $this->room('inboundRoutes', fn () => new InboundRoutes($this->FreePBX));
    }

    public function outboundRoutes()
    {
        return $this->room('outboundRoutes', fn () => new OutboundRoutes($this->FreePBX));
    }

    public function retryJob()
    {
        return $this->room('retryJob', fn () => new RetryJob($this->FreePBX, $this->agiDir(), $this->configFile()->path()));
    }

    public function dialplanProblems()
    {
        return $this->room('dialplanProblems', fn () => new DialplanProblems($this, $this->FreePBX));
    }

    public function hostCheck()
    {
        return $this->room('hostCheck', function () {
            $user = array_key_exists('asteriskUser', $this->options) ? $this->options['asteriskUser'] : $this->asteriskUser();
            return new HostCheck((array)$this->options['nodeCommand'], $user);
        });
    }

    public function installedFiles()
    {
        return $this->room('installedFiles', fn () => new InstalledFiles($this->agiDir(), $this->options['moduleDir'],
            $this->owner()));
    }

    /** The resident service under FreePBX's pm2 module. */
    public function service()
    {
        return $this->room('service', fn () => new ResidentService($this->FreePBX, $this->settings(), $this->amiCredentials(), $this,
            $this->agiDir(), $this->configFile()->path(), $this->options['sleep'], (array)$this->options['nodeCommand']));
    }

    /** FreePBX's manager user for the resident service's environment (click-to-call). */
    public function amiCredentials()
    {
        return $this->room('amiCredentials', fn () => new AmiCredentials($this->FreePBX));
    }

    private function owner()
    {
        return $this->room('owner', fn () => new FileOwner($this->options['chown']));
    }

    private function room($name, callable $build)
    {
        if (!isset($this->rooms[$name])) {
            $this->rooms[$name] = $build();
        }
        return $this->rooms[$name];
    }

    /** The user Asterisk (and so every AGI) runs as. */
    private function asteriskUser()
    {
        try {
            $user = $this->FreePBX->Config->get('AMPASTERISKUSER');
        } catch (\Throwable $e) {
            $user = null;
        }
        return is_string($user) && $user !== '' ? $user : 'asterisk';
    }

    /** ASTAGIDIR, where reload copies agi-bin/. */
    private function agiDir()
    {
        if ($this->options['agiDir'] !== null) {
            return (string)$this->options['agiDir'];
        }
        try {
            $dir = $this->FreePBX->Config->get('ASTAGIDIR');
        } catch (\Exception $e) {
            $dir = null;
        }
        return is_string($dir) && $dir !== '' ? rtrim($dir, '/') : \FreePBX\modules\Bitrix::DEFAULT_AGI_DIR;
    }

    /** FreePBX's ASTVERSION (the running Asterisk's version), or null when it cannot say. */
    private function asteriskVersion()
    {
        try {
            $v = $this->FreePBX->Config->get('ASTVERSION');
        } catch (\Throwable $e) {
            $v = null;
        }
        return is_string($v) && preg_match('/^\d+(\.\d+)*/', $v) ? $v : null;
    }

}
