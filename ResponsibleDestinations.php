<?php
namespace FreePBX\modules\Bitrix;

/**
 * The module's FreePBX destinations, "Bitrix24: responsible manager": each one rings the caller's
 * responsible manager in the CRM (found by the incoming step) for its ring time and otherwise
 * sends the call on to its fallback destination. Kept in the kvstore; FreePBX reaches them
 * through functions.inc.php (bitrix_destinations(), bitrix_getdest(), bitrix_getdestinfo(),
 * bitrix_check_destinations(), bitrix_change_destination()).
 */
class ResponsibleDestinations
{
    /** kvstore key: id => destination. */
    const KEY = 'responsibleDestinations';
    /** The dialplan context; a destination is <CONTEXT>,<id>,1. */
    const CONTEXT = 'itd-bitrix-responsible';
    const RING_MIN = 5;
    const RING_MAX = 300;
    const DESCRIPTION_MAX = 50;
    /** A new destination's values. */
    const DEFAULTS = ['description' => '', 'ringTime' => 20, 'honourDnd' => true, 'skipBusy' => true, 'workdayOnly' => false,
        'fallback' => ''];
    /** Yes/no fields of the form. */
    const FLAGS = ['honourDnd', 'skipBusy', 'workdayOnly'];

    /** @var object the BMO object: its getConfig()/setConfig() reach the module's kvstore */
    private $kvstore;

    public function __construct($kvstore)
    {
        $this->kvstore = $kvstore;
    }

    /** @return array[] id => destination (with its 'id'), by id */
    public function all()
    {
        $stored = $this->kvstore->getConfig(self::KEY);
        $out = [];
        foreach (is_array($stored) ? $stored : [] as $id => $d) {
            if (is_array($d) && (int)$id > 0) {
                $out[(int)$id] = self::normalise((int)$id, $d);
            }
        }
        ksort($out);
        return $out;
    }

    public function any()
    {
        return count($this->all()) > 0;
    }

    /** @return array|null */
    public function get($id)
    {
        $all = $this->all();
        return isset($all[(int)$id]) ? $all[(int)$id] : null;
    }

    /** Stores a validated destination (a new one when it has no id); returns its id. */
    public function save(array $d)
    {
        $all = $this->all();
        $id = isset($d['id']) && (int)$d['id'] > 0 ? (int)$d['id'] : ($all ? max(array_keys($all)) + 1 : 1);
        $all[$id] = self::normalise($id, $d);
        $this->store($all);
        return $id;
    }

    /** @return bool whether it existed */
    public function delete($id)
    {
        $all = $this->all();
        if (!isset($all[(int)$id])) {
            return false;
        }
        unset($all[(int)$id]);
        $this->store($all);
        return true;
    }

    /** The destination's fields in DEFAULTS' order and types, missing ones defaulted. */
    private static function normalise($id, array $d)
    {
        $row = ['id' => $id];
        foreach (self::DEFAULTS as $k => $default) {
            $v = array_key_exists($k, $d) && is_scalar($d[$k]) ? $d[$k] : $default;
            $row[$k] = is_bool($default) ? (bool)$v : (is_int($default) ? (int)$v : (string)$v);
        }
        return $row;
    }

    private function store(array $all)
    {
        $rows = [];
        foreach ($all as $id => $d) {
            unset($d['id']);
            $rows[(string)$id] = $d;
        }
        // An empty map would be stored as [] and read back the same: fine, all() skips it.
        $this->kvstore->setConfig(self::KEY, $rows ? $rows : false);
    }

    // ------------------------------------------------------------------
    // FreePBX's destination interface
    // ------------------------------------------------------------------

    public static function destinationOf($id)
    {
        return self::CONTEXT . ',' . (int)$id . ',1';
    }

    /** The id in "itd-bitrix-responsible,<id>,1", else null (not one of ours). */
    public static function idOf($dest)
    {
        return preg_match('/^' . preg_quote(self::CONTEXT, '/') . ',([0-9]+),1$/', trim((string)$dest), $m) ? (int)$m[1] : null;
    }

    public static function editUrl($id)
    {
        return 'config.php?display=' . SettingsPage::DISPLAY . '&view=' . ResponsiblePage::VIEW . '&id=' . (int)$id;
    }

    /** What a destination picker offers (bitrix_destinations()). */
    public function pickerList()
    {
        $out = [];
        foreach ($this->all() as $id => $d) {
            $out[] = ['destination' => self::destinationOf($id), 'description' => $d['description'],
                'category' => _('Bitrix24: responsible manager')];
        }
        return $out;
    }

    /**
     * bitrix_getdestinfo(): false when the destination is not ours, [] when it is ours but gone
     * (FreePBX lists it as orphaned), else its description and edit link.
     */
    public function info($dest)
    {
        $id = self::idOf($dest);
        if ($id === null) {
            return false;
        }
        $d = $this->get($id);
        if ($d === null) {
            return [];
        }
        return ['description' => sprintf(_('Bitrix24 responsible manager: %s'), $d['description']), 'edit_url' => self::editUrl($id)];
    }

    /**
     * bitrix_check_destinations(): the destinations ours send calls to (their fallbacks), all of
     * them ($dest true) or those among $dest.
     */
    public function usage($dest = true)
    {
        $out = [];
        if (is_array($dest) && !$dest) {
            return $out;
        }
        foreach ($this->all() as $id => $d) {
            if ($dest !== true && !in_array($d['fallback'], (array)$dest, true)) {
                continue;
            }
            $out[] = ['dest' => $d['fallback'], 'description' => sprintf(_('Bitrix24 responsible manager: %s'), $d['description']),
                'edit_url' => self::editUrl($id)];
        }
        return $out;
    }

    /** bitrix_change_destination(): another module renumbered a destination ours fall back to. */
    public function changeDestination($old, $new)
    {
        $all = $this->all();
        $n = 0;
        foreach ($all as $id => $d) {
            if ($d['fallback'] === (string)$old) {
                $all[$id]['fallback'] = (string)$new;
                $n++;
            }
        }
        if ($n > 0) {
            $this->store($all);
        }
        return $n;
    }

    // ------------------------------------------------------------------
    // The form
    // ------------------------------------------------------------------

    /**
     * Checks the destination form: one message per field.
     * The fallback comes from FreePBX's destination picker (drawselects(..., 0)): goto0 names the
     * chosen category, <category>0 holds the destination.
     * @return array [destination, errors (field => message)]
     */
    public function validate(array $post, array $old)
    {
        $d = $old;
        $e = [];
        $str = function ($k) use ($post) {
            return isset($post[$k]) && is_scalar($post[$k]) ? trim((string)$post[$k]) : '';
        };
        $description = $str('description');
        if (!preg_match('/^[^\x00-\x1f\x7f]{1,' . self::DESCRIPTION_MAX . '}$/u', $description)) {
            $e['description'] = sprintf(_('Enter a name of 1 to %d characters.'), self::DESCRIPTION_MAX);
        } else {
            $d['description'] = $description;
        }
        $ring = $str('ringTime');
        if (!preg_match('/^[0-9]{1,4}$/', $ring) || (int)$ring < self::RING_MIN || (int)$ring > self::RING_MAX) {
            $e['ringTime'] = sprintf(_('Enter a whole number from %1$d to %2$d.'), self::RING_MIN, self::RING_MAX);
        } else {
            $d['ringTime'] = (int)$ring;
        }
        foreach (self::FLAGS as $k) {
            if (isset($post[$k])) {
                $d[$k] = $str($k) === 'yes';
            }
        }
        $category = $str('goto0');
        $fallback = $category !== '' ? $str($category . '0') : '';
        if (!preg_match('/^[^,\s()]+,[^,\s()]+,[^,\s()]+$/', $fallback)) {
            $e['fallback'] = _('Choose where the call goes when the manager does not take it.');
        } elseif (strpos($fallback, self::CONTEXT . ',') === 0) {
            $e['fallback'] = _('The fallback cannot be a responsible-manager destination.');
        } else {
            $d['fallback'] = $fallback;
        }
        return [$d, $e];
    }
}
