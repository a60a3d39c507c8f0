<?php
namespace FreePBX\modules\Bitrix;

/** The PBX's outbound routes (core's table), for the page's route picker. */
class OutboundRoutes
{
    /** @var object|null the FreePBX object */
    private $freepbx;

    public function __construct($freepbx)
    {
        $this->freepbx = $freepbx;
    }

    /** [['id' => '1', 'name' => 'Main'], …] in core's order; none when core cannot answer. */
    public function forPicker()
    {
        try {
            $rows = $this->freepbx->Core->getAllRoutes();
        } catch (\Exception $e) {
            return [];
        }
        $out = [];
        foreach (is_array($rows) ? $rows : [] as $r) {
            $id = isset($r['route_id']) ? (string)$r['route_id'] : '';
            if (!preg_match('/^[0-9]{1,10}$/', $id) || isset($out[$id])) {
                continue;
            }
            $out[$id] = ['id' => $id, 'name' => isset($r['name']) ? trim((string)$r['name']) : ''];
        }
        return array_values($out);
    }
}
