<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Pushed on the calling channel of a reported outgoing call by the outbound subroutine; Asterisk
 * runs it when that channel goes away (dead-channel AGI): the hangup step, told the call is an
 * outgoing one, finishes it from the facts on the channel.
 *
 *   asterisk -rx "dialplan show itd-bitrix-out-hangup"
 */
class OutboundHangupHandler
{
    const CONTEXT = 'itd-bitrix-out-hangup';

    /**
     *   [itd-bitrix-out-hangup]
     *   exten => s,1,Set(BITRIX_OUT_ENDED=${STRFTIME(,,%s.%3q)})
     *   exten => s,n,AGI(itd_bitrix_hangup.js,out)
     *   exten => s,n,Return()
     */
    public static function add($ext, AgiStep $agi)
    {
        $c = self::CONTEXT;
        $ext->addSectionNoCustom($c, true);
        // The end of the call, stamped before any process starts.
        $ext->add($c, 's', '', new \ext_set('BITRIX_OUT_ENDED', '${STRFTIME(,,%s.%3q)}'));
        $agi->add($ext, $c, 's', 'hangup', 'out');
        $ext->add($c, 's', '', new \ext_return(''));
    }
}
