<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * How a hook runs one of our steps (incoming, show, hangup): the only place AGI() lines are
 * written. Today a classic AGI of agi-bin/itd_bitrix_<step>.js, written raw: FreePBX's
 * ext_agi would rewrite it to its own FastAGI server (ARCHITECTURE.md §5).
 */
class AgiStep
{
    /** The executable of a step in ASTAGIDIR. */
    public static function script($step)
    {
        return 'itd_bitrix_' . $step . '.js';
    }

    /**
     * exten => <exten>,n,AGI(itd_bitrix_<step>.js[,<args>])
     * @param string $args the AGI's arguments as dialplan text (identifiers only: DID, extension)
     */
    public function add($ext, $context, $exten, $step, $args = '')
    {
        $data = self::script($step) . ($args !== '' ? ',' . $args : '');
        $ext->add($context, $exten, '', new \extension('AGI(' . $data . ')'));
    }
}
