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
// modules/bitrix/X/Y.php); required here so the class loads the same everywhere.
require_once __DIR__ . '/Did.php';
require_once __DIR__ . '/Settings.php';
require_once __DIR__ . '/SettingsValidator.php';
require_once __DIR__ . '/SettingsPage.php';
require_once __DIR__ . '/InboundRoutes.php';
require_once __DIR__ . '/OutboundRoutes.php';
require_once __DIR__ . '/FileOwner.php';
require_once __DIR__ . '/ConfigFile.php';
require_once __DIR__ . '/Subprocess.php';
require_once __DIR__ . '/OperatorCli.php';
require_once __DIR__ . '/OutboxStatus.php';
require_once __DIR__ . '/HostCheck.php';
require_once __DIR__ . '/OauthConnect.php';
require_once __DIR__ . '/RetryJob.php';
require_once __DIR__ . '/InstalledFiles.php';
require_once __DIR__ . '/AmiCredentials.php';
require_once __DIR__ . '/ResidentService.php';
require_once __DIR__ . '/ServiceStatus.php';
require_once __DIR__ . '/DialplanProblems.php';
require_once __DIR__ . '/Dialplan/Problem.php';
require_once __DIR__ . '/Dialplan/Facts.php';
require_once __DIR__ . '/ResponsibleDestinations.php';
require_once __DIR__ . '/ResponsiblePage.php';
require_once __DIR__ . '/Dialplan/Splice.php';
require_once __DIR__ . '/Dialplan/AgiStep.php';
require_once __DIR__ . '/Dialplan/InboundSubroutine.php';
require_once __DIR__ . '/Dialplan/HangupHandler.php';
require_once __DIR__ . '/Dialplan/OperatorSubroutine.php';
require_once __DIR__ . '/Dialplan/AnswerSubroutine.php';
require_once __DIR__ . '/Dialplan/QueueHook.php';
require_once __DIR__ . '/Dialplan/AutoBlkvmHook.php';
require_once __DIR__ . '/Dialplan/DirectDialHook.php';
require_once __DIR__ . '/Dialplan/TransferMark.php';
require_once __DIR__ . '/Dialplan/RingingHook.php';
require_once __DIR__ . '/Dialplan/OutboundSubroutine.php';
require_once __DIR__ . '/Dialplan/OutboundAnswer.php';
require_once __DIR__ . '/Dialplan/OutboundHangupHandler.php';
require_once __DIR__ . '/Dialplan/ResponsibleDestination.php';

#[\AllowDynamicProperties]
class Bitrix extends \FreePBX_Helpers implements \BMO
{
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
            _('Reports inbound calls on chosen DIDs to the Bitrix24 CRM: caller name lookup, call card for the operator who answers, call history with recordings.');
        }
    }

    // ------------------------------------------------------------------
    // BMO lifecycle
    // ------------------------------------------------------------------

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
            $this->say($this->unsentLine());
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

    /** One line: how many calls waiting in the outbox will not reach Bitrix24 once the database is deleted. */
    private function unsentLine()
    {
        $status = $this->cli()->status();
        $outbox = isset($status['error']) ? null : Bitrix\OutboxStatus::read($status);
        if ($outbox === null) {
            return sprintf(_('Could not count the calls still waiting to be sent to Bitrix24 before deleting the call database: %s'),
                isset($status['error']) ? $status['error'] : _('the operator tool gave no outbox.'));
        }
        $unsent = Bitrix\OutboxStatus::unsent($outbox);
        if ($unsent['steps'] === 0) {
            return _('Nothing was waiting to be sent to Bitrix24.');
        }
        if ($unsent['calls'] === null) {
            return sprintf(_('Requests that will not reach Bitrix24 (deleted with the call database): %d.'), $unsent['steps']);
        }
        return sprintf(_('Calls that will not reach Bitrix24 (deleted with the call database): %1$d (steps: %2$d).'), $unsent['calls'], $unsent['steps']);
    }

    /** Old frameworks declared these in the BMO interface. */
    public function backup()
    {
    }

    public function restore($backup)
    {
    }

    // ------------------------------------------------------------------
    // GUI
    // ------------------------------------------------------------------

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

    // ------------------------------------------------------------------
    // The module's destinations (functions.inc.php hands FreePBX's calls here)
    // ------------------------------------------------------------------

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

    // ------------------------------------------------------------------
    // AJAX
    // ------------------------------------------------------------------

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

    // ------------------------------------------------------------------
    // Reload: dialplan, config file
    // ------------------------------------------------------------------

    public static function myDialplanHooks()
    {
        return 500; // after core (480), which builds ext-did-* and macro-auto-blkvm
    }

    /**
     * Nothing while off. Inbound: only routes of listed DIDs, every answer path with its hook
     * (queue member gosub, ring groups and follow-me through macro-auto-blkvm, a Dial straight to
     * an extension); what cannot be placed is reported (log, notification, page). Outgoing: the
     * trunk hook when outgoing calls are reported or click-to-call is on (the clicked call leaves
     * through a trunk); its problems are logged.
     * The responsible-manager destinations exist once defined (routes point at them), also while
     * off, when they send every call to their fallback.
     */
    public function doDialplanHook(&$ext, $engine, $priority)
    {
        $s = $this->settings()->get();
        $problems = [];
        if (!empty($s['enabled'])) {
            // Through the resident service where pm2 runs it (with the per-call AGI as the fallback).
            $agi = new Bitrix\Dialplan\AgiStep($this->service()->wanted($s) ? Bitrix\ResidentService::port($s) : null);
            if (!empty($s['dids'])) {
                $problems = $this->inboundHooks($ext, $agi, $s);
            }
            if (!empty($s['outgoingEnabled']) || !empty($s['clickToCall'])) {
                foreach (Bitrix\Dialplan\OutboundSubroutine::add($ext, $agi, ['report' => !empty($s['outgoingEnabled']), 'routes' => $s['outgoingRoutes']]) as $problem) {
                    $this->log($problem);
                }
            }
        }
        $this->dialplanProblems()->record($problems);
        $answer = Bitrix\Dialplan\Splice::extenExists($ext, Bitrix\Dialplan\AnswerSubroutine::CONTEXT, 's') ? Bitrix\Dialplan\AnswerSubroutine::CONTEXT : null;
        Bitrix\Dialplan\ResponsibleDestination::add($ext, $this->responsibleDestinations()->all(), $answer);
    }

    /** @return Bitrix\Dialplan\Problem[] */
    private function inboundHooks($ext, Bitrix\Dialplan\AgiStep $agi, array $s)
    {
        list($spliced, $problems) = Bitrix\Dialplan\InboundSubroutine::spliceRoutes($ext, $this->inboundRoutes()->listed($s));
        if ($spliced === 0) {
            return $problems;
        }
        // Cards on ringing need the resident service; without it the card pops on answer.
        $ringing = $agi->hasService() && Bitrix\Settings::cardMode($s) === 'ringing';
        $ringingProblems = $ringing ? Bitrix\Dialplan\RingingHook::add($ext, $agi) : [];
        Bitrix\Dialplan\InboundSubroutine::add($ext, $agi, $ringing && !$ringingProblems);
        Bitrix\Dialplan\HangupHandler::add($ext, $agi);
        Bitrix\Dialplan\OperatorSubroutine::add($ext);
        Bitrix\Dialplan\AnswerSubroutine::add($ext, $agi);
        Bitrix\Dialplan\TransferMark::add($ext);
        return array_merge(
            $problems,
            Bitrix\Dialplan\QueueHook::add($ext, $this->asteriskVersion()),
            Bitrix\Dialplan\AutoBlkvmHook::add($ext),
            Bitrix\Dialplan\DirectDialHook::add($ext),
            $ringingProblems
        );
    }

    // ------------------------------------------------------------------
    // The resident service: fwconsole start/stop and reload (module.xml <hooks>)
    // ------------------------------------------------------------------

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

    // ------------------------------------------------------------------
    // The classes doing the work, wired from the constructor's options
    // ------------------------------------------------------------------

    public function settings()
    {
        return $this->room('settings', fn () => new Bitrix\Settings($this));
    }

    public function configFile()
    {
        return $this->room('configFile', fn () => new Bitrix\ConfigFile($this->options['configPath'], $this->settings(), $this->owner(),
            $this->responsibleDestinations()));
    }

    public function responsibleDestinations()
    {
        return $this->room('responsibleDestinations', fn () => new Bitrix\ResponsibleDestinations($this));
    }

    public function responsiblePage()
    {
        return $this->room('responsiblePage', fn () => new Bitrix\ResponsiblePage($this->responsibleDestinations(), $this->page(),
            $this->configFile(), $this->FreePBX, $this->options['moduleDir']));
    }

    public function cli()
    {
        return $this->room('cli', function () {
            $command = $this->options['cliCommand'] !== null ? (array)$this->options['cliCommand']
                : ['node', $this->agiDir() . '/' . Bitrix\OperatorCli::SCRIPT];
            return new Bitrix\OperatorCli($command, $this->configFile()->path(), $this->settings());
        });
    }

    public function oauth()
    {
        return $this->room('oauth', fn () => new Bitrix\OauthConnect($this->settings(), $this->cli()));
    }

    public function page()
    {
        return $this->room('page', fn () => new Bitrix\SettingsPage($this->settings(), $this->configFile(), $this->inboundRoutes(),
            $this->outboundRoutes(), $this->cli(), $this->service(), $this->options['moduleDir'], $this->dialplanProblems()));
    }

    public function inboundRoutes()
    {
        return $this->room('inboundRoutes', fn () => new Bitrix\InboundRoutes($this->FreePBX));
    }

    public function outboundRoutes()
    {
        return $this->room('outboundRoutes', fn () => new Bitrix\OutboundRoutes($this->FreePBX));
    }

    public function retryJob()
    {
        return $this->room('retryJob', fn () => new Bitrix\RetryJob($this->FreePBX, $this->agiDir(), $this->configFile()->path()));
    }

    public function dialplanProblems()
    {
        return $this->room('dialplanProblems', fn () => new Bitrix\DialplanProblems($this, $this->FreePBX));
    }

    public function hostCheck()
    {
        return $this->room('hostCheck', function () {
            $user = array_key_exists('asteriskUser', $this->options) ? $this->options['asteriskUser'] : $this->asteriskUser();
            return new Bitrix\HostCheck((array)$this->options['nodeCommand'], $user);
        });
    }

    public function installedFiles()
    {
        return $this->room('installedFiles', fn () => new Bitrix\InstalledFiles($this->agiDir(), $this->options['moduleDir'],
            $this->owner()));
    }

    /** The resident service under FreePBX's pm2 module. */
    public function service()
    {
        return $this->room('service', fn () => new Bitrix\ResidentService($this->FreePBX, $this->settings(), $this->amiCredentials(), $this,
            $this->agiDir(), $this->configFile()->path(), $this->options['sleep'], (array)$this->options['nodeCommand']));
    }

    /** FreePBX's manager user for the resident service's environment (click-to-call). */
    public function amiCredentials()
    {
        return $this->room('amiCredentials', fn () => new Bitrix\AmiCredentials($this->FreePBX));
    }

    private function owner()
    {
        return $this->room('owner', fn () => new Bitrix\FileOwner($this->options['chown']));
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
        return is_string($dir) && $dir !== '' ? rtrim($dir, '/') : self::DEFAULT_AGI_DIR;
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
