<?php
namespace FreePBX\modules\Bitrix;

/**
 * The responsible-manager destinations on the module's page: their list (a section of the
 * settings page), the form of one (?display=itdbitrix&view=responsible[&id=N]) with FreePBX's
 * destination picker for the fallback, its save and delete. A change asks for Apply Config and
 * rewrites the config file (responsibleRouting follows whether any destination exists).
 */
class ResponsiblePage
{
    const VIEW = 'responsible';

    /** @var ResponsibleDestinations */
    private $destinations;
    /** @var SettingsPage where messages are shown */
    private $page;
    /** @var ConfigFile */
    private $configFile;
    /** @var object|null the FreePBX object (Destinations: descriptions and usage of destinations) */
    private $freepbx;
    /** @var string */
    private $moduleDir;

    /** @var array field => message, from a failed save */
    private $errors = [];
    /** @var array|null the failed save's destination, shown again */
    private $submitted = null;

    public function __construct(ResponsibleDestinations $destinations, SettingsPage $page, ConfigFile $configFile, $freepbx, $moduleDir)
    {
        $this->destinations = $destinations;
        $this->page = $page;
        $this->configFile = $configFile;
        $this->freepbx = $freepbx;
        $this->moduleDir = $moduleDir;
    }

    /** Whether this request shows the destination form (asked for, or a save to correct). */
    public function showsForm(array $request)
    {
        return $this->submitted !== null || (isset($request['view']) && $request['view'] === self::VIEW);
    }

    public function save(array $post)
    {
        $id = isset($post['id']) && is_scalar($post['id']) ? (int)$post['id'] : 0;
        $old = $id > 0 ? $this->destinations->get($id) : null;
        if ($id > 0 && $old === null) {
            $this->page->addMessage('danger', _('This destination no longer exists.'));
            return false;
        }
        list($d, $errors) = $this->destinations->validate($post, $old !== null ? $old : ResponsibleDestinations::DEFAULTS);
        if ($errors) {
            $this->errors = $errors;
            $this->submitted = $d + ['id' => $id];
            $this->page->addMessage('danger', _('The destination was not saved. Correct the fields marked below.'));
            return false;
        }
        $this->destinations->save($d + ['id' => $id]);
        $this->changed(_('Destination saved.'));
        return true;
    }

    /** Refused while a route, IVR or other destination still sends calls to it. */
    public function delete($id)
    {
        $d = $this->destinations->get((int)$id);
        if ($d === null) {
            return false;
        }
        $usage = $this->usageOf(ResponsibleDestinations::destinationOf($d['id']));
        if ($usage) {
            $this->page->addMessage('danger', sprintf(_('"%1$s" is still used by: %2$s. Point those elsewhere first.'), $d['description'], implode('; ', $usage)));
            return false;
        }
        if ($this->destinations->delete($d['id'])) {
            $this->changed(_('Destination deleted.'));
            return true;
        }
        return false;
    }

    private function changed($message)
    {
        $this->page->addMessage('success', $message);
        if (!$this->configFile->write()) {
            $this->page->addMessage('warning', sprintf(_('%s could not be written. It is written again on Apply Config.'), $this->configFile->path()));
        }
        needreload();
    }

    /** The list section of the settings page. */
    public function renderList()
    {
        $rows = [];
        foreach ($this->destinations->all() as $id => $d) {
            $rows[] = $d + ['fallbackText' => $this->describe($d['fallback']), 'editUrl' => ResponsibleDestinations::editUrl($id)];
        }
        return load_view($this->moduleDir . '/views/responsible-list.php', [
            'rows' => $rows,
            'addUrl' => 'config.php?display=' . SettingsPage::DISPLAY . '&view=' . self::VIEW,
        ]);
    }

    /** The form of one destination (a new one without id or with an unknown one). */
    public function renderForm(array $request)
    {
        if ($this->submitted !== null) {
            $d = $this->submitted;
        } else {
            $id = isset($request['id']) && is_scalar($request['id']) ? (int)$request['id'] : 0;
            $found = $id > 0 ? $this->destinations->get($id) : null;
            $d = $found !== null ? $found : ['id' => 0] + ResponsibleDestinations::DEFAULTS;
        }
        $usage = [];
        if ($d['id'] > 0) {
            $usage = $this->usageOf(ResponsibleDestinations::destinationOf($d['id']));
        }
        return load_view($this->moduleDir . '/views/responsible-form.php', [
            'dest' => $d,
            'errors' => $this->errors,
            'messages' => $this->page->messages(),
            'usage' => $usage,
            'fields' => $this->fieldTable(),
            'picker' => function_exists('drawselects') ? drawselects($d['fallback'], 0, false, false, '', true) : '',
            'deleteUrl' => $d['id'] > 0 ? 'config.php?display=' . SettingsPage::DISPLAY . '&action=deleteResponsible&id=' . (int)$d['id'] : '',
            'backUrl' => 'config.php?display=' . SettingsPage::DISPLAY,
        ]);
    }

    /** The form's rows, drawn like the settings page's (views/field.php). */
    public function fieldTable()
    {
        return [
            ['key' => 'description', 'type' => 'text', 'label' => _('Name'), 'placeholder' => _('Sales: manager, then the sales queue'),
                'help' => _('How the destination is listed in inbound routes, IVRs, time conditions and other destination pickers.')],
            ['key' => 'ringTime', 'type' => 'number', 'label' => _('Ring time (seconds)'), 'min' => ResponsibleDestinations::RING_MIN,
                'max' => ResponsibleDestinations::RING_MAX,
                'help' => _('How long the manager\'s phone rings before the call goes to the fallback. An extension with voicemail rings no longer than its own ring time.')],
            ['key' => 'honourDnd', 'type' => 'radio', 'label' => _('Skip a manager on Do Not Disturb'),
                'help' => _('When the manager\'s extension has Do Not Disturb on, the call goes straight to the fallback (otherwise FreePBX refuses it there and the call goes on just the same, a moment later; a follow-me to a mobile would still ring).')],
            ['key' => 'skipBusy', 'type' => 'radio', 'label' => _('Skip a busy manager'),
                'help' => _('Ring the manager only when their phone is free: in a call, ringing, on hold or unreachable sends the call to the fallback at once instead of a call-waiting beep.')],
            ['key' => 'workdayOnly', 'type' => 'radio', 'label' => _('Only during the manager\'s Bitrix24 workday'),
                'help' => _('With Bitrix24 time tracking: a manager whose workday is closed, paused or expired is skipped. Managers without time tracking are always rung.')],
        ];
    }

    /** "Queues: 400 Sales" for a destination, via FreePBX; the raw destination when it cannot say. */
    private function describe($dest)
    {
        try {
            $info = $this->freepbx !== null ? $this->freepbx->Destinations->getDestination($dest) : null;
        } catch (\Exception $e) {
            $info = null;
        }
        return is_array($info) && isset($info['description']) && $info['description'] !== '' ? (string)$info['description'] : (string)$dest;
    }

    /** What uses a destination of ours: descriptions, from FreePBX's usage checks of every module. */
    private function usageOf($dest)
    {
        try {
            $usage = $this->freepbx !== null ? $this->freepbx->Destinations->getAllInUseDestinations([$dest]) : [];
        } catch (\Exception $e) {
            $usage = [];
        }
        $out = [];
        foreach (is_array($usage) ? $usage : [] as $items) {
            foreach ((array)$items as $item) {
                if (isset($item['description'])) {
                    $out[] = (string)$item['description'];
                }
            }
        }
        return $out;
    }
}
