<?php
// vim: set ai ts=4 sw=4 ft=php:
/**
 * Bitrix24 telephony integration: the BMO class FreePBX calls — install and uninstall, the
 * settings page, AJAX, the dialplan hook and the config file on reload, and the resident
 * service's lifecycle (fwconsole start/stop and reload, module.xml <hooks>). The work is done by
 * the classes beside it (namespace FreePBX\modules\Bitrix) and by Dialplan/, one class per hook.
 *
 * The PHP side never talks to Bitrix24: it writes /etc/asterisk/itd_bitrix.json,
 * generates dialplan, and runs the operator CLI (agi-bin/itd_bitrix.js) for checks
 * and status. Contracts: ARCHITECTURE.md and config.schema.json.
 *
 * License: GPL-3.0-or-later
 */
namespace FreePBX\modules;

// The framework's autoloader would find these too (FreePBX\modules\Bitrix\X\Y is
// modules/bitrix/X/Y.php); required here so the class loads the same everywhere (in a function: the
// file may be included at global scope).
array_map(function ($file) {
    require_once __DIR__ . '/' . $file . '.php';
}, [
    'Did', 'Rooms', 'Settings', 'SettingsValidator', 'SettingsFields', 'SettingsPage', 'InboundRoutes', 'OutboundRoutes',
    'FileOwner', 'ConfigFile', 'Subprocess', 'OperatorCli', 'OutboxStatus', 'HostCheck', 'OauthConnect',
    'RetryJob', 'InstalledFiles', 'AmiCredentials', 'ResidentService', 'ServiceStatus', 'DialplanProblems',
    'Dialplan/Problem', 'Dialplan/Facts', 'ResponsibleDestinations', 'ResponsiblePage', 'Dialplan/Splice',
    'Dialplan/AgiStep', 'Dialplan/InboundSubroutine', 'Dialplan/HangupHandler', 'Dialplan/OperatorSubroutine',
    'Dialplan/AnswerSubroutine', 'Dialplan/QueueHook', 'Dialplan/AutoBlkvmHook', 'Dialplan/DirectDialHook',
    'Dialplan/TransferMark', 'Dialplan/RingingHook', 'Dialplan/OutboundSubroutine', 'Dialplan/OutboundAnswer',
    'Dialplan/OutboundHangupHandler', 'Dialplan/ResponsibleDestination', 'Dialplan/ModuleDialplan',
]);

#[\AllowDynamicProperties]
class Bitrix extends \FreePBX_Helpers implements \BMO
{
    use Bitrix\Rooms;

    const DEFAULT_AGI_DIR = '/var/lib/asterisk/agi-bin';

    /** AJAX commands this module answers; everything else is refused. */
    const AJAX_COMMANDS = ['check', 'status', 'calls', 'selftest', 'oauthstart'];

    /** @var object|null */
    public $FreePBX;

    /** @var array see __construct() */
    private $options;
    /** @var object[] the classes doing the work, built on first use */
    private $rooms = [];

    /**
     * @param object|null $freepbx the FreePBX object (the framework passes it)
     * @param array $options configPath, cliCommand (argv array), agiDir, moduleDir, chown (bool), nodeCommand (argv
     *                       array that runs Node.js for the self-test), asteriskUser (the self-test runs as this user
     *                       when PHP is root; null: as PHP runs; default AMPASTERISKUSER), sleep (callable(ms) between
     *                       polls of pm2; default usleep) — for tests and admins
     */
    public function __construct($freepbx = null, array $options = [])
    {
        $this->FreePBX = $freepbx;
        $this->options = $options + ['configPath' => Bitrix\ConfigFile::DEFAULT_PATH, 'cliCommand' => null, 'agiDir' => null,
            'moduleDir' => __DIR__, 'chown' => true, 'nodeCommand' => ['node'], 'sleep' => null];
        if (false) {
            // Strings only module.xml carries, listed here so gettext extraction sees them.
            _('Bitrix24 Integration');
            _('Connects FreePBX calls to the Bitrix24 CRM: inbound calls on chosen DIDs and outgoing calls in the call history with recordings, caller name lookup, the call card while phones ring and to the operator who answers, through transfers, click-to-call from Bitrix24, routing to the CRM responsible manager.');
        }
    }

    // --- BMO lifecycle

    /** Refuses a host that cannot run the runtime before it changes anything (returning false stops FreePBX's install). */
    public function install()
    {
        // The module folder's own copy: reload has not copied agi-bin/ to ASTAGIDIR yet.
        $dir = $this->options['moduleDir'] . '/agi-bin';
        $host = $this->hostCheck()->run($dir, sprintf(_('%s is missing: the module is incomplete; download it again.'), $dir . '/' . Bitrix\HostCheck::SCRIPT));
        if (!$host['ok']) {
            $this->say(sprintf(_('Bitrix24 Integration cannot run on this host, so nothing was installed or changed: %s'), $host['message']));
            return false;
        }
        $this->say(sprintf(_('Self-test: %s'), $host['message']));

        $settings = $this->settings()->get();
        $this->settings()->store($settings);
        $this->installedFiles()->prepareDatabaseDir($settings['databasePath']);
        $this->configFile()->write($settings);
        $this->installedFiles()->removeStaleBinding();
        // New code: the reload that copies agi-bin/ (re)starts the resident service from it.
        $this->service()->forgetCode();
        if (!$this->retryJob()->schedule()) {
            $this->say(sprintf(_('The retry job could not be added to the crontab of the asterisk user; calls that could not reach Bitrix24 at once will wait until it is there. Add this line with "crontab -u asterisk -e": %s'),
                $this->retryJob()->cronLine()));
        }
        return true;
    }

    public function uninstall()
    {
        $settings = $this->settings()->get();
        // Before the database goes (with the CLI and the config file that read it): what it still owes Bitrix24.
        if (is_file($settings['databasePath'])) {
            $this->say(Bitrix\OutboxStatus::unsentLine($this->cli()->status()));
        }
        $this->retryJob()->unschedule();
        // Before its files go: stopped and forgotten by pm2.
        $this->service()->remove();
        $this->installedFiles()->removeAgiFiles();
        $this->installedFiles()->removeStaleBinding(true);
        $this->configFile()->remove();
        $this->installedFiles()->removeDatabase($settings['databasePath']);
        $this->say(_('Bitrix24 Integration removed: AGI scripts, settings file and call database deleted.'));
        return true;
    }

    /** Old frameworks declared these in the BMO interface. */
    public function backup()
    {
    }

    public function restore($backup)
    {
    }

    // --- GUI

    public function doConfigPageInit($page)
    {
        if ($page !== Bitrix\SettingsPage::DISPLAY) {
            return;
        }
        if (Bitrix\OauthConnect::isReturn($_GET)) {
            $message = $this->oauth()->finish($_GET);
            $this->page()->addMessage($message['type'], $message['text']);
            return;
        }
        $action = isset($_POST['action']) ? (string)$_POST['action'] : '';
        if ($action === 'save') {
            $this->page()->save($_POST);
        } elseif ($action === 'saveResponsible') {
            $this->responsiblePage()->save($_POST);
        } elseif (isset($_REQUEST['action'], $_REQUEST['id']) && $_REQUEST['action'] === 'deleteResponsible') {
            // The action bar's Delete opens the form's data-fpbx-delete link, as in FreePBX's own modules.
            $this->responsiblePage()->delete((int)$_REQUEST['id']);
        }
    }

    public function getActionBar($request)
    {
        if (!isset($request['display']) || $request['display'] !== Bitrix\SettingsPage::DISPLAY) {
            return [];
        }
        $bar = [
            'submit' => ['name' => 'submit', 'id' => 'submit', 'value' => _('Submit')],
            'reset' => ['name' => 'reset', 'id' => 'reset', 'value' => _('Reset')],
        ];
        if ($this->responsiblePage()->showsForm($request) && !empty($request['id'])) {
            $bar['delete'] = ['name' => 'delete', 'id' => 'delete', 'value' => _('Delete')];
        }
        return $bar;
    }

    public function showPage()
    {
        if ($this->responsiblePage()->showsForm($_REQUEST)) {
            return $this->responsiblePage()->renderForm($_REQUEST);
        }
        return $this->page()->render($this->responsiblePage()->renderList());
    }

    // --- The module's destinations (functions.inc.php hands FreePBX's calls here)

    /** bitrix_destinations(): what destination pickers offer. */
    public function destinations()
    {
        return $this->responsibleDestinations()->pickerList();
    }

    /** bitrix_getdest(): the destination of one of ours. */
    public function getDest($id)
    {
        return [Bitrix\ResponsibleDestinations::destinationOf($id)];
    }

    /** bitrix_getdestinfo(): false when not ours, [] when ours but deleted, else description and edit link. */
    public function getDestInfo($dest)
    {
        return $this->responsibleDestinations()->info($dest);
    }

    /** bitrix_check_destinations(): the destinations ours send calls to. */
    public function checkDestinations($dest = true)
    {
        return $this->responsibleDestinations()->usage($dest);
    }

    /** bitrix_change_destination(): another module renumbered a destination ours fall back to. */
    public function changeDestination($old, $new)
    {
        $n = $this->responsibleDestinations()->changeDestination($old, $new);
        if ($n > 0) {
            needreload();
        }
        return $n;
    }

    // --- AJAX

    public function ajaxRequest($command, &$setting)
    {
        // Authentication stays on (framework default); only known commands are allowed.
        return in_array($command, self::AJAX_COMMANDS, true);
    }

    public function ajaxHandler()
    {
        $command = isset($_REQUEST['command']) ? (string)$_REQUEST['command'] : '';
        switch ($command) {
            case 'check':
                return $this->cli()->check();
            case 'status':
                return $this->cli()->status();
            case 'calls':
                return $this->cli()->calls(isset($_REQUEST['limit']) ? max(1, min(500, (int)$_REQUEST['limit'])) : 50);
            case 'selftest':
                return $this->hostCheck()->run($this->agiDir(), _('The self-test is not installed yet: run "fwconsole reload".'));
            case 'oauthstart':
                return $this->oauth()->start();
            default:
                return ['ok' => false, 'message' => _('Unknown command.')];
        }
    }

    // --- Reload: dialplan, config file

    public static function myDialplanHooks()
    {
        return 500; // after core (480), which builds ext-did-* and macro-auto-blkvm
    }

    public function doDialplanHook(&$ext, $engine, $priority)
    {
        $s = $this->settings()->get();
        $problems = Bitrix\Dialplan\ModuleDialplan::add($ext, $s, $this->service()->wanted($s) ? Bitrix\ResidentService::port($s) : null,
            fn () => $this->inboundRoutes()->listed($s), $this->asteriskVersion(), $this->responsibleDestinations()->all(), fn ($line) => $this->log($line));
        $this->dialplanProblems()->record($problems);
    }

    // --- The resident service: fwconsole start/stop and reload (module.xml <hooks>)

    /** fwconsole start (after Asterisk is up): starts the service unless it runs. */
    public function startFreepbx($output = null)
    {
        $this->report($output, $this->service()->ensure(true));
    }

    /** fwconsole stop (before Asterisk goes): the steps in flight finish, then it stops. */
    public function stopFreepbx($output = null)
    {
        $this->service()->stop();
    }

    /** The start of a reload: started again if it is not online (core does so for its FastAGI proxy). */
    public function preReloadFreepbx()
    {
        $this->service()->ensure(true);
    }

    /** The end of a reload: agi-bin/ is copied now; other code, port or settings file: started again. */
    public function postReloadFreepbx()
    {
        $this->service()->ensure();
    }

    /** One line for fwconsole's output: what became of the service. */
    private function report($output, array $outcome)
    {
        if ($output === null || !method_exists($output, 'writeln')) {
            return;
        }
        $lines = [
            'online' => _('Bitrix24 resident service: online'),
            'off' => _('Bitrix24 resident service: off in the settings'),
            'unavailable' => _('Bitrix24 resident service: not used (no pm2 module)'),
            'failed' => $outcome['message'],
        ];
        $output->writeln($lines[$outcome['state']]);
    }

    public function genConfig()
    {
        return [Bitrix\ConfigFile::NAME => $this->configFile()->build($this->settings()->get())];
    }

    public function writeConfig($conf)
    {
        $name = Bitrix\ConfigFile::NAME;
        $cfg = is_array($conf) && isset($conf[$name]) ? $conf[$name] : $this->configFile()->build($this->settings()->get());
        $this->configFile()->writeJson($cfg);
        // Reload has copied agi-bin/ by now (before the dialplan and file hooks): 17.0.1's binding can go.
        $this->installedFiles()->removeStaleBinding();
    }

    /** One line of install/uninstall output, through the framework's out() (console or Module Admin). */
    private function say($text)
    {
        if (function_exists('out')) {
            out($text);
        }
    }

    private function log($text)
    {
        if (function_exists('freepbx_log') && defined('FPBX_LOG_WARNING')) {
            freepbx_log(FPBX_LOG_WARNING, 'bitrix: ' . $text);
        }
    }
}
