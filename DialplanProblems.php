<?php
namespace FreePBX\modules\Bitrix;

use FreePBX\modules\Bitrix\Dialplan\Problem;

/**
 * What the last reload could not place in the dialplan, where the admin sees it: a line in the
 * FreePBX log, a FreePBX notification per kind (gone again once a reload places everything),
 * and the settings page, which words the stored problems in the admin's language.
 */
class DialplanProblems
{
    const KEY = 'dialplanProblems';
    const MODULE = 'bitrix';
    const LINK = 'config.php?display=itdbitrix';

    /** @var object the BMO object (kvstore) */
    private $kvstore;
    /** @var object|null the FreePBX object */
    private $freepbx;

    public function __construct($kvstore, $freepbx)
    {
        $this->kvstore = $kvstore;
        $this->freepbx = $freepbx;
    }

    /** The reload's outcome: store it, log each problem, raise or clear the notifications. */
    public function record(array $problems)
    {
        $this->kvstore->setConfig(self::KEY, array_map(function (Problem $p) {
            return $p->toArray();
        }, $problems));
        $byId = [];
        foreach ($problems as $p) {
            list($id, $title) = $p->notification();
            $byId[$id]['title'] = $title;
            $byId[$id]['texts'][] = $p->text();
            if (function_exists('freepbx_log') && defined('FPBX_LOG_WARNING')) {
                freepbx_log(FPBX_LOG_WARNING, 'bitrix: ' . $p->text());
            }
        }
        $notifications = $this->notifications();
        if ($notifications === null) {
            return;
        }
        foreach (Problem::notificationIds() as $id) {
            if (isset($byId[$id])) {
                $notifications->add_warning(self::MODULE, $id, $byId[$id]['title'], implode("\n", $byId[$id]['texts']), self::LINK, false, true);
            } else {
                $notifications->delete(self::MODULE, $id);
            }
        }
    }

    /** @return Problem[] as the last reload left them */
    public function current()
    {
        $stored = $this->kvstore->getConfig(self::KEY);
        $out = [];
        foreach (is_array($stored) ? $stored : [] as $a) {
            $p = Problem::fromArray($a);
            if ($p !== null) {
                $out[] = $p;
            }
        }
        return $out;
    }

    /** @return string[] the page's lines */
    public function texts()
    {
        return array_map(function (Problem $p) {
            return $p->text();
        }, $this->current());
    }

    private function notifications()
    {
        try {
            $n = $this->freepbx !== null ? $this->freepbx->Notifications : null;
        } catch (\Exception $e) {
            $n = null;
        }
        return is_object($n) ? $n : null;
    }
}
