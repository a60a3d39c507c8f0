<?php
namespace FreePBX\modules\Bitrix\Dialplan;

/**
 * Pushed on the inbound channel by the inbound subroutine; Asterisk runs it when that channel
 * goes away (dead-channel AGI). It stamps the end of the call, and where no answer hook recorded
 * an answer but the inbound channel's own Dial was answered (no hook could be placed, or the Dial
 * already had a U()), works out the operator from Dial's DIALEDPEERNAME; then the hangup step
 * reads these facts and finishes the call in Bitrix24.
 *
 *   asterisk -rx "dialplan show itd-bitrix-hangup"
 */
class HangupHandler
{
    const CONTEXT = 'itd-bitrix-hangup';

    /**
     *   [itd-bitrix-hangup]
     *   exten => s,1,Set(BITRIX_ENDED=${STRFTIME(,,%s.%3q)})
     *   exten => s,n,GosubIf($["${SHARED(BITRIX_ANSWER)}"="" & "${DIALSTATUS}"="ANSWER"]?itd-bitrix-operator,s,1(${DIALEDPEERNAME}))
     *   exten => s,n,AGI(itd_bitrix_hangup.js)
     *   exten => s,n,Return()
     */
    public static function add($ext, AgiStep $agi)
    {
        $c = self::CONTEXT;
        $ext->addSectionNoCustom($c, true);
        $ext->add($c, 's', '', new \ext_set(Facts::ENDED, Facts::NOW));
        $ext->add($c, 's', '', new \ext_gosubif('$["${SHARED(' . Facts::ANSWER . ')}"="" & "${DIALSTATUS}"="ANSWER"]',
            OperatorSubroutine::CONTEXT . ',s,1', false, '${DIALEDPEERNAME}'));
        $agi->add($ext, $c, 's', 'hangup');
        $ext->add($c, 's', '', new \ext_return(''));
    }
}
