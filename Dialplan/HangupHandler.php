<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Pushed on the inbound channel by the inbound subroutine; Asterisk runs it when that channel
 * goes away (dead-channel AGI): the hangup step finishes the call in Bitrix24.
 *
 *   asterisk -rx "dialplan show itd-bitrix-hangup"
 */
class HangupHandler
{
    const CONTEXT = 'itd-bitrix-hangup';

    /**
     *   [itd-bitrix-hangup]
     *   exten => s,1,AGI(itd_bitrix_hangup.js)
     *   exten => s,n,Return()
     */
    public static function add($ext, AgiStep $agi)
    {
        $c = self::CONTEXT;
        $ext->addSectionNoCustom($c, true);
        $agi->add($ext, $c, 's', 'hangup');
        $ext->add($c, 's', '', new \ext_return(''));
    }
}
